"""Who is calling: access keys, and verifying AWS SigV4 and COS request signatures.

Keys are configured as `ACCOUNT:ACCESS_KEY_ID:SECRET_ACCESS_KEY` entries, in the
`COSBATCH_ACCESS_KEYS` environment variable (comma-separated) and/or a file (one
entry per line, `#` comments). Each key belongs to one account (AWS account id or
COS APPID); a request signed with it may only act for that account.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

from cosbatch.errors import ConfigError, CosbatchError

MAX_CLOCK_SKEW_S = 15 * 60
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<headers>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


class AccessDenied(CosbatchError, code="AccessDenied", http_status=403):
    """A request without a valid signature or sign-in, or for another account's job."""


@dataclass(frozen=True)
class AccessKey:
    account_id: str
    access_key_id: str
    secret_access_key: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"AccessKey(account_id={self.account_id!r}, access_key_id={self.access_key_id!r})"


def parse_access_keys(text: str, source: str) -> dict[str, AccessKey]:
    keys: dict[str, AccessKey] = {}
    for n, raw in enumerate(re.split(r"[,\n]", text), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ConfigError(f"{source}: entry {n} must be ACCOUNT:ACCESS_KEY_ID:SECRET_ACCESS_KEY")
        account, key_id, secret = (p.strip() for p in parts)
        keys[key_id] = AccessKey(account, key_id, secret)
    return keys


def load_access_keys(file: str | None) -> dict[str, AccessKey]:
    """Keys from $COSBATCH_ACCESS_KEYS and the keys file (given, or ~/.cosbatch/access-keys if present)."""
    keys = parse_access_keys(os.environ.get("COSBATCH_ACCESS_KEYS", ""), "COSBATCH_ACCESS_KEYS")
    path = Path(file).expanduser() if file else Path("~/.cosbatch/access-keys").expanduser()
    if file or path.exists():
        try:
            keys.update(parse_access_keys(path.read_text(), str(path)))
        except OSError as exc:
            raise ConfigError(f"cannot read the access keys file {path}: {exc.strerror}") from None
    return keys


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers, as received."""

    method: str
    path: str  # raw, as sent (still percent-encoded)
    query: str  # raw query string
    headers: dict[str, str]  # lower-case names
    body: bytes


def _hmac(key: bytes, msg: str, algo: str = "sha256") -> bytes:
    return hmac.new(key, msg.encode(), algo).digest()


def _uri_encode(s: str) -> str:
    return quote(s, safe="-_.~")


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(pairs))


def verify_sigv4(req: SignedRequest, keys: dict[str, AccessKey], now: float | None = None) -> AccessKey:
    """The key that signed `req` (AWS Signature Version 4, Authorization header), or AccessDenied."""
    m = _SIGV4.match(req.headers.get("authorization", ""))
    if not m:
        raise AccessDenied("the request is not signed with AWS Signature Version 4")
    cred = m["cred"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise AccessDenied("malformed SigV4 credential scope")
    key_id, date, region, service = cred[:4]
    key = keys.get(key_id)
    if key is None:
        raise AccessDenied("the access key id is not known to this server")
    amz_date = req.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AccessDenied("x-amz-date is missing or malformed") from None
    if abs((now or time.time()) - signed_at.timestamp()) > MAX_CLOCK_SKEW_S or not amz_date.startswith(date):
        raise AccessDenied("the request time is too far from the server's time")
    signed_headers = m["headers"].split(";")
    if "host" not in signed_headers:
        raise AccessDenied("the signature must cover the host header")
    payload_hash = req.headers.get("x-amz-content-sha256") or hashlib.sha256(req.body).hexdigest()
    if payload_hash != UNSIGNED_PAYLOAD and payload_hash != hashlib.sha256(req.body).hexdigest():
        raise AccessDenied("x-amz-content-sha256 does not match the body")
    canonical_headers = "".join(
        f"{h}:{' '.join(req.headers.get(h, '').split())}\n" for h in signed_headers
    )
    canonical = "\n".join([req.method, req.path or "/", _canonical_query(req.query), canonical_headers,
                           m["headers"], payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _hmac(_hmac(_hmac(_hmac(("AWS4" + key.secret_access_key).encode(), date), region), service),
                        "aws4_request")
    expected = hmac.new(signing_key, to_sign.encode(), "sha256").hexdigest()
    if not hmac.compare_digest(expected, m["sig"]):
        raise AccessDenied("the request signature does not match")
    return key


def _cos_kv(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{_uri_encode(k).lower()}={_uri_encode(v)}" for k, v in sorted(
        (k.lower(), v) for k, v in pairs))


def verify_cos_signature(req: SignedRequest, keys: dict[str, AccessKey], now: float | None = None) -> AccessKey:
    """The key that signed `req` with the COS signature (q-sign-algorithm=sha1...), or AccessDenied."""
    fields = dict(parse_qsl(req.headers.get("authorization", ""), keep_blank_values=True))
    needed = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
              "q-signature")
    if fields.get("q-sign-algorithm") != "sha1" or not all(k in fields for k in needed):
        raise AccessDenied("the request is not signed with the COS signature")
    key = keys.get(fields["q-ak"])
    if key is None:
        raise AccessDenied("the access key id is not known to this server")
    try:
        start, end = (int(t) for t in fields["q-sign-time"].split(";"))
    except ValueError:
        raise AccessDenied("q-sign-time is malformed") from None
    t = now or time.time()
    if not start - MAX_CLOCK_SKEW_S <= t <= end + MAX_CLOCK_SKEW_S:
        raise AccessDenied("the COS signature has expired or is not yet valid")
    header_names = [h for h in fields["q-header-list"].split(";") if h]
    param_names = [p for p in fields["q-url-param-list"].split(";") if p]
    params = {k.lower(): v for k, v in parse_qsl(req.query, keep_blank_values=True)}
    host = req.headers.get("host", "")
    # COS SDKs sign the host name without the port (COS endpoints have none); accept both.
    for signed_host in dict.fromkeys([host, host.rsplit(":", 1)[0] if ":" in host else host]):
        headers = {**req.headers, "host": signed_host}
        http_string = "\n".join([
            req.method.lower(),
            unquote(req.path) or "/",
            _cos_kv([(p, params.get(p, "")) for p in param_names]),
            _cos_kv([(h, headers.get(h, "")) for h in header_names]),
            "",
        ])
        sign_key = hmac.new(key.secret_access_key.encode(), fields["q-key-time"].encode(), "sha1").hexdigest()
        to_sign = "\n".join(["sha1", fields["q-sign-time"], hashlib.sha1(http_string.encode()).hexdigest(), ""])
        expected = hmac.new(sign_key.encode(), to_sign.encode(), "sha1").hexdigest()
        if hmac.compare_digest(expected, fields["q-signature"]):
            return key
    raise AccessDenied("the request signature does not match")


def verify(req: SignedRequest, keys: dict[str, AccessKey]) -> AccessKey:
    """SigV4 or the COS signature, whichever the Authorization header carries."""
    auth = req.headers.get("authorization", "")
    if not auth:
        raise AccessDenied("the request is not signed")
    if auth.startswith("q-sign-algorithm="):
        return verify_cos_signature(req, keys)
    return verify_sigv4(req, keys)
