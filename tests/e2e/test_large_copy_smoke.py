"""`python -m benchmarks.large_copy --smoke` and `python -m benchmarks.many_large --smoke` keep
working: the job, s5cmd and the server-alone ceiling all copy, and the ratios to s5cmd and to the
ceiling are written with the load averages. Figures at this size mean nothing, so none is checked
against a target."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(module: str, stem: str, tmp_path: Path) -> dict:
    committed = ROOT / "benchmarks" / "results" / f"{stem}.json"
    before = committed.read_bytes() if committed.exists() else None
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (committed.read_bytes() if committed.exists() else None) == before  # --out: published figures left alone
    return json.loads((tmp_path / f"{stem}.json").read_text())


def _check(scenario: dict, peer: str) -> None:
    names = {m["contestant"] for m in scenario["measurements"]}
    assert {"cosbatch job", peer} <= names and any(n.startswith("server alone") for n in names)
    for m in scenario["measurements"]:
        assert m["values"] and all(v > 0 for v in m["values"]), m
    assert scenario["ratio"] > 0
    notes = " ".join(scenario["notes"])
    assert "cosbatch job / ceiling per round" in notes and "load average" in notes
    assert "this disk's own write rate" in notes  # the physical limit beside the figures


def test_the_large_copy_benchmark_runs_and_is_written(tmp_path):
    doc = _run("large_copy", "large-copy", tmp_path)
    assert doc["meta"]["mode"] == "smoke" and doc["meta"]["rounds"] == 1
    assert len(doc["scenarios"]) == 2
    for scenario in doc["scenarios"]:
        _check(scenario, "s5cmd cp")


def test_the_many_large_benchmark_runs_and_is_written(tmp_path):
    doc = _run("many_large", "many-large", tmp_path)
    assert doc["meta"]["mode"] == "smoke" and doc["meta"]["objects"] == 6
    (scenario,) = doc["scenarios"]
    _check(scenario, "s5cmd run --numworkers 16")
    assert "cosbatch job, split 5 MiB" in {m["contestant"] for m in scenario["measurements"]}
