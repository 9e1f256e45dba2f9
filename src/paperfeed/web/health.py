"""/healthz: the truth about what serves, cheap enough to be asked hundreds of times a second.

The answer is computed at most once a second (`ttl`) and shared: a request within that second gets the
answer already made, without a thread or a database connection. The computing is done by one thread of its
own on a database pool of its own (two connections), so a flood of health checks never takes a connection
or a worker thread from the pages.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from paperfeed.store import make_engine
from paperfeed.store import queries as q
from paperfeed.store.errors import storage_problem
from paperfeed.sync.run import summary as sync_summary


class Health:
    def __init__(self, ctx, ttl: float = 1.0):
        self.ctx, self.ttl = ctx, ttl
        self.engine = make_engine(ctx.settings.db_url, pool_size=2)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="healthz")
        self.lock = threading.Lock()
        self.answer: tuple[int, dict] | None = None
        self.made = -1e9

    async def get(self) -> tuple[int, dict]:
        """(status, body): the answer of this second."""
        if self.answer is not None and time.monotonic() - self.made < self.ttl:
            return self.answer
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.refresh)

    def refresh(self) -> tuple[int, dict]:
        with self.lock:  # requests queued behind one computation take its answer
            if self.answer is None or time.monotonic() - self.made >= self.ttl:
                self.answer, self.made = self.compute(), time.monotonic()
            return self.answer

    def compute(self) -> tuple[int, dict]:
        """ "ok" only when all is well; "degraded" when something works in a reduced way (the problems say
        what); 503 "error" when the database cannot be read."""
        c = self.ctx
        try:
            with self.engine.connect() as conn:
                q.ping(conn)
                latest = q.latest_day(conn)
            papers = q.count_papers(self.engine)
            sources = sync_summary(self.engine)
        except Exception as exc:  # any database failure is what this endpoint reports
            reason = storage_problem(exc) or f"{type(exc).__name__}: {exc}"
            return 503, {"status": "error", "database": reason}
        problems = []
        storage = c.storage.check()
        if storage != "ok":
            problems.append(f"storage: {storage}")
        search = c.search.health(papers)
        problems += [f"{name} index: {state}" for name, state in search["indexes"].items() if state != "ok"]
        if not search["fresh"]:
            problems.append(f"search index behind the store: {search['indexed']} of {papers} papers indexed")
        problems += [
            f"sync {name}: failing since {s['failing_since']} ({s['last_error']})"
            for name, s in sources.items()
            if s["failing_since"]
        ]
        return 200, {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "database": "ok",
            "storage": storage,
            "papers": papers,
            "indexed": search["indexed"],
            "index_fresh": search["fresh"],
            "indexes": search["indexes"],
            "index_job": c.index_keeper.state if c.index_keeper else None,
            "worker": os.getpid(),  # which serving process answered (`serve --workers N`)
            "busy_answers": c.tally["shed"],
            "latest_day": str(latest) if latest else None,
            "sync": sources,
        }

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.engine.dispose()
