"""`cosbatch serve`: the controller (scheduler + store) and the HTTP API + web console in one process."""

from __future__ import annotations

import argparse
import signal
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


def run_serve(args: argparse.Namespace, settings: Settings, keys: dict[str, AccessKey] | None) -> int:
    """Serve until SIGINT/SIGTERM; `keys` from serve_keys()."""
    from waitress import create_server

    store = open_store(settings.store_url)
    secret = load_worker_secret(worker_key_file(store)) if args.worker_control == "http" else None
    clients = StorageClients(settings.storages)
    app = ApiApp(JobService(store, settings.storages, notify_allow=settings.notify_allow), keys, storage=lambda job: clients.get(job.storage),
                 worker_secret=secret)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535 (0: any free port), not {args.port}", code="CannotListen")
    try:
        server = create_server(app, host=args.host, port=args.port, threads=args.threads,
                               max_request_body_size=WAITRESS_BODY_CAP, ident="cosbatch",
                               clear_untrusted_proxy_headers=True)
    except OSError as exc:  # the port is in use, the host cannot be resolved or is not local
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                          code="CannotListen") from None
    except ValueError:  # waitress: the host name does not resolve
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: the host does not resolve to an address "
                          "of this machine", code="CannotListen") from None
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
