"""The throwaway PostgreSQL server of each test process on `--store postgresql`, and the sweep of those a killed
run left behind."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from paperfeed.store.lease import alive  # whether a process still runs (also read by tests/test_suite.py)

PREFIX = "paperfeed-pg-"
OWNER = "owner.pid"  # the test process that made the server: while it lives, the server is in use


class Postgres:
    """One PostgreSQL server per test process (pgserver ships the binaries); a database per test.

    The server is a throwaway one: it does not flush to disk (fsync, full_page_writes and synchronous_commit
    off, as PostgreSQL's docs suggest for data that can be made again). No test crashes PostgreSQL itself, so
    what the tests check is unchanged. Its files are kept in memory where it can (memory_dir)."""

    SETTINGS = ("fsync = off", "full_page_writes = off", "synchronous_commit = off")

    def __init__(self, root: Path):
        import pgserver
        import psycopg

        self.root = root  # its owner's pid, and the server's files in data/ (initdb wants a folder of its own)
        self.server = pgserver.get_server(root / "data", cleanup_mode="stop")
        # Where pgserver put the socket: in data/, or elsewhere when that path is over a socket's 107 bytes.
        self.host = str(self.server.get_postmaster_info().socket_dir)
        self.count = 0
        # One connection for making and dropping databases (a psql process per statement cost more).
        self.admin = psycopg.connect(host=self.host, user="postgres", dbname="postgres", autocommit=True)
        for setting in self.SETTINGS:
            self.admin.execute(f"ALTER SYSTEM SET {setting}")
        self.admin.execute("SELECT pg_reload_conf()")

    def close(self) -> None:
        self.admin.close()
        self.server.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)

    def drop(self, name: str) -> None:
        """A test's database goes when the test ends, with any session it left open."""
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres:@/{name}?host={self.host}"

    def create(self, name: str | None = None, template: str | None = None) -> str:
        if name is None:
            self.count += 1
            name = f"t{self.count}"
        self.drop(name)
        if template:  # a template with a session open cannot be copied: end any left (a test's engine)
            self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            # FILE_COPY copies the template's files at once (the default, WAL_LOG, writes them through the log).
            self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        else:
            self.admin.execute(f'CREATE DATABASE "{name}"')
        return name


def memory_dir() -> str | None:
    """/dev/shm where it is writable with room to spare (a tmpfs), else the usual temporary folder (None).

    The throwaway PostgreSQL keeps its files there. Each test's database is a copy of a template, about 480
    files, and on this machine's ext4 disk each file made cost about 140 us of the kernel: 120-240 ms of a
    core a database, most of the 78 s of CPU the PostgreSQL servers used in a pass. In memory a copy takes
    10-15 ms, and the servers used 32 s. Nothing there outlives the run (about 160 MB at most): the fixture
    removes it, and `sweep` what a killed run left."""
    try:
        room = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if room.f_bavail * room.f_frsize > 1 << 30 and os.access("/dev/shm", os.W_OK) else None


def start(parent: Path | None = None) -> Postgres:
    """A server of this process's own, its files under `parent` (by default memory_dir(), else the temporary
    folder), swept by a later run if this process is killed before it closes the server."""
    sweep()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent or memory_dir()))
    (root / OWNER).write_text(str(os.getpid()))
    return Postgres(root)


def sweep(*parents: Path) -> list[Path]:
    """Stop the servers whose test process is gone and remove their files; the ones removed.

    A test process killed before its teardown (kill -9, or a SIGTERM to every process at once, as when a
    CI job is cancelled) leaves its server running: in /dev/shm, its files hold memory until the machine
    restarts. Each run sweeps them as it starts (in /dev/shm and the temporary folder, where it would have
    put them). A folder without its owner's pid is being set up, or is not ours: it is left alone."""
    swept = []
    for parent in parents or {Path("/dev/shm"), Path(tempfile.gettempdir())}:
        for root in parent.glob(PREFIX + "*"):
            try:
                owner = int((root / OWNER).read_text())
            except (OSError, ValueError):
                continue
            if alive(owner) or not stop(root):
                continue
            shutil.rmtree(root, ignore_errors=True)
            swept.append(root)
    return swept


def stop(root: Path) -> bool:
    """The server running on `root`'s files, if one is, stopped at once (SIGQUIT: nothing in it is kept);
    False where it is not ours to stop."""
    try:
        pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
        ours = str(root) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return True  # not running, or that pid is now another process
    if not ours:
        return True
    try:
        os.kill(pid, signal.SIGQUIT)
    except PermissionError:  # another user's test run, on a shared machine: theirs to sweep
        return False
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
