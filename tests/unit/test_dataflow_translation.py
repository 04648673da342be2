"""The Dataflow path checked offline: the job's pipeline builds and translates to the Dataflow job
Beam's DataflowRunner would submit (`--dry_run`, nothing is sent), naming the worker image, or the
package built from this checkout's setup.py when there is none. Dataflow itself cannot be reached
from here: what is and is not tested is in docs/scaling.md."""

from __future__ import annotations

import pytest

from launch import dataflow
from tests.unit.test_runner_options import DATAFLOW, PLAN

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _environment(job):
    (environment,) = job.proto_pipeline.components.environments.values()
    return environment


def _transforms(job) -> set[str]:
    return {t.unique_name for t in job.proto_pipeline.components.transforms.values()}


def test_the_job_translates_to_a_dataflow_batch_job_on_the_worker_image():
    job = dataflow.dry_run(PLAN, DATAFLOW)
    assert job.proto.name == f"cosbatch-{PLAN.job_id}".lower()
    assert str(job.proto.type) == "JOB_TYPE_BATCH"
    labels = {p.key: p.value for p in job.proto.labels.additionalProperties}
    assert labels == {"cosbatch-job": PLAN.job_id.lower()}
    env = _environment(job)
    assert env.urn == "beam:env:docker:v1"
    assert DATAFLOW["sdk_container_image"].encode() in env.payload
    assert {"ReadManifest", "ApplyOperation", "RecordResults"} <= _transforms(job)


def test_without_an_image_the_workers_get_cosbatch_from_setup_py():
    config = {k: v for k, v in DATAFLOW.items() if k != "sdk_container_image"}
    job = dataflow.dry_run(PLAN, config)
    env = _environment(job)
    staged = [d.role_payload for d in env.dependencies]
    # Beam packages setup.py (an sdist of this checkout) as workflow.tar.gz for the workers.
    assert any(b"workflow.tar.gz" in payload for payload in staged), staged
    assert b"beam_python3" in env.payload  # Beam's own SDK image, which installs the package
