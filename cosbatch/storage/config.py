"""A storage as a value: where it is, how to reach it, and where its credentials come from.

A `Storage` is picklable and free of secrets: it travels in the job's plan to every
pipeline worker, and each process resolves the credentials it names from its own
environment (env var names or an AWS profile), or, when it names none, from boto3's
usual chain (environment, profile, role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from botocore.credentials import Credentials, ReadOnlyCredentials

from cosbatch.errors import ConfigError

#: Name prefix of a storage that no config file declares: the process-wide endpoint
#: (`--endpoint-url`, $COSBATCH_ENDPOINT_URL, ...). Its name is the endpoint itself, so a
#: job created for endpoint A is never run by a process pointed at endpoint B.
IMPLICIT_PREFIX = "endpoint:"


@dataclass(frozen=True)
class CredentialsRef:
    """Where a storage's keys come from: the names of the environment variables that hold
    them, or an AWS profile. Names only: no secret is ever held here."""

    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    session_token_env: str | None = None
    aws_profile: str | None = None

    @property
    def is_default_chain(self) -> bool:
        return not (self.access_key_id_env or self.aws_profile)

    def describe(self) -> str:
        if self.aws_profile:
            return f"AWS profile {self.aws_profile!r}"
        if self.access_key_id_env:
            return f"env {self.access_key_id_env}/{self.secret_access_key_env}"
        return "boto3's default credential chain"

    def resolve(self) -> ReadOnlyCredentials | None:
        """The keys, read now from this process's environment or profile; None: boto3's chain."""
        if self.aws_profile:
            import boto3

            creds = boto3.session.Session(profile_name=self.aws_profile).get_credentials()
            if creds is None:
                raise ConfigError(f"AWS profile {self.aws_profile!r} has no credentials")
            return creds.get_frozen_credentials()
        if not self.access_key_id_env:
            return None
        names = [self.access_key_id_env, self.secret_access_key_env]
        missing = [n for n in names if not os.environ.get(n or "")]
        if missing:
            raise ConfigError(f"credentials not set: environment variable {', '.join(map(str, missing))} is empty")
        token = os.environ.get(self.session_token_env) if self.session_token_env else None
        return Credentials(os.environ[names[0]], os.environ[names[1]], token).get_frozen_credentials()

    def access_key_id(self) -> str | None:
        """The access key id in use (not a secret; named in AccessDenied messages), if known."""
        try:
            creds = self.resolve()
        except ConfigError:
            return None
        if creds is None:
            import boto3

            chain = boto3.session.Session().get_credentials()
            return chain.access_key if chain is not None else None
        return creds.access_key


#: Requests S3 bills as class A (PUT, COPY, POST, LIST); any other request is class B (GET, HEAD, ...),
#: except deletes, which S3 does not bill (a price in `per_1000` overrides either).
CLASS_A = frozenset({"CopyObject", "UploadPartCopy", "PutObject", "UploadPart", "CreateMultipartUpload",
                     "CompleteMultipartUpload", "PutObjectTagging", "PutObjectAcl", "PutObjectRetention",
                     "PutObjectLegalHold", "RestoreObject", "ListObjectsV2", "ListObjectVersions"})
FREE = frozenset({"DeleteObject", "DeleteObjects", "DeleteObjectTagging"})


@dataclass(frozen=True)
class Prices:
    """What a storage charges (`[storage.NAME.prices]`): per 1,000 requests by class, and per GiB
    a copy to another storage reads out of it. Only estimates read it."""

    currency: str = "USD"
    class_a_per_1000: float = 0.0
    class_b_per_1000: float = 0.0
    per_gib_read_across: float = 0.0  # bytes read out of this storage by copies to another storage
    per_1000: tuple[tuple[str, float], ...] = ()  # request name → price per 1,000, over its class

    def per_request(self, request: str) -> float:
        """The price of one request of this kind (its name as in the estimate: CopyObject, ...)."""
        own = dict(self.per_1000)
        name = request.split(" ", 1)[0]
        if name in own:
            return own[name] / 1000
        if name in FREE:
            return 0.0
        return (self.class_a_per_1000 if name in CLASS_A else self.class_b_per_1000) / 1000


@dataclass(frozen=True)
class Storage:
    """One object storage: an endpoint, a region, an addressing style and a credentials reference."""

    name: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: str = "path"
    credentials: CredentialsRef = field(default_factory=CredentialsRef)
    #: Ceiling on object operations per second, shared by every job running on this storage.
    max_ops_per_second: float | None = None
    #: Accounts allowed to use this storage (serve); None: every account.
    accounts: tuple[str, ...] | None = None
    #: Copies into this storage from another one: objects above the threshold go as multipart
    #: uploads of parts this size (raised as S3's 10,000-part limit needs; at least 5 MiB).
    multipart_threshold: int = 64 * 1024**2
    multipart_chunksize: int = 16 * 1024**2
    #: Copies within this storage: objects above this size are copied in parts (UploadPartCopy),
    #: at the cost of a HEAD per object. None: only objects the storage refuses to copy in one
    #: request (S3 and COS: over 5 GiB) are.
    multipart_copy_threshold: int | None = None
    #: Copies within this storage whose source size a listing of the segment already showed (no
    #: request of its own): above this size they go in parts (UploadPartCopy) on a pool every
    #: copy of the worker shares, so that no thread holds a multi-GiB copy alone. None: only by
    #: `multipart_copy_threshold` (cosbatch/operations/sizing.py, docs/large-objects.md).
    copy_split_threshold: int | None = 256 * 1024**2
    #: Copies within this storage: list each segment's sources (about one page per 1,000 keys) to
    #: learn their sizes, and start the largest first. False: manifest order, sizes unknown.
    copy_largest_first: bool = True
    #: Copies within this storage: at most this many bytes of whole-object copies (CopyObject) of
    #: known size in flight at once per worker (cosbatch/operations/bytes_budget.py): small
    #: copies still run as many at once as the job's threads, 64 MiB ones 16 at a time. None: only
    #: the job's threads bound them.
    copy_bytes_in_flight: int | None = 1024**3
    #: What it charges, if its config says (`[storage.NAME.prices]`): estimates show a Cost then.
    prices: Prices | None = None
    # Connection tuning (not identity).
    max_pool_connections: int = 64
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_attempts: int = 5  # botocore's own retries, for connection-level errors

    @property
    def is_implicit(self) -> bool:
        return self.name.startswith(IMPLICIT_PREFIX)

    def allows(self, account_id: str | None) -> bool:
        return self.accounts is None or account_id is None or account_id in self.accounts

    def describe(self) -> str:
        where = self.endpoint_url or f"AWS S3 {self.region}"
        return where if self.is_implicit else f"storage {self.name!r} ({where})"

    def tuned(self, **overrides: Any) -> Storage:
        return replace(self, **overrides)


def normalise_endpoint(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"endpoint URL {url!r} must be http(s)://host[:port]")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def implicit_storage(endpoint_url: str | None = None, region: str | None = None, **tuning: Any) -> Storage:
    """The process-wide storage: `endpoint_url` or $COSBATCH_ENDPOINT_URL / $AWS_ENDPOINT_URL_S3 /
    $AWS_ENDPOINT_URL (else AWS's own), `region` or $AWS_REGION / $AWS_DEFAULT_REGION, keys
    from boto3's chain. Its name is the endpoint, so jobs bound to it stay on it."""
    endpoint = normalise_endpoint(
        endpoint_url or os.environ.get("COSBATCH_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    name = IMPLICIT_PREFIX + (endpoint or f"aws/{region}")
    return Storage(name=name, endpoint_url=endpoint, region=region, **tuning)
