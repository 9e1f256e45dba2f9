"""`paperfeed serve`'s index keeper: a background thread that
- every `follow` seconds applies the store's change log to this node's indexes (papers imported or changed
  by any process or node: searchable here within seconds);
- every `every` seconds notices a damaged index and rebuilds it with the same code as `paperfeed index`, and
  starts `paperfeed index` in a process of its own when the index is far behind the store (a fresh install,
  a large import), while the server keeps answering."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

from sqlalchemy import Engine

from paperfeed.search.encoder import LazyEncoder
from paperfeed.search.indexer import IndexBusy, follow, sync
from paperfeed.search.service import SearchService
from paperfeed.store import queries as q

log = logging.getLogger("paperfeed.index")


class IndexKeeper(threading.Thread):
    def __init__(self, engine: Engine, service: SearchService, data_dir, every=30.0, catch_up=True, follow=2.0):
        super().__init__(name="index-keeper", daemon=True)
        self.engine, self.service, self.data_dir, self.every = engine, service, data_dir, every
        self.catch_up, self.follow_every = catch_up, follow
        self.indexer: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.state = "idle"  # idle | repairing | indexing | "failed: …" (shown by /healthz)

    def run(self) -> None:
        checked = float("-inf")
        while not self.stopping.is_set():
            try:
                self.note_indexer_end()
                if time.monotonic() - checked >= self.every:
                    checked = time.monotonic()
                    self.service.check()  # records what is damaged
                    if self.service.damage:
                        self.repair()
                    elif self.catch_up and self.behind():
                        self.start_indexer()
                if not self.service.damage and not self.indexing():
                    self.follow()
            except Exception as exc:  # the thread must outlive any one round
                self.state = f"failed: {type(exc).__name__}: {exc}"
                log.error("index check failed: %s", exc)
            self.stopping.wait(min(self.every, self.follow_every))

    def follow(self) -> None:
        """The change log since this index last read it; a long one goes to `paperfeed index`."""
        try:
            # The model is loaded only when a change needs it: an idle look costs one query.
            report = follow(self.engine, self.data_dir, LazyEncoder(lambda: self.service.encoder))
        except IndexBusy:
            return  # another writer (a worker beside us, `paperfeed index`): it brings the index along
        if report is None:
            if self.catch_up:
                self.start_indexer()
            return
        if report.added or report.updated or report.removed:
            self.service.snapshot()
            log.info("index follows the store: %s", report.summary())

    def indexing(self) -> bool:
        return self.indexer is not None and self.indexer.poll() is None

    def repair(self) -> None:
        damage = dict(self.service.damage)
        log.warning("search index damaged (%s); repairing in the background", "; ".join(damage.values()))
        self.state = "repairing"
        start = time.monotonic()
        try:
            # Another writer (`paperfeed index`, a rebuild) holding the index: what looked like damage may be
            # its work in progress; look again next round.
            report = sync(self.engine, self.data_dir, self.service.encoder, wait=0)
            self.service.snapshot()
            self.state = "idle"
            log.warning("search index repaired in %.0f s: %s", time.monotonic() - start, report.summary())
        except IndexBusy:
            self.state = "idle"
            log.info("index busy with another writer; checking again in %.0f s", self.every)
        except Exception as exc:  # reported on /healthz and retried on the next round
            self.state = f"failed: {type(exc).__name__}: {exc}"
            log.error("index repair failed: %s", exc)

    def note_indexer_end(self) -> None:
        if self.indexer is not None and self.indexer.poll() is not None and self.state == "indexing":
            code = self.indexer.returncode
            self.state = "idle" if code == 0 else f"failed: background `paperfeed index` exited with {code}"

    def behind(self) -> bool:
        """The vector index holds another number of papers than the store: new ones to add, or gone ones to
        remove (the keyword index is brought along by the same `paperfeed index`)."""
        return q.count_papers(self.engine) != self.service.indexed_count()

    def start_indexer(self) -> None:
        """`paperfeed index` in its own process (the embedding must not hold this process's cores), its
        progress lines going to the server's log; one at a time."""
        if self.indexing():
            return
        log.warning("the search index is behind the store; indexing in the background")
        self.indexer = subprocess.Popen([sys.executable, "-m", "paperfeed", "index"], stdin=subprocess.DEVNULL)
        self.state = "indexing"

    def stop(self) -> None:
        self.stopping.set()
        if self.indexer is not None and self.indexer.poll() is None:
            self.indexer.terminate()  # it commits chunk by chunk: the next start finishes the job
