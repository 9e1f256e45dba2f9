"""One sync: arXiv's new listings for the followed categories, then Hugging Face's daily papers.

Cron-safe and resumable:
- One sync at a time across processes and machines (a lease in the store).
- Every page is written in one transaction together with where to continue (the watermark and the
  resumption token), so a run killed at any point continues after the last committed page and never asks
  again for a page it has kept.
- Re-reading a day changes nothing (the import is idempotent).
- A source that fails is recorded with its reason ("unreachable since …") and retried by the next run; the
  other source still runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from paperfeed.clock import utcnow
from paperfeed.config import Settings
from paperfeed.ingest import hf_daily
from paperfeed.ingest.http import GiveUp
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.store import lease
from paperfeed.store import queries as q
from paperfeed.store.importer import write_batch
from paperfeed.sync.arxiv import CutShort, TokenExpired, archive_of, list_records
from paperfeed.sync.upstream import Budget, Upstream

log = logging.getLogger("paperfeed.sync")
# Renewed with every page or day written; longer than the worst page (3 retries after a 600 s Retry-After).
LEASE_SECONDS = 3600
CUT_RETRIES = 2  # an answer cut short is asked for again this many times in a run
HF_PAGE, HF_PAGES = 100, 20  # HF's largest page, and a bound on a day's pages


class LeaseLost(Exception):
    """Another process holds the sync lease now: stop without writing."""


@dataclass
class SourceState:
    """What /admin/sources, /healthz and `paperfeed stats` show for a source; kept in the store."""

    watermark: str | None = None  # arXiv: the newest datestamp of a finished harvest; HF: the newest day imported
    token: str | None = None  # arXiv: the resumption token of the next page, mid-harvest
    since: str | None = None  # arXiv: the `from` of the harvest the token belongs to
    pending: str | None = None  # arXiv: the newest datestamp kept by the harvest in flight
    last_attempt: str | None = None
    last_success: str | None = None
    failing_since: str | None = None
    failures: int = 0
    last_error: str | None = None
    counts: dict = field(default_factory=dict)


@dataclass
class Follow:
    """What to follow: settings' defaults, changed by an admin on /admin/sources."""

    categories: list[str]
    hf: bool

    @classmethod
    def load(cls, engine: Engine, settings: Settings) -> Follow:
        raw = q.get_state(engine, "sync:follow")
        if raw:
            saved = json.loads(raw)
            return cls(saved["categories"], saved["hf"])
        return cls([c.strip() for c in settings.sync_categories.split(",") if c.strip()], settings.sync_hf)

    def save(self, engine: Engine) -> None:
        with engine.begin() as conn:
            q.put_state(conn, "sync:follow", json.dumps(asdict(self)))


@dataclass
class Report:
    papers: int = 0  # new or changed papers and signals
    rejected: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    busy: bool = False  # another process holds the sync lease

    def line(self) -> str:
        if self.busy:
            return "another sync is running; nothing done"
        text = f"{self.papers} papers new or changed, {self.rejected} rejected, {self.requests} requests"
        return text + "".join(f"; {e}" for e in self.errors)


