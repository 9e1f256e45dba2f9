"""`paperfeed serve --with-scheduler`: the digest and webhook jobs in a background thread, every minute."""

from __future__ import annotations

import logging
import threading
import uuid

from sqlalchemy import Engine

from paperfeed.clock import utcnow
from paperfeed.config import Settings
from paperfeed.digest import outbox, webhooks
from paperfeed.search.service import SearchService
from paperfeed.store import lease

log = logging.getLogger("paperfeed.digest")


class Scheduler(threading.Thread):
    def __init__(self, engine: Engine, settings: Settings, search: SearchService | None = None):
        super().__init__(name="digest-scheduler", daemon=True)
        self.engine, self.settings, self.search = engine, settings, search
        self.stopping = threading.Event()
        self.hooks: threading.Thread | None = None
        self.me = f"{outbox.sender_id()}:{uuid.uuid4().hex[:8]}"  # this scheduler, among any in this process

    def run(self) -> None:
        # Digests and webhooks never wait on a sync: they go out on what is stored (a sync that hangs on a
        # hostile upstream must not stop everyone's mail), and a paper synced later is in the next day's.
        while not self.stopping.is_set():
            if self.take_turn():
                self.run_digests()
                self.run_hooks()
            self.stopping.wait(self.settings.scheduler_interval)

    def take_turn(self) -> bool:
        """One scheduler runs the jobs at a time, however many processes and machines run one: the "digest"
        lease in the store, held through the run (the outbox's claims keep even two runs at once exact)."""
        return lease.acquire(self.engine, "digest", self.me, self.settings.digest_lease_seconds, utcnow())

    def run_digests(self) -> None:
        try:
            report = outbox.run(self.engine, self.settings, self.search)
            if report.composed or report.sent or report.failed:
                log.info("digest run: %s", report)
        except Exception:  # one bad run must not stop the next ones
            log.exception("digest run failed; trying again in %.0f s", self.settings.scheduler_interval)
        finally:
            lease.release(self.engine, "digest", self.me)

    def run_hooks(self) -> None:
        """In a thread of their own: a slow receiver must not hold up the digests."""
        if self.search is None or (self.hooks is not None and self.hooks.is_alive()):
            return
        self.hooks = threading.Thread(target=self._hooks_once, name="webhooks", daemon=True)
        self.hooks.start()

    def _hooks_once(self) -> None:
        try:
            report = webhooks.run(self.engine, self.settings, self.search)
            if report.sent or report.failed or report.retrying:
                log.info("webhook run: %s", report)
        except Exception:
            log.exception("webhook run failed; trying again in %.0f s", self.settings.scheduler_interval)

    def stop(self) -> None:
        self.stopping.set()
