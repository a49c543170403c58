"""One writer per database, always.

Two runs that write the same DuckDB file must never overlap: an ingest takes an exclusive
lock on ``<db>.lock`` (an OS file lock, released by the OS if the process dies) and
records who holds it, so a second run can say whom it is waiting for. DuckDB's own file
lock guards against other programs (the ``duckdb`` shell, a notebook) holding the file
open: opening then fails at once, and we retry with backoff before saying so clearly.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import duckdb

T = TypeVar("T")

_FIRST_WAIT, _MAX_WAIT = 0.1, 2.0
# While a run waits for the database, it says for whom at the start and this often after,
# so that a run sitting in "Running" explains itself in its log.
WAIT_REPORT_SECONDS = 60.0


class DatabaseBusy(RuntimeError):
    """The database is being written by someone else, and did not come free in time."""


def _lock_path(db: str | Path) -> Path:
    return Path(f"{db}.lock")


def _describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another docmill run"
    return (f"docmill run {holder.get('run', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {holder.get('since', '?')})")


def _backoff(timeout: float) -> Iterator[float]:
    """Sleeps to take while retrying, doubling up to a cap, until ``timeout`` is spent."""
    deadline, wait = time.monotonic() + timeout, _FIRST_WAIT
    while (remaining := deadline - time.monotonic()) > 0:
        yield min(wait, remaining)
        wait = min(wait * 2, _MAX_WAIT)


class _WaitReporter:
    """Calls ``report`` with what the wait is for, at the first wait and every WAIT_REPORT_SECONDS."""

    def __init__(self, report: Callable[[str], None] | None, timeout: float):
        self.report, self.timeout = report, timeout
        self.started = self.last = None

    def __call__(self, holder: Callable[[], str]) -> None:
        now = time.monotonic()
        if self.report is None:
            return
        if self.started is None:
            self.started = self.last = now
            self.report(f"waiting up to {self.timeout:g} s for the database: {holder()}")
        elif now - self.last >= WAIT_REPORT_SECONDS:
            self.last = now
            self.report(f"still waiting for the database after {now - self.started:.0f} s: {holder()}")


@contextmanager
def writer_lock(
    db: str | Path, run: str, timeout: float, report: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the database's writer lock for the block, waiting up to ``timeout`` seconds;
    ``report`` hears who holds it while waiting."""
    path = _lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    reporter = _WaitReporter(report, timeout)
    with open(path, "a+", encoding="utf-8") as handle:
        waits = _backoff(timeout)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                reporter(lambda: f"{db} is being written by {_describe_holder(path)}")
                pause = next(waits, None)
                if pause is None:
                    raise DatabaseBusy(
                        f"{db} is being written by {_describe_holder(path)}; gave up after {timeout:g} s"
                    ) from None
                time.sleep(pause)
        handle.seek(0)
        handle.truncate()
        since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        handle.write(json.dumps({"run": run, "pid": os.getpid(), "host": socket.gethostname(), "since": since}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)
_HOLDER_PID = re.compile(r"PID (\d+)")


def _process_name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown program"


def _holding_process(error: Exception) -> str:
    pid = _HOLDER_PID.search(str(error))
    return f"process {pid.group(1)} ({_process_name(pid.group(1))})" if pid else "another process"


def open_with_retry(
    db: str | Path, opener: Callable[[], T], timeout: float, report: Callable[[str], None] | None = None
) -> T:
    """``opener()``, retried with backoff while another program holds the DuckDB file open;
    after ``timeout`` seconds, DatabaseBusy naming that program. ``report`` hears who holds
    it while waiting."""
    waits = _backoff(timeout)
    reporter = _WaitReporter(report, timeout)
    while True:
        try:
            return opener()
        except duckdb.IOException as error:
            if not _CONFLICT.search(str(error)):
                raise
            reporter(lambda: f"{db} is open in {_holding_process(error)}")
            pause = next(waits, None)
            if pause is None:
                holder = _holding_process(error)
                raise DatabaseBusy(
                    f"{db} is open in {holder}; close it there (or wait) and run again. Gave up after {timeout:g} s"
                ) from None
            time.sleep(pause)


# A run that gave up on the database cannot write its row in ``runs``: it notes it here,
# beside the database, and the next run that holds the lock records it.
def _unrecorded_path(db: str | Path) -> Path:
    return Path(f"{db}.unrecorded-runs.jsonl")


def note_unrecorded_run(db: str | Path, run: dict) -> None:
    """Keep ``run`` (a row for ``runs``, as JSON-able values) until a run can record it."""
    path = _unrecorded_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(run, default=str) + "\n")


@contextmanager
def unrecorded_runs(db: str | Path) -> Iterator[list[dict]]:
    """The runs noted by note_unrecorded_run; forgotten once the block has recorded them."""
    path = _unrecorded_path(db)
    if not path.exists():
        yield []
        return
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        runs = [json.loads(line) for line in handle if line.strip()]
        yield runs
        handle.seek(0)
        handle.truncate()
