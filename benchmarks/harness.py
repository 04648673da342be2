"""Running a scenario's contestants alternately (A B A B ...) and summarising by medians and ratios."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


@dataclass
class Measurement:
    scenario: str
    contestant: str
    unit: str  # what `value` is: "objects/s", "s", "MiB", "ms", "requests/s"
    values: list[float] = field(default_factory=list)
    higher_is_better: bool = True

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")


@dataclass
class ScenarioResult:
    name: str
    title: str
    measurements: list[Measurement]
    target: str
    ratio: float | None = None  # cosbatch / peer (throughput: higher is better)
    passed: bool | None = None
    notes: list[str] = field(default_factory=list)


def alternate(rounds: int, contestants: dict[str, Callable[[int], float]]) -> dict[str, list[float]]:
    """Run every contestant once per round, in turn; each call gets the round number and returns its figure."""
    values: dict[str, list[float]] = {name: [] for name in contestants}
    for r in range(rounds):
        for name, run in contestants.items():
            values[name].append(run(r))
    return values


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def write_results(results: list[ScenarioResult], meta: dict, out: Path = RESULTS,
                  stem: str = "latest") -> tuple[Path, Path]:
    """`<stem>.json` and `<stem>.md` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "scenarios": [
        {**{k: v for k, v in asdict(r).items() if k != "measurements"},
         "measurements": [{**asdict(m), "median": m.median} for m in r.measurements]} for r in results]}
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=2))
    lines = [f"# cosbatch benchmarks ({meta['mode']}, {meta['date']})", "",
             f"Machine: {meta['machine']}. {meta['rounds']} alternating rounds; medians.", "",
             "| scenario | contestant | median | rounds | ratio | target | holds |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for i, m in enumerate(r.measurements):
            ratio = f"{r.ratio:.2f}x" if (i == 0 and r.ratio is not None) else ""
            target = r.target if i == 0 else ""
            holds = ("yes" if r.passed else "no") if (i == 0 and r.passed is not None) else ""
            vals = ", ".join(f"{v:.3g}" for v in m.values)
            lines.append(f"| {r.title if i == 0 else ''} | {m.contestant} | {m.median:.4g} {m.unit} | {vals} | "
                         f"{ratio} | {target} | {holds} |")
        for note in r.notes:
            lines.append(f"| | *{note}* | | | | | |")
    md_path = out / f"{stem}.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
