"""HTTP GET for upstream sources with a budget per answer: a deadline for the whole answer and a size cap.

httpx's timeouts are per socket operation, so a server that drips a byte every few seconds keeps one request
alive for ever. Here every socket read and write (connect, headers and body alike) waits at most until the
answer's deadline, so the whole answer is cut off then (`TooSlow`). A Content-Length over the cap is refused
before the body is read, and a body that grows past it stops being read (`TooLarge`): peak memory stays near
the cap whatever the server sends (compressed bodies are counted as they are decoded).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpcore
import httpx
from httpx._utils import get_environment_proxies

from paperfeed.models import SourceError

MAX_BYTES = 64 * 2**20  # the largest answer read: an OAI-PMH page of 1,000 records is about 3 MB
DEADLINE = 120.0  # seconds for one whole answer


class GiveUp(SourceError):
    """Nothing more from this upstream in this run: its other requests would go the same way."""


class TooLarge(GiveUp):
    """The answer is bigger than the cap: not read."""


class TooSlow(GiveUp):
    """The answer did not arrive whole before its deadline."""


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


class _Deadline(threading.local):
    at: float | None = None  # time.monotonic() by which the answer being read must be whole

    def timeout(self, timeout: float | None) -> float | None:
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the answer's deadline has passed")
        return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self.inner, self.deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.deadline.timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.timeout(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _Stream(
            self.inner.start_tls(ssl_context, server_hostname, self.deadline.timeout(timeout)), self.deadline
        )

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline):
        self.inner, self.deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self.inner.connect_tcp(host, port, self.deadline.timeout(timeout), local_address, socket_options)
        return _Stream(stream, self.deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(
            self.inner.connect_unix_socket(path, self.deadline.timeout(timeout), socket_options), self.deadline
        )

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class BoundedClient:
    """GET with a deadline and a size cap per answer. Given an httpx.Client (tests replay recorded answers
    through one), the cap and a deadline checked between chunks apply; its own client also bounds every read."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        deadline: float = DEADLINE,
        headers: dict | None = None,
    ):
        self.max_bytes, self.deadline = max_bytes, deadline
        self._at = _Deadline()
        if client is None:
            # A transport of our own means httpx reads no proxy settings: the environment's (HTTPS_PROXY,
            # NO_PROXY ...) are mounted here, each on a bounded transport too.
            mounts = {pattern: self._transport(proxy) for pattern, proxy in get_environment_proxies().items()}
            client = httpx.Client(
                timeout=timeout,
                follow_redirects=True,
                headers=headers,
                transport=self._transport(None),
                mounts=mounts,
            )
        self.http = client

    def _transport(self, proxy: str | None) -> httpx.HTTPTransport:
        transport = httpx.HTTPTransport(proxy=proxy)
        # httpx 0.28 takes no network backend argument; its pool reads this attribute at every connect.
        transport._pool._network_backend = _Backend(self._at)
        return transport

    def get(self, url: str, params: dict | None = None, deadline: float | None = None) -> Answer:
        """The answer, read whole within `deadline` seconds (the client's own by default); TooLarge, TooSlow,
        or httpx's errors otherwise."""
        seconds = self.deadline if deadline is None else min(deadline, self.deadline)
        self._at.at = time.monotonic() + seconds
        try:
            with self.http.stream("GET", url, params=params) as answer:
                return Answer(answer.status_code, answer.headers, self._body(answer, url, seconds))
        except httpx.TimeoutException as exc:
            if time.monotonic() >= self._at.at:
                raise TooSlow(f"{_where(url)}: no whole answer within {seconds:g} s; stopped reading") from exc
            raise
        finally:
            self._at.at = None

    def _body(self, answer: httpx.Response, url: str, seconds: float) -> bytes:
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise TooLarge(f"{_where(url)}: an answer of {int(declared):,} bytes, over the {self._cap()} cap; not read")
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise TooLarge(f"{_where(url)}: the answer passed the {self._cap()} cap; stopped reading")
            if time.monotonic() >= self._at.at:
                raise TooSlow(f"{_where(url)}: no whole answer within {seconds:g} s; stopped reading")
        return bytes(body)

    def _cap(self) -> str:
        return f"{self.max_bytes / 2**20:g} MB"

    def close(self) -> None:
        self.http.close()


def _where(url: str) -> str:
    return url.split("?")[0][:200]
