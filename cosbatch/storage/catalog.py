"""Named storages: the storage config file, and which storage a job binds to.

The file (`--storage-config PATH`, $COSBATCH_STORAGE_CONFIG) has one `[storage.NAME]`
table per storage. A job's RoleArn names its storage by the role name at its end
(`arn:aws:iam::ACCT:role/PATH/NAME`, `qcs::cam::uin/ACCT:roleName/NAME`); a role that
names no storage binds to the default one. A copy's TargetResource may name another
storage by its region. Without a file, the one storage is the process-wide endpoint.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosbatch.errors import ConfigError, CosbatchError, InvalidRequest
from cosbatch.storage.config import (
    IMPLICIT_PREFIX,
    CredentialsRef,
    Prices,
    Storage,
    implicit_storage,
    normalise_endpoint,
)

_ROLE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::[^:]*:role/(?:[^:]*/)?(?P<name>[^/:]+)$")
_COS_ROLE = re.compile(r"^qcs::cam::uin/[^:]*:roleName/(?:[^:]*/)?(?P<name>[^/:]+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Keys a `[storage.NAME]` table may have, and their types.
_KEYS: dict[str, tuple[type, ...]] = {
    "endpoint_url": (str,), "region": (str,), "addressing_style": (str,),
    "access_key_id_env": (str,), "secret_access_key_env": (str,), "session_token_env": (str,),
    "aws_profile": (str,), "max_ops_per_second": (int, float), "accounts": (list,), "default": (bool,),
    "multipart_threshold": (int, str), "multipart_chunksize": (int, str), "multipart_copy_threshold": (int, str),
    "copy_split_threshold": (int, str), "copy_largest_first": (bool,), "copy_bytes_in_flight": (int, str),
    "prices": (dict,),
}
#: Keys of a `[storage.NAME.prices]` table.
_PRICE_KEYS = {"currency": (str,), "class_a_per_1000": (int, float), "class_b_per_1000": (int, float),
               "per_gib_read_across": (int, float), "per_1000": (dict,)}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2, "GB": 1000**3, "GiB": 1024**3}


def _size(value: int | str) -> int | None:
    """Bytes of a size given as an integer or as "16MiB", "8 MB", ...; None if not a size."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(value)
    return int(m[1]) * _UNITS[m[2]] if m else None
#: Keys that would hold a secret inline: refused, secrets go by reference only.
_SECRET_KEYS = {"access_key_id", "aws_access_key_id", "secret_access_key", "aws_secret_access_key",
                "session_token", "aws_session_token", "secret", "secret_key", "access_key", "password"}


class StorageNotConfigured(CosbatchError, code="StorageNotConfigured", http_status=400):
    """A job names a storage this process's storage config does not have."""


class StorageForbidden(CosbatchError, code="AccessDenied", http_status=403):
    """An account names a storage outside that storage's `accounts`."""


def role_name(role_arn: str | None) -> str | None:
    """The role name at the end of an IAM or CAM role ARN, else None."""
    if not role_arn:
        return None
    m = _ROLE.match(role_arn.strip()) or _COS_ROLE.match(role_arn.strip())
    return m["name"] if m else None