class Sync:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        client: Upstream | None = None,
        now: Callable[[], datetime] = utcnow,
        on_page: Callable[[int, int | None], None] | None = None,
    ):
        self.engine, self.settings, self.now = engine, settings, now
        self.client = client or Upstream(
            settings.contact_email,
            settings.sync_delay,
            max_retry_after=settings.sync_max_retry_after,
            max_bytes=settings.sync_answer_bytes,
            deadline=settings.sync_answer_seconds,
        )
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:{id(self)}"
        self.own_client = client is None
        self.on_page = on_page  # (records so far, expected total or None): the CLI's progress bar
        self.report = Report()

    # -- the run -------------------------------------------------------------------------------
    def run(self, arxiv: bool = True, hf: bool = True, since: date | None = None, categories=None) -> Report:
        if not self._take_lease():
            self.report.busy = True
            return self.report
        try:
            follow = Follow.load(self.engine, self.settings)
            cats = categories or follow.categories
            if arxiv:
                for archive in sorted({archive_of(c) for c in cats}):
                    # A run for some categories keeps its own place: the archive's watermark is for all of them.
                    name = f"arxiv:{archive}" + (f":{'+'.join(sorted(categories))}" if categories else "")
                    self._guarded(name, lambda a=archive, n=name: self._arxiv(n, a, cats, since))
            if hf and follow.hf and not categories:
                self._guarded("hf", lambda: self._hf(since))
        except LeaseLost as exc:
            self.report.errors.append(str(exc))
            log.warning("sync stopped: %s", exc)
        finally:
            lease.release(self.engine, "sync", self.holder)
            self.report.requests = self.client.requests
            if self.own_client:
                self.client.close()
        return self.report

    def _take_lease(self) -> bool:
        """The sync lease; also from a holder on this machine whose process is gone (a killed cron run would
        otherwise block every sync until its lease expires)."""
        if lease.acquire(self.engine, "sync", self.holder, LEASE_SECONDS, self.now()):
            return True
        other = lease.holder_of(self.engine, "sync")
        host, _, rest = other.partition(":")
        pid = rest.partition(":")[0]
        namespace = rest.partition(":")[2].partition(":")[0]
        # Same machine and same process namespace (a container on this host has its own pids): else only the
        # lease's expiry frees it.
        if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit() or lease.alive(int(pid)):
            return False
        log.info("sync: taking over the lease of %s (that process is gone)", other)
        return lease.acquire(self.engine, "sync", self.holder, LEASE_SECONDS, self.now(), dead=other)

    def _guarded(self, name: str, job: Callable[[], None]) -> None:
        """Run one source; a failure is recorded (and logged in one line), never raised."""
        state = self.state(name)
        state.last_attempt = self._stamp()
        self._save(name, state)
        s = self.settings
        self.client.budget = Budget(s.sync_run_requests, s.sync_run_bytes, s.sync_run_seconds)
        try:
            job()
        except LeaseLost:
            raise
        except Exception as exc:  # recorded and shown, never raised: the other sources still run
            if not isinstance(exc, SourceError):
                exc = SourceError(f"{type(exc).__name__}: {exc}")
            state = self.state(name)
            state.failures += 1
            state.failing_since = state.failing_since or self._stamp()
            state.last_error = str(exc)
            self._save(name, state)
            self.report.errors.append(f"{name}: {exc}")
            log.warning("sync %s failed (attempt %d since %s): %s", name, state.failures, state.failing_since, exc)
            return
        state = self.state(name)
        state.last_success, state.failing_since, state.failures, state.last_error = self._stamp(), None, 0, None
        self._save(name, state)

    # -- arXiv ---------------------------------------------------------------------------------
    def _arxiv(self, name: str, archive: str, categories: list[str], since: date | None) -> None:
        url, state = self.settings.arxiv_oai_url, self.state(name)
        if state.token and state.since and (since is None or state.since == since.isoformat()):
            start, token = date.fromisoformat(state.since), state.token  # the harvest in flight goes on
        else:
            # The day after the newest datestamp of a finished harvest: arXiv announces a day all at once.
            after = _day(state.watermark) + timedelta(days=1) if state.watermark else None
            start, token = since or after or (self.now().date() - timedelta(days=self.settings.sync_first_days)), None
        seen, tokens, restarted = 0, set(), False
        while True:
            try:
                page = _again_if_cut(lambda t=token: list_records(self.client, url, archive, start, t))
            except TokenExpired as exc:
                if restarted:  # a server that refuses every token would have us start over for ever
                    self._drop_token(name)
                    raise SourceError(
                        f"{exc}, again after starting over; the harvest stops until the next run"
                    ) from exc
                log.info("sync %s: resumption token expired; starting the harvest again from %s", name, start)
                token, restarted, tokens = None, True, set()
                continue
            if page.token and (page.token == token or page.token in tokens):
                self._drop_token(name)  # the next run starts from the watermark, not from the looping token
                raise SourceError(
                    f"{url}: the server sent the resumption token {page.token[:60]!r} again; the harvest would "
                    "never end, so it stops here (the next run starts again from the last finished harvest)"
                )
            tokens.add(page.token)
            wanted = [p for p in page.papers if set(p.categories) & set(categories)]
            seen += len(page.papers) + len(page.rejected)
            self._commit_page(name, wanted, page.rejected, page.newest, page.token, start)
            if self.on_page:
                self.on_page(seen, page.total)
            if not page.token:
                return
            token = page.token

    def _commit_page(self, name: str, papers: list[Paper], rejected: list[Rejected], newest, token, start) -> None:
        """The page's papers and where to continue, in one transaction, while the lease is still ours. The
        watermark moves only when a harvest has read its last page."""
        with self.engine.begin() as conn:
            self._renew(conn)
            new, updated, _ = write_batch(conn, papers) if papers else (0, 0, 0)
            state = self._read(conn, name)
            if newest:
                state.pending = max(state.pending or "", newest.isoformat())
            state.token, state.since = (token, start.isoformat()) if token else (None, None)
            if not token and state.pending:
                state.watermark, state.pending = max(state.watermark or "", state.pending), None
            for key, n in (("new", new), ("updated", updated), ("rejected", len(rejected))):
                state.counts[key] = state.counts.get(key, 0) + n
            q.put_state(conn, f"sync:{name}", json.dumps(asdict(state)))
        self.report.papers += new + updated
        self.report.rejected += len(rejected)
        for r in rejected[:20]:
            log.info("sync %s: rejected %s", name, r)

    def _drop_token(self, name: str) -> None:
        with self.engine.begin() as conn:
            state = self._read(conn, name)
            state.token, state.since = None, None
            q.put_state(conn, f"sync:{name}", json.dumps(asdict(state)))

    def _renew(self, conn) -> None:
        if not lease.renew(conn, "sync", self.holder, LEASE_SECONDS, self.now()):
            raise LeaseLost("the sync lease was lost to another process (a page took longer than the lease)")

    # -- Hugging Face --------------------------------------------------------------------------
    def _hf(self, since: date | None) -> None:
        """Every day since the last one imported, and the last few again (upvotes keep moving for days). A day
        that fails is reported; the days after it are still read."""
        state = self.state("hf")
        today = self.now().date()
        refresh = today - timedelta(days=self.settings.hf_refresh_days)
        day = since or min(_day(state.watermark) or refresh, refresh)
        failed = []
        while day <= today:
            try:
                self._hf_day(day)
            except GiveUp:
                raise  # unreachable, too slow, too large, or the run's budget spent: the other days would fail too
            except SourceError as exc:
                failed.append(str(exc))
            day += timedelta(days=1)
        if failed:
            raise SourceError(f"{len(failed)} day(s) failed, first: {failed[0]}")

    def _hf_day(self, day: date) -> None:
        papers, rejected = _again_if_cut(lambda: self._hf_answer(day))
        with self.engine.begin() as conn:
            self._renew(conn)
            new, updated, _ = write_batch(conn, papers) if papers else (0, 0, 0)
            state = self._read(conn, "hf")
            state.watermark = max(state.watermark or "", day.isoformat())
            state.counts["papers"] = state.counts.get("papers", 0) + new + updated
            q.put_state(conn, "sync:hf", json.dumps(asdict(state)))
        self.report.papers += new + updated
        self.report.rejected += len(rejected)

    def _hf_answer(self, day: date) -> tuple[list[Paper], list[Rejected]]:
        """A day's papers, page by page (HF answers at most 100 at a time)."""
        url, papers, rejected = self.settings.hf_daily_url, [], []
        for page in range(HF_PAGES):
            params = {"date": day.isoformat(), "limit": HF_PAGE, "p": page}
            got = 0
            for item in hf_daily.parse(self.client.get(url, params), f"{url}?date={day}&p={page}"):
                if isinstance(item, Rejected) and _cut(item):
                    raise CutShort(f"{url}?date={day}: {item.reason}")  # keep nothing of a cut answer
                (rejected if isinstance(item, Rejected) else papers).append(item)
                got += 1
            if got < HF_PAGE:
                break
        return papers, rejected

    # -- state ---------------------------------------------------------------------------------
    def state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            return self._read(conn, name)

    @staticmethod
    def _read(conn, name: str) -> SourceState:
        raw = q.state_value(conn, f"sync:{name}")
        return SourceState(**json.loads(raw)) if raw else SourceState()

    def _save(self, name: str, state: SourceState) -> None:
        with self.engine.begin() as conn:
            q.put_state(conn, f"sync:{name}", json.dumps(asdict(state)))

    def _stamp(self) -> str:
        return self.now().isoformat(timespec="seconds") + "Z"


