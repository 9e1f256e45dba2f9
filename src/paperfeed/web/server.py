"""Running the app under uvicorn with the limits a public socket needs.

uvicorn closes idle keep-alive connections, but a connection that never finishes sending its request
headers is kept for ever: a few hundred slow clients then hold every file descriptor. Here a connection
gets `header_timeout` seconds to send each request's headers, the process may open as many files as the
system allows, and the accept loop's "Too many open files" error is logged once a minute, not in a flood.
"""

from __future__ import annotations

import logging
import resource
import time

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("paperfeed.server")


class HeaderTimeoutProtocol(H11Protocol):
    """h11, plus a deadline for each request's headers (set by `serve`)."""

    header_timeout = 10.0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._header_timer = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()  # the first bytes of a next request on a kept-alive connection
        super().data_received(data)
        if not self._between_requests():
            self._disarm()  # headers complete: the request is the app's now

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()


class OncePerMinute(logging.Filter):
    """Let a repeated error through once a minute (with a count of the ones held back)."""

    def __init__(self, needle: str):
        super().__init__()
        self.needle, self.last, self.held = needle, 0.0, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.needle not in record.getMessage() and self.needle not in str(record.exc_info and record.exc_info[1]):
            return True
        now = time.monotonic()
        if now - self.last < 60:
            self.held += 1
            return False
        if self.held:
            record.msg = f"{record.msg} ({self.held} more like it in the last minute)"
        self.last, self.held = now, 0
        return True


def raise_file_limit() -> int:
    """Allow as many open files as the hard limit permits; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def serve(app, host: str, port: int, header_timeout: float) -> None:
    HeaderTimeoutProtocol.header_timeout = header_timeout
    files = raise_file_limit()
    logging.getLogger("asyncio").addFilter(OncePerMinute("Too many open files"))
    log.info("serving on http://%s:%s (open files allowed: %s)", host, port, files)
    uvicorn.run(app, host=host, port=port, access_log=False, http=HeaderTimeoutProtocol)
