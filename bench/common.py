"""Helpers the benchmarks share: where the data is, timing a child process, writing the report."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
WORK = REPO / "bench" / ".work"
REPORT = REPO / "docs" / "benchmarks.md"
CORPUS = SHARED / "corpus" / "arxiv-listings"


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(args: list[str], env: dict | None = None, cpu: int | None = None) -> ChildRun:
    """Run a command, returning its wall time and its own peak resident memory: the kernel's high-water mark
    of the child's memory (VmHWM), read every 20 ms while it runs. Not wait4's ru_maxrss: that starts from the
    parent's resident size when the child is spawned, so a benchmark holding a large index in memory made its
    children look as large (the serving figures before issue #12 were inflated that way)."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args,
            env=full_env,
            stdout=out,
            stderr=err,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        )
        peak = [0]
        watcher = threading.Thread(target=_watch_peak, args=(proc.pid, peak), daemon=True)
        watcher.start()
        _pid, status, _usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return ChildRun(seconds, peak[0] / 1024, stdout, stderr)


def _watch_peak(pid: int, peak: list[int]) -> None:
    """Keep the highest VmHWM (kB) of a running process; ends when the process is gone (a zombie has none)."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            return
        if "VmHWM" not in fields:
            return
        peak[0] = max(peak[0], int(fields["VmHWM"].split()[0]))
        time.sleep(0.02)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or cpu}), Python {platform.python_version()}, {platform.system()}"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md, leaving the others as they are."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = REPORT.read_text() if REPORT.exists() else HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def python() -> str:
    return sys.executable


HEADER = """# Benchmarks

Written by `make bench` (`bench/run_all.py`); each section is replaced when its benchmark runs again.
These machines are noisy, so every speed figure is set beside a baseline measured in the same run.
"""
