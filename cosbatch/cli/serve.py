"""`cosbatch serve`: the controller (scheduler + store) and the HTTP API in one process."""

from __future__ import annotations

import argparse

from cosbatch.errors import ConfigError
from cosbatch.settings import Settings


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    raise ConfigError("cosbatch serve is not available yet")
