"""What stands between the network and the routes: a cap on request bodies, and admission control that
answers 503 + Retry-After at once when the server is full instead of letting every request slow down.

Both are plain ASGI middleware, so they act before FastAPI reads a body or a route does any work.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from starlette.exceptions import HTTPException

# Paths that must answer even when the server is full: health probes, and the files a page needs.
ALWAYS_ADMITTED = ("/healthz", "/static/", "/docs-assets/")


async def send_plain(send, status: int, message: str, path: str, headers: dict | None = None) -> None:
    """A small answer: JSON for the API, feeds and health; plain text elsewhere."""
    if path.startswith(("/api/", "/feeds/", "/healthz")):
        body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, kind = (message + "\n").encode(), b"text/plain; charset=utf-8"
    extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """HTTP exceptions, so that FastAPI's body parsing passes them on (it turns other errors into 400)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit // 1024} KiB")


class BodyTooSlow(HTTPException):
    def __init__(self, timeout: float):
        super().__init__(408, f"the request body did not arrive within {timeout:g} s")


class BodyLimit:
    """Refuse a body over `max_bytes` before reading it (by Content-Length) or as soon as it passes the
    limit (chunked), and a body whose next part takes longer than `timeout` seconds to arrive."""

    def __init__(self, app, max_bytes: int, timeout: float):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            too_large = BodyTooLarge(self.max_bytes)
            return await send_plain(send, 413, too_large.detail, path)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (BodyTooLarge, BodyTooSlow) as exc:  # read outside a route's own handling
            if started:
                raise
            await send_plain(send, exc.status_code, exc.detail, path)


class Admission:
    """At most `slots` requests in the app at once; a request that cannot get a slot within `wait`
    seconds (or finds `queue` others already waiting) is answered 503 with Retry-After.

    Doing a few requests at a time at full speed keeps throughput; the rest learn at once that they
    should come back, instead of all of them waiting seconds in a queue nobody can see."""

    def __init__(self, app, slots: int, wait: float, queue: int, tally: Counter):
        self.app, self.wait, self.queue, self.size, self.tally = app, wait, queue, slots, tally
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self.waiting = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(ALWAYS_ADMITTED):
            return await self.app(scope, receive, send)
        if not await self._enter():
            self.tally["shed"] += 1  # reported by /healthz
            message = "the server is busy; try again in a moment"
            return await send_plain(send, 503, message, scope["path"], {"Retry-After": 1})
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots().release()

    def slots(self) -> asyncio.Semaphore:
        # One per event loop: a server has one; tests may drive the same app from several.
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self.size)
        return self._slots[loop]

    async def _enter(self) -> bool:
        if self.waiting >= self.queue:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots().acquire(), self.wait)
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
