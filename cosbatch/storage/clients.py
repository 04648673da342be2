"""Clients for a storage: boto3 for everything, the lean SigV4 client for the hot path.

Each client is made from a `Storage` value; credentials are resolved from its
reference at that moment, in the calling process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import create_loader

from cosbatch.errors import ConfigError
from cosbatch.storage.catalog import StorageCatalog
from cosbatch.storage.config import Storage

#: botocore's service models, parsed once per process. Runners that set a DoFn up per
#: bundle (Beam's DaskRunner: per partition) make many clients; with a fresh loader each
#: one re-reads the S3 model JSON (~0.2-0.4 s), with this one it takes ~20 ms.
_SHARED_LOADER = create_loader()
#: One session for clients given their keys outright: a session costs ~10 ms to make, and with
#: explicit keys it holds no credentials of its own. Making a client from it is serialised.
_keyed_session: boto3.session.Session | None = None
_keyed_lock = threading.Lock()


def _new_session(profile: str | None = None) -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    return boto3.session.Session(botocore_session=core, profile_name=profile)


def make_client(storage: Storage) -> Any:
    """A boto3 S3 client; thread-safe, so one per DoFn instance serves all its threads.

    Credentials come fresh for each client: keys the storage names are read now; a profile or
    boto3's own chain gets a session of its own, so nothing one client resolved leaks into another.
    """
    global _keyed_session
    creds = storage.credentials
    keys: dict[str, Any] = {}
    if not creds.aws_profile and (resolved := resolve_credentials(storage)) is not None:
        keys = {"aws_access_key_id": resolved.access_key, "aws_secret_access_key": resolved.secret_key,
                "aws_session_token": resolved.token}
    if not keys:
        return _client(_new_session(creds.aws_profile), storage, keys)
    with _keyed_lock:
        if _keyed_session is None:
            _keyed_session = _new_session()
        return _client(_keyed_session, storage, keys)


def _client(session: boto3.session.Session, storage: Storage, keys: dict[str, Any]) -> Any:
    return session.client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=storage.region,
        config=Config(
            max_pool_connections=storage.max_pool_connections,
            connect_timeout=storage.connect_timeout_s,
            read_timeout=storage.read_timeout_s,
            retries={"max_attempts": storage.max_attempts, "mode": "standard"},
            s3={"addressing_style": storage.addressing_style},
            tcp_keepalive=True,
        ),
        **keys,
    )


class _Held:
    """A client and how many holders it has."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.holders = 0


_held: dict[Storage, _Held] = {}
_held_lock = threading.Lock()


def hold_client(storage: Storage) -> Any:
    """A boto3 client on `storage` shared by this process's holders (a pipeline's manifest reader
    and results recorder: one client per run, not one each, ~10-20 ms apiece with boto3's chain);
    made when the first holder asks, closed when the last lets go (`let_go_client`). Credentials
    are as fresh as the first holder's: a later run, once every holder let go, makes a new one."""
    with _held_lock:
        held = _held.get(storage)
        if held is None:
            held = _held[storage] = _Held(make_client(storage))
        held.holders += 1
        return held.client


def let_go_client(storage: Storage) -> None:
    """One holder of `hold_client(storage)` is done with it; the last one closes it."""
    with _held_lock:
        held = _held.get(storage)
        if held is None:
            return
        held.holders -= 1
        if held.holders > 0:
            return
        del _held[storage]
    held.client.close()


def resolve_credentials(storage: Storage) -> Any:
    """The storage's keys from this process's environment or profile (None: boto3's chain);
    CredentialsNotSet naming the storage and the variable, never a value, when they are missing."""
    try:
        return storage.credentials.resolve()
    except ConfigError as exc:
        raise ConfigError(f"{storage.describe()}: {exc.message}", code="CredentialsNotSet") from None


def client_of_kind(kind: str, storage: Storage) -> Any:
    """"lean": the SigV4 + urllib3 client of the hot path; anything else: boto3."""
    if kind == "lean":
        from cosbatch.storage.lean import LeanS3Client

        return LeanS3Client(storage)
    return make_client(storage)


class StorageClients:
    """One boto3 client per named storage, made on first use (thread-safe enough: a race
    makes a spare client, never a wrong one)."""

    def __init__(self, catalog: StorageCatalog) -> None:
        self.catalog = catalog
        self._clients: dict[str, Any] = {}

    def get(self, name: str | None) -> Any:
        """The client of storage `name` (None: the default storage); StorageNotConfigured if unknown."""
        storage = self.catalog.get(name or self.catalog.default_name)
        if storage.name not in self._clients:
            self._clients[storage.name] = make_client(storage)
        return self._clients[storage.name]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
