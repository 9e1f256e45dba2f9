"""Running the app under uvicorn with the limits a public socket needs.

uvicorn closes idle keep-alive connections, but a connection that never finishes sending its request
headers is kept for ever: a few hundred slow clients then hold every file descriptor. Here a connection
gets `header_timeout` seconds to send each request's headers, the process may open as many files as the
system allows, and the accept loop's "Too many open files" error is logged once a minute, not in a flood.
"""

from __future__ import annotations

import logging
import os
import resource
import time

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from paperfeed.heap import settle

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


LOGGERS = (
    "paperfeed.access",
    "paperfeed.digest",
    "paperfeed.errors",
    "paperfeed.import",
    "paperfeed.index",
    "paperfeed.server",
    "paperfeed.sync",
)
SCHEDULER_ENV = "PAPERFEED_SERVE_SCHEDULER"  # how `serve --with-scheduler` reaches its worker processes
SHUTDOWN_GRACE = 5  # seconds requests in flight get after SIGTERM


def serve(host: str, port: int, workers: int = 1, with_scheduler: bool = False) -> None:
    """Serve the app: in this process, or in `workers` processes sharing the socket (uvicorn's supervisor
    starts them, and starts a new one when one dies). Each process keeps its own background jobs: the index
    keeper (one writer at a time: the index lock) and, with the scheduler, sync and digests (one run at a
    time across processes and machines: the leases in the store)."""
    from paperfeed.config import get_settings

    settings = get_settings()
    files = raise_file_limit()
    log_to_stderr()
    logging.getLogger("asyncio").addFilter(OncePerMinute("Too many open files"))
    log.info("serving on http://%s:%s with %d worker(s) (open files allowed: %s)", host, port, workers, files)
    os.environ[SCHEDULER_ENV] = "1" if with_scheduler else ""
    HeaderTimeoutProtocol.header_timeout = settings.header_timeout
    # SIGTERM: requests in flight get a few seconds to finish, then are cancelled, so the process stops within
    # seconds whatever is running (a library file being read is killed by the shutdown handler at once).
    options = {
        "host": host,
        "port": port,
        "access_log": False,
        "http": HeaderTimeoutProtocol,
        "timeout_graceful_shutdown": SHUTDOWN_GRACE,
    }
    if workers > 1:
        uvicorn.run("paperfeed.web.server:worker_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(worker_app(), **options)


def worker_app():
    """One serving process's app, with its background jobs (started here, stopped at shutdown)."""
    from paperfeed.config import get_settings
    from paperfeed.ingest import library_file
    from paperfeed.search.keeper import IndexKeeper
    from paperfeed.web.app import create_app

    settings = get_settings()
    log_to_stderr()
    HeaderTimeoutProtocol.header_timeout = settings.header_timeout  # a worker process starts afresh
    web = create_app(settings)
    ctx = web.state.ctx
    ctx.index_keeper = IndexKeeper(
        ctx.engine,
        ctx.search,
        settings.data_dir,
        settings.index_check_interval,
        settings.index_in_background,
        settings.index_follow_interval,
    )
    jobs = [ctx.index_keeper]
    if os.environ.get(SCHEDULER_ENV):
        from paperfeed.digest.scheduler import Scheduler
        from paperfeed.sync.scheduler import SyncScheduler

        jobs += [Scheduler(ctx.engine, settings, ctx.search), SyncScheduler(ctx.engine, settings)]
    settle()  # the app just built and the code it loaded: out of the collector's full passes (paperfeed/heap.py)
    for job in jobs:
        job.start()
    web.router.add_event_handler("shutdown", lambda: [job.stop() for job in [*jobs, library_file]])
    return web


def log_to_stderr() -> None:
    """Our own log lines (the access log: one JSON line per request, secrets in paths redacted, replaces
    uvicorn's), once per process."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