@dataclass(frozen=True)
class StorageCatalog:
    """The storages this process can reach, by name; one of them is the default."""

    storages: tuple[Storage, ...]
    default_name: str
    source: str | None = None  # the config file, if any

    @classmethod
    def single(cls, storage: Storage) -> StorageCatalog:
        return cls((storage,), storage.name)

    @classmethod
    def at(cls, endpoint_url: str, region: str | None = None, **tuning: Any) -> StorageCatalog:
        """The one storage at `endpoint_url` (keys from boto3's chain)."""
        return cls.single(implicit_storage(endpoint_url, region, **tuning))

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, region: str | None = None,
                 config_path: str | None = None) -> StorageCatalog:
        """The config file's storages if a path is given, plus the process-wide implicit one."""
        implicit = implicit_storage(endpoint_url, region)
        if not config_path:
            return cls.single(implicit)
        return load_storage_config(config_path, implicit)

    def with_default(self, storage: Storage) -> StorageCatalog:
        """This catalog's declared storages plus `storage`, which becomes the default."""
        return StorageCatalog((*self.declared, storage), storage.name, self.source)

    @property
    def default(self) -> Storage:
        return self.get(self.default_name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.storages]

    def has(self, name: str) -> bool:
        return any(s.name == name for s in self.storages)

    def get(self, name: str) -> Storage:
        for s in self.storages:
            if s.name == name:
                return s
        where = f"storage config {self.source}" if self.source else "this process (no --storage-config)"
        known = ", ".join(repr(n) for n in self.names)
        hint = ""
        endpoint = name.removeprefix(IMPLICIT_PREFIX)
        if name.startswith(IMPLICIT_PREFIX) and "://" in endpoint:  # a job made for a process-wide endpoint
            hint = f" (the job was created for endpoint {endpoint}: give --endpoint-url {endpoint} or set COSBATCH_ENDPOINT_URL)"
        raise StorageNotConfigured(f"storage {name!r} is not configured in {where}; it has {known}{hint}")

    @property
    def declared(self) -> list[Storage]:
        """The storages of the config file (the implicit one left out)."""
        return [s for s in self.storages if not s.is_implicit]

    def for_role(self, role_arn: str | None, account_id: str | None = None) -> Storage:
        """The storage a job with this RoleArn acts on: the storage named by the role, else the default."""
        name = role_name(role_arn)
        if role_arn and name is None:
            raise InvalidRequest(
                f"RoleArn {role_arn[:200]!r} is not a role: expected arn:aws:iam::<account>:role/<name> "
                "or qcs::cam::uin/<uin>:roleName/<name> (its name picks the storage)"
            )
        storage = self.get(name) if name and self.has(name) else self.default
        check_account(storage, account_id)
        return storage

    def for_region(self, region: str | None, own: Storage, account_id: str | None = None) -> Storage:
        """The storage a TargetResource's region names: the job's own storage when the region is
        empty or its own (or no config file declares storages); InvalidRequest if none serves it."""
        if not region or region == own.region or not self.declared:
            return own
        for s in self.declared:
            if s.region == region:
                check_account(s, account_id)
                return s
        regions = ", ".join(sorted(f"{s.region} ({s.name})" for s in self.declared))
        raise InvalidRequest(f"no configured storage serves region {region!r} named in TargetResource; "
                             f"configured regions: {regions}")


def check_account(storage: Storage, account_id: str | None) -> None:
    if not storage.allows(account_id):
        raise StorageForbidden(f"account {account_id} may not use storage {storage.name!r}")


