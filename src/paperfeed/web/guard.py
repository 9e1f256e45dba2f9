"""What stands between the network and the routes: a cap on request bodies, and admission control that
answers 503 + Retry-After at once when the server is full instead of letting every request slow down.

Both are plain ASGI middleware, so they act before FastAPI reads a body or a route does any work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter, deque
from http.cookies import CookieError, SimpleCookie

# Paths that must answer even when the server is full: health probes, and the files a page needs.
ALWAYS_ADMITTED = ("/healthz", "/static/")


async def send_plain(send, status: int, message: str, path: str, headers: dict | None = None) -> None:
    """A small answer: JSON for the API, feeds and health; plain text elsewhere."""
    if path.startswith(("/api/", "/feeds/", "/healthz", "/mcp")):
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


LARGE_AT_ONCE = 2


class BodyLimit:
    """Read the whole request body here, before admission control gives the request a slot: a body over
    `max_bytes` is refused with 413 (by Content-Length before reading, or as soon as a chunked body passes
    it), and one that has not fully arrived within `timeout` seconds gets 408. A slow upload then holds a
    connection, never one of the few slots that do the work."""

    def __init__(self, app, max_bytes: int, timeout: float, larger: dict[str, int] | None = None, signed_in=None):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout
        # path -> its own limit (a library upload is bigger than any form), for a request whose cookies
        # `signed_in` accepts (a session), and for LARGE_AT_ONCE such bodies at a time: strangers cannot make
        # the server hold many 20 MB bodies.
        self.larger, self.signed_in = larger or {}, signed_in
        self.large_slots = asyncio.Semaphore(LARGE_AT_ONCE)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        path = scope["path"]
        if path in self.larger and await self._may_send_large(headers):
            if self._fits(headers, self.max_bytes):  # a small file: no large slot needed
                return await self._limited(scope, receive, send, headers, self.larger[path])
            if self.large_slots.locked():
                return await send_plain(send, 503, "another large upload is being received; try again", path)
            # The slot is held while the body arrives, not while the app works on it (an import is bounded by
            # its own deadline): one slow file never turns the others away.
            return await self._limited(scope, receive, send, headers, self.larger[path], self.large_slots)
        return await self._limited(scope, receive, send, headers, self.max_bytes)

    @staticmethod
    def _fits(headers: dict, limit: int) -> bool:
        declared = headers.get(b"content-length", b"")
        return declared.isdigit() and int(declared) <= limit

    async def _may_send_large(self, headers: dict) -> bool:
        if self.signed_in is None:
            return True
        try:
            cookies = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        except CookieError:
            return False
        return await asyncio.to_thread(self.signed_in, {k: m.value for k, m in cookies.items()})

    async def _limited(self, scope, receive, send, headers: dict, limit: int, slot=None):
        path = scope["path"]
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await send_plain(send, 413, self._too_large(limit), path)
        if declared in (None, b"0") and b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            return await self.app(scope, receive, send)  # no body to wait for
        try:
            async with slot or contextlib.nullcontext():
                body = await asyncio.wait_for(self._read(receive, limit), self.timeout)
        except TimeoutError:
            return await send_plain(send, 408, f"the request body did not arrive within {self.timeout:g} s", path)
        if body is None:
            return await send_plain(send, 413, self._too_large(limit), path)
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive, limit: int) -> bytes | None:
        """The body, or None once it passes the limit (a client that went away reads as an empty body)."""
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > limit:
                return None
            if not message.get("more_body", False):
                return b"".join(parts)

    def _too_large(self, limit: int) -> str:
        return f"the request body is larger than {limit // 1024} KiB"


def _replay(body: bytes, receive):
    """A receive that gives the buffered body once, then waits on the connection (for a disconnect)."""
    given = False

    async def replayed():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class Slots:
    """A counting semaphore whose waiters are served first come, first served, each with its own deadline,
    and handed the slot directly on release. (asyncio.Semaphore under wait_for costs a task and a
    cancellation per waiter that times out, which under a burst of hundreds is most of them.)"""

    def __init__(self, size: int):
        self.free = size
        self.waiters: deque[asyncio.Future] = deque()
        self.waiting = 0  # waiters whose deadline has not passed

    async def acquire(self, timeout: float) -> bool:
        if self.free and not self.waiting:
            self.free -= 1
            return True
        loop = asyncio.get_running_loop()
        turn = loop.create_future()
        self.waiters.append(turn)
        self.waiting += 1
        timer = loop.call_later(timeout, lambda: turn.done() or turn.set_result(False))
        try:
            return await turn
        finally:
            timer.cancel()
            self.waiting -= 1
            if turn.done() and not turn.cancelled() and turn.result() is True and asyncio.current_task().cancelling():
                self.release()  # handed a slot but cancelled at the same moment: pass it on

    def release(self) -> None:
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():
                turn.set_result(True)  # the slot goes straight to the longest waiter
                return
        self.free += 1


class Admission:
    """At most `slots` requests in the app at once; a request that cannot get a slot within `wait`
    seconds (or finds `queue` others already waiting) is answered 503 with Retry-After.

    Doing a few requests at a time at full speed keeps throughput; the rest learn that they should come
    back, instead of all of them waiting seconds in a queue nobody can see. The refusal is given
    `refuse_after` seconds after the request came (what its Retry-After says), never at once: a client that
    does not honour Retry-After and asks again at once (a closed loop, as browsers and most scripts are) is
    paced by the server. Immediate refusals used to come back at once, hundreds a second, and writing them
    took the time the admitted requests needed. Waiting costs a timer, not a thread; at most `parked`
    refusals wait at once (beyond that they go at once)."""

    def __init__(
        self,
        app,
        slots: int,
        wait: float,
        queue: int,
        tally: Counter,
        refuse_after: float = 0.0,
        parked: int = 0,
    ):
        self.app, self.wait, self.queue, self.size, self.tally = app, wait, queue, slots, tally
        self.refuse_after, self.parked_limit, self.parked = refuse_after, parked, 0
        self._slots: dict[asyncio.AbstractEventLoop, Slots] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(ALWAYS_ADMITTED):
            return await self.app(scope, receive, send)
        slots = self.slots()
        came = time.monotonic()
        if slots.waiting >= self.queue or not await slots.acquire(self.wait):
            self.tally["shed"] += 1  # reported by /healthz
            await self._pace(came)
            message = "the server is busy; try again in a moment"
            retry = max(1, math.ceil(self.refuse_after))
            return await send_plain(send, 503, message, scope["path"], {"Retry-After": retry})
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()

    async def _pace(self, came: float) -> None:
        left = self.refuse_after - (time.monotonic() - came)
        if left <= 0 or self.parked >= self.parked_limit:
            return
        self.parked += 1
        try:
            await asyncio.sleep(left)
        finally:
            self.parked -= 1

    def slots(self) -> Slots:
        # One per event loop: a server has one; tests may drive the same app from several.
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = Slots(self.size)
        return self._slots[loop]
