"""Several workers and nodes (issue #12): search throughput and memory with 1, 2 and 4 workers; how long a paper
imported through one node takes to be searchable on another; SQLite vs PostgreSQL side by side.

    python bench/nodes.py [--only workers,lag,stores] [--seconds 20]

- workers: `paperfeed serve --workers N` on the full 67,802-paper corpus (bench/.work/full); 50 clients
  (bench/load.py's: one keep-alive connection each, asking again at once) on the search API for `seconds`
  after a 5 s ramp. Baseline: 1 worker, same run. Server and clients share the two cores (no pinning: the
  workers are meant to use both). Memory per worker from /proc/PID/smaps_rollup after the run: RSS counts
  every resident page, mapped index files included, once per process that touches them; PSS shares each
  page among the processes that map it; "private" is what the process alone holds (heap, model, maps).
- lag: two `serve` processes, each with its own data directory (copies of the full index) on one SQLite
  store; K papers (real titles and abstracts from the corpus, under new ids 2612.9xxxx) imported by
  the Importer in the benchmark's own process, without indexing; the time from its commit until each node's
  search finds the last of them by its title, and until each node has embedded them all (/healthz fresh).
- stores: the same 20,000 papers imported into a fresh SQLite file and a fresh PostgreSQL database (pgserver),
  the daily page served from each (p50/p95 of 100 requests), and `paperfeed digest run` for 1,000 subscribers
  (trending and categories, to a local SMTP sink).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, WORK, machine, python, run_child, table, write_section  # noqa: E402
from bench.load import run as load_run  # noqa: E402
from bench.speed import FULL, ensure_full, env, make_queries  # noqa: E402
from bench.web import pct, start_server, stop_server  # noqa: E402
from paperfeed.ingest import arxiv_snapshot  # noqa: E402
from paperfeed.store import make_engine  # noqa: E402
from paperfeed.store.importer import Importer  # noqa: E402

CLIENTS = 50
LAG_SIZES = (1, 100)
LAG_HEADER = [
    "papers imported",
    "a: found by title, s",
    "a: all embedded, s",
    "b: found by title, s",
    "b: all embedded, s",
]
STORE_PAPERS = 20_000
DIGEST_USERS = 1_000


# -- processes --------------------------------------------------------------------------------------
def serve(data: Path, port: int, workers: int = 1, extra: dict | None = None) -> subprocess.Popen:
    """Unpinned: the workers are meant to use both cores."""
    return start_server(port, {"PAPERFEED_INDEX_CHECK_INTERVAL": "3600", **(extra or {})}, data, workers, None, 180)


def memory(pid: int) -> dict[str, float]:
    """MB: rss, pss, private (clean + dirty), from the kernel's rollup of the process's mappings."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "private": fields["Private_Clean"] + fields["Private_Dirty"],
    }


def workers_of(proc: subprocess.Popen, workers: int) -> list[int]:
    """The serving processes: the process itself, or the supervisor's children."""
    if workers == 1:
        return [proc.pid]
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    # uvicorn spawns its workers with multiprocessing; its resource tracker is a child too, and is left out.
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


# -- workers ------------------------------------------------------------------------------------------
def bench_workers(seconds: float) -> str:
    engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
    paths = ["/api/search?" + urlencode({"q": q}) for q in make_queries(engine, 400)]
    rows, mem_rows, base = [], [], None
    for n in (1, 2, 4):
        proc = serve(FULL, 8870, n, {"PAPERFEED_MAX_INFLIGHT": "64", "PAPERFEED_ADMISSION_WAIT": "30"})
        try:
            base_url = "http://127.0.0.1:8870"
            asyncio.run(load_run(base_url, paths[:40], 4, 3, ramp=0))  # warm every worker's caches a little
            tally, wall = asyncio.run(load_run(base_url, paths, CLIENTS, seconds))
            pids = workers_of(proc, n)
            mems = [memory(p) for p in pids]
        finally:
            stop_server(proc)
        ok = np.array(tally.ok_ms) if tally.ok_ms else np.array([float("nan")])
        rps = len(tally.ok_ms) / wall
        base = base or rps
        other = sum(k for s, k in tally.statuses.items() if s != 200) + sum(tally.errors.values())
        rows.append(
            [
                n,
                f"{rps:.1f}",
                "baseline" if n == 1 else f"{rps / base:.2f}x",
                f"{np.percentile(ok, 50):.0f}",
                f"{np.percentile(ok, 95):.0f}",
                other,
            ]
        )
        mem_rows.append(
            [
                n,
                len(mems),
                " / ".join(f"{m['rss']:.0f}" for m in mems),
                " / ".join(f"{m['pss']:.0f}" for m in mems),
                " / ".join(f"{m['private']:.0f}" for m in mems),
                f"{sum(m['pss'] for m in mems):.0f}",
            ]
        )
        print(rows[-1], mem_rows[-1], flush=True)
    return f"""### Search API throughput with 1, 2 and 4 workers (`serve --workers N`)

{CLIENTS} clients for {seconds:.0f} s on /api/search (hybrid), 400 title-prefix queries; clients and server share
the two cores. Baseline: one worker.

{table(["workers", "answered/s", "vs 1 worker", "p50 ms", "p95 ms", "other answers"], rows)}

### Serving memory per worker (after the run above)

Per process, MB. RSS counts each resident page in every process that maps it (the vector file and the graph
are memory-mapped: their pages are the page cache's, shared by all workers); PSS divides shared pages among
the processes mapping them, so the PSS column sums to what the workers take together; private is what a
process holds alone (Python heap, the ONNX model, the row maps, tantivy's caches). With one worker its mapped
index pages count as private too, as no other process maps them; from two workers on they are shared, which is
why "private" drops from the first row to the next. On two cores, more than two workers add memory, not speed.

{table(["workers", "processes", "RSS each", "PSS each", "private each", "PSS total"], mem_rows)}
"""


