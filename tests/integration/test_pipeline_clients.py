"""A pipeline run makes one boto3 client for its storage's manifest reads and report writes, not
one per DoFn (DirectRunner in process: the manifest reader and the results recorder share it)."""

from __future__ import annotations

import traceback

from cosbatch.lifecycle import JobStatus
from cosbatch.storage import clients
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, write_manifest


def test_one_boto3_client_per_pipeline_run_for_manifest_and_report(s3, make_bucket, store, settings, monkeypatch):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k{i}" for i in range(30)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    made_by_pipeline = []
    real = clients._client  # every boto3 client make_client makes

    def counting(session, storage, keys):
        # Made by a transform, or for one through hold_client (the recorder holds it from a writer
        # thread, whose stack has no transform frame).
        if any("pipelines/transforms" in frame.filename or frame.name == "hold_client"
               for frame in traceback.extract_stack()):
            made_by_pipeline.append(storage)
        return real(session, storage, keys)

    monkeypatch.setattr(clients, "_client", counting)
    job = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep))
    assert job.status is JobStatus.COMPLETE, job.failure_reasons
    on_job_storage = [s for s in made_by_pipeline if s.name == job.storage and s.max_attempts != 1]
    assert len(on_job_storage) == 1, made_by_pipeline  # was 2: ReadManifest's and RecordResults' own
