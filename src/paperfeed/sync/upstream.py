"""A polite HTTP client for upstream sources: one request at a time, a pause between requests, a clear
User-Agent with a contact, `Retry-After` obeyed on 429/503, a few retries with backoff on passing failures,
and one line saying why when it gives up."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import httpx

from paperfeed import __version__
from paperfeed.models import SourceError

log = logging.getLogger("paperfeed.sync")
RETRY_STATUS = {429, 500, 502, 503, 504}


class Unreachable(SourceError):
    """No route, no such host, connection refused: nothing else on that host will answer in this run either."""


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
    ):
        agent = f"paperfeed/{__version__} (self-hosted paper feed{'; mailto:' + contact if contact else ''})"
        self.http = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": agent})
        self.delay, self.retries, self.max_retry_after = delay, retries, max_retry_after
        self.sleep, self.clock = sleep, clock
        self.last = -1e9
        self.requests = 0  # sent, retries included (the benchmark's request count)

    def get(self, url: str, params: dict | None = None) -> bytes:
        """The body of a 200 answer, else SourceError naming the URL and the reason."""
        reason = ""
        for attempt in range(self.retries + 1):
            wait = self._send_wait()
            if wait > 0:
                self.sleep(wait)
            try:
                self.requests += 1
                self.last = self.clock()
                answer = self.http.get(url, params=params)
                if answer.status_code == 200:
                    return answer.read()
                reason = f"HTTP {answer.status_code}"
                if answer.status_code not in RETRY_STATUS:
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
                self.sleep(pause)
        raise SourceError(f"{url} unreachable: {reason}")

    def _send_wait(self) -> float:
        return self.last + self.delay - self.clock()

    def _retry_after(self, answer: httpx.Response) -> float | None:
        """Seconds the server asked us to wait (capped); a longer wait ends this run, to retry later."""
        try:
            seconds = float(answer.headers.get("retry-after", ""))
        except ValueError:
            return None  # absent, or an HTTP date: our own backoff
        if not math.isfinite(seconds):
            return None
        if seconds > self.max_retry_after:
            raise SourceError(f"{answer.request.url.host} asks to wait {seconds:.0f} s (Retry-After); trying later")
        return max(seconds, 0.0)

    def close(self) -> None:
        self.http.close()
