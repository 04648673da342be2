"""Preparing: resolve the manifest (a CSV, an inventory report, or one generated from a
bucket listing), validate every line, count tasks, cut segments, and check the buckets
the job writes to exist. Any problem is a typed error that fails the job with a
FailureCode and FailureReason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.controller.preflight import check_sample, first_lines
from cosbatch.controller.storage_errors import classify, status_of
from cosbatch.controller.trial import plan_trial, trial_tasks
from cosbatch.errors import ManifestError
from cosbatch.manifests import CsvLayout, ManifestSource, SegmentSource, scan_csv
from cosbatch.manifests.generator import KeyNameConstraint, ObjectFilter, generate_manifest
from cosbatch.manifests.inventory import (
    InventoryFile,
    count_rows,
    inventory_sizes,
    load_inventory,
    read_data_file,
)
from cosbatch.models import Job, ManifestFormat
from cosbatch.models.manifest_generator import S3JobManifestGenerator
from cosbatch.names import ObjectRef, parse_bucket_name
from cosbatch.operations import operation_for
from cosbatch.operations.sizing import byte_weighted_ranges, segment_byte_limit
from cosbatch.reports import ReportLocation
from cosbatch.storage import Storage
from cosbatch.storage.lean import LeanS3Client
from cosbatch.store.base import Segment


def check_bucket(client: Any, bucket: str, code: str, what: str, storage: Storage) -> None:
    """`code` (e.g. ReportBucketNotFound) only when the bucket is really missing (404); storage
    trouble is StorageUnreachable or AccessDenied (storage_errors.classify)."""
    try:
        client.head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and status_of(exc)[0] == 404:
            raise ManifestError(f"{what} bucket {bucket!r} does not exist on {storage.describe()}", code=code) from None
        raise classify(exc, storage, f"HEAD {what} bucket {bucket!r}") or ManifestError(
            f"cannot check {what} bucket {bucket!r} on {storage.describe()}: {exc}", code="StorageError"
        ) from None


def _segments(job_id: str, source: str, ranges: list[tuple[int, int, int, int]], first_no: int) -> list[Segment]:
    return [
        Segment(job_id=job_id, seg_no=first_no + i, source=source, start=start, end=end, first_line=first, task_count=n)
        for i, (start, end, first, n) in enumerate(ranges)
    ]


def _csv_segments(job: Job, client: Any, ref: ObjectRef, version_id: str | None, etag: str | None,
                  fields: tuple | None, segment_size: int, storage: Storage | None = None,
                  counts: Sequence[int] = ()) -> tuple[int, list[Segment]]:
    """Segments of a CSV manifest; with `storage`, the preflight first (cosbatch.controller.preflight).
    `counts`: tasks per segment where the manifest's sizes are known (cut by bytes)."""
    source = ManifestSource(ref, client, version_id).resolve(etag)
    layout = CsvLayout(fields)
    sample = first_lines(source, layout) if storage else []
    total, scanned = scan_csv(source.chunks(), layout, segment_size, counts)
    if storage is not None and job.operation.name not in _NO_PREFLIGHT_HEAD:
        check_sample(client, storage, sample)
    seg_source = SegmentSource(
        url=source.url, etag=source.etag, version_id=version_id, format="csv",
        fields=tuple(f.value for f in fields) if fields else None,
    ).to_json()
    return total, _segments(job.job_id, seg_source, [(s.start, s.end, s.first_line, s.task_count) for s in scanned], 0)


#: No preflight HEADs for operations whose objects may well be gone already (a delete run again),
#: or need not be objects at all (Invoke: the user's function decides what a line means).
_NO_PREFLIGHT_HEAD = frozenset({"S3DeleteObject", "COSDeleteObject", "Invoke"})


def _inventory_segments(job: Job, client: Any, ref: ObjectRef, version_id: str | None, etag: str | None,
                        segment_size: int) -> tuple[int, list[Segment]]:
    if ref.is_local:
        raise ManifestError("an inventory manifest must be an object in a bucket", code="ManifestParseError")
    ManifestSource(ref, client, version_id).resolve(etag)
    # An inventory with a Size column gives every size: segments carry similar bytes, as a
    # generated manifest's do, so that no one segment holds the job's largest objects together.
    # Each data file is read once, for its rows (all validated) and its sizes.
    files: list[tuple[InventoryFile, int]] = []
    sizes: dict[str, list[int] | None] = {}
    for f in load_inventory(client, ref.bucket, ref.key):
        data = read_data_file(client, f)
        rows = count_rows(client, f, data)
        files.append((f, rows))
        if rows:
            sizes[f.key] = inventory_sizes(client, f, data=data)
    total = sum(rows for _, rows in files)
    weighed = all((got := sizes[f.key]) is not None and len(got) == rows for f, rows in files if rows)
    limit = segment_byte_limit(sum(sum(s or ()) for s in sizes.values()), total, segment_size) if weighed else 0
    segments: list[Segment] = []
    for f, rows in files:
        source = SegmentSource(url=f"s3://{f.bucket}/{f.key}", format=f.format, fields=f.columns or None).to_json()
        cuts = (byte_weighted_ranges(sizes[f.key] or [], segment_size, limit) if weighed and rows
                else [(s, min(rows, s + segment_size)) for s in range(0, rows, segment_size)])
        segments += _segments(job.job_id, source, [(s, e, s + 1, e - s) for s, e in cuts], len(segments))
    return total, segments