def _line_of(lines: list[str], name: str, key: str | None = None) -> int:
    """1-based line of `[storage.NAME]` (or of `key` inside that table) in the file, 0 if not found."""
    header = re.compile(rf"^\s*\[\s*storage\s*\.\s*\"?{re.escape(name)}\"?\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return 0
    if key is None:
        return start + 1
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", lines[i]):
            return i + 1
    return start + 1


def _storage(name: str, table: Any, lines: list[str], where: str) -> tuple[Storage, bool]:
    def fail(message: str, key: str | None = None) -> ConfigError:
        return ConfigError(f"{where}:{_line_of(lines, name, key)}: [storage.{name}] {message}")

    if not _NAME.match(name):
        raise fail("the name must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(table, dict):
        raise fail("must be a table")
    for key, value in table.items():
        if key.lower() in _SECRET_KEYS:
            raise fail(f"{key}: secrets never go in the storage config; name the environment variable "
                       f"that holds it (access_key_id_env / secret_access_key_env) or an aws_profile", key)
        if key not in _KEYS:
            raise fail(f"unknown key {key!r}; allowed: {', '.join(sorted(_KEYS))}", key)
        if not isinstance(value, _KEYS[key]) or isinstance(value, bool) is not (bool in _KEYS[key]):
            raise fail(f"{key} has the wrong type ({type(value).__name__})", key)
    if bool(table.get("access_key_id_env")) != bool(table.get("secret_access_key_env")):
        raise fail("access_key_id_env and secret_access_key_env go together")
    if table.get("aws_profile") and table.get("access_key_id_env"):
        raise fail("give either aws_profile or access_key_id_env/secret_access_key_env, not both", "aws_profile")
    if table.get("addressing_style", "path") not in ("path", "virtual", "auto"):
        raise fail("addressing_style must be path, virtual or auto", "addressing_style")
    rate = table.get("max_ops_per_second")
    if rate is not None and rate <= 0:
        raise fail("max_ops_per_second must be positive", "max_ops_per_second")
    accounts = table.get("accounts")
    if accounts is not None and not all(isinstance(a, str) and a for a in accounts):
        raise fail("accounts must be a list of account ids (strings)", "accounts")
    sizes: dict[str, int | None] = {}
    for key in ("multipart_threshold", "multipart_chunksize", "multipart_copy_threshold"):
        if key in table:
            size = _size(table[key])
            if size is None or size < 5 * 1024**2 or size > 5 * 1024**3:
                raise fail(f"{key} must be a size from 5 MiB to 5 GiB (bytes, or e.g. \"16MiB\")", key)
            sizes[key] = size
    # Sizes that "off" turns off: (smallest, largest or None, how the error says the range).
    for key, (low, high, allowed) in {"copy_split_threshold": (5 * 1024**2, 5 * 1024**3, "from 5 MiB to 5 GiB"),
                                      "copy_bytes_in_flight": (1024**2, None, "of at least 1 MiB")}.items():
        if key in table:
            value = table[key]
            size = None if value == "off" else _size(value)
            if value != "off" and (size is None or size < low or (high is not None and size > high)):
                raise fail(f"{key} must be \"off\" or a size {allowed}", key)
            sizes[key] = size
    tuning = {"copy_largest_first": table["copy_largest_first"]} if "copy_largest_first" in table else {}
    prices = _prices(table["prices"], lambda message: fail(f"prices: {message}", "prices")) \
        if "prices" in table else None
    try:
        endpoint = normalise_endpoint(table.get("endpoint_url"))
    except ConfigError as exc:
        raise fail(exc.message, "endpoint_url") from None
    storage = Storage(
        name=name, endpoint_url=endpoint, region=table.get("region", "us-east-1"),
        addressing_style=table.get("addressing_style", "path"),
        credentials=CredentialsRef(table.get("access_key_id_env"), table.get("secret_access_key_env"),
                                   table.get("session_token_env"), table.get("aws_profile")),
        max_ops_per_second=float(rate) if rate is not None else None,
        accounts=tuple(accounts) if accounts is not None else None,
        prices=prices,
        **sizes,
        **tuning,
    )
    return storage, bool(table.get("default", False))


def _prices(table: dict, fail: Any) -> Prices:
    """A `[storage.NAME.prices]` table: prices are numbers ≥ 0; per_1000 maps request names to prices."""
    for key, value in table.items():
        if key not in _PRICE_KEYS:
            raise fail(f"unknown key {key!r}; allowed: {', '.join(sorted(_PRICE_KEYS))}")
        if not isinstance(value, _PRICE_KEYS[key]) or isinstance(value, bool):
            raise fail(f"{key} has the wrong type ({type(value).__name__})")
        if isinstance(value, int | float) and value < 0:
            raise fail(f"{key} must not be negative")
    own = table.get("per_1000", {})
    for name, price in own.items():
        if not isinstance(price, int | float) or isinstance(price, bool) or price < 0:
            raise fail(f"per_1000.{name} must be a price (a number, not negative)")
    currency = table.get("currency", "USD")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise fail(f"currency must be a 3-letter code such as USD, not {currency!r}")
    return Prices(currency, float(table.get("class_a_per_1000", 0)), float(table.get("class_b_per_1000", 0)),
                  float(table.get("per_gib_read_across", 0)), tuple(sorted((k, float(v)) for k, v in own.items())))


def load_storage_config(path: str | Path, implicit: Storage) -> StorageCatalog:
    """Parse and check a storage config file; ConfigError naming the file and line otherwise."""
    where = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read storage config {where}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    lines = text.splitlines()
    extra = sorted(set(doc) - {"storage"})
    if extra:
        raise ConfigError(f"{where}: unknown top-level key {extra[0]!r}; storages go in [storage.NAME] tables")
    tables = doc.get("storage", {})
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}: no storage declared; add a [storage.NAME] table")
    storages: list[Storage] = []
    defaults: list[str] = []
    regions: dict[str, str] = {}
    for name, table in tables.items():
        storage, is_default = _storage(name, table, lines, where)
        if storage.region in regions:
            raise ConfigError(f"{where}:{_line_of(lines, name, 'region')}: [storage.{name}] region "
                              f"{storage.region!r} is already [storage.{regions[storage.region]}]'s; a region "
                              "names one storage (copies choose their target storage by region)")
        regions[storage.region] = name
        if is_default:
            defaults.append(name)
        storages.append(storage)
    if len(defaults) > 1:
        raise ConfigError(f"{where}:{_line_of(lines, defaults[1], 'default')}: [storage.{defaults[1]}] "
                          f"default = true, but [storage.{defaults[0]}] is the default already; at most one")
    return StorageCatalog((*storages, implicit), defaults[0] if defaults else implicit.name, where)

