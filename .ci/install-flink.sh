#!/usr/bin/env bash
# Flink for the Flink tests, by its ordinary clients: Flink's jars with pip (PyPI's
# apache-flink-libraries) and Beam's Flink job server with mvn (Maven Central), cached where
# launch/flink_cluster.py and Beam's FlinkRunner look. Needs Java and Maven (on this machine kind);
# without Java the Flink tests skip and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v java >/dev/null; then
  echo "install-flink: no java on PATH: the Flink tests will be skipped" >&2
  exit 0
fi
java -version 2>&1 | sed -n 1p
mvn -v | sed -n 1p  # sed reads it all: head would close the pipe and fail mvn
.venv/bin/python -m launch.flink_cluster fetch
