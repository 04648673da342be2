"""A Beam Python SDK worker for the PROCESS environment: what Beam's container `boot` program does,
for a worker whose Python already has cosbatch installed (the same venv as the Flink TaskManager's
host, or an image built from launch/Dockerfile).

A portable runner (Flink's TaskManager) starts `command --id=ID --provision_endpoint=HOST:PORT`
for each SDK harness it needs. This asks the provision service for the job's pipeline options and
the control and logging endpoints, sets them as the environment variables Beam's
`sdk_worker_main` reads, and runs the harness in this process. Staged artifacts (a `--setup_file`
package) are not installed: the worker runs the cosbatch it has, which must be the submitter's.

Installed as the `cosbatch-sdk-worker` command; launch/flink.py makes it the default PROCESS
command.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile


def harness_environment(provision_endpoint: str, worker_id: str, given: dict[str, str]) -> dict[str, str]:
    """The variables `sdk_worker_main` reads, from the provision service's ProvisionInfo."""
    import grpc
    from apache_beam.portability.api import (
        beam_provision_api_pb2,
        beam_provision_api_pb2_grpc,
        endpoints_pb2,
    )
    from google.protobuf import json_format, text_format

    with grpc.insecure_channel(provision_endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        info = stub.GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(),
                                     metadata=[("worker_id", worker_id)]).info

    def descriptor(url: str) -> str:
        return text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url))

    control = given.get("control_endpoint") or info.control_endpoint.url
    logging = given.get("logging_endpoint") or info.logging_endpoint.url
    variables = {
        "WORKER_ID": worker_id,
        "PIPELINE_OPTIONS": json_format.MessageToJson(info.pipeline_options),
        "CONTROL_API_SERVICE_DESCRIPTOR": descriptor(control),
        "RUNNER_CAPABILITIES": " ".join(info.runner_capabilities),
        "SEMI_PERSISTENT_DIRECTORY": given.get("semi_persist_dir") or tempfile.gettempdir(),
    }
    if logging:
        variables["LOGGING_API_SERVICE_DESCRIPTOR"] = descriptor(logging)
    return variables


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cosbatch-sdk-worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", required=True)
    parser.add_argument("--provision_endpoint", required=True)
    for name in ("control_endpoint", "logging_endpoint", "artifact_endpoint", "semi_persist_dir"):
        parser.add_argument(f"--{name}", default="")
    args, _ = parser.parse_known_args(argv)
    os.environ.update(harness_environment(args.provision_endpoint, args.id, vars(args)))
    from apache_beam.runners.worker import sdk_worker_main

    sys.argv = [sys.argv[0]]
    sdk_worker_main.main([])


if __name__ == "__main__":
    main()
