"""The estimate a Suspended job shows before it is confirmed (issue 24, item 2).

Made when a job starts waiting in Suspended (ConfirmationRequired, or after a trial run), from
what is known then, never from a made-up constant:
- Tasks: those still to run;
- bytes a copy (or checksum) reads and writes: exact where the manifest says them (an inventory
  with a Size column; a generated manifest, whose listing's total is kept with it, while none of
  its tasks has run), else from HEADs of a sample of the tasks still to run, spread over their
  segments, with the sample size and a 95% interval (BytesExact false);
- requests by kind, from the operation, its options and the sample (objects above the storage's
  multipart copy threshold are copied in parts);
- Seconds: after a trial, the segments left at the cost the trial's pieces measured (a fixed part
  per segment plus a part per task, cosbatch.controller.duration; where the trial's pieces do not
  tell them apart, its tasks at its steady rate); else at the rate of the last completed job of the
  same operation on the same storage; else unknown (null), SecondsBasis saying which.
- Cost: those requests (and, for a copy to another storage, the bytes it reads out of the
  source) at the prices the storage config declares; left out where a storage declares none
  (cosbatch.controller.cost).
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.controller.cosbatch_tags import SKIP_IDENTICAL, UNDOABLE, VERIFY, option_value
from cosbatch.controller.cost import estimate_cost
from cosbatch.controller.duration import (
    TIGHT_SECONDS,
    Prediction,
    TrialTimeline,
    predict_rest,
    tight_trial,
)
from cosbatch.controller.trial import TWO_SIZES_FROM
from cosbatch.lifecycle import JobStatus
from cosbatch.manifests import CsvLayout, SegmentSource, Task
from cosbatch.manifests.csv_manifest import read_csv_segment
from cosbatch.manifests.generator import TOTAL_BYTES_META
from cosbatch.manifests.inventory import InventoryFile, inventory_sizes, read_inventory_tasks
from cosbatch.manifests.source import open_segment_source
from cosbatch.models import Job, ManifestField
from cosbatch.storage import Storage
from cosbatch.store.base import JobStore, Segment, SegmentState

#: Completed jobs looked through (newest first) for one of the same operation on the same storage.
RECENT = 200
#: Tasks HEADed for the byte estimate, at most (evenly spaced over the tasks still to run).
SAMPLE = 100
#: Operations whose tasks read (and, for copies, write) the objects' bytes.
_READS = {"S3PutObjectCopy": True, "S3ComputeObjectChecksum": False}
#: The request each task of an operation makes (copies and deletes are worked out apart).
_REQUEST = {"S3PutObjectTagging": "PutObjectTagging", "S3DeleteObjectTagging": "DeleteObjectTagging",
            "S3PutObjectAcl": "PutObjectAcl", "S3InitiateRestoreObject": "RestoreObject",
            "S3PutObjectRetention": "PutObjectRetention", "S3PutObjectLegalHold": "PutObjectLegalHold",
            "S3ComputeObjectChecksum": "GetObject", "Invoke": "Invoke"}
MULTIPART_DEFAULT = 5 * 1024**3
#: What --undoable reads per task (cosbatch.operations.undo_kinds, undo_access): request, how many.
_UNDO_READS = {"S3PutObjectTagging": ("GetObjectTagging", 1), "S3DeleteObjectTagging": ("GetObjectTagging", 1),
               "S3PutObjectAcl": ("GetObjectAcl", 2), "S3PutObjectRetention": ("GetObjectRetention", 2),
               "S3PutObjectLegalHold": ("GetObjectLegalHold", 2), "S3DeleteObject": ("ListObjectVersions", 1),
               "S3PutObjectCopy": ("ListObjectVersions", 2)}  # S3 and COS refuse a single CopyObject above 5 GiB


def _segment_tasks(seg: Segment, client: Any) -> list[Task]:
    source = SegmentSource.from_json(seg.source)
    if source.format.startswith("inventory-"):
        ref = source.ref
        f = InventoryFile(ref.bucket, ref.key, source.format, tuple(source.fields or ()))
        return list(read_inventory_tasks(client, f, seg.start, seg.end))
    layout = CsvLayout(tuple(ManifestField(x) for x in source.fields) if source.fields else None)
    return list(read_csv_segment(open_segment_source(source, client).chunks(seg.start, seg.end), layout,
                                 seg.first_line))


def _sample_tasks(segments: list[Segment], client: Any, want: int) -> list[Task]:
    """Up to `want` of the tasks still to run, evenly spaced over them (so over the manifest);
    each segment holding one is read once."""
    total = sum(s.task_count for s in segments)
    k = min(want, total)
    positions = [(i * total) // k for i in range(k)]
    out: list[Task] = []
    base = i = 0
    for seg in segments:
        mine = []
        while i < k and positions[i] < base + seg.task_count:
            mine.append(positions[i] - base)
            i += 1
        if mine:
            tasks = _segment_tasks(seg, client)
            out += [tasks[j] for j in mine if j < len(tasks)]
        base += seg.task_count
    return out


def _exact_bytes(segments: list[Segment], client: Any, job: Job) -> tuple[int, list[int] | None] | None:
    """(total bytes of the tasks left, every size or None) when the manifest says them: an inventory
    with a Size column (every size), or a generated manifest of which no task has run yet (the
    listing's total, kept with the manifest); else None, and a sample decides."""
    sources = [SegmentSource.from_json(s.source) for s in segments]
    if sources and all(src.format.startswith("inventory-") for src in sources):
        files: dict[str, list[int] | None] = {}
        sizes: list[int] = []
        for seg, src in zip(segments, sources, strict=True):
            ref = src.ref
            if src.url not in files:
                files[src.url] = inventory_sizes(client, InventoryFile(ref.bucket, ref.key, src.format,
                                                                       tuple(src.fields or ())))
            got = files[src.url]
            if got is None:
                return None
            sizes += got[seg.start:seg.end]
        return sum(sizes), sizes
    if sources and job.manifest_generator is not None and job.progress_summary.tasks_run == 0:
        ref = sources[0].ref
        total = client.head_object(Bucket=ref.bucket, Key=ref.key).get("Metadata", {}).get(TOTAL_BYTES_META)
        if total is not None and total.isdigit():
            return int(total), None
    return None


def _sizes(client: Any, tasks: list[Task]) -> list[int]:
    sizes = []
    for t in tasks:
        try:
            head = client.head_object(Bucket=t.bucket, Key=t.key, **({"VersionId": t.version_id} if t.version_id else {}))
        except (ClientError, BotoCoreError):
            continue  # a missing object copies nothing (its task fails)
        sizes.append(int(head["ContentLength"]))
    return sizes


def _bytes(tasks: int, sizes: list[int]) -> tuple[int, list[int] | None]:
    """(estimated total bytes, its 95% interval, None from a single HEAD) from the sampled sizes."""
    mean = statistics.fmean(sizes)
    if len(sizes) < 2:
        return round(mean * tasks), None
    spread = statistics.stdev(sizes)
    finite = math.sqrt(max(0.0, (tasks - len(sizes)) / max(1, tasks - 1)))  # finite population correction
    half = 1.96 * spread / math.sqrt(len(sizes)) * finite * tasks
    total = mean * tasks
    return round(total), [max(0, round(total - half)), round(total + half)]


def _seconds(job: Job, store: JobStore, remaining: list[int], trial_end: datetime | None,
             first_results: tuple[datetime, int] | None) -> tuple[float | None, str]:
    tasks = sum(remaining)
    history = store.history(job.job_id)
    actives = [h.at for h in history if h.to_status is JobStatus.ACTIVE]
    run = job.progress_summary.tasks_run
    if run and actives and trial_end is not None:  # a trial ran: its own rate on this manifest and storage
        trial_s = (trial_end - actives[0]).total_seconds()
        pieces = [(s.finished_at, s.succeeded + s.failed) for s in store.segments(job.job_id, (SegmentState.DONE,))
                  if s.finished_at is not None and s.succeeded + s.failed]
        timeline = TrialTimeline(actives[0].timestamp(), pieces, trial_end.timestamp())
        predicted = predict_rest(timeline, remaining)
        if predicted is not None:  # pieces of two sizes: a segment's fixed cost apart from its tasks'
            cost = predicted.cost
            return round(predicted.seconds, 1), (
                f"trial: {run} tasks in {trial_s:.1f} s, {len(pieces)} pieces: a segment costs "
                f"{1000 * cost.fixed:.0f} ms + {1000 * cost.per_task:.2f} ms a task "
                f"({1 / cost.per_task:.0f} tasks/s), the run's start {predicted.start:.1f} s and end "
                f"{predicted.end:.1f} s; {tasks} tasks left in {len(remaining)} segments: between "
                f"{predicted.low:.1f} s (the pieces' line run on) and {predicted.high:.1f} s (the longest "
                f"piece's rate){_tightness(predicted, run, tasks)}")
        if first_results is not None:
            # The pipeline's start (until its first results) is paid once per run; after it, tasks go
            # at the trial's steady rate.
            at, done = first_results
            start_s, steady_s = (at - actives[0]).total_seconds(), (trial_end - at).total_seconds()
            if steady_s > 0 and run > done and start_s >= 0:
                rate = (run - done) / steady_s
                return round(start_s + tasks / rate, 1), (
                    f"trial: {run} tasks in {trial_s:.1f} s, first results after {start_s:.1f} s, then "
                    f"{rate:.0f} tasks/s{_one_size(run, tasks)}")
        if trial_s > 0:
            rate = run / trial_s
            return round(tasks / rate, 1), (f"trial: {run} tasks in {trial_s:.1f} s ({rate:.0f} tasks/s)"
                                            f"{_one_size(run, tasks)}")
    for other in store.list_jobs(None, (JobStatus.COMPLETE,), max_results=RECENT).jobs:  # newest first
        if other.operation.name != job.operation.name or other.storage != job.storage or other.job_id == job.job_id:
            continue
        if other.max_ops_per_second is not None and other.max_ops_per_second != job.max_ops_per_second:
            continue  # its rate was its limit's, not the storage's
        steps = store.history(other.job_id)
        start = next((h.at for h in steps if h.to_status is JobStatus.ACTIVE), None)
        end = next((h.at for h in steps if h.to_status is JobStatus.COMPLETING), None)
        done = other.progress_summary.tasks_run
        if start is None or end is None or not done or end <= start:
            continue
        secs = (end - start).total_seconds()
        basis = (f"job {other.job_id}: {done} {job.operation.name} tasks on storage {job.storage} in {secs:.1f} s "
                 f"({done / secs:.0f} tasks/s)")
        limit = job.max_ops_per_second
        if limit is not None and done / secs > limit:  # this job may go no faster than its limit
            return round(tasks / limit, 1), f"{basis}, at most {limit:g} operations/s (this job's limit)"
        return round(tasks * secs / done, 1), basis
    return None, f"unknown: no trial, and no completed {job.operation.name} job on storage {job.storage}"


def _one_size(run: int, left: int) -> str:
    """Why an estimate from a trial whose pieces were all of one size is rough, and what would not be."""
    advice = (f"a trial of {TWO_SIZES_FROM:,} tasks or more runs pieces of two sizes"
              if run + left > TWO_SIZES_FROM else "this job is too small for a trial of pieces of two sizes")
    return (f"; rough: a trial of {run} tasks runs pieces of one size, which cannot tell the run's start "
            f"from its tasks ({advice})")


def _tightness(predicted: Prediction, run: int, left: int) -> str:
    """How tight the line's seconds are: the rest at the quartiles of the pieces' pairwise slopes, and
    `rough` where the pieces covered under TIGHT_SECONDS, with the trial size that would cover it
    (`run` tasks were tried, `left` are left)."""
    lo, hi = predicted.spread
    text = ("" if lo is None or hi is None else
            f"; the middle half of the pieces' slopes give {lo:.1f} to {hi:.1f} s")
    if predicted.rough:
        wanted = tight_trial(run, predicted.covered)
        advice = (f"a trial of about {wanted:,} tasks" if wanted < run + left else
                  "more tasks than this job has")
        text += (f"; rough: the trial's pieces ran only {predicted.covered:.2f} s (tight from "
                 f"{TIGHT_SECONDS:g} s: {advice})")
    return text


def make_estimate(job: Job, store: JobStore, client: Any, storage: Storage, target: Storage | None = None,
                  trial_end: datetime | None = None, first_results: tuple[datetime, int] | None = None
                  ) -> dict[str, Any]:
    """The job's estimate (see the module docstring); `client`: boto3 on the job's `storage`;
    `target`: a copy's target storage when it is another one; `trial_end`: when its trial ended;
    `first_results`: when the trial's first results were seen, and how many tasks had run then."""
    segments = store.segments(job.job_id, (SegmentState.PENDING, SegmentState.HELD))
    tasks = sum(s.task_count for s in segments)
    name = job.operation.name
    out: dict[str, Any] = {"Tasks": tasks}
    requests: dict[str, int] = {}
    sizes: list[int] = []
    if name in _READS and not job.dry_run:
        exact = _exact_bytes(segments, client, job) if segments else None
        if exact is not None and exact[1] is not None:  # every size: nothing sampled
            sizes = exact[1]
        else:
            sizes = _sizes(client, _sample_tasks(segments, client, SAMPLE))  # also for the share of multipart copies
            out["SampleSize"] = len(sizes)
        out["BytesExact"] = exact is not None
        if exact is not None:
            out["BytesRead"] = exact[0]
            out["BytesWritten"] = exact[0] if _READS[name] else 0
        elif sizes:
            total, interval = _bytes(tasks, sizes)
            out["BytesRead"] = total
            out["BytesWritten"] = total if _READS[name] else 0
            out["BytesInterval95"] = interval
    if job.dry_run:
        requests["HeadObject"] = tasks
    elif name == "S3PutObjectCopy":
        # Same storage: CopyObject, or UploadPartCopy parts above the multipart copy threshold (or,
        # sizes listed, the split threshold); to another storage: GET, then one PUT or UploadPart
        # parts above its multipart threshold. (The sizes' listing, a page per 1,000 tasks, is left out.)
        threshold = (target.multipart_threshold if target else
                     storage.multipart_copy_threshold or (storage.copy_split_threshold if storage.copy_largest_first
                                                          else None)) or MULTIPART_DEFAULT
        chunk = target.multipart_chunksize if target else storage.multipart_chunksize
        large = [s for s in sizes if s > threshold]
        share = len(large) / len(sizes) if sizes else 0.0
        whole, part = ("PutObject", "UploadPart") if target else ("CopyObject", "UploadPartCopy")
        if target:
            requests["GetObject"] = tasks
        requests[whole] = round(tasks * (1 - share))
        if large:
            requests[part] = round(tasks * share * statistics.fmean(math.ceil(s / chunk) for s in large))
        heads = 0
        if option_value(job.tags, VERIFY):
            heads += 2 * tasks
        if option_value(job.tags, SKIP_IDENTICAL):
            heads += 2 * tasks  # at most: segments listed instead make ListObjectsV2 requests, 1,000 keys each
            requests["ListObjectsV2 (instead of HEADs where keys are dense)"] = 2 * math.ceil(tasks / 1000)
        if heads:
            requests["HeadObject"] = heads
    elif name == "S3DeleteObject":
        if option_value(job.tags, UNDOABLE):  # one DeleteObject each: its delete marker is recorded
            requests["DeleteObject"] = tasks
        else:
            requests["DeleteObjects"] = math.ceil(tasks / 1000)
    else:
        requests[_REQUEST.get(name, name)] = tasks
    if option_value(job.tags, UNDOABLE) and name in _UNDO_READS:  # the state read before (and after) each task
        kind, per_task = _UNDO_READS[name]
        requests[f"{kind} (undo records)"] = per_task * tasks
    out["Requests"] = requests
    cost = estimate_cost(requests, storage, target, out.get("BytesRead"))
    if cost is not None:
        out["Cost"] = cost
    seconds, basis = _seconds(job, store, [s.task_count for s in segments], trial_end, first_results)
    out["Seconds"] = seconds
    out["SecondsBasis"] = basis
    return out
