"""`paperfeed serve` in a process of its own, for tests that need real HTTP: start it, wait until it answers,
stop it and read its log; and a browser-like client that registers through the real forms."""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
# One TLS context for every client the tests make: httpx builds one per client otherwise (reading the CA
# bundle took about 40 ms of a core each time, 5 % of the suite's CPU), and they speak plain HTTP to 127.0.0.1.
TLS = ssl.create_default_context()


# `paperfeed serve` closes a connection idle for 5 s (uvicorn's keep-alive timeout), and httpx keeps one as
# long: a request sent on it as the server closed it failed with "Server disconnected without sending a
# response" (seen once in CI, a sign-up's connection reused after 49 others). The client lets it go first.
KEEPALIVE = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)


def client(**options) -> httpx.Client:
    return httpx.Client(verify=TLS, **({"limits": KEEPALIVE} | options))


def get(url: str, timeout: float = 30, **options) -> httpx.Response:
    """`httpx.get`, without a TLS context of its own."""
    with client(timeout=timeout) as c:
        return c.get(url, **options)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    data: Path,
    model_cache: Path | None,
    wrap: list[str] | None = None,
    args: tuple[str, ...] = (),
    **env,
) -> tuple[subprocess.Popen, str]:
    """The server on `data` and its store (SQLite there, or the PostgreSQL database the tests made for it),
    with settings from `env` (e.g. max_inflight=64), once /healthz answers. Its log goes to a file (a pipe
    nobody reads would fill and stall the server's logging); `stop` returns it."""
    from tests.conftest import store_env

    port = free_port()
    full_env = {**os.environ, "PAPERFEED_DATA_DIR": str(data)} | store_env(data)
    if model_cache is not None:
        full_env["PAPERFEED_MODEL_CACHE_DIR"] = str(model_cache)
    full_env.update({f"PAPERFEED_{k.upper()}": str(v) for k, v in env.items()})
    cmd = [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), *args]
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed with the process, in stop)
    proc = subprocess.Popen([*(wrap or []), *cmd], env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, 60, healthy=False)  # a damaged index answers 503 there: started all the same
    except RuntimeError:
        log.seek(0)
        pytest.fail(f"paperfeed serve did not start:\n{log.read()[-3000:]}")
    return proc, url


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float, healthy: bool = True) -> None:
    """Return once `url`/healthz answers (200, when `healthy`); kill `proc` and raise RuntimeError if it exits
    or `seconds` pass first. bench/ starts its servers with this too."""
    deadline = time.monotonic() + seconds
    with client(timeout=5) as c:
        while True:
            try:
                if c.get(url + "/healthz").status_code == 200 or not healthy:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"paperfeed serve did not start at {url}")
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> str:
    """Stop the server (SIGTERM, then SIGKILL after 15 s) and return its log."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.seek(0)
    return proc.log.read()


@contextlib.contextmanager
def serving(data: Path, model_cache: Path | None, **kwargs) -> Iterator[str]:
    proc, url = start(data, model_cache, **kwargs)
    try:
        yield url
    finally:
        stop(proc)


def browser(url: str) -> httpx.Client:
    return client(base_url=url, timeout=30, follow_redirects=False)


def token(client: httpx.Client, path: str) -> str:
    """The CSRF token of the form on `path`."""
    return CSRF.search(client.get(path).text).group(1)


def sign_in(url: str, name: str) -> httpx.Client:
    """An existing account signed in through the real form."""
    c = browser(url)
    form = {"username": name, "password": PASSWORD, "csrf_token": token(c, "/login")}
    answer = c.post("/login", data=form)
    assert answer.status_code == 303, answer.text[:300]
    return c


def register(url: str, name: str) -> httpx.Client:
    """A new account through the real form, signed in. As a person would, "busy checking passwords" (503: two
    argon2 checks at a time, five seconds' wait, which fifty sign-ups at once on a loaded machine can pass) is
    tried again after its Retry-After."""
    for _ in range(20):
        c = browser(url)
        form = {"username": name, "password": PASSWORD, "password2": PASSWORD, "csrf_token": token(c, "/register")}
        answer = c.post("/register", data=form)
        if answer.status_code != 503:
            assert answer.status_code == 303, answer.text[:300]
            return c
        c.close()
        time.sleep(float(answer.headers.get("retry-after") or 1))
    pytest.fail(f"{name} was answered 503 twenty times")
