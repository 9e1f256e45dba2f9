"""A polite HTTP client for upstream sources: one request at a time, a pause between requests, a clear
User-Agent with a contact, `Retry-After` obeyed on 429/503, a few retries with backoff on passing failures,
and one line saying why when it gives up.

Nothing from outside is unbounded: each answer has a deadline for the whole of it and a size cap
(ingest/http.py), and each run of a source a `Budget` of requests, bytes and seconds, so a server that
answers for ever (a resumption token that never ends, a drip, a huge body) ends the run with a reason."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import httpx

from paperfeed import __version__
from paperfeed.ingest.http import DEADLINE, MAX_BYTES, BoundedClient, GiveUp
from paperfeed.models import SourceError

log = logging.getLogger("paperfeed.sync")
RETRY_STATUS = {429, 500, 502, 503, 504}


class Unreachable(GiveUp):
    """No route, no such host, connection refused: nothing else on that host will answer in this run either."""


class BudgetSpent(GiveUp):
    """A run of one source used all the requests, bytes or time it may: it ends, and the next run goes on."""


class Budget:
    """What one run of one source may use. Checked before every request; the time left also shortens the
    deadline of the request in flight."""

    def __init__(self, requests: int, size: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.requests, self.size, self.seconds, self.clock = requests, size, seconds, clock
        self.used_requests = self.used_bytes = 0
        self.started = clock()

    def left(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def charge(self) -> None:
        if self.used_requests >= self.requests:
            raise BudgetSpent(f"run budget spent: {self.requests:,} requests; the rest waits for the next run")
        if self.used_bytes >= self.size:
            raise BudgetSpent(f"run budget spent: {self.size / 2**20:,.0f} MB read; the rest waits for the next run")
        if self.left() <= 0:
            raise BudgetSpent(f"run budget spent: {self.seconds:,.0f} s; the rest waits for the next run")
        self.used_requests += 1


UNLIMITED = float("inf")


class Upstream:
    def __init__(
        self,
        contact: str = "",
        delay: float = 3.0,
        retries: int = 3,
        max_retry_after: float = 600.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = MAX_BYTES,
        deadline: float = DEADLINE,
    ):
        agent = f"paperfeed/{__version__} (self-hosted paper feed{'; mailto:' + contact if contact else ''})"
        self.http = BoundedClient(
            timeout=timeout, max_bytes=max_bytes, deadline=deadline, headers={"User-Agent": agent}
        )
        self.delay, self.retries, self.max_retry_after = delay, retries, max_retry_after
        self.sleep, self.clock = sleep, clock
        self.last = -1e9
        self.requests = 0  # sent, retries included (the benchmark's request count)
        self.budget = Budget(int(1e12), int(1e18), UNLIMITED)  # the caller sets one per source and run

    def get(self, url: str, params: dict | None = None) -> bytes:
        """The body of a 200 answer, else SourceError naming the URL and the reason."""
        reason = ""
        for attempt in range(self.retries + 1):
            wait = self._send_wait()
            if wait > 0:
                self.sleep(min(wait, max(self.budget.left(), 0)))
            self.budget.charge()
            try:
                self.requests += 1
                self.last = self.clock()
                answer = self.http.get(url, params=params, deadline=max(self.budget.left(), 0.001))
                self.budget.used_bytes += len(answer.body)
                if answer.status == 200:
                    return answer.body
                reason = f"HTTP {answer.status}"
                if answer.status not in RETRY_STATUS:
                    break
                pause = self._retry_after(answer) or 2.0 * 2**attempt
            except httpx.ConnectError as exc:
                # No route, no such host, connection refused: retrying now would not help (offline, as on a
                # machine without network); the scheduler tries again later, backing off.
                raise Unreachable(f"{url} unreachable: {exc or type(exc).__name__}") from exc
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                pause = 2.0 * 2**attempt
            except httpx.HTTPError as exc:  # too many redirects, an undecodable body: not worth retrying now
                raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc
            if attempt < self.retries:
                log.info("%s: %s; retrying in %.0f s", url, reason, pause)
                self.sleep(min(pause, max(self.budget.left(), 0)))
        raise SourceError(f"{url} unreachable: {reason}")

    def _send_wait(self) -> float:
        return self.last + self.delay - self.clock()

    def _retry_after(self, answer) -> float | None:
        """Seconds the server asked us to wait (capped); a longer wait ends this run, to retry later."""
        try:
            seconds = float(answer.headers.get("retry-after", ""))
        except ValueError:
            return None  # absent, or an HTTP date: our own backoff
        if not math.isfinite(seconds):
            return None
        if seconds > self.max_retry_after:
            raise SourceError(f"the server asks to wait {seconds:.0f} s (Retry-After); trying later")
        return max(seconds, 0.0)

    def close(self) -> None:
        self.http.close()
