"""`cosbatch serve`: the controller (scheduler + store) and the HTTP API + web console in one process."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from dataclasses import replace
from types import FrameType

from cosbatch import logs
from cosbatch.api import ApiApp
from cosbatch.api.auth import AccessKey, load_access_keys
from cosbatch.api.http import MAX_BODY_BYTES
from cosbatch.control.http_channel import load_worker_secret
from cosbatch.controller import JobService, Scheduler
from cosbatch.errors import ConfigError
from cosbatch.settings import Settings
from cosbatch.storage import StorageClients
from cosbatch.store import open_store
from cosbatch.store.opener import worker_key_file

#: waitress refuses bodies over this itself (plain text); up to it, the app answers 413 in XML.
WAITRESS_BODY_CAP = 64 * MAX_BODY_BYTES


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8480, help="port to listen on (default 8480; 0 = any free)")
    parser.add_argument("--access-keys-file", default=None, metavar="PATH",
                        help="ACCOUNT:ACCESS_KEY_ID:SECRET lines (default ~/.cosbatch/access-keys if present; "
                             "also $COSBATCH_ACCESS_KEYS)")
    parser.add_argument("--no-auth", action="store_true",
                        help="development only: accept unsigned requests, and any account header")
    parser.add_argument("--threads", type=int, default=8, help="HTTP worker threads (default 8)")
    parser.add_argument("--worker-control", choices=("store", "http"), default="store",
                        help="how pipeline workers report: open the store (default; same machine) or call this "
                             "server's worker channel over HTTP (workers elsewhere: Flink, Dataflow)")
    parser.add_argument("--advertise-url", default=None, metavar="URL",
                        help="this server's URL as workers reach it (default http://HOST:PORT)")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="serve the API only; jobs run where `cosbatch run` or another server runs")


def serve_keys(args: argparse.Namespace) -> dict[str, AccessKey] | None:
    """The access keys `serve` accepts (None: --no-auth); InvalidConfiguration when there are none.
    Checked before the store is opened, so a refused `serve` creates nothing."""
    keys = None if args.no_auth else load_access_keys(args.access_keys_file)
    if keys is not None and not keys:
        raise ConfigError("no access keys are configured: set COSBATCH_ACCESS_KEYS=ACCOUNT:KEY_ID:SECRET, "
                          "or give --access-keys-file, or pass --no-auth for a development server")
    return keys


def listen_sockets(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to host:port (as waitress resolves it), or ConfigError CannotListen. Called
    before the store is opened, so a `serve` that cannot listen creates nothing."""
    from waitress.adjustments import Adjustments

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535 (0: any free port), not {port}", code="CannotListen")
    try:
        addresses = Adjustments(host=host, port=port).listen
    except (ValueError, OSError):  # waitress: the host name does not resolve
        raise ConfigError(f"cannot listen on {host}:{port}: the host does not resolve to an address "
                          "of this machine", code="CannotListen") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, address in addresses:
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress's own binding does
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:  # the port is in use, or the address is not this machine's
        for sock in bound:
            sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code="CannotListen") from None
    return bound


def run_serve(args: argparse.Namespace, settings: Settings, keys: dict[str, AccessKey] | None,
              sockets: list[socket.socket]) -> int:
    """Serve on `sockets` (listen_sockets()) until SIGINT/SIGTERM; `keys` from serve_keys()."""
    from waitress import create_server

    store = open_store(settings.store_url)
    secret = load_worker_secret(worker_key_file(store)) if args.worker_control == "http" else None
    clients = StorageClients(settings.storages)
    app = ApiApp(JobService(store, settings.storages, notify_allow=settings.notify_allow), keys, storage=lambda job: clients.get(job.storage),
                 worker_secret=secret)
    server = create_server(app, sockets=sockets, threads=args.threads, max_request_body_size=WAITRESS_BODY_CAP,
                           ident="cosbatch", clear_untrusted_proxy_headers=True)
    if secret is not None:
        advertised = args.advertise_url or f"http://{server.effective_host}:{server.effective_port}"  # type: ignore[union-attr]
        settings = replace(settings, worker_channel_url=advertised, worker_secret=secret)
    stop = threading.Event()
    scheduler = None if args.no_scheduler else Scheduler(store, settings)
    worker = threading.Thread(target=scheduler.serve_forever, args=(stop,), name="scheduler", daemon=True) \
        if scheduler else None

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise SystemExit(0)  # waitress's loop ends on SystemExit and shuts its workers down

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if worker:
        worker.start()
    host, port = server.effective_host, server.effective_port  # type: ignore[union-attr]
    auth = "off (--no-auth)" if keys is None else f"SigV4 / COS signatures, {len(keys)} key(s)"
    print(f"cosbatch serve: http://{host}:{port}/ (API /v20180820/jobs and /jobs, console /console; "
          f"auth {auth})", file=sys.stderr, flush=True)
    logs.event("serve_started", host=host, port=port, auth=keys is not None)
    try:
        server.run()
    finally:
        stop.set()
        if worker:
            worker.join(timeout=30)
        if scheduler:
            scheduler.close()
    return 0
