"""`cosbatch serve` as a subprocess on a free loopback port, and clients that talk to it.

Clients are stock: boto3's s3control (with the one event hook the spec names),
botocore's own SigV4 signer for raw requests, and Tencent's COS SDK signer for COS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class Key:
    account: str
    key_id: str
    secret: str

    @property
    def entry(self) -> str:
        return f"{self.account}:{self.key_id}:{self.secret}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strip_account_prefix(request, **_) -> None:
    u = urllib.parse.urlsplit(request.url)
    host = u.netloc.split(".", 1)[1] if u.netloc.split(".", 1)[0].isdigit() else u.netloc
    request.url = urllib.parse.urlunsplit((u.scheme, host, u.path, u.query, u.fragment))


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    keys: list[Key] = field(default_factory=list)
    http: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))

    def s3control(self, key: Key):
        client = boto3.client("s3control", endpoint_url=self.url, region_name="us-east-1",
                              aws_access_key_id=key.key_id, aws_secret_access_key=key.secret)
        client.meta.events.register("before-sign.s3-control", _strip_account_prefix)
        return client

    def request(self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None,
                sign_with: Key | None = None, query: dict | None = None) -> urllib3.BaseHTTPResponse:
        """A raw request; signed with SigV4 by botocore's signer when `sign_with` is given."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        headers = dict(headers or {})
        if sign_with is not None:
            req = AWSRequest(method=method, url=url, data=body, headers=headers)
            S3SigV4Auth(Credentials(sign_with.key_id, sign_with.secret), "s3", "us-east-1").add_auth(req)
            headers = dict(req.headers.items())
        return self.http.request(method, url, body=body or None, headers=headers, timeout=30)

    def cos_request(self, method: str, path: str, key: Key, *, body: bytes = b"", query: dict | None = None,
                    appid: str | None = None) -> urllib3.BaseHTTPResponse:
        """A request signed by Tencent's COS SDK (qcloud_cos.CosS3Auth), as COS tools sign it."""
        import requests
        from qcloud_cos import CosConfig
        from qcloud_cos.cos_auth import CosS3Auth

        conf = CosConfig(Region="ap-guangzhou", SecretId=key.key_id, SecretKey=key.secret)
        req = requests.Request(method, self.url + path, params=query or {}, data=body,
                               headers={"x-cos-appid": appid or key.account, "Content-Type": "application/xml"})
        prepared = req.prepare()
        CosS3Auth(conf, key=path, params=query or {})(prepared)
        return self.http.request(method, prepared.url, body=body or None, headers=dict(prepared.headers), timeout=30)

    def alive(self) -> bool:
        try:
            return self.http.request("GET", self.url + "/healthz", timeout=2).status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_api_server(workdir: Path, s3_endpoint: str, keys: list[Key], *extra: str,
                     timeout_s: float = 60, store_url: str | None = None) -> ApiServer:
    """`cosbatch serve` on a free port; its store is a SQLite file in `workdir` unless `store_url` names one."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = os.environ.copy()
    env["COSBATCH_ACCESS_KEYS"] = ",".join(k.entry for k in keys)
    log_path = workdir / "serve.log"
    cmd = [sys.executable, "-m", "cosbatch.cli.main", "-v", "--store", store_url or f"sqlite:///{workdir / 'api.db'}",
           "--endpoint-url", s3_endpoint, "serve", "--port", str(port), "--segment-size", "100", *extra]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = ApiServer(f"http://127.0.0.1:{port}", process, log_path, keys)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cosbatch serve exited {process.returncode}: {server.log()}")
        if server.alive():
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"cosbatch serve did not answer within {timeout_s}s: {server.log()}")