# -- lag ------------------------------------------------------------------------------------------------
def new_papers(path: Path, n: int, start: int) -> list[dict]:
    rows = []
    with gzip.open(CORPUS / "2026-05.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            r["id"] = f"2612.9{start + len(rows):04d}"
            rows.append(r)
            if len(rows) == n:
                break
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return rows


def top_hits(url: str, title: str) -> list[str]:
    """The first three answers for a title (a re-imported text is there twice: under its own id and ours)."""
    answer = httpx.get(url + "/api/search", params={"q": title, "mode": "hybrid", "limit": 3}, timeout=30).json()
    return [r["paper"]["id"] for r in answer["results"]]


def bench_lag() -> str:
    a, b = WORK / "node-a", WORK / "node-b"
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(FULL, d)
    (b / "paperfeed.db").unlink()
    store = {"PAPERFEED_DATABASE_URL": f"sqlite:///{a / 'paperfeed.db'}"}
    nodes = [serve(a, 8871, extra=store), serve(b, 8872, extra=store)]
    rows, offset = [], 0
    try:
        for k in LAG_SIZES:
            with tempfile.TemporaryDirectory() as tmp:
                papers = new_papers(Path(tmp) / "new.jsonl.gz", k, offset)
                offset += k
                # In this process, so the clock starts at the commit (a CLI's exit comes a second later).
                engine = make_engine(store["PAPERFEED_DATABASE_URL"])
                Importer(engine).run(arxiv_snapshot.read(Path(tmp) / "new.jsonl.gz"), "arxiv-snapshot", "bench")
                engine.dispose()
            imported = time.monotonic()
            found, embedded = {}, {}
            while len(embedded) < 2 and time.monotonic() - imported < 600:
                for name, port in (("a", 8871), ("b", 8872)):
                    url = f"http://127.0.0.1:{port}"
                    if name not in found and papers[-1]["id"] in top_hits(url, papers[-1]["title"]):
                        found[name] = time.monotonic() - imported
                    if name not in embedded and httpx.get(url + "/healthz", timeout=30).json()["index_fresh"]:
                        embedded[name] = time.monotonic() - imported
                time.sleep(0.1)
            rows.append([k, *(f"{d.get(n, float('nan')):.1f}" for n in ("a", "b") for d in (found, embedded))])
            print(rows[-1], flush=True)
    finally:
        for n in nodes:
            stop_server(n)
        shutil.rmtree(a, ignore_errors=True)
        shutil.rmtree(b, ignore_errors=True)
    return f"""### Index sync lag between two nodes

Two `serve` processes with their own data directories on one store (SQLite here: the mechanism is the store's
change log, the same on PostgreSQL), following it every 2 s (the default). K papers imported by a third party (the
Importer in the benchmark's process, no indexing of its own); seconds from its commit until each node's search API
answers the last of them among its first three for its title (the text is also there under its real id).
"Searchable" is what a user sees: keywords are indexed first, so a paper is found by its title before its
vector is in (about 35 papers a second per core; both nodes embed at once on these two cores).

{table(LAG_HEADER, rows)}
"""


# -- stores ---------------------------------------------------------------------------------------------
def subset(path: Path, n: int) -> None:
    rows = []
    for month in sorted(CORPUS.glob("*.jsonl.gz"))[-3:]:
        with gzip.open(month, "rt") as f:
            rows += [line for line in f]
    random.Random(5).shuffle(rows)
    with gzip.open(path, "wt") as f:
        f.writelines(rows[:n])


def bench_stores() -> str:
    import pgserver

    from bench.digest import start_sink, stop_sink

    work = WORK / "stores"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "papers.jsonl.gz"
    subset(source, STORE_PAPERS)
    pg_root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    pg = pgserver.get_server(pg_root, cleanup_mode="stop")
    pg.psql('CREATE DATABASE "bench";')
    urls = {
        "SQLite": f"sqlite:///{work / 'sqlite' / 'paperfeed.db'}",
        "PostgreSQL": f"postgresql+psycopg://postgres:@/bench?host={pg_root}",
    }
    rows = []
    try:
        for kind, url in urls.items():
            data = work / kind.lower()
            data.mkdir()
            e = {**env(data), "PAPERFEED_DATABASE_URL": url, "PAPERFEED_INDEX_AFTER_INGEST": "false"}
            run_child([python(), "-m", "paperfeed", "init"], e)
            imported = run_child([python(), "-m", "paperfeed", "ingest", "arxiv-snapshot", str(source)], e)
            page = daily_page(data, url)
            now = add_subscribers(url, DIGEST_USERS)
            sink = start_sink(8879)
            mail = {**e, "PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": "8879"}
            mail |= {"PAPERFEED_DIGEST_RATE_PER_MINUTE": "0", "PAPERFEED_BASE_URL": "https://paperfeed.example"}
            digest = run_child([python(), "-m", "paperfeed", "digest", "run", "--now", now.isoformat()], mail)
            sent, _ = stop_sink(sink)
            rows.append(
                [
                    kind,
                    f"{imported.seconds:.1f}",
                    f"{STORE_PAPERS / imported.seconds:.0f}",
                    f"{page[0]:.1f}",
                    f"{page[1]:.1f}",
                    f"{digest.seconds:.1f}",
                    sent,
                ]
            )
            print(rows[-1], flush=True)
    finally:
        pg.cleanup()
        shutil.rmtree(pg_root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return f"""### SQLite vs PostgreSQL

The same {STORE_PAPERS:,} papers (a seeded sample of the corpus's last three months) imported with
`paperfeed ingest` into a fresh store of each kind (PostgreSQL from pgserver, on this machine, over its Unix
socket); the daily page of the latest day (p50/p95 of 100 requests after 10 to warm up, one client); and
`paperfeed digest run` for {DIGEST_USERS:,} daily subscribers (trending 5, two categories) to a local sink.
Times include each command's start (about a second). On one machine SQLite, inside the process, answers faster
than a server over a socket (PostgreSQL is 1.4-2x slower here); PostgreSQL is for many writers and machines.

{table(["store", "import s", "papers/s", "daily page p50 ms", "daily page p95 ms", "digest run s", "messages"], rows)}
"""


def daily_page(data: Path, url: str) -> tuple[float, float]:
    extra = {"PAPERFEED_DATABASE_URL": url, "PAPERFEED_INDEX_IN_BACKGROUND": "false"}
    proc = serve(data, 8878, extra=extra)
    try:
        with httpx.Client(base_url="http://127.0.0.1:8878", timeout=30) as c:
            times = []
            for i in range(110):
                start = time.perf_counter()
                assert c.get("/").status_code == 200
                if i >= 10:
                    times.append((time.perf_counter() - start) * 1000)
    finally:
        stop_server(proc)
    return pct(times, 50), pct(times, 95)


def add_subscribers(url: str, n: int):
    """n verified daily subscribers, straight into the store (hashing passwords is not what is measured)."""
    from datetime import datetime
    from datetime import time as dtime

    from sqlalchemy import func, insert, select

    from paperfeed.store.accounts import _hasher
    from paperfeed.store.schema import paper_categories, papers, subscriptions, users

    engine = make_engine(url)
    digest = _hasher.hash("bench password")
    with engine.begin() as conn:
        latest = conn.scalar(select(func.max(papers.c.listed_date)))
        cats = list(
            conn.scalars(
                select(paper_categories.c.category)
                .group_by(paper_categories.c.category)
                .order_by(func.count().desc())
                .limit(10)
            )
        )
        now = datetime.combine(latest, dtime(10, 0))
        made = datetime.now()
        conn.execute(
            insert(users),
            [
                {
                    "username": f"user{i:05d}",
                    "email": f"user{i:05d}@bench.test",
                    "password_hash": digest,
                    "is_admin": False,
                    "created_at": made,
                }
                for i in range(n)
            ],
        )
        ids = list(conn.scalars(select(users.c.id).order_by(users.c.id)))
        rng = random.Random(3)
        conn.execute(
            insert(subscriptions),
            [
                {
                    "user_id": uid,
                    "email": f"user{i:05d}@bench.test",
                    "frequency": "daily",
                    "hour": 8,
                    "weekday": 0,
                    "timezone": "UTC",
                    "trending_n": 5,
                    "categories": rng.sample(cats, 2),
                    "authors": [],
                    "send_empty": False,
                    "active": True,
                    "verified_at": made,
                    "created_at": made,
                    "updated_at": made,
                }
                for i, uid in enumerate(ids)
            ],
        )
    engine.dispose()
    return now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="workers,lag,stores")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if "BENCH_FULL" not in os.environ:
        ensure_full()
    parts = {"workers": lambda: bench_workers(args.seconds), "lag": bench_lag, "stores": bench_stores}
    for name in args.only.split(","):
        body = parts[name]()
        write_section(
            f"nodes-{name}", f"## Several workers and nodes: {name} (bench/nodes.py)\n\n{machine()}.\n\n{body}"
        )


if __name__ == "__main__":
    main()
