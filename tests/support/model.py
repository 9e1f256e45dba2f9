"""The model the tests embed with, exported once for a whole `make test`: both passes and all their workers.

`make test` starts `python -m tests.support.model DIR` as it begins, so the export (about 20 s, much of it
reading torch's files) runs beside ruff and the collecting. The first tests of both passes need the model: when
they exported it themselves, the two cores were a third idle for 15 s while all four workers waited on it, and
half as idle with the export started first (one run each; a few seconds of a 7-minute run, inside its noise).
The model_cache fixture takes the same lock: it waits for that export, or makes its own when run without it.
"""

from __future__ import annotations

import fcntl
import signal
import sys
from pathlib import Path


def export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # One process exports while the others wait for its file: two exporting at once took each twice as long.
    with open(folder / ".export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        from paperfeed.search.encoder import ensure_onnx  # after the lock: the fixture must find it taken

        ensure_onnx(folder)
    return folder


if __name__ == "__main__":
    # A shell starts a command it runs in the background with Ctrl-C ignored: it stops with `make test`.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    export(Path(sys.argv[1]))
