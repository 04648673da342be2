"""`python -m benchmarks run --smoke` keeps working: every scenario runs for cosbatch and its
peers and lands in latest.{json,md}. Figures at this size mean nothing, so none is checked
against a target (benchmarks are not tests)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["copy", "copy-load", "half-job", "delete", "tagging", "latency", "memory", "store", "http", "cross-small",
             "cross-large", "rate-limit", "cpu", "cpu-delete"]
COPY_PEERS = {"cosbatch", "s5cmd run", "boto3 32 threads"}
PEERS = {"copy": COPY_PEERS, "copy-load": COPY_PEERS, "delete": {"cosbatch", "s5cmd rm"},
         "tagging": {"cosbatch", "boto3 32 threads"}, "cross-small": {"cosbatch", "rclone copy", "raw ceiling"},
         "cross-large": {"cosbatch", "rclone copy", "raw ceiling"}}


def test_every_scenario_runs_and_is_written(tmp_path):
    committed = ROOT / "benchmarks" / "results" / "latest.json"
    before = committed.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "run", "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((tmp_path / "latest.json").read_text())
    assert doc["meta"]["mode"] == "smoke" and doc["meta"]["rounds"] == 1
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert list(by_name) == SCENARIOS
    for name, scenario in by_name.items():
        assert scenario["measurements"], name
        for m in scenario["measurements"]:
            assert m["values"] and all(v > 0 for v in m["values"]), (name, m)
        if name in PEERS:  # alternated with its peers, and a ratio against them
            assert {m["contestant"] for m in scenario["measurements"]} == PEERS[name]
            assert scenario["ratio"] > 0
    table = (tmp_path / "latest.md").read_text()
    assert table.count("\n| (") == len(SCENARIOS)
    assert committed.read_bytes() == before  # --out: the published figures are left alone


def test_the_million_task_benchmark_runs_small(tmp_path):
    """`python -m benchmarks.million_tasks --smoke`: objects seeded once, then the tagging job over
    them on `cosbatch serve` with the DirectRunner and with a `dask scheduler` + two `dask worker`
    cluster, on PostgreSQL, then list/describe with many jobs in both stores. Every figure is
    present; none is judged."""
    committed = ROOT / "benchmarks" / "results" / "million-tasks.md"
    before = committed.read_bytes() if committed.exists() else None
    proc = subprocess.run([sys.executable, "-m", "benchmarks.million_tasks", "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((tmp_path / "million-tasks.json").read_text())
    assert doc["meta"]["mode"] == "smoke" and doc["meta"]["store"] == "postgresql"
    assert doc["meta"]["operation"] == "tagging"
    seeded = doc["meta"]["seeded"]
    assert seeded["objects"] == doc["meta"]["tasks"] and seeded["seconds"] > 0 and seeded["objects_per_s"] > 0
    assert [r["runner"] for r in doc["runs"]] == ["direct", "dask"]
    for run in doc["runs"]:
        assert run["big"]["tasks"] == doc["meta"]["tasks"] and run["baseline"]["tasks"] == doc["meta"]["baseline"]
        assert run["big"]["preparing_lines_per_s"] > 0 and run["big"]["tasks_per_s"] > 0
        assert run["big"]["describe_job_ms"]["samples"] > 0 and run["big"]["list_jobs_ms"]["samples"] > 0
        assert run["controller_peak_rss_mib"] > 0 and run["store_mib_after"] > 0
        # the objects sampled after each job carry that job's tags: it tagged the seeded objects
        assert run["baseline"]["objects_checked"] > 0 and run["big"]["objects_checked"] > 0
    dask = doc["runs"][1]
    assert dask["worker_processes"] >= 2 and dask["worker_peak_rss_mib"] > 0  # the dask workers were measured
    assert set(doc["stores"]) == {"sqlite", "postgresql"}
    for figures in doc["stores"].values():
        assert figures["jobs"] == doc["meta"]["jobs"] and figures["list_jobs_ms"]["samples"] == 50
    table = (tmp_path / "million-tasks.md").read_text()
    assert "| dask |" in table and "S3PutObjectTagging" in table and f"{seeded['objects']:,} of 16 bytes seeded" in table
    assert (committed.read_bytes() if committed.exists() else None) == before


def test_the_runners_benchmark_runs_small(tmp_path, s3_server, pg_server, flink_cluster):
    """`python -m benchmarks.runners --smoke`, in this process on the session's SeaweedFS, PostgreSQL
    and Flink session cluster: the tagging job over objects seeded once, on `cosbatch serve` with the
    DirectRunner, with a `dask scheduler` + two `dask worker` cluster and with Flink. Every runner
    is in the results with its throughput, the tags it wrote read back, and the processes measured."""
    from benchmarks import runners

    committed = ROOT / "benchmarks" / "results" / "runners.json"
    before = committed.read_bytes() if committed.exists() else None
    doc = runners.run(s3_server, pg_server.create_database, flink_cluster, tmp_path / "work", list(runners.RUNNERS),
                      runners.SMOKE, "smoke")
    runners.write(doc, tmp_path)
    doc = json.loads((tmp_path / "runners.json").read_text())
    assert doc["meta"]["mode"] == "smoke" and doc["meta"]["tasks"] == doc["meta"]["seeded"]["objects"]
    assert [r["runner"] for r in doc["runs"]] == ["direct", "dask", "flink"]
    groups = {}
    for run in doc["runs"]:
        big = run["jobs"][-1]
        assert big["tasks"] == doc["meta"]["tasks"] and big["tasks_per_s"] > 0 and big["create_to_complete_s"] > 0
        assert big["objects_checked"] > 0  # the sampled objects carry this job's tags
        assert {"Active", "Complete"} <= set(big["timeline"])
        assert all(p["peak_rss_mib"] > 0 for p in run["processes"])
        groups[run["runner"]] = [p["group"] for p in run["processes"]]
    assert groups["direct"].count("controller") >= 1
    assert groups["dask"].count("dask scheduler") == 1 and groups["dask"].count("dask worker") >= 2
    flink = groups["flink"]
    assert flink.count("JobManager") == 1 and flink.count("TaskManager JVM") == 2 and flink.count("job server JVM") == 1
    assert flink.count("SDK worker") >= 1  # the TaskManagers' SDK harness processes were measured
    view = doc["runs"][2]["jobs"][-1]["flink"]
    assert view and view[0]["state"] == "FINISHED" and view[0]["vertices"]
    table = (tmp_path / "runners.md").read_text()
    assert "| flink |" in table and "| dask |" in table and "## Where Flink's time goes" in table
    assert (committed.read_bytes() if committed.exists() else None) == before


def test_the_job_phases_benchmark_runs_small(tmp_path):
    """`python -m benchmarks.job_phases --smoke`: one traced 8 MiB copy job and one `s5cmd cp`; the
    phase table covers the job from CreateJob to Complete, the copy among its phases."""
    out = tmp_path / "phases.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.job_phases", "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    for row in ("| Preparing |", "| pipeline start", "| the copy (CopyObject) |", "| finish: report",
                "| **total, CreateJob to Complete** |", "| cosbatch job |", "| s5cmd cp |", "Ratio"):
        assert row in text, (row, text)
    copy = next(line for line in text.splitlines() if line.startswith("| the copy (CopyObject) |"))
    assert float(copy.split("|")[2]) > 0


@pytest.mark.parametrize(("module", "peer"), [("cross_large", "rclone copy --transfers 8"),
                                            ("cross_small", "rclone copy --transfers 128 (tuned)")])
def test_the_cross_storage_benchmarks_run_small(tmp_path, module, peer):
    """`python -m benchmarks.cross_large --smoke` (2 x 6 MiB) and `benchmarks.cross_small --smoke`
    (50 x 1 KiB) between two servers: every contestant once, a rate and a ratio to rclone each."""
    out = tmp_path / "cross.md"
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [line for line in out.read_text().splitlines()
            if line.startswith("| ") and "/s |" not in line and not line.startswith("|--")]
    names = {row.split("|")[1].strip() for row in rows}
    assert {"cosbatch job", peer, "raw ceiling"} <= names, rows
    for row in rows:
        assert float(row.split("|")[2]) > 0 and row.split("|")[4].strip().endswith("x"), row


def test_the_small_requests_benchmark_runs_small(tmp_path):
    """`python -m benchmarks.small_requests --smoke`: the lean client and awscrt, 50 requests of each
    kind; signing costs and a rate per kind and client."""
    out = tmp_path / "small.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.small_requests", "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    assert "Signing alone" in text
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| ") and "Object |" in line]
    assert {(r[1].strip(), r[2].split()[0].strip()) for r in rows} == {
        (kind, who) for kind in ("PutObject", "CopyObject", "HeadObject") for who in ("cosbatch", "awscrt")}
    assert all(float(r[3]) > 0 for r in rows)
