"""Undo (issue #24): an undoable job records what each task overwrites next to its report; an
undo job restores it, unless the object changed since the job (ChangedSinceJob)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from cosbatch.controller import JobService
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import (
    create_and_run,
    op_request,
    read_report,
    run_until_idle,
    write_manifest,
)
from tests.reliability.checks import assert_completed_exactly

PUT_TAGS = {"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "archived"}]}}


def tags_of(s3, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def seed_tagged(s3, bucket: str, keys: list[str]) -> dict[str, dict[str, str]]:
    """Objects: even ones tagged {owner: <i>, tier: hot}, odd ones with no tags. Returns the tags."""
    put_objects(s3, bucket, keys)
    before = {k: ({"owner": str(i), "tier": "hot"} if i % 2 == 0 else {}) for i, k in enumerate(keys)}

    def tag(key: str) -> None:
        if before[key]:
            s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={
                "TagSet": [{"Key": k, "Value": v} for k, v in before[key].items()]})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(tag, keys))
    return before


def undoable_job(s3, store, settings, src: str, rep: str, keys: list[str], operation: dict = PUT_TAGS,
                 token: str = "undoable"):
    write_manifest(s3, src, f"{token}.csv", [(src, k) for k in keys])
    body = op_request(src, f"{token}.csv", operation, rep, token=token,
                      Tags=[{"Key": "cosbatch:undoable", "Value": "true"}])
    return create_and_run(store, settings, body)


def test_undo_of_put_tagging_restores_each_objects_tags(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"k/{i} ü+%" for i in range(40)]
    before = seed_tagged(s3, src, keys)
    job = undoable_job(s3, store, settings, src, rep, keys)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == len(keys)
    assert all(tags_of(s3, src, k) == {"stage": "archived"} for k in keys)
    # The records sit next to the report, one file per segment, never in the store.
    listed = s3.list_objects_v2(Bucket=rep, Prefix=f"reports/job-{job.job_id}/undo/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed) == ["seg-000000.csv", "seg-000000.pending.csv"]

    service = JobService(store, settings.storages)
    undo = service.create_undo_job(job.job_id)
    assert undo.description == f"undo of job {job.job_id}" and undo.report == job.report
    assert {t.key: t.value for t in undo.tags} == {"cosbatch:undo-of": job.job_id}
    # The undo job's request with its manifest read another way (a console clone offered Bucket,Key)
    # is refused, not left to fail on the manifest's first line.
    with pytest.raises(InvalidRequest, match="give no Manifest"):
        service.create_job(parse_create_job(op_request(
            rep, f"reports/job-{job.job_id}/undo-manifest.csv", PUT_TAGS, rep, token="clone",
            Tags=[{"Key": "cosbatch:undo-of", "Value": job.job_id}])))
    run_until_idle(store, settings)
    undo = service.describe_job(undo.job_id)
    assert undo.status is JobStatus.COMPLETE, undo.failure_reasons
    assert undo.progress_summary.number_of_tasks_succeeded == len(keys)
    assert {k: tags_of(s3, src, k) for k in keys} == before
    _, rows, _ = read_report(s3, rep, undo)
    assert sorted(r["Key"] for r in rows) == sorted(keys)
    assert {r["ResultMessage"] for r in rows} == {
        "Successful: removed the tags (there were none before the job)"} | {
        f"Successful: restored {{owner={i}, tier=hot}}" for i in range(0, len(keys), 2)}


def test_undo_of_delete_tagging_puts_the_tags_back(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"d/{i}" for i in range(10)]
    before = seed_tagged(s3, src, keys)
    job = undoable_job(s3, store, settings, src, rep, keys, {"S3DeleteObjectTagging": {}}, token="del")
    assert job.status is JobStatus.COMPLETE
    assert all(tags_of(s3, src, k) == {} for k in keys)
    undo = JobService(store, settings.storages).create_undo_job(job.job_id)
    run_until_idle(store, settings)
    assert JobService(store).describe_job(undo.job_id).status is JobStatus.COMPLETE
    assert {k: tags_of(s3, src, k) for k in keys} == before


def test_undo_never_clobbers_a_later_change(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"c/{i}" for i in range(6)]
    before = seed_tagged(s3, src, keys)
    job = undoable_job(s3, store, settings, src, rep, keys, token="later")
    s3.put_object_tagging(Bucket=src, Key="c/2", Tagging={"TagSet": [{"Key": "stage", "Value": "restored-by-hand"}]})
    s3.delete_object_tagging(Bucket=src, Key="c/4")
    s3.delete_object_tagging(Bucket=src, Key="c/5")  # back as before the job (no tags): nothing to do
    undo = JobService(store, settings.storages).create_undo_job(job.job_id)
    run_until_idle(store, settings)
    undo = JobService(store).describe_job(undo.job_id)
    assert undo.status is JobStatus.COMPLETE
    assert undo.progress_summary.number_of_tasks_failed == 2
    _, rows, _ = read_report(s3, rep, undo)
    failed = {r["Key"]: r for r in rows if r["TaskStatus"] == "failed"}
    assert set(failed) == {"c/2", "c/4"}
    assert {r["ErrorCode"] for r in failed.values()} == {"ChangedSinceJob"}
    assert "the object now has {stage=restored-by-hand}" in failed["c/2"]["ResultMessage"]
    assert "the object now has no tags" in failed["c/4"]["ResultMessage"]
    assert tags_of(s3, src, "c/2") == {"stage": "restored-by-hand"} and tags_of(s3, src, "c/4") == {}
    assert next(r for r in rows if r["Key"] == "c/5")["ResultMessage"] == (
        "Successful: already as before the job (no tags)")
    assert {k: tags_of(s3, src, k) for k in keys if k not in ("c/2", "c/4")} == {
        k: v for k, v in before.items() if k not in ("c/2", "c/4")}


def test_undoable_refusals(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    service = JobService(store, settings.storages)
    undoable = [{"Key": "cosbatch:undoable", "Value": "true"}]

    def create(operation: dict, report: str | None = rep, **over):
        return service.create_job(parse_create_job(op_request(src, "m.csv", operation, report, Tags=undoable, **over)))

    with pytest.raises(InvalidRequest, match="Invoke cannot be undone: a function's effects") as exc:
        create({"Invoke": {"Function": "tests.integration.invoke_functions:tag_with_size"}})
    assert exc.value.code == "InvalidRequest"
    with pytest.raises(InvalidRequest, match="S3InitiateRestoreObject cannot be undone"):
        create({"S3InitiateRestoreObject": {"ExpirationInDays": 1, "GlacierJobTier": "STANDARD"}})
    with pytest.raises(InvalidRequest, match="needs the job's report"):
        create(PUT_TAGS, report=None)
    with pytest.raises(InvalidRequest, match="dry run"):
        create(PUT_TAGS, DryRun=True)
    # A job that did not record undo, or is not finished, cannot be undone.
    plain = service.create_job(parse_create_job(op_request(src, "m.csv", PUT_TAGS, rep, token="plain")))
    with pytest.raises(InvalidRequest, match="did not record undo"):
        service.create_undo_job(plain.job_id)
    recording = create(PUT_TAGS, token="recording")
    with pytest.raises(InvalidRequest, match="is New; it can be undone once it has finished"):
        service.create_undo_job(recording.job_id)
    # Whether a job records undo is fixed at creation.
    with pytest.raises(InvalidRequest, match="cannot change once the job is created"):
        service.put_job_tagging(plain.job_id, undoable)
    with pytest.raises(InvalidRequest, match="cannot change once the job is created"):
        service.delete_job_tagging(recording.job_id)
    # cosbatch:undo-of with a manifest of one's own is refused.
    with pytest.raises(InvalidRequest, match="give no Manifest"):
        service.create_job(parse_create_job(op_request(src, "m.csv", PUT_TAGS, rep, token="own-manifest",
                                                       Tags=[{"Key": "cosbatch:undo-of", "Value": plain.job_id}])))


def cli(store, s3_server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", store.url, "--endpoint-url",
                           s3_server.endpoint_url, *args], capture_output=True, text=True, timeout=180)


def test_undo_from_the_cli(s3, s3_server, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"cli/{i}" for i in range(8)]
    before = seed_tagged(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    made = cli(store, s3_server, "create-job", "--undoable", "--wait", "--no-progress", "--output", "json",
               "--account-id", "123456789012", "--priority", "5", "--role-arn", "arn:aws:iam::123456789012:role/batch",
               "--manifest", f"Spec={{Format=S3BatchOperations_CSV_20180820,Fields=[Bucket,Key]}},"
                             f"Location={{ObjectArn=arn:aws:s3:::{src}/m.csv}}",
               "--operation", json.dumps(PUT_TAGS),
               "--report", f"Bucket=arn:aws:s3:::{rep},Format=Report_CSV_20180820,Enabled=true,Prefix=r,"
                           "ReportScope=AllTasks")
    assert made.returncode == 0, made.stderr
    job_id = json.loads(made.stdout)["Job"]["JobId"]
    assert all(tags_of(s3, src, k) == {"stage": "archived"} for k in keys)

    refused = cli(store, s3_server, "create-job", "--undo", job_id, "--operation", json.dumps(PUT_TAGS))
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("cosbatch: InvalidRequest: --operation cannot be given with --undo: "
                                      "the new job takes the earlier job's")
    refused = cli(store, s3_server, "create-job", "--undoable", "--account-id", "123456789012", "--priority", "1",
                  "--role-arn", "arn:aws:iam::123456789012:role/batch",
                  "--manifest", f"Spec={{Format=S3BatchOperations_CSV_20180820,Fields=[Bucket,Key]}},"
                                f"Location={{ObjectArn=arn:aws:s3:::{src}/m.csv}}",
                  "--operation", '{"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC32"}}',
                  "--report", f"Bucket=arn:aws:s3:::{rep},Format=Report_CSV_20180820,Enabled=true")
    assert refused.returncode == 2 and "S3ComputeObjectChecksum cannot be undone" in refused.stderr

    undone = cli(store, s3_server, "create-job", "--undo", job_id, "--priority", "7", "--wait", "--no-progress",
                 "--output", "json")
    assert undone.returncode == 0, undone.stderr
    doc = json.loads(undone.stdout)["Job"]
    assert doc["Status"] == "Complete" and doc["Priority"] == 7 and doc["Description"] == f"undo of job {job_id}"
    text = cli(store, s3_server, "describe-job", "--job-id", doc["JobId"]).stdout
    assert f"Operation    undo of job {job_id}: restores what its S3PutObjectTagging (TagSet=" in text
    assert {k: tags_of(s3, src, k) for k in keys} == before


def test_undo_from_python(tmp_path, s3, s3_server, make_bucket):
    import cosbatch

    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"py/{i}" for i in range(6)]
    before = seed_tagged(s3, src, keys)
    with cosbatch.Client(store=tmp_path / "c.db", endpoint_url=s3_server.endpoint_url) as client:
        job = client.create_job(manifest=[(src, k) for k in keys], operation={"S3DeleteObjectTagging": {}},
                                report=f"s3://{rep}/batch", undoable=True)
        assert job.tags["cosbatch:undoable"] == "true"
        job.wait(timeout=120, progress=False)
        assert all(tags_of(s3, src, k) == {} for k in keys)
        undo = client.undo(job.id)
        assert undo.wait(timeout=120, progress=False).status is JobStatus.COMPLETE
        assert undo.progress.number_of_tasks_succeeded == len(keys)
    assert {k: tags_of(s3, src, k) for k in keys} == before


def _kill_mid_job_then_finish(store, s3_server, job_id: str, log_path, at_tasks: int) -> None:
    """Run `cosbatch run` until the job has run `at_tasks` tasks, SIGKILL it, lift the job's rate
    limit, and let a second controller finish the job."""
    service = JobService(store)

    def controller(log):
        return subprocess.Popen([sys.executable, "-m", "cosbatch.cli.main", "--store", store.url, "--endpoint-url",
                                 s3_server.endpoint_url, "run", "--no-progress", "--segment-size", "500"],
                                stdout=log, stderr=subprocess.STDOUT)

    with open(log_path, "ab") as log:
        first = controller(log)
        try:
            wait_for(lambda: service.describe_job(job_id).progress_summary.tasks_run >= at_tasks, 180,
                     what="progress", state=lambda: log_path.read_text()[-2000:])
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = service.describe_job(job_id)
        assert at_kill.status is JobStatus.ACTIVE and at_kill.progress_summary.tasks_run < 3000
        service.update_rate_limit(job_id, None)
        second = controller(log)
        try:
            assert second.wait(300) == 0, log_path.read_text()[-3000:]
        finally:
            if second.poll() is None:
                second.kill()


def test_restart_mid_job_and_mid_undo_restores_the_state_before_the_job(s3, s3_server, make_bucket, store,
                                                                         settings, tmp_path):
    """A controller killed while an undoable job runs, then while its undo runs: each finishes with
    each task once in its report, and the undo restores the tags from before the job (a segment run
    again records nothing new: its tasks' state was read before its first run)."""
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"r/{i:05d}" for i in range(3000)]
    before = seed_tagged(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    service = JobService(store, settings.storages)
    body = op_request(src, "m.csv", PUT_TAGS, rep, token="restart",
                      Tags=[{"Key": "cosbatch:undoable", "Value": "true"}])
    job = service.create_job(parse_create_job(body), max_ops_per_second=400)
    _kill_mid_job_then_finish(store, s3_server, job.job_id, tmp_path / "job.log", at_tasks=1200)
    assert_completed_exactly(s3, store, job.job_id, keys, rep)
    assert all(tags_of(s3, src, k) == {"stage": "archived"} for k in keys[::97])

    undo = service.create_undo_job(job.job_id, max_ops_per_second=400)
    _kill_mid_job_then_finish(store, s3_server, undo.job_id, tmp_path / "undo.log", at_tasks=1200)
    _, rows = assert_completed_exactly(s3, store, undo.job_id, keys, rep)
    assert Counter(r["TaskStatus"] for r in rows) == {"succeeded": len(keys)}
    with ThreadPoolExecutor(16) as pool:
        after = dict(zip(keys, pool.map(lambda k: tags_of(s3, src, k), keys), strict=True))
    assert after == before


def _requests_by_kind(proxy, src: str, rep: str) -> Counter:
    """What the storage received, by (method, bucket, kind): kind is `tagging`, `undo` (a record
    file), `report` (other report files) or `manifest`."""
    kinds: Counter = Counter()
    for method, target, _ in proxy.requests:
        path, _, query = target.partition("?")
        bucket, _, key = path.lstrip("/").partition("/")
        kind = ("tagging" if "tagging" in query else "undo" if "/undo/" in key or "undo-manifest" in key else
                "list" if not key else "report" if bucket == rep else "manifest")
        kinds[method, "src" if bucket == src else "rep", kind] += 1
    return kinds


def test_undoable_costs_one_get_per_task(s3, s3_server, make_bucket, store, settings):
    """Counted at the storage: --undoable adds one GetObjectTagging per task and three requests per
    segment (look for a record file of an earlier run, write it, write the succeeded tasks'); the
    undo job sends one GET and one PUT or DELETE of tagging per task."""
    from tests.support.fault_proxy import FaultProxy

    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"n/{i}" for i in range(300)]
    seed_tagged(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    seen = {}
    for name, tags in (("undoable", [{"Key": "cosbatch:undoable", "Value": "true"}]), ("plain", [])):
        with FaultProxy(s3_server.endpoint_url) as proxy:
            proxied = replace(settings, storages=StorageCatalog.single(implicit_storage(proxy.url)),
                              segment_size=100)
            job = create_and_run(store, proxied, op_request(src, "m.csv", PUT_TAGS, rep, token=name, Tags=tags))
            assert job.status is JobStatus.COMPLETE
            seen[name] = _requests_by_kind(proxy, src, rep)
            if name == "undoable":
                undo = JobService(store, proxied.storages).create_undo_job(job.job_id)
                before_undo = len(proxy.requests)
                run_until_idle(store, proxied)
                assert JobService(store).describe_job(undo.job_id).status is JobStatus.COMPLETE
                proxy.requests[:] = proxy.requests[before_undo:]
                seen["undo"] = _requests_by_kind(proxy, src, rep)
    extra = seen["undoable"] - seen["plain"]
    assert extra == Counter({("GET", "src", "tagging"): 300,  # one GET per task
                             ("GET", "rep", "undo"): 3, ("PUT", "rep", "undo"): 6})  # 3 per segment of 100
    assert seen["undo"][("GET", "src", "tagging")] == 300
    assert seen["undo"][("PUT", "src", "tagging")] == seen["undo"][("DELETE", "src", "tagging")] == 150
    # and per segment of the undo job: its bytes of the undo manifest (one ranged GET)
    assert seen["undo"][("GET", "rep", "undo")] <= 3 + 5


def test_the_estimate_counts_what_undoable_reads(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"e/{i}" for i in range(30)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(op_request(
        src, "m.csv", PUT_TAGS, rep, ConfirmationRequired=True, Tags=[{"Key": "cosbatch:undoable", "Value": "true"}])))
    run_until_idle(store, settings)
    assert service.describe_job(job.job_id).shown_estimate()["Requests"] == {
        "PutObjectTagging": 30, "GetObjectTagging (undo records)": 30}
