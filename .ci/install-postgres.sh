#!/usr/bin/env bash
# Debian's PostgreSQL server binaries for the store tests (tests/support/postgres.py starts a
# throwaway server from /usr/lib/postgresql/<version>/bin; nothing is configured system-wide).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q postgresql >/dev/null
