"""`cosbatch`: the `aws s3control` job commands with the program name changed, plus
`run` (process jobs) and `quickstart`.

Errors are one line on stderr (`cosbatch: <Code>: <message>`) and exit code 1;
usage errors and refused requests (InvalidRequest, MalformedXML, MalformedJSON) exit 2;
waiting commands exit by how the job ended (cosbatch.cli.outcome).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from typing import Any

from cosbatch import logs
from cosbatch.cli import interrupt, render
from cosbatch.cli.arguments import json_arg, structure_arg
from cosbatch.cli.outcome import exit_code, summary_line
from cosbatch.cli.running import resume_args, run_jobs, storages_from_args
from cosbatch.cli.stores import open_for
from cosbatch.control.plan import DEFAULT_CONCURRENCY
from cosbatch.controller import JobService, Scheduler
from cosbatch.controller.cosbatch_tags import (
    NOTIFY_URL,
    OPTIONS,
    SKIP_IDENTICAL,
    TRIAL_TASKS,
    UNDO_OF,
    UNDOABLE,
    VERIFY,
)
from cosbatch.controller.notify_policy import allow_from_env, secret_from_env
from cosbatch.controller.service import check_priority
from cosbatch.errors import CosbatchError, InvalidRequest, MalformedRequest
from cosbatch.reports.rerun import carried_tags
from cosbatch.settings import FailureThreshold, Settings
from cosbatch.storage import StorageCatalog
from cosbatch.store.sqlite import default_store_url
from cosbatch.wire.dialects import parse_create_job
from launch.base import RUNNERS, RunnerConfig, check_runner_available, check_store_reachable

DEFAULT_ACCOUNT = "000000000000"
#: Statuses of jobs `run` has not finished with.


def _tags_arg(values: list[str]) -> list[Any]:
    """--tags as the aws CLI takes it: JSON (inline or file://path), or shorthand `Key=a,Value=b Key=c,Value=d`."""
    if len(values) == 1 and (values[0].lstrip().startswith("[") or values[0].startswith("file://")):
        return json_arg(values[0], "tags")
    tags = []
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        if set(fields) != {"Key", "Value"}:
            raise InvalidRequest(f"--tags takes JSON or Key=KEY,Value=VALUE items, not {item[:80]!r}")
        tags.append(fields)
    return tags


def _with_notify_url(tags: Any, url: str) -> list[Any]:
    """The tags plus cosbatch:notify-url=URL (--notify-url); InvalidRequest if they name another."""
    if not isinstance(tags, list):
        return tags  # not a tag list: the request's own check names it
    given = [t for t in tags if isinstance(t, dict) and t.get("Key") == NOTIFY_URL]
    if given and given[0].get("Value") != url:
        raise InvalidRequest(f"the notification URL is given twice: --notify-url and the job tag {NOTIFY_URL}; give one")
    return tags if given else [*tags, {"Key": NOTIFY_URL, "Value": url}]


def _check_from_report_args(args: argparse.Namespace, given: str = "--from-report") -> None:
    """--from-report and --undo take the earlier job's manifest, operation, report and role: refuse them given."""
    for name in ("manifest", "manifest_generator", "operation", "report", "role_arn", "cli_input_json"):
        if getattr(args, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise InvalidRequest(f"{flag} cannot be given with {given}: the new job takes the earlier job's")


def _globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    parser.add_argument("--store", default=d, help="metadata store URL (default: $COSBATCH_STORE or ~/.cosbatch/cosbatch.db)")
    parser.add_argument("--endpoint-url", default=d, help="S3/COS endpoint for object storage (default: boto3's)")
    parser.add_argument("--region", default=d, help="storage region (default: $AWS_REGION or us-east-1)")
    parser.add_argument("--storage-config", default=d, metavar="PATH",
                        help="named storages (TOML, [storage.NAME] tables); a job's RoleArn names its storage "
                             "(default: $COSBATCH_STORAGE_CONFIG; none: the --endpoint-url storage alone)")
    parser.add_argument("--notify-allow", action="append", default=d, metavar="URL-PREFIX",
                        help="allow job notification URLs under this http(s)://HOST[:PORT][/PATH] prefix "
                             "(repeatable; also $COSBATCH_NOTIFY_ALLOW; default: none allowed; docs/notifications.md)")
    parser.add_argument("--output", choices=("text", "json"), default=argparse.SUPPRESS if suppress else "text")
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS if suppress else 0)


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", default="direct", metavar="{" + ",".join(RUNNERS) + "}",
                   help="Beam runner (default: direct)")
    p.add_argument("--runner-option", action="append", default=[], metavar="KEY=VALUE",
                   help="runner option, e.g. direct_running_mode=multi_processing or "
                        "dask_client_address=tcp://host:8786 (repeatable; docs/scaling.md)")
    p.add_argument("--capacity", type=int, default=1, help="jobs Active at once (default 1)")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                   help=f"object operations in flight per worker (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--segment-size", type=int, default=None,
                   help="tasks per manifest segment (default: 1000; 10000 for S3DeleteObject)")
    p.add_argument("--failure-threshold-tasks", type=int, default=1000, metavar="N",
                   help="a job can fail for its failed tasks only once N tasks have run (default: 1000, as on S3)")
    p.add_argument("--failure-threshold-ratio", type=float, default=0.5, metavar="RATIO",
                   help="a job fails once more than this share of its tasks run have failed (default: 0.5)")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    p.add_argument("--storage-patience", type=float, default=300.0, metavar="SECONDS",
                   help="how long a preparing job waits for its unreachable storage before it fails "
                        "with StorageUnreachable (default 300)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cosbatch", description=__doc__.split("\n\n")[0])
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _globals(common, suppress=True)

    p = sub.add_parser("create-job", parents=[common], help="create a batch job")
    p.add_argument("--account-id", default=None)
    p.add_argument("--manifest", help="JSON (S3 JobManifest or COS Manifest), file://path, or aws CLI shorthand "
                                      "(Spec={Format=...,Fields=[Bucket,Key]},Location={ObjectArn=...})")
    p.add_argument("--manifest-generator", help="JSON JobManifestGenerator (instead of --manifest), file://path, "
                                                "or shorthand")
    p.add_argument("--operation", help="JSON with exactly one operation, e.g. {\"S3PutObjectCopy\": {...}}, or "
                                       "shorthand S3PutObjectCopy={TargetResource=arn:aws:s3:::dst}")
    p.add_argument("--report", help="JSON JobReport, file://path, or shorthand "
                                    "Bucket=arn:aws:s3:::rep,Format=Report_CSV_20180820,Enabled=true,ReportScope=AllTasks")
    p.add_argument("--priority")
    p.add_argument("--role-arn")
    p.add_argument("--client-request-token", default=None)
    p.add_argument("--description", default=None)
    p.add_argument("--confirmation-required", dest="confirmation_required", action="store_true", default=None)
    p.add_argument("--no-confirmation-required", dest="confirmation_required", action="store_false")
    p.add_argument("--cli-input-json", default=None, help="the whole CreateJob request as JSON or file://path")
    p.add_argument("--from-report", metavar="JOB_ID", default=None,
                   help="a new job over the failed tasks of this finished job, same operation and report")
    p.add_argument("--undo", metavar="JOB_ID", default=None,
                   help="a new job that restores what this finished --undoable job overwrote (same role, storage "
                        "and report; an object changed since fails with ChangedSinceJob; the job tag "
                        "cosbatch:undo-of=JOB_ID)")
    p.add_argument("--undoable", action="store_true",
                   help="record what each task overwrites next to the report, so that --undo JOB_ID can restore "
                        "it (tagging jobs; the job tag cosbatch:undoable=true)")
    p.add_argument("--dry-run", action="store_true",
                   help="check every object exists (HEAD) and report what would happen; change nothing")
    p.add_argument("--wait", action="store_true", help="run the job here and wait for it to finish")
    p.add_argument("--max-ops-per-second", default=None, metavar="N",
                   help="at most N object operations per second for this job (its storage may set a lower ceiling)")
    p.add_argument("--tags", nargs="+", default=None, metavar="TAG",
                   help='job tags: JSON [{"Key": "k", "Value": "v"}] or Key=k,Value=v ... (docs/tags.md)')
    p.add_argument("--verify", action="store_true",
                   help="copy jobs: compare each copy with its source (size and ETag, checksum, else a content "
                        "hash); a mismatch fails the task with ChecksumMismatch (the job tag cosbatch:verify=true)")
    p.add_argument("--trial-tasks", default=None, metavar="N",
                   help="run N tasks first (spread evenly over the manifest), then wait in Suspended with their "
                        "outcome; confirming runs the rest (the job tag cosbatch:trial-tasks=N)")
    p.add_argument("--skip-identical", action="store_true",
                   help="copy jobs: skip objects whose target is already identical (size, MD5 ETags, else the "
                        "same full-object checksum); a skip succeeds (the job tag cosbatch:skip-identical=true)")
    p.add_argument("--notify-url", default=None, metavar="URL",
                   help="POST a signed JSON notification here when the job ends or is suspended (the job tag "
                        "cosbatch:notify-url; the server must allow it: --notify-allow)")
    _run_options(p)

    p = sub.add_parser("list-jobs", parents=[common], help="list jobs of the last 90 days")
    p.add_argument("--account-id", default=None)
    p.add_argument("--job-statuses", nargs="+", default=[])
    p.add_argument("--max-results", type=int, default=None)
    p.add_argument("--next-token", default=None)
    p.add_argument("--filter", default=None, help="only jobs whose description or ID contains this text")

    p = sub.add_parser("describe-job", parents=[common], help="everything about one job")
    p.add_argument("--account-id", default=None)
    p.add_argument("--job-id", required=True)
    p.add_argument("--history", action="store_true", help="also show the job's status history")

    p = sub.add_parser("update-job-priority", parents=[common], help="change a job's priority")
    p.add_argument("--account-id", default=None)
    p.add_argument("--job-id", required=True)
    p.add_argument("--priority", required=True)

    p = sub.add_parser("update-job-status", parents=[common], help="confirm (Ready) or cancel (Cancelled) a job")
    p.add_argument("--account-id", default=None)
    p.add_argument("--job-id", required=True)
    p.add_argument("--requested-job-status", required=True)
    p.add_argument("--status-update-reason", default=None)

    p = sub.add_parser("put-job-tagging", parents=[common], help="replace a job's tags")
    p.add_argument("--account-id", default=None)
    p.add_argument("--job-id", required=True)
    p.add_argument("--tags", nargs="+", required=True, metavar="TAG",
                   help='JSON [{"Key": "k", "Value": "v"}] or Key=k,Value=v ...; [] removes every tag')
    for name, text in (("get-job-tagging", "show a job's tags"), ("delete-job-tagging", "remove a job's tags")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--account-id", default=None)
        p.add_argument("--job-id", required=True)

    p = sub.add_parser("run", parents=[common], help="process jobs until none is runnable")
    p.add_argument("--job-id", default=None, help="run just this job; leave every other job as it is")
    _run_options(p)

    p = sub.add_parser("serve", parents=[common], help="run the controller and the HTTP API + web console")
    from cosbatch.cli.serve import add_serve_arguments

    add_serve_arguments(p)
    _run_options(p)

    p = sub.add_parser("quickstart", parents=[common], help="run a sample copy job on an embedded S3 server")
    p.add_argument("--objects", type=int, default=100, help="sample objects to create (default 100)")
    p.add_argument("--keep", action="store_true",
                   help="keep the working directory: the store and the S3 data (objects, copies, report)")
    p.add_argument("--max-ops-per-second", default=None, metavar="N",
                   help="at most N object operations per second for the sample job (to see a rate limit at work)")
    return parser


def _check_numbers(args: argparse.Namespace) -> None:
    """The run options' numbers, each in its range; InvalidRequest naming the option if not."""
    checks = (("capacity", 1, None), ("concurrency", 1, None), ("segment_size", 1, None),
              ("failure_threshold_tasks", 1, None), ("storage_patience", 0, None))
    for name, low, _ in checks:
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise InvalidRequest(f"--{name.replace('_', '-')} must be at least {low}, not {value:g}")
    ratio = getattr(args, "failure_threshold_ratio", 0.5)
    if not 0 < ratio <= 1:
        raise InvalidRequest(f"--failure-threshold-ratio must be above 0 and at most 1, not {ratio:g}")
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not timeout > 0:
        raise InvalidRequest(f"--timeout must be a positive number of seconds, not {timeout:g}")


def _settings(args: argparse.Namespace, store_url: str, storages: StorageCatalog | None = None) -> Settings:
    _check_numbers(args)
    options: dict[str, str] = {}
    for item in getattr(args, "runner_option", []) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidRequest(f"--runner-option takes KEY=VALUE, not {item!r}")
        options[key] = value
    name = getattr(args, "runner", "direct")
    if name not in RUNNERS:  # one line, as every refused argument (argparse's choices print the usage)
        raise InvalidRequest(f"--runner must be one of {', '.join(RUNNERS)}, not {name!r}")
    runner = RunnerConfig(name, options)  # checks the options' names and values
    if getattr(args, "worker_control", "store") != "http":  # the HTTP worker channel is reachable
        check_store_reachable(runner, store_url)
    allow = allow_from_env(getattr(args, "notify_allow", None) or ())
    return Settings(
        notify_allow=allow,
        notify_secret=secret_from_env(allow),
        store_url=store_url,
        storages=storages or storages_from_args(args),
        runner=runner,
        segment_size=getattr(args, "segment_size", None),
        concurrency=getattr(args, "concurrency", DEFAULT_CONCURRENCY),
        capacity=getattr(args, "capacity", 1),
        storage_patience_s=getattr(args, "storage_patience", 300.0),
        threshold=FailureThreshold(
            getattr(args, "failure_threshold_tasks", 1000), getattr(args, "failure_threshold_ratio", 0.5)
        ),
    )


def wait_for_job(scheduler: Scheduler, service: JobService, args: argparse.Namespace, job_id: str,
                 describe: bool = False) -> int:
    """Run one job until it settles (or --timeout); print DescribeJob if asked, then the summary
    line, last. The exit code says how the job ended (cosbatch.cli.outcome)."""
    timed_out = False
    try:
        run_jobs(scheduler, args, only_job=job_id)
    except TimeoutError:
        timed_out = True
    job = service.describe_job(job_id)
    by_code = service.failures_by_code(job)
    line = summary_line(job, by_code) + (f" (--timeout {args.timeout:g} s reached; the next `cosbatch run` "
                                         "resumes it)" if timed_out else "")
    if describe:
        data: dict[str, Any] = {"JobId": job.job_id, "Job": job.describe()}
        if job.shown_estimate():
            data["Estimate"] = job.shown_estimate()
        if by_code:
            data["FailedTasksByErrorCode"] = by_code
        _emit(args, data | {"Summary": line}, render.describe(job, by_code=by_code))
    print(line, file=sys.stderr if args.output == "json" else sys.stdout, flush=True)
    return exit_code(job)


def _emit(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.output == "json" else text)


def _with_option_tag(tags: Any, key: str, value: str, flag: str) -> list[Any]:
    """A flag's job tag (e.g. --verify: cosbatch:verify=true) added to the job's tags; refused if
    they give the same key another value."""
    tags = list(tags or [])
    given = [t for t in tags if isinstance(t, dict) and t.get("Key") == key]
    if any(str(t.get("Value", "")).lower() != value.lower() for t in given):
        raise InvalidRequest(f"{flag} contradicts the job tag {key}={given[0].get('Value')}")
    return tags if given else [*tags, {"Key": key, "Value": value}]


def _with_option_flags(tags: Any, args: argparse.Namespace) -> list[Any]:
    """The job's tags with those its option flags (--verify, --trial-tasks, --skip-identical) set."""
    if args.verify:
        tags = _with_option_tag(tags, VERIFY, "true", "--verify")
    if args.trial_tasks is not None:
        try:
            OPTIONS[TRIAL_TASKS].parse(str(args.trial_tasks))
        except InvalidRequest as exc:  # the flag the user typed, not the tag it sets
            raise InvalidRequest(f"--trial-tasks {exc.message}") from None
        tags = _with_option_tag(tags, TRIAL_TASKS, str(args.trial_tasks), "--trial-tasks")
    if args.skip_identical:
        tags = _with_option_tag(tags, SKIP_IDENTICAL, "true", "--skip-identical")
    if args.undoable:
        tags = _with_option_tag(tags, UNDOABLE, "true", "--undoable")
    return list(tags or [])


def _option_flags_given(args: argparse.Namespace) -> bool:
    return bool(args.verify or args.skip_identical or args.undoable or args.trial_tasks is not None)


def _create_request(args: argparse.Namespace) -> dict:
    body: dict[str, Any] = json_arg(args.cli_input_json, "cli-input-json") if args.cli_input_json else {}
    for name, key in (("manifest", "Manifest"), ("manifest_generator", "ManifestGenerator"),
                      ("operation", "Operation"), ("report", "Report")):
        value = getattr(args, name)
        if value is not None:
            body[key] = structure_arg(value, name.replace("_", "-"))
    for name, key in (("priority", "Priority"), ("role_arn", "RoleArn"), ("description", "Description"),
                      ("client_request_token", "ClientRequestToken"), ("account_id", "AccountId"),
                      ("confirmation_required", "ConfirmationRequired")):
        value = getattr(args, name)
        if value is not None:
            body[key] = value
    if args.dry_run:
        body["DryRun"] = True
    if args.tags is not None:
        body["Tags"] = _tags_arg(args.tags)
    if _option_flags_given(args):
        body["Tags"] = _with_option_flags(body.get("Tags"), args)
    if args.notify_url is not None:
        body["Tags"] = _with_notify_url(body.get("Tags") or [], args.notify_url)
    body.setdefault("AccountId", os.environ.get("COSBATCH_ACCOUNT_ID", DEFAULT_ACCOUNT))
    body.setdefault("ClientRequestToken", str(uuid.uuid4()))  # as the aws CLI does
    if "Manifest" not in body and "ManifestGenerator" not in body:
        raise InvalidRequest("--manifest or --manifest-generator is required")
    for key in ("Operation", "Report", "Priority", "RoleArn"):
        if key not in body:
            flag = "--" + "".join("-" + c.lower() if c.isupper() else c for c in key).lstrip("-")
            raise InvalidRequest(f"{flag} is required")
    if "Priority" in body:
        body["Priority"] = check_priority(body["Priority"])
    return body


def _create_undo(service: JobService, args: argparse.Namespace, account: str | None) -> Any:
    """create-job --undo JOB_ID: the undo job of an undoable job (JobService.create_undo_job)."""
    if args.from_report:
        raise InvalidRequest("--undo and --from-report cannot be given together")
    if args.undoable or args.dry_run:
        raise InvalidRequest(f"{'--undoable' if args.undoable else '--dry-run'} cannot be given with --undo")
    _check_from_report_args(args, "--undo")
    overrides: dict[str, Any] = {
        "Priority": check_priority(args.priority) if args.priority is not None else None,
        "Description": args.description, "ClientRequestToken": args.client_request_token,
        "ConfirmationRequired": args.confirmation_required}
    if args.tags is not None or args.notify_url is not None or _option_flags_given(args):
        from cosbatch.reports.undo_manifest import undo_tags

        tags = _tags_arg(args.tags) if args.tags is not None else undo_tags(service.describe_job(args.undo, account))
        tags = _with_notify_url(tags, args.notify_url) if args.notify_url else tags
        overrides["Tags"] = _with_option_tag(_with_option_flags(tags, args), UNDO_OF, args.undo, "--undo")
    return service.create_undo_job(args.undo, None, account, args.max_ops_per_second, **overrides)


def dispatch(args: argparse.Namespace) -> int:
    store_url = args.store or default_store_url()
    if args.command == "serve":
        from cosbatch.cli.serve import listen_sockets, run_serve, serve_keys

        keys = serve_keys(args)  # refused before the store is created
        sockets = listen_sockets(args.host, args.port)  # and so is an address it cannot listen on
        return run_serve(args, _settings(args, open_for(args.command, store_url).url), keys, sockets)
    if args.command == "quickstart":
        from cosbatch.cli.quickstart import quickstart

        return quickstart(args)
    storages = storages_from_args(args)  # a bad storage config is named before anything else
    if args.command == "run" or (args.command == "create-job" and args.wait):
        # Bad run options, or a runner that cannot be used (RunnerUnavailable, exit 1), fail before
        # a store or a job is created or touched.
        check_runner_available(_settings(args, store_url, storages).runner)
    store = open_for(args.command, store_url)
    service = JobService(store, storages, notify_allow=allow_from_env(args.notify_allow or ()))
    account = getattr(args, "account_id", None)

    if args.command == "create-job":
        if args.undo:
            job = _create_undo(service, args, account)
        elif args.from_report:
            from cosbatch.storage import StorageClients

            _check_from_report_args(args)
            overrides = {"Priority": check_priority(args.priority) if args.priority is not None else None,
                         "Description": args.description, "ClientRequestToken": args.client_request_token,
                         "ConfirmationRequired": args.confirmation_required, "DryRun": args.dry_run or None}
            earlier = service.describe_job(args.from_report, account)
            if args.tags is not None or args.notify_url is not None or _option_flags_given(args):
                tags = _tags_arg(args.tags) if args.tags is not None else carried_tags(earlier)
                tags = _with_notify_url(tags, args.notify_url) if args.notify_url else tags
                overrides["Tags"] = _with_option_flags(tags, args)
            job = service.create_job_from_report(args.from_report, StorageClients(storages).get(earlier.storage),
                                                 account, args.max_ops_per_second, **overrides)
        else:
            job = service.create_job(parse_create_job(_create_request(args)), args.max_ops_per_second)
        if args.wait:
            return wait_for_job(Scheduler(store, _settings(args, store.url, storages), only_jobs={job.job_id}),
                                service, args, job.job_id, describe=True)
        _emit(args, {"JobId": job.job_id}, job.job_id)
    elif args.command == "list-jobs":
        page = service.list_jobs(account, args.job_statuses, args.filter, args.max_results, args.next_token)
        data: dict[str, Any] = {"Jobs": [j.list_entry() for j in page.jobs]}
        if page.next_token:
            data["NextToken"] = page.next_token
        _emit(args, data, render.job_table(page))
    elif args.command == "describe-job":
        job = service.describe_job(args.job_id, account)
        history = service.history(job.job_id) if args.history else None
        by_code = service.failures_by_code(job)
        data = {"Job": job.describe()}
        if job.shown_estimate():
            data["Estimate"] = job.shown_estimate()
        if by_code:
            data["FailedTasksByErrorCode"] = by_code
        if history:
            data["History"] = [
                {"Status": h.to_status.value, "At": h.at.isoformat(), "Reason": h.reason} for h in history
            ]
        _emit(args, data, render.describe(job, history, by_code))
    elif args.command == "update-job-priority":
        job = service.update_job_priority(args.job_id, args.priority, account)
        _emit(args, {"JobId": job.job_id, "Priority": job.priority}, f"{job.job_id} priority {job.priority}")
    elif args.command == "update-job-status":
        job = service.update_job_status(args.job_id, args.requested_job_status, args.status_update_reason, account)
        data = {"JobId": job.job_id, "Status": job.status.value}
        if job.status_update_reason:
            data["StatusUpdateReason"] = job.status_update_reason
        _emit(args, data, f"{job.job_id} {job.status.value}")
    elif args.command in ("put-job-tagging", "get-job-tagging", "delete-job-tagging"):
        if args.command == "put-job-tagging":
            service.put_job_tagging(args.job_id, _tags_arg(args.tags), account)
        elif args.command == "delete-job-tagging":
            service.delete_job_tagging(args.job_id, account)
        tags = [t.wire() for t in service.get_job_tagging(args.job_id, account)]
        _emit(args, {"Tags": tags}, "\n".join(f"{t['Key']}={t['Value']}" for t in tags) or "(no tags)")
    elif args.command == "run":
        only = {args.job_id} if args.job_id else None
        scheduler = Scheduler(store, _settings(args, store.url, storages), only_jobs=only)
        if args.job_id:
            return wait_for_job(scheduler, service, args, args.job_id)
        from cosbatch.cli.run_all import run_all

        return run_all(scheduler, service, args)
    return 0


def _subcommand_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # refused with the subcommand's own usage, not the top-level one
        _subcommand_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
    logs.configure(args.verbose or 0)
    try:
        return dispatch(args)
    except CosbatchError as exc:
        print(f"cosbatch: {exc.code}: {exc.message}", file=sys.stderr)
        # A refused request (a bad argument or field) is a usage error, as argparse's are.
        return 2 if isinstance(exc, InvalidRequest | MalformedRequest) else 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM while jobs run (interrupt.Terminated)
        print(interrupt.message(resume_args(args)), file=sys.stderr)
        return interrupt.exit_code(exc)
    except BrokenPipeError:
        # The reader went away (`cosbatch list-jobs | head`): nothing more to say, and no traceback
        # when Python flushes stdout at exit. 141 = 128 + SIGPIPE, as a shell tool killed by it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
