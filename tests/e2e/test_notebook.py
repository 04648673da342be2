"""examples/quickstart.ipynb runs top to bottom in a real kernel and ends with a Complete job."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def _texts(cell) -> str:
    """Everything a cell showed: streams, and the text and HTML of results and displays."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.extend(str(out["data"].get(kind, "")) for kind in ("text/plain", "text/html"))
        elif out["output_type"] == "error":
            parts.append("\n".join(out["traceback"]))
    return "\n".join(parts)


def _cell(nb, tag: str):
    return next(c for c in nb.cells if tag in c.get("metadata", {}).get("tags", []))


def test_quickstart_notebook_runs_to_a_complete_job(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    assert not [c for c in nb.cells if c.cell_type == "code" and any(o["output_type"] == "error" for o in c.outputs)]
    assert _texts(_cell(nb, "job-status")).strip() == "Status: Complete"
    waited = _texts(_cell(nb, "wait"))
    assert "Complete" in waited and "50/50" in waited  # the progress bar and the job it returned
    assert "<table" in waited  # shown as HTML in a notebook front end
    report = _texts(_cell(nb, "report"))
    assert report.startswith("50 rows in s3://reports/notebook/job-")
    assert "2026/img-000.jpg" in report and "succeeded" in report  # the first rows, as a DataFrame
    assert _texts(_cell(nb, "copied")).strip() == "50"
    assert _texts(_cell(nb, "invoke")).strip() == "['22', '22', '22', '22', '22']"  # len(b'photo 2026/img-000.jpg'), by a notebook function
