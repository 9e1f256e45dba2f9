"""Several nodes on one store (issue #12): each `paperfeed serve` has a data directory and search indexes of its
own and follows the store's change log; a node killed mid-sync leaves the others serving; `serve --workers`
shares one port between processes."""

import fcntl
import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from paperfeed.store import accounts
from paperfeed.store.schema import upvotes
from tests.conftest import cheap_passwords, new_store, shared
from tests.support.serving import PASSWORD, get, register, sign_in, start, stop, token

pytestmark = pytest.mark.process  # starts, kills or floods paperfeed processes: make test, not test-fast

NEW_MONTH = ("corpus", "arxiv-listings", "2026-05.jsonl.gz")  # real papers the indexed sample does not hold


@pytest.fixture
def two_dirs(indexed_dir, tmp_path, postgres) -> tuple[Path, Path, str]:
    """Two nodes' data directories, each with a copy of the sample's indexes, and the one store they share."""
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        subprocess.run(["cp", "-r", str(indexed_dir), str(d)], check=True)
    url = new_store(postgres, a, sample=True)
    (b / "paperfeed.db").unlink(missing_ok=True)  # on SQLite too, b's store is a's file
    return a, b, url


def node(data: Path, model_cache: Path, url: str, **env):
    return start(data, model_cache, database_url=url, index_follow_interval=0.5, **env)


def real_papers(path: Path, n: int) -> list[dict]:
    import json

    rows = []
    with gzip.open(shared(*NEW_MONTH), "rt") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return rows


def paperfeed(data: Path, model_cache: Path, url: str, *args: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, "PAPERFEED_DATA_DIR": str(data), "PAPERFEED_MODEL_CACHE_DIR": str(model_cache)}
    full |= {"PAPERFEED_DATABASE_URL": url} | {f"PAPERFEED_{k.upper()}": str(v) for k, v in env.items()}
    done = subprocess.run([sys.executable, "-m", "paperfeed", *args], env=full, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def found(url: str, query: str) -> list[str]:
    answer = get(url + "/api/search", params={"q": query}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return [r["paper"]["id"] for r in answer.json()["results"]]


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.2)
    pytest.fail(f"not within {seconds} s: {what}")


def indexed(url: str) -> int:
    return get(url + "/healthz", timeout=30).json()["indexed"]


def test_import_through_one_node_is_found_and_hidden_through_the_other(two_dirs, model_cache, tmp_path):
    a_dir, b_dir, store = two_dirs
    (a, a_url), (b, b_url) = node(a_dir, model_cache, store), node(b_dir, model_cache, store)
    try:
        paper = real_papers(tmp_path / "new.jsonl.gz", 3)[1]
        paperfeed(a_dir, model_cache, store, "ingest", "arxiv-snapshot", str(tmp_path / "new.jsonl.gz"))
        imported = time.monotonic()
        assert found(a_url, paper["title"])[0] == paper["id"]  # a's own CLI indexed a's indexes
        wait_for(lambda: found(b_url, paper["title"])[:1] == [paper["id"]], 30, "b finds a's import")
        lag = time.monotonic() - imported
        assert lag < 10, f"b found the paper {lag:.1f} s after the import"

        admin = register(a_url, "admin")  # the first account administers the instance
        hid = admin.post(f"/papers/{paper['id']}/hide", data={"csrf_token": token(admin, f"/papers/{paper['id']}")})
        assert hid.status_code == 303, hid.text[:300]
        assert paper["id"] not in found(b_url, paper["title"])
        assert get(f"{b_url}/papers/{paper['id']}").status_code == 404
        assert get(f"{b_url}/api/papers/{paper['id']}").status_code == 404
    finally:
        logs = stop(a) + stop(b)
    assert "Traceback" not in logs, logs[-3000:]


def locked(data: Path) -> bool:
    """Whether a node is writing its indexes right now (it holds their lock)."""
    with open(data / "index" / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def committed(data: Path) -> int:
    with sqlite3.connect(data / "index" / "vectors" / "state.sqlite") as conn:
        return conn.execute("SELECT count(*) FROM rows WHERE alive = 1").fetchone()[0]


def test_a_node_killed_mid_sync_leaves_the_other_serving_and_catches_up(two_dirs, model_cache, tmp_path):
    a_dir, b_dir, store = two_dirs
    (a, a_url), (b, b_url) = node(a_dir, model_cache, store), node(b_dir, model_cache, store)
    before = indexed(b_url)
    try:
        papers = real_papers(tmp_path / "new.jsonl.gz", 60)
        # Imported without indexing: both nodes take the 60 papers from the change log at once.
        args = ("ingest", "arxiv-snapshot", str(tmp_path / "new.jsonl.gz"))
        paperfeed(a_dir, model_cache, store, *args, index_after_ingest="false")
        # Held across two looks 0.2 s apart: embedding, not an idle look at the log (a few milliseconds).
        wait_for(lambda: locked(a_dir) and not time.sleep(0.2) and locked(a_dir), 30, "node a embeds the new papers")
        a.send_signal(signal.SIGKILL)
        a.wait()
        assert committed(a_dir) == before  # killed before its commit
        wait_for(lambda: indexed(b_url) == before + 60, 120, "b indexes every new paper")
        assert found(b_url, papers[-1]["title"])[0] == papers[-1]["id"]
        a, a_url = node(a_dir, model_cache, store)  # a again: its index had not moved on, so it redoes the lot
        wait_for(lambda: indexed(a_url) == before + 60, 120, "a, restarted, catches up")
        assert found(a_url, papers[-1]["title"])[0] == papers[-1]["id"]
    finally:
        logs = stop(a) + stop(b)
    assert "Traceback" not in logs, logs[-3000:]


def test_serve_with_two_workers_counts_fifty_upvotes_at_once(two_dirs, model_cache, sample_papers, monkeypatch):
    a_dir, _, store = two_dirs
    # The fifty readers are made in the store, with the cheapest argon2 hash, and sign in through the form:
    # signing up fifty at the shipped cost (test_serve_faults does) took about 8 s of a core for what this
    # test does not check. Signing in verifies each hash at its own cost.
    engine = create_engine(store)
    with monkeypatch.context() as cheap:
        cheap_passwords(cheap)
        names = [f"user{i:02d}" for i in range(50)]
        for name in names:
            accounts.create_user(engine, name, PASSWORD)
    engine.dispose()
    proc, url = node(
        a_dir,
        model_cache,
        store,
        args=("--workers", "2"),
        max_inflight=64,
        admission_wait=120,
    )
    paper = sample_papers[3].id
    try:
        users = [sign_in(url, name) for name in names]
        forms = [token(u, "/") for u in users]

        def upvote(i):
            return users[i].post(f"/papers/{paper}/upvote", data={"csrf_token": forms[i]}).status_code

        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(upvote, range(50)))
        # New connections, so the kernel spreads them over both processes' accept queues.
        pids = {get(url + "/healthz").json()["worker"] for _ in range(40)}
    finally:
        log = stop(proc)
    assert statuses == [303] * 50
    with create_engine(store).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(upvotes).where(upvotes.c.paper_id == paper)) == 50
    errors = [line for line in log.splitlines() if '"status": 5' in line]  # no server error at all
    assert "database is locked" not in log and not errors, errors[:5] or log[-3000:]
    assert "with 2 worker(s)" in log
    assert len(pids) == 2, pids
