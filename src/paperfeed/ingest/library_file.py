"""Reading a user's library file (BibTeX or a list of ids) without letting one file hold the server.

A small file is read in the caller's thread (well under a second). A larger one is read in a process of its
own, at most WORKERS at a time per serving process, with a deadline: past it the process is killed and the
user is told the file is too slow to import; nothing waits on it. The parser's warnings (one per broken
entry, several lines each) are counted and summarised in one log line instead of flooding the server log.
`stop()` kills every reading process at once (the server's shutdown calls it).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import tempfile
import threading
import time

from paperfeed.ingest import bibtex, citations

INLINE_CHARS = 64 * 1024
WORKERS = 2
log = logging.getLogger("paperfeed.import")


class TooSlow(ValueError):
    """The file could not be read within its deadline, or both readers were busy."""


class _Warnings(logging.Handler):
    """bibtexparser's warnings, counted per thread (a process of its own counts its one file)."""

    def __init__(self):
        super().__init__()
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        seen = self.local.__dict__.setdefault("seen", [0, ""])
        seen[0] += 1
        seen[1] = seen[1] or " ".join(record.getMessage().split())[:200]

    def take(self) -> tuple[int, str]:
        seen = self.local.__dict__.pop("seen", [0, ""])
        return seen[0], seen[1]


_WARNINGS = _Warnings()
_parser_log = logging.getLogger("bibtexparser")
_parser_log.addHandler(_WARNINGS)
_parser_log.propagate = False  # never to the server log line by line

_turns = threading.BoundedSemaphore(WORKERS)
_running: set[subprocess.Popen] = set()
_stopping = threading.Event()


def read(kind: str, text: str, seconds: float) -> bibtex.Parsed:
    """The entries of a library file (kind "bibtex": BibTeX, RIS or CSL-JSON, whichever it is; "ris";
    "csl-json") or an id list ("ids"); NotBibtex, or TooSlow."""
    started = time.monotonic()
    parsed = _read_here(kind, text) if len(text) <= INLINE_CHARS else _read_apart(kind, text, seconds)
    if parsed.warnings:
        log.info(
            "library import: %d parser warnings in %.1f s (%d entries, %d rejected); first: %s",
            parsed.warnings,
            time.monotonic() - started,
            len(parsed.entries),
            len(parsed.rejected),
            parsed.first_warning,
        )
    return parsed


def _read_here(kind: str, text: str) -> bibtex.Parsed:
    _WARNINGS.take()
    try:
        parsed = citations.parse(kind, text)
    finally:
        parsed_warnings = _WARNINGS.take()
    parsed.warnings, parsed.first_warning = parsed_warnings
    return parsed


def _read_apart(kind: str, text: str, seconds: float) -> bibtex.Parsed:
    deadline = time.monotonic() + seconds
    # Refused at once, not queued: a waiting import would hold one of the server's few request slots.
    if not _turns.acquire(blocking=False):
        raise TooSlow(f"{WORKERS} large files are being read already; try again in a minute (small files go at once)")
    try:
        return _in_process(kind, text, deadline)
    finally:
        _turns.release()


def _in_process(kind: str, text: str, deadline: float) -> bibtex.Parsed:
    # A plain child process (python -m this module), not multiprocessing: nothing of the server is copied or
    # run again in it, and killing it is always safe. The file goes in and the entries come out through
    # temporary files, not pipes: Popen.communicate(timeout=...) stops writing the input after its first
    # timeout (CPython registers stdin for writing only on the first call), so on a loaded machine a child
    # that started slowly waited for the rest of its input until the deadline.
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out:
        given.write(text.encode("utf-8", "surrogatepass"))
        given.seek(0)
        worker = subprocess.Popen(
            [sys.executable, "-m", __name__, kind], stdin=given, stdout=out, stderr=subprocess.DEVNULL
        )
        _running.add(worker)
        try:
            _wait(worker, deadline)
        finally:
            _running.discard(worker)
            worker.kill()
            worker.wait()
        out.seek(0)
        answer = out.read()
    if worker.returncode != 0 or not answer:
        raise TooSlow(f"the file could not be read (its reader stopped with code {worker.returncode})")
    outcome = pickle.loads(answer)  # from our own child process
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _wait(worker: subprocess.Popen, deadline: float) -> None:
    while True:  # in slices: a shutdown ends the wait at once
        try:
            worker.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            pass
        if _stopping.is_set():
            raise TooSlow("the server is stopping; nothing was imported, try again in a moment")
        if time.monotonic() >= deadline:
            raise TooSlow("too slow to import: the file was not read in time; split it or export fewer entries")


def _main() -> None:
    text = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
    try:
        outcome = _read_here(sys.argv[1], text)
    except bibtex.NotBibtex as exc:
        outcome = exc
    sys.stdout.buffer.write(pickle.dumps(outcome))


def stop() -> None:
    """Kill every reading process and make every wait end (the server is shutting down)."""
    _stopping.set()
    for worker in list(_running):
        worker.kill()


if __name__ == "__main__":
    _main()
