"""`paperfeed serve`'s index repairer: a background thread that notices a damaged index and rebuilds it
with the same code as `paperfeed index`, while the server keeps answering around the damage."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from paperfeed.search.indexer import IndexBusy, sync
from paperfeed.search.service import SearchService

log = logging.getLogger("paperfeed.index")


class Repairer(threading.Thread):
    def __init__(self, engine: Engine, service: SearchService, data_dir, every: float = 30.0):
        super().__init__(name="index-repairer", daemon=True)
        self.engine, self.service, self.data_dir, self.every = engine, service, data_dir, every
        self.stopping = threading.Event()
        self.state = "idle"  # idle | repairing | "failed: …" (shown by /healthz)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.service.check()  # records what is damaged
                if self.service.damage:
                    self.repair()
            except Exception as exc:  # the thread must outlive any one round
                self.state = f"failed: {type(exc).__name__}: {exc}"
                log.error("index check failed: %s", exc)
            self.stopping.wait(self.every)

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

    def stop(self) -> None:
        self.stopping.set()
