"""The acceptance checks on the whole shared corpus: exact counts, idempotence, and a SIGKILL
in the middle of an import that a rerun completes to the same content."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shared

CORPUS_SIZE = 67_802
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only("reads the SQLite file after a SIGKILL of the import")]


def paperfeed(data_dir: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_INDEX_AFTER_INGEST": "false"}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args], env=env, capture_output=True, text=True, timeout=600, **kw
    )


def count(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM papers").fetchone()[0]


def test_full_corpus_import_is_exact_idempotent_and_survives_sigkill(tmp_path):
    corpus = str(shared("corpus", "arxiv-listings"))

    clean = tmp_path / "clean"
    first = paperfeed(clean, "ingest", "arxiv-snapshot", corpus)
    assert first.returncode == 0, first.stderr
    assert f"new {CORPUS_SIZE}, updated 0, unchanged 0, rejected 0" in first.stdout
    again = paperfeed(clean, "ingest", "arxiv-snapshot", corpus)
    assert f"new 0, updated 0, unchanged {CORPUS_SIZE}, rejected 0" in again.stdout
    assert count(clean / "paperfeed.db") == CORPUS_SIZE

    killed = tmp_path / "killed"
    db = killed / "paperfeed.db"
    assert paperfeed(killed, "init").returncode == 0
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(killed), "PAPERFEED_INDEX_AFTER_INGEST": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "ingest", "arxiv-snapshot", corpus, "--batch-size", "500"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while count(db) < 10_000 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert 0 < stored < CORPUS_SIZE, "the import was not interrupted mid-run"
        assert stored % 500 == 0, "only whole batches are committed"
        # No half-written paper: each has its categories and its source row.
        orphans = conn.execute(
            "SELECT count(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM paper_categories c WHERE c.paper_id = p.id)"
            " OR NOT EXISTS (SELECT 1 FROM paper_sources s WHERE s.paper_id = p.id)"
        ).fetchone()[0]
        assert orphans == 0
        status = conn.execute("SELECT status, finished_at FROM ingest_runs ORDER BY id DESC").fetchone()
        assert status == ("running", None)  # shown by `paperfeed stats` as interrupted

    rerun = paperfeed(killed, "ingest", "arxiv-snapshot", corpus)
    assert f"new {CORPUS_SIZE - stored}, updated 0, unchanged {stored}, rejected 0" in rerun.stdout

    exported = [paperfeed(d, "export", "--format", "jsonl").stdout for d in (clean, killed)]
    assert exported[0].count("\n") == CORPUS_SIZE
    assert exported[0] == exported[1]
