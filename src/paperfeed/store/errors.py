"""Failures of the storage underneath the database, named in words an operator can act on.

SQLite and PostgreSQL report a full disk or a read-only file differently; callers ask `storage_problem`
and show its answer instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from pathlib import Path

from sqlalchemy.exc import DBAPIError

IO_ERROR = "the disk reported an I/O error"
CANNOT_OPEN = "the database file cannot be opened (missing directory or no permission)"
# (what the driver says, what it means)
_SQLITE = (
    ("database or disk is full", "the disk is full"),
    ("attempt to write a readonly database", "the data directory is read-only"),
    ("unable to open database file", CANNOT_OPEN),
    ("disk i/o error", IO_ERROR),
    ("database is locked", "the database is busy with another writer"),
    ("file is not a database", "the database file is damaged"),
    ("database disk image is malformed", "the database file is damaged"),
)
# PostgreSQL SQLSTATE codes
_POSTGRES = {
    "53100": "the disk is full",
    "25006": "the database is read-only",
    "53300": "the database has too many connections",
    "57P03": "the database is starting up or shutting down",
}
_OS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the data directory is on a read-only file system",
    errno.EACCES: "no permission to write the data directory",
    errno.EPERM: "no permission to write the data directory",
}


def storage_problem(exc: BaseException) -> str | None:
    """A short reason when `exc` (or what caused it) is a storage failure; None for anything else."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        reason = _one(exc)
        if reason:
            return reason
        exc = exc.__cause__ or exc.__context__
    return None


def explain(exc: BaseException, data_dir: Path) -> str | None:
    """`storage_problem`, sharpened by a look at the disk: SQLite reports a write into a full file system
    as an I/O error when the WAL cannot grow."""
    reason = storage_problem(exc)
    try:
        if reason == IO_ERROR and shutil.disk_usage(data_dir).free < 1 << 20:
            return "the disk is full"
        if reason == CANNOT_OPEN:
            _probe(data_dir)  # a read-only directory is why SQLite cannot open its journal
    except OSError as probe_failed:
        return storage_problem(probe_failed) or reason
    return reason


def _probe(data_dir: Path) -> None:
    probe = data_dir / f".write-probe-{os.getpid()}-{secrets.token_hex(4)}"  # concurrent probes never meet
    probe.write_bytes(b"x")
    probe.unlink(missing_ok=True)


def _one(exc: BaseException) -> str | None:
    if isinstance(exc, DBAPIError):
        exc = exc.orig
    if isinstance(exc, OSError) and exc.errno in _OS:
        return _OS[exc.errno]
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if code in _POSTGRES:
        return _POSTGRES[code]
    text = str(exc).lower()
    for needle, reason in _SQLITE:
        if needle in text:
            return reason
    return None


class StorageWatch:
    """What /healthz says about the data directory: free space, whether it takes a write, and the last
    storage failure a request met (kept for `recent` seconds)."""

    def __init__(self, data_dir: Path, min_free_mb: int = 50, recent: float = 300.0):
        self.data_dir, self.min_free, self.recent = data_dir, min_free_mb, recent
        self.last: tuple[float, str] | None = None

    def failed(self, reason: str) -> None:
        self.last = (time.monotonic(), reason)

    def check(self) -> str:
        """ "ok", or what is wrong in a few words."""
        try:
            _probe(self.data_dir)
            free = shutil.disk_usage(self.data_dir).free // 2**20
        except OSError as exc:
            return storage_problem(exc) or f"{type(exc).__name__}: {exc}"
        if free < self.min_free:
            return f"the disk is almost full ({free} MB free)"
        if self.last and time.monotonic() - self.last[0] < self.recent:
            return f"a write failed {time.monotonic() - self.last[0]:.0f} s ago: {self.last[1]}"
        return "ok"