def generated_manifest_ref(job: Job, gen: S3JobManifestGenerator) -> ObjectRef:
    """Where a generated manifest is written: ManifestOutputLocation, else next to the report."""
    out = gen.manifest_output_location
    if out is not None:
        prefix = (out.manifest_prefix or "").strip("/")
        key = f"{prefix + '/' if prefix else ''}job-{job.job_id}/generated-manifest.csv"
        return ObjectRef(parse_bucket_name(out.bucket), key)
    report = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
    return ObjectRef(report.bucket, f"{report.job_dir}/generated-manifest.csv")


def _generate(job: Job, client: Any, segment_size: int, storage: Storage) -> tuple[int, list[Segment]]:
    assert job.manifest_generator is not None
    gen = job.manifest_generator.s3_job_manifest_generator
    f = gen.filter
    keys = f.key_name_constraint if f and f.key_name_constraint else None
    object_filter = ObjectFilter(
        created_after=f.created_after if f else None,
        created_before=f.created_before if f else None,
        size_greater_than=f.object_size_greater_than_bytes if f else None,
        size_less_than=f.object_size_less_than_bytes if f else None,
        storage_classes=tuple(f.storage_classes or ()) if f else (),
        key=KeyNameConstraint(
            prefixes=tuple(keys.match_any_prefix or ()) if keys else (),
            suffixes=tuple(keys.match_any_suffix or ()) if keys else (),
            substrings=tuple(keys.match_any_substring or ()) if keys else (),
            regex=keys.match_regex if keys else None,
        ),
    )
    out = generated_manifest_ref(job, gen)
    check_bucket(client, out.bucket, "ManifestGeneratorError", "manifest output", storage)
    lister = LeanS3Client(storage.tuned(max_attempts=3))  # botocore's parsing would cost ~90 ms a page
    try:
        generated = generate_manifest(client, parse_bucket_name(gen.source_bucket), object_filter, out.bucket,
                                      out.key, lister)
    finally:
        lister.close()
    # The listing gave every size: segments carry similar bytes, not only similar counts.
    limit = segment_byte_limit(sum(generated.sizes), len(generated.sizes), segment_size)
    counts = [end - start for start, end in byte_weighted_ranges(generated.sizes, segment_size, limit)]
    return _csv_segments(job, client, out, None, generated.etag, None, segment_size, counts=counts)


def prepare_job(job: Job, client: Any, segment_size: int, target_client: Any = None, *, storage: Storage,
                target_storage: Storage | None = None) -> tuple[int, list[Segment]]:
    """(total tasks, segments) of the job's manifest; ManifestError if it cannot be used, with a
    code that says why (docs/error-codes.md). StorageUnreachable is transient: try again later.
    `target_client` / `target_storage`: a copy's target storage, when it is another one.
    A trial job's segments are cut for its trial (cosbatch.controller.trial): InvalidRequest
    when the trial is not smaller than the job."""
    try:
        operation_for(job.operation)  # e.g. an Invoke function that cannot be imported
    except Exception as exc:
        raise ManifestError(f"operation {job.operation.name} cannot run: {exc}", code="InvalidOperation") from None
    params = job.operation.params
    target_bucket = getattr(params, "target_bucket", None)
    if target_bucket:
        check_bucket(target_client or client, target_bucket, "TargetBucketNotFound", "target",
                      target_storage or storage)
    if job.report.enabled:
        check_bucket(client, job.report.bucket_name, "ReportBucketNotFound", "report", storage)
    try:
        total, segments = _manifest_segments(job, client, segment_size, storage)
        trial = trial_tasks(job)
        return total, (segments if trial is None else plan_trial(segments, total, trial, client))
    except (ClientError, BotoCoreError) as exc:
        raise classify(exc, storage, _reading(job)) or ManifestError(
            f"{_reading(job)} on {storage.describe()} failed: {exc}", code="StorageError") from None
    except ManifestError as exc:
        if exc.code in _TRUSTED:
            raise
        better = classify(exc, storage, _reading(job))
        if better is not None:
            raise better from None
        if exc.code == "ManifestParseError":
            raise ManifestError(exc.message, code="InvalidManifest") from None
        raise


#: Codes raised by the manifest readers that already say exactly what happened.
_TRUSTED = frozenset({"ManifestNotFound", "ManifestETagMismatch", "StorageUnreachable", "AccessDenied",
                      "ManifestHeaderRow", "ManifestObjectsNotFound"})


def _reading(job: Job) -> str:
    if job.manifest is None:
        gen = job.manifest_generator.s3_job_manifest_generator if job.manifest_generator else None
        return f"generating the manifest from bucket {gen.source_bucket if gen else '?'}"
    return f"reading manifest {job.manifest.location.object_arn}"


def _manifest_segments(job: Job, client: Any, segment_size: int, storage: Storage) -> tuple[int, list[Segment]]:
    if job.manifest is None:
        return _generate(job, client, segment_size, storage)
    spec, location = job.manifest.spec, job.manifest.location
    if spec.format in (ManifestFormat.S3_INVENTORY, ManifestFormat.COS_INVENTORY):
        return _inventory_segments(job, client, location.ref, location.object_version_id, location.e_tag, segment_size)
    fields = tuple(spec.fields) if spec.fields else None
    return _csv_segments(job, client, location.ref, location.object_version_id, location.e_tag, fields, segment_size,
                         storage)