def states(engine: Engine) -> dict[str, SourceState]:
    """Every source's state, by name ("arxiv:cs", "hf")."""
    rows = q.states_under(engine, "sync:")
    return {k.removeprefix("sync:"): SourceState(**json.loads(v)) for k, v in rows.items() if k != "sync:follow"}


def _cut(item: Rejected) -> bool:
    """A Rejected that says the answer itself ends early (not one bad record, nor a note on bad bytes)."""
    return "truncated" in item.reason or "rest of the file was not read" in item.reason


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def _again_if_cut(fetch: Callable):
    for attempt in range(CUT_RETRIES + 1):
        try:
            return fetch()
        except CutShort as exc:
            if attempt == CUT_RETRIES:
                raise
            log.info("%s; asking again", exc)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def summary(engine: Engine, now: datetime | None = None) -> dict[str, dict]:
    """Per source, what /healthz, /admin/sources and `paperfeed stats` say: last success, its lag, the
    failure ("unreachable since …") and counts."""
    now = now or utcnow()
    out = {}
    for name, s in sorted(states(engine).items()):
        last = datetime.fromisoformat(s.last_success.removesuffix("Z")) if s.last_success else None
        out[name] = {
            "last_success": s.last_success,
            "lag": _ago(now - last) if last else None,
            "watermark": s.watermark,
            "failing_since": s.failing_since,
            "failures": s.failures,
            "last_error": s.last_error,
            "counts": s.counts,
        }
    return out


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} days"
