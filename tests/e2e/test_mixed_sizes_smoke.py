"""`python -m benchmarks.mixed_sizes --smoke` keeps working: the mixed-size job, main's behaviour
and `s5cmd run` all copy every object, the job's large objects go in parts, and the tail is
measured. Figures at this size mean nothing, so none is checked against a target."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_mixed_sizes_benchmark_runs_and_is_written(tmp_path):
    committed = ROOT / "benchmarks" / "results" / "mixed-sizes.json"
    before = committed.read_bytes() if committed.exists() else None
    proc = subprocess.run([sys.executable, "-m", "benchmarks.mixed_sizes", "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((tmp_path / "mixed-sizes.json").read_text())
    assert doc["meta"]["profile"] == "smoke" and doc["meta"]["objects"] == 30
    assert set(doc["seconds"]) == {"cosbatch", "cosbatch, main's behaviour", "s5cmd run",
                                   "server alone: CopyObject, largest first"}
    assert doc["ratio_vs_ceiling"] > 0 and len(doc["ratio_vs_ceiling_per_round"]) == 1
    ours, main = doc["jobs"]["cosbatch"][0], doc["jobs"]["cosbatch, main's behaviour"][0]
    assert ours["failed"] == 0 and ours["parts"] > 0 and main["parts"] == 0
    assert 0 <= ours["tail_s"] < ours["seconds"]
    assert "tail: 99% of bytes to Complete" in (tmp_path / "mixed-sizes.md").read_text()
    assert doc["meta"]["disk_write"]["buffered"] > 0
    assert "this disk's own write rate" in (tmp_path / "mixed-sizes.md").read_text()
    assert (committed.read_bytes() if committed.exists() else None) == before  # --out: published figures left alone
