"""Digest throughput: compose + send for 1,000 and 10,000 subscribed users to a local SMTP sink.

    python bench/digest.py

Data: a copy of bench/.work/full (the 67,802-paper corpus, indexed) with N users added directly in SQL
(one argon2 hash shared by all, since hashing is not what is measured). Each user: a daily digest at
08:00 UTC, trending top 5-10, new papers in 1-3 of the corpus's top categories; 30% also have a saved
search (from a pool of 40 queries) and 20% follow an author (from a pool of 40). "Now" is 10:00 UTC on
the corpus's last listing day. The sender is the real `paperfeed digest run`, a child process whose wall
time and peak RSS are measured; the sink (bench/smtp_sink.py, aiosmtpd) is another process.
Baseline in the same run: smtplib sending N ready-made messages of the same size to the same sink.
Target (issue #5): 10,000 users in <= 120 s on two cores, memory flat (peak RSS at 10,000 ≈ at 1,000).
"""

from __future__ import annotations

import os
import random
import shutil
import smtplib
import subprocess
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from bench.common import WORK, machine, python, run_child, table, write_section  # noqa: E402
from bench.speed import FULL, ensure_full  # noqa: E402
from paperfeed.store import init_db, make_engine  # noqa: E402
from paperfeed.store.accounts import _hasher  # noqa: E402
from paperfeed.store.schema import paper_categories, papers, saved_searches, subscriptions, users  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_DIGEST_USERS", "1000,10000").split(",")]
SEED = 11


def prepare(data: Path, n: int) -> datetime:
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    shutil.copy(FULL / "paperfeed.db", data / "paperfeed.db")
    shutil.copytree(FULL / "index", data / "index")
    engine = make_engine(f"sqlite:///{data / 'paperfeed.db'}")
    init_db(engine)
    rng = random.Random(SEED)
    with engine.begin() as conn:
        latest = conn.execute(select(func.max(papers.c.listed_date))).scalar()
        cats = [
            c
            for (c,) in conn.execute(
                select(paper_categories.c.category)
                .group_by(paper_categories.c.category)
                .order_by(func.count().desc())
                .limit(15)
            )
        ]
        titles = [t for (t,) in conn.execute(select(papers.c.title).where(papers.c.listed_date == latest))]
        authors = [a[0] for (a,) in conn.execute(select(papers.c.authors).where(papers.c.listed_date == latest)) if a]
        pool_q = [" ".join(t.split()[:4]) for t in rng.sample(titles, 40)]
        pool_a = rng.sample(authors, 40)
        digest = _hasher.hash("benchmark password")
        now = datetime.now()
        conn.execute(
            insert(users),
            [
                {
                    "id": i,
                    "username": f"u{i:05d}",
                    "email": f"u{i:05d}@bench.test",
                    "password_hash": digest,
                    "is_admin": False,
                    "created_at": now,
                }
                for i in range(1, n + 1)
            ],
        )
        conn.execute(
            insert(subscriptions),
            [
                {
                    "user_id": i,
                    "email": f"u{i:05d}@bench.test",
                    "frequency": "daily",
                    "hour": 8,
                    "weekday": 0,
                    "timezone": "UTC",
                    "trending_n": rng.randint(5, 10),
                    "categories": rng.sample(cats, rng.randint(1, 3)),
                    "authors": [rng.choice(pool_a)] if rng.random() < 0.2 else [],
                    "send_empty": False,
                    "active": True,
                    "verified_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, n + 1)
            ],
        )
        conn.execute(
            insert(saved_searches),
            [
                {"user_id": i, "title": "saved", "query": rng.choice(pool_q), "created_at": now}
                for i in range(1, n + 1)
                if rng.random() < 0.3
            ],
        )
    engine.dispose()
    return datetime.combine(latest, dtime(10))


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [python(), str(Path(__file__).parent / "smtp_sink.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout.readline().strip() == "ready"
    return sink


def stop_sink(sink: subprocess.Popen) -> tuple[int, int]:
    sink.terminate()
    count, size = sink.stdout.read().split()
    sink.wait()
    return int(count), int(size)


def baseline(port: int, n: int, size: int) -> float:
    body = b"x" * 76 + b"\r\n"
    msg = b"Subject: baseline\r\nFrom: a@bench.test\r\nTo: b@bench.test\r\n\r\n" + body * max(size // 78, 1)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as s:
        for i in range(n):
            s.sendmail("a@bench.test", [f"u{i}@bench.test"], msg)
    return time.perf_counter() - start


def main() -> None:
    if "BENCH_FULL" not in os.environ:
        ensure_full()
    rows = []
    for n in SIZES:
        data = WORK / f"digest-{n}"
        now = prepare(data, n)
        port = 8800 + (n % 97)
        sink = start_sink(port)
        env = {
            "PAPERFEED_DATA_DIR": str(data),
            "PAPERFEED_MODEL_CACHE_DIR": str(WORK / "models"),
            "PAPERFEED_SMTP_HOST": "127.0.0.1",
            "PAPERFEED_SMTP_PORT": str(port),
            "PAPERFEED_DIGEST_RATE_PER_MINUTE": "0",
            "PAPERFEED_BASE_URL": "https://paperfeed.example",
        }
        run = run_child([python(), "-m", "paperfeed", "digest", "run", "--now", now.isoformat()], env=env)
        count, size = stop_sink(sink)
        sink = start_sink(port)
        base = baseline(port, n, size // max(count, 1))
        stop_sink(sink)
        print(n, f"{run.seconds:.1f}s", f"{run.peak_rss_mb:.0f}MB", count, f"baseline {base:.1f}s", flush=True)
        print(run.stdout.strip(), flush=True)
        rows.append(
            [
                f"{n:,}",
                count,
                f"{run.seconds:.1f}",
                f"{n / run.seconds:.0f}",
                f"{run.peak_rss_mb:.0f}",
                f"{size / max(count, 1) / 1024:.1f}",
                f"{base:.1f}",
                f"{run.seconds / base:.1f}x",
            ]
        )
        shutil.rmtree(data)
    body = f"""## Email digests: compose + send (bench/digest.py)

{machine()}. The real `paperfeed digest run` (one process) on the 67,802-paper corpus with N subscribed users
(daily, trending 5-10, 1-3 categories, 30% a saved search from a pool of 40, 20% a followed author), sending to
an aiosmtpd sink in another process on loopback. Baseline: smtplib sending N ready-made messages of the same
size to the same sink in the same run.

{
        table(
            [
                "users",
                "messages received",
                "seconds",
                "digests/s",
                "peak RSS MB",
                "KB/message",
                "baseline s",
                "vs baseline",
            ],
            rows,
        )
    }

Target: 10,000 users in ≤ 120 s on two cores with memory flat (compare the peak RSS rows).
"""
    write_section("digest", body)


if __name__ == "__main__":
    main()
