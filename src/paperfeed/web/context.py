"""What every route shares: settings, the database, search, templates, who is asking, CSRF and login limits."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

import httpx
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, Signer
from sqlalchemy import Engine

from paperfeed.config import Settings, secret_key
from paperfeed.search.encoder import get_encoder
from paperfeed.search.service import SearchService
from paperfeed.store import accounts
from paperfeed.store.accounts import User
from paperfeed.web import views

HERE = Path(__file__).parent
SESSION_COOKIE = "pf_session"
ANON_COOKIE = "pf_anon"  # binds a visitor's CSRF token before they log in


class LoginLimiter:
    """Failed logins per client address and per account in a sliding window (in this process)."""

    def __init__(self, per_ip: int, per_account: int, window: float):
        self.limits = {"ip": per_ip, "account": per_account}
        self.window = window
        self.failures: dict[tuple[str, str], deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque:
        q = self.failures[key]
        while q and q[0] < time.monotonic() - self.window:
            q.popleft()
        return q

    def blocked(self, ip: str, account: str) -> bool:
        with self.lock:
            return any(len(self._recent((kind, value))) >= self.limits[kind] for kind, value in self._keys(ip, account))

    def failed(self, ip: str, account: str) -> None:
        with self.lock:
            for key in self._keys(ip, account):
                self._recent(key).append(time.monotonic())

    def succeeded(self, account: str) -> None:
        with self.lock:
            self.failures.pop(("account", account.lower()), None)

    @staticmethod
    def _keys(ip: str, account: str) -> list[tuple[str, str]]:
        return [("ip", ip), ("account", account.lower())]


class Context:
    def __init__(self, settings: Settings, engine: Engine, arxiv_client: httpx.Client | None = None):
        self.settings = settings
        self.engine = engine
        self.search = SearchService(
            engine, settings.data_dir, encoder_factory=lambda: get_encoder(settings.model_cache, settings.encoder)
        )
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["highlight"] = views.highlight
        self.templates.env.filters["authors_short"] = views.authors_short
        self.secret = secret_key(settings)
        self.signer = Signer(self.secret, salt="paperfeed-csrf")
        self.limiter = LoginLimiter(
            settings.login_failures_per_ip, settings.login_failures_per_account, settings.login_window_seconds
        )
        self.arxiv_client = arxiv_client
        self.index_lock = threading.Lock()

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
    def render(self, request: Request, name: str, status: int = 200, **values) -> HTMLResponse:
        values.setdefault("user", self.user(request))
        values["csrf"] = self.csrf_token(request)
        values.setdefault("status_code", status)
        response = self.templates.TemplateResponse(request, name, values, status_code=status)
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
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths, so a crafted link cannot send a user to another site after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
