"""`paperfeed serve --with-scheduler`: sync on arXiv's rhythm, in a background thread.

Every minute it looks whether a source is due: arXiv every `sync_interval` (an hour: new listings appear
about 00:00 UTC Sunday-Thursday, and an hourly look costs one request per archive when nothing is new, so
a late or holiday-shifted announcement is in within the hour), Hugging Face every `hf_sync_interval`. A
failed source is tried again sooner, backing off (5, 10, 20 … minutes, at most the interval). Only one
process syncs at a time (the lease in the store), however many run a scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.sync.arxiv import archive_of
from paperfeed.sync.run import Follow, SourceState, Sync, states, utcnow

log = logging.getLogger("paperfeed.sync")
FIRST_RETRY = 300.0


def next_due(state: SourceState | None, interval: float) -> datetime:
    """When a source should be tried next: an interval after the last attempt, sooner after a failure."""
    if state is None or not state.last_attempt:
        return datetime.min
    last = datetime.fromisoformat(state.last_attempt.removesuffix("Z"))
    wait = min(interval, FIRST_RETRY * 2 ** (state.failures - 1)) if state.failures else interval
    return last + timedelta(seconds=wait)


class SyncScheduler(threading.Thread):
    def __init__(self, engine: Engine, settings: Settings, now: Callable[[], datetime] = utcnow):
        super().__init__(name="sync-scheduler", daemon=True)
        self.engine, self.settings, self.now = engine, settings, now
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # one bad run must not stop the next ones
                log.exception("sync scheduler: the run failed; trying again later")
            self.stopping.wait(self.settings.scheduler_interval)

    def tick(self) -> None:
        now, known = self.now(), states(self.engine)
        follow = Follow.load(self.engine, self.settings)
        archives = {f"arxiv:{archive_of(c)}" for c in follow.categories}
        arxiv = any(next_due(known.get(a), self.settings.sync_interval) <= now for a in archives)
        hf = follow.hf and next_due(known.get("hf"), self.settings.hf_sync_interval) <= now
        if arxiv or hf:
            report = Sync(self.engine, self.settings, now=self.now).run(arxiv=arxiv, hf=hf)
            log.info("sync: %s", report.line())

    def stop(self) -> None:
        self.stopping.set()
