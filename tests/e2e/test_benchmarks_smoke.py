"""`python -m benchmarks run --smoke` keeps working: every scenario runs for cosbatch and its
peers and lands in latest.{json,md}. Figures at this size mean nothing, so none is checked
against a target (benchmarks are not tests)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["copy", "copy-load", "delete", "tagging", "latency", "memory", "store", "http", "cross-small",
             "cross-large", "rate-limit", "cpu"]
COPY_PEERS = {"cosbatch", "s5cmd run", "boto3 32 threads"}
PEERS = {"copy": COPY_PEERS, "copy-load": COPY_PEERS, "delete": {"cosbatch", "s5cmd rm"},
         "tagging": {"cosbatch", "boto3 32 threads"}, "cross-small": {"cosbatch", "rclone copy"},
         "cross-large": {"cosbatch", "rclone copy"}}


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
