"""What every route shares: settings, the database, search, templates, who is asking, CSRF and login limits."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import secrets
import threading
import time
from collections import Counter, deque
from pathlib import Path

import httpx
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, Signer
from sqlalchemy import Engine

from paperfeed.config import Settings, secret_key
from paperfeed.search.service import SearchService
from paperfeed.store import accounts, discussions
from paperfeed.store.accounts import User
from paperfeed.store.errors import StorageWatch
from paperfeed.web import present

HERE = Path(__file__).parent
SESSION_COOKIE = "pf_session"
ANON_COOKIE = "pf_anon"  # binds a visitor's CSRF token before they log in


@functools.cache
def page_templates() -> Jinja2Templates:
    """The pages' templates, one set per process: they depend on no setting, and each template is compiled
    once for every app the process makes (a test makes hundreds; compiling took a third of a first request)."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["highlight"] = present.highlight
    templates.env.filters["authors_short"] = present.authors_short
    templates.env.filters["author_links"] = present.author_links
    templates.env.filters["stars"] = present.stars
    return templates


class Window:
    """Events per key in a sliding window (in this process)."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.events: dict[str, deque] = {}
        self.lock = threading.Lock()

    def _recent(self, key: str) -> deque:
        """The key's recent events; a key with none is dropped, so the table holds only recent keys."""
        q = self.events.get(key, deque())
        while q and q[0] < time.monotonic() - self.seconds:
            q.popleft()
        if not q:
            self.events.pop(key, None)
        return q

    def _append(self, key: str) -> None:
        self.events.setdefault(key, self._recent(key)).append(time.monotonic())

    def count(self, key: str) -> int:
        with self.lock:
            return len(self._recent(key))

    def last(self, key: str) -> float | None:
        with self.lock:
            q = self._recent(key)
            return q[-1] if q else None

    def add(self, key: str) -> None:
        with self.lock:
            self._append(key)

    def forget(self, key: str) -> None:
        with self.lock:
            self.events.pop(key, None)


class LoginLimiter:
    """Failed logins per client address, and per address *and* account with a growing wait.

    There is no lock on an account as such: someone guessing a victim's password from their own address
    slows only themselves, and the victim still logs in from theirs."""

    def __init__(self, per_ip: int, per_pair: int, window: float):
        self.ips = Window(per_ip, window)
        self.pairs = Window(10**9, window)
        self.free_tries = per_pair
        self.window = window

    def wait(self, ip: str, account: str) -> float:
        """Seconds until this address may try again (0: now)."""
        if self.ips.count(ip) >= self.ips.limit:
            return self.window
        key = f"{ip}\0{account.lower()}"
        extra = self.pairs.count(key) - self.free_tries
        if extra < 0:
            return 0.0
        # 1, 2, 4, … seconds after each failure past the free ones, up to the window.
        backoff = min(2.0**extra, self.window)
        last = self.pairs.last(key)
        return 0.0 if last is None else max(0.0, last + backoff - time.monotonic())

    def failed(self, ip: str, account: str) -> None:
        self.ips.add(ip)
        self.pairs.add(f"{ip}\0{account.lower()}")

    def succeeded(self, ip: str, account: str) -> None:
        self.pairs.forget(f"{ip}\0{account.lower()}")


class Context:
    def __init__(self, settings: Settings, engine: Engine, arxiv_client: httpx.Client | None = None):
        self.settings = settings
        self.engine = engine
        self.search = SearchService.from_settings(engine, settings)
        self.templates = page_templates()
        self.secret = secret_key(settings)
        self.signer = Signer(self.secret, salt="paperfeed-csrf")
        self.limiter = LoginLimiter(
            settings.login_failures_per_ip, settings.login_failures_per_account, settings.login_window_seconds
        )
        self.registrations = Window(settings.registrations_per_ip, 3600)
        self.arxiv_client = arxiv_client
        self.storage = StorageWatch(settings.data_dir)
        self.tally: Counter = Counter()  # e.g. "shed": requests answered 503 by admission control
        self.index_keeper = None  # set by `paperfeed serve`: repairs or catches up the indexes in the background

    # -- who is asking -------------------------------------------------------------------------
    def user(self, request: Request) -> User | None:
        if not hasattr(request.state, "user"):
            token = request.cookies.get(SESSION_COOKIE)
            request.state.user = accounts.session_user(self.engine, token) if token else None
        return request.state.user

    def require_user(self, request: Request) -> User:
        user = self.user(request)
        if user is None:
            raise HTTPException(401, "log in first")
        return user

    def api_user(self, request: Request, write: bool = False) -> User | None:
        """A script's Bearer token, or the browser session (whose writes must carry X-CSRF-Token)."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = accounts.token_user(self.engine, auth[7:].strip(), "api")
            if user is None:
                raise HTTPException(401, "unknown or revoked API token")
            return user
        user = self.user(request)
        if user is not None and write:
            self.check_csrf(request, request.headers.get("x-csrf-token", ""))
        return user

    # -- CSRF -------------------------------------------------------------------------------------
    def _binding(self, request: Request) -> str | None:
        return (
            request.cookies.get(SESSION_COOKIE)
            or request.cookies.get(ANON_COOKIE)
            or getattr(request.state, "new_anon", None)
        )

    def csrf_token(self, request: Request) -> str:
        binding = self._binding(request)
        if binding is None:
            binding = request.state.new_anon = secrets.token_urlsafe(24)
        return self.signer.get_signature(accounts.digest(binding)).decode()

    def check_csrf(self, request: Request, token: str) -> None:
        binding = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
        try:
            ok = bool(binding and token) and self.signer.verify_signature(accounts.digest(binding), token)
        except BadSignature:
            ok = False
        if not ok:
            raise HTTPException(403, "the form's security token is missing or stale; reload the page and try again")

    # -- responses --------------------------------------------------------------------------------
    def render(
        self, request: Request, name: str, status: int = 200, headers: dict | None = None, **values
    ) -> HTMLResponse:
        values.setdefault("user", self.user(request))
        if values["user"] is not None and "unread" not in values:
            with self.engine.connect() as conn:
                values["unread"] = discussions.unread(conn, values["user"].id)
        values["base_url"] = self.settings.base_url
        values["csrf"] = self.csrf_token(request)
        values.setdefault("status_code", status)
        response = self.templates.TemplateResponse(request, name, values, status_code=status, headers=headers)
        self.remember_anon(request, response)
        return response

    def remember_anon(self, request: Request, response) -> None:
        new = getattr(request.state, "new_anon", None)
        if new:
            self.set_cookie(response, ANON_COOKIE, new, max_age=None)

    def set_cookie(self, response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="lax", secure=self.settings.secure_cookies, path="/"
        )

    async def run_limited(self, fn, *args, timeout: float | None = None, **kwargs):
        """Run blocking work in a thread; answer 503 if it takes longer than the time limit
        (the query time limit unless given)."""
        limit = self.settings.query_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), limit)
        except TimeoutError as exc:
            raise HTTPException(503, f"the request took longer than {limit:g} s; try again or narrow it") from exc


def client_ip(request: Request) -> str:
    """The client's address for rate limits; an IPv6 client is its /64 (one host usually has all of it)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and not address.ipv4_mapped:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths, so a crafted link cannot send a user to another site after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
