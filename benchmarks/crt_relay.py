"""awscrt's S3Client moving objects between two storages (issue 25, item 2: "also try awscrt").

The AWS Common Runtime's S3Client (behind the AWS CLI v2 and boto3's CRT transfers) splits a GET
into ranged GETs and a PUT into a multipart upload, run in parallel on its own event loop, in C.
It has no GET -> PUT relay, so each object is fetched whole into one preallocated buffer (the
ranged GETs' bodies written at their offsets) and then PUT from it: a thread per object, all at
once. No checksum is asked for on either side (like `raw ceiling`): this is what awscrt's byte
path can move here, an upper bound for a relay built on it.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

from awscrt import auth, http, s3
from awscrt import io as crt_io

MiB = 1024**2


class CrtStorage:
    """One S3Client for one plain-HTTP, path-style endpoint."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 part_size: int = 8 * MiB, connections: int = 16) -> None:
        self.host = endpoint.split("//", 1)[1].rstrip("/")
        loop = crt_io.EventLoopGroup(2)
        bootstrap = crt_io.ClientBootstrap(loop, crt_io.DefaultHostResolver(loop))
        self.signing = auth.AwsSigningConfig(
            algorithm=auth.AwsSigningAlgorithm.V4, signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
            credentials_provider=auth.AwsCredentialsProvider.new_static(access_key, secret_key),
            region=region, service="s3", signed_body_value=auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD,
            signed_body_header_type=auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
            use_double_uri_encode=False, should_normalize_uri_path=False)
        self.client = s3.S3Client(bootstrap=bootstrap, region=region, tls_mode=s3.S3RequestTlsMode.DISABLED,
                                  signing_config=self.signing, part_size=part_size,
                                  max_active_connections_override=connections)

    def get(self, bucket: str, key: str, size: int) -> bytearray:
        """The object's `size` bytes (ranged GETs in parallel); RuntimeError unless it is all there."""
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = [0]
        status: list[int] = []
        lock = threading.Lock()

        def on_body(chunk: bytes, offset: int, **_: object) -> None:
            view[offset:offset + len(chunk)] = chunk
            with lock:
                got[0] += len(chunk)

        def on_headers(status_code: int, headers: list, **_: object) -> None:
            status.append(status_code)

        request = http.HttpRequest("GET", f"/{bucket}/{key}", http.HttpHeaders([("Host", self.host)]))
        done = self.client.make_request(type=s3.S3RequestType.GET_OBJECT, request=request,
                                        on_headers=on_headers, on_body=on_body)
        done.finished_future.result()
        if got[0] != size or not status or status[0] >= 300:
            raise RuntimeError(f"GET {bucket}/{key}: {got[0]} of {size} bytes, status {status}")
        return buffer

    def put(self, bucket: str, key: str, body: bytearray) -> None:
        """PUT `body` (a multipart upload in part_size parts above one part); RuntimeError on failure."""
        status: list[int] = []

        def on_headers(status_code: int, headers: list, **_: object) -> None:
            status.append(status_code)

        headers = http.HttpHeaders([("Host", self.host), ("Content-Length", str(len(body)))])
        request = http.HttpRequest("PUT", f"/{bucket}/{key}", headers, body_stream=io.BytesIO(body))
        done = self.client.make_request(type=s3.S3RequestType.PUT_OBJECT, request=request, on_headers=on_headers)
        done.finished_future.result()
        if status and status[-1] >= 300:
            raise RuntimeError(f"PUT {bucket}/{key}: status {status}")


def crt_relay(home: CrtStorage, away: CrtStorage, src: str, keys: list[str], size: int, dst: str,
              prefix: str) -> None:
    """Every key GET from `home` and PUT to `away` under prefix/, a thread per object."""
    def one(key: str) -> None:
        away.put(dst, f"{prefix}/{key}", home.get(src, key, size))

    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(one, keys))
