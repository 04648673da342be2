"""Progress lines: a bar in place on a terminal with failures in red, plain lines elsewhere,
and always a last line for a job that settled."""

from __future__ import annotations

import io
import logging
import threading

from cosbatch.cli.progress import RED, ProgressBar, bar_line
from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job, ProgressSummary, utcnow
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import copy_request


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as a tty stderr does."""

    def isatty(self) -> bool:
        return True


def job(succeeded: int, failed: int, status: JobStatus = JobStatus.ACTIVE, total: int | None = 10) -> Job:
    request = parse_create_job(copy_request("src", "m.csv", "dst", None))
    return Job(job_id="0123456789abcdef", account_id="1", confirmation_required=False,
               manifest=request.manifest, operation=request.operation, priority=1,
               progress_summary=ProgressSummary(total_number_of_tasks=total, number_of_tasks_succeeded=succeeded,
                                                number_of_tasks_failed=failed),
               status=status, creation_time=utcnow(), report=request.report, role_arn="r", client_request_token="t")


def test_bar_marks_failed_tasks_apart_and_colours_them_only_on_request():
    plain = bar_line(job(3, 2), width=10)
    assert plain == "job 01234567 [###xx.....]  50.0% 5/10 ok=3 failed=2 Active"
    coloured = bar_line(job(3, 2), width=10, colour=True)
    assert f"{RED}xx" in coloured and f"{RED}failed=2" in coloured
    assert RED not in bar_line(job(5, 0), width=10, colour=True)  # nothing failed: nothing red
    assert "[x.........]" in bar_line(job(0, 1, total=1000), width=10)  # one failure still shows


def test_off_a_terminal_plain_lines_at_the_interval_and_a_last_line():
    out = io.StringIO()
    bar = ProgressBar(out, line_interval_s=3600)
    bar.show([job(1, 0)])
    assert out.getvalue() == ""  # the first plain line comes after one interval
    bar.show([job(10, 0, JobStatus.COMPLETE)], final=True)
    assert out.getvalue() == "job 01234567 [" + "#" * 30 + "] 100.0% 10/10 ok=10 failed=0 Complete\n"

    out = io.StringIO()
    every = ProgressBar(out, line_interval_s=0)
    every.show([job(1, 0)])
    every.show([job(2, 1)])
    lines = out.getvalue().splitlines()
    assert [line.split()[-3:] for line in lines] == [["ok=1", "failed=0", "Active"], ["ok=2", "failed=1", "Active"]]
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_the_last_frame_is_the_end():
    tty = Terminal()
    bar = ProgressBar(tty, interval_s=0)
    bar.show([job(1, 1)])
    bar.show([job(6, 4, JobStatus.COMPLETE)], final=True)
    bar.close()
    frames = tty.getvalue().split("\r\033[K")[1:]
    assert len(frames) == 2 and not frames[0].endswith("\n")
    assert frames[1].endswith(f"{RED}failed=4\033[0m Complete\n")  # a terminated line: nothing stale after it


def test_a_job_waiting_for_its_storage_says_so_and_its_countdown_is_not_news_off_a_terminal():
    from datetime import timedelta

    from cosbatch.cli.progress import CTRL_C_HINT, duration
    from cosbatch.models import StorageWait

    now = utcnow()
    waiting = job(0, 0, JobStatus.PREPARING, total=None).model_copy(update={"storage_wait": StorageWait(
        since=now, until=now + timedelta(seconds=280), reason="127.0.0.1:18999 unreachable")})
    assert bar_line(waiting, hint=CTRL_C_HINT).startswith(
        "job 01234567 Preparing: waiting for storage (127.0.0.1:18999 unreachable), gives up in 4m")
    assert bar_line(waiting, hint=CTRL_C_HINT).endswith("s; Ctrl-C leaves the job resumable")
    assert [duration(s) for s in (0, 45, 280, 3900, -3)] == ["0s", "45s", "4m40s", "1h05m", "0s"]
    out = io.StringIO()
    bar = ProgressBar(out, line_interval_s=3600, hint=CTRL_C_HINT)
    bar.show([waiting])  # at once, though the interval has not passed: the wait is news
    later = waiting.model_copy(update={"storage_wait": waiting.storage_wait.model_copy(
        update={"until": now + timedelta(seconds=100)})})
    bar.show([later])  # only the countdown changed: not again
    assert len(out.getvalue().splitlines()) == 1 and "gives up in 4m" in out.getvalue()


def _screen(text: str) -> list[str]:
    """What a terminal shows of `text`: each line as it stands after its last clear."""
    return [line.split("\r\033[K")[-1] for line in text.split("\n")]


def _logger_on(stream: io.StringIO, name: str) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_log_records_go_above_a_bar_drawn_in_place_and_the_bar_is_drawn_again_below():
    tty = Terminal()
    bar = ProgressBar(tty, interval_s=0)
    logger = _logger_on(tty, "cosbatch.test.above_the_bar")
    with bar.above_logs(logger):
        bar.show([job(1, 0)])
        logger.info("segment_done seg=0")
        logger.info("segment_done seg=1")
        assert _screen(tty.getvalue()) == ["INFO segment_done seg=0", "INFO segment_done seg=1", bar_line(job(1, 0))]
        bar.show([job(10, 0, JobStatus.COMPLETE)], final=True)
        logger.info("pipeline_done")  # no bar on screen: the record alone
        bar.close()
    assert logger.handlers[0].stream is tty  # given back
    assert _screen(tty.getvalue()) == ["INFO segment_done seg=0", "INFO segment_done seg=1",
                                       bar_line(job(10, 0, JobStatus.COMPLETE)), "INFO pipeline_done", ""]


def test_records_from_other_threads_never_land_inside_the_bar_line():
    tty = Terminal()
    bar = ProgressBar(tty, interval_s=0)
    logger = _logger_on(tty, "cosbatch.test.threads_above_the_bar")

    def chatter(n: int) -> None:
        for i in range(100):
            logger.info("worker=%d record=%d", n, i)

    with bar.above_logs(logger):
        threads = [threading.Thread(target=chatter, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for done in range(200):
            bar.show([job(done % 10, 0)])
        for t in threads:
            t.join()
        bar.close()
    *records, last, end = _screen(tty.getvalue())
    assert len(records) == 400 and all(r.startswith("INFO worker=") for r in records)
    assert last.startswith("job 01234567 [") and end == ""


def test_off_a_terminal_log_handlers_are_left_alone():
    out = io.StringIO()
    logger = _logger_on(out, "cosbatch.test.no_bar_in_place")
    with ProgressBar(out).above_logs(logger):
        assert logger.handlers[0].stream is out
