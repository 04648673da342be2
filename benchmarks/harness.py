"""Running a scenario's contestants alternately (A B A B ...) and summarising by medians and ratios,
and what every benchmark shares around that: the load on the machine, markdown tables, the
command line of one that prints a table, the CreateJob request and its completion check."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job

RESULTS = Path(__file__).parent / "results"
T = TypeVar("T")


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


def alternate(rounds: int, contestants: dict[str, Callable[[int], T]], *, rotate: bool = False,
              loads: list[str] | None = None) -> dict[str, list[T]]:
    """Run every contestant once per round, in turn; each call gets the round number and returns its figure.

    `rotate`: each round starts one contestant further along, so that no one always runs first, right
    after the last round's writes. `loads` gets the load average at each round's start."""
    names = list(contestants)
    values: dict[str, list[T]] = {name: [] for name in names}
    for r in range(rounds):
        if loads is not None:
            loads.append(load_average())
        first = r % len(names) if rotate else 0
        for name in names[first:] + names[:first]:
            values[name].append(contestants[name](r))
    return values


def cpu_timed(fn: Callable[[], object], name: str, cpu: dict[str, list[float]]) -> float:
    """Seconds of `fn`; its client CPU (this process and its children) goes to `cpu[name]`."""
    before, started = os.times(), time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    after = os.times()
    cpu.setdefault(name, []).append(sum(after[:4]) - sum(before[:4]))
    return seconds


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as "0.52 0.61 0.70"."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def conditions(rounds: int, loads: list[str], kind: str = "alternating ") -> str:
    """When a benchmark ran, how many rounds, and the machine's load at each round's start."""
    return (f"{now()}, {rounds} {kind}round(s); load average (1, 5, 15 min) at each round's start: "
            + "; ".join(loads))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_credentials() -> None:
    """The keys the benchmarks' embedded SeaweedFS is started with, unless the caller set others."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")


def listed(values: Iterable[float], spec: str) -> str:
    """Every round's figure, "1.20, 1.31, 1.18"."""
    return ", ".join(format(v, spec) for v in values)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table's lines: the header, its rule, then a line a row."""
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"
    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def table_parser(module: str, smoke: str) -> argparse.ArgumentParser:
    """The command line of a benchmark that prints a markdown table: --rounds, --smoke (`smoke`
    says what it then runs) and --out; the benchmark adds its own."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help=smoke)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    return parser


def publish(lines: list[str], out: Path | None) -> None:
    """Print a benchmark's markdown, and write it to `out` as well when one is given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out is not None:
        out.write_text(text)


def job_body(manifest_arn: str, operation: dict, report_bucket: str | None = None,
             tags: list[dict] | None = None, role: str = "bench") -> dict[str, Any]:
    """A CreateJob request of a CSV manifest (Bucket, Key), with a full report into `report_bucket` if given."""
    report = {"Enabled": True, "Bucket": f"arn:aws:s3:::{report_bucket}", "Format": "Report_CSV_20180820",
              "Prefix": "bench", "ReportScope": "AllTasks"} if report_bucket else {"Enabled": False}
    manifest = {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                "Location": {"ObjectArn": manifest_arn}}
    return {"AccountId": "000000000000", "ClientRequestToken": uuid.uuid4().hex, "Priority": 1,
            "RoleArn": f"arn:aws:iam::000000000000:role/{role}", "Manifest": manifest, "Operation": operation,
            "Report": report, **({"Tags": tags} if tags else {})}


def check_complete(job: Job, expect: int, what: str = "benchmark job") -> None:
    """RuntimeError unless the job ended Complete with `expect` tasks succeeded: a benchmark's figure
    means nothing otherwise."""
    if job.status is not JobStatus.COMPLETE or job.progress_summary.number_of_tasks_succeeded != expect:
        raise RuntimeError(f"{what} did not complete cleanly: {job.status} {job.progress_summary}")


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
            vals = listed(m.values, ".3g")
            lines.append(f"| {r.title if i == 0 else ''} | {m.contestant} | {m.median:.4g} {m.unit} | {vals} | "
                         f"{ratio} | {target} | {holds} |")
        for note in r.notes:
            lines.append(f"| | *{note}* | | | | | |")
    md_path = out / f"{stem}.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
