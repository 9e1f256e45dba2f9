"""The FastAPI app: pages, JSON API, feeds, health; access logs and error pages."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
import secrets
import time
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.ingest.bibtex import MAX_BYTES as IMPORT_BYTES
from paperfeed.search.service import Unavailable
from paperfeed.store import accounts, make_engine
from paperfeed.store.errors import explain
from paperfeed.web import accounts as account_pages
from paperfeed.web import (
    admin,
    api,
    authors,
    collections,
    digest_pages,
    discussions,
    feeds,
    groups,
    library_pages,
    lists,
    paper,
    search_pages,
    taste_pages,
)
from paperfeed.web.common import login_first
from paperfeed.web.context import SESSION_COOKIE, Context
from paperfeed.web.guard import Admission, BodyLimit
from paperfeed.web.health import Health
from paperfeed.web.mcp_route import McpRoute

HERE = Path(__file__).parent
access_log = logging.getLogger("paperfeed.access")
error_log = logging.getLogger("paperfeed.errors")
JSON_PATHS = ("/api/", "/feeds/", "/healthz", "/mcp")
# Private feed tokens, email links' tokens, invite links and secret collection links travel in the path; the
# access log must not keep them.
SECRET_PATH = re.compile(
    r"^(/feeds/library/|/feeds/foryou/|/unsubscribe/|/verify-email/|/groups/join/|/collections/s/|/feeds/collection/s/)"
    r"[^/]+"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
}


def _add(app: FastAPI, router: APIRouter) -> None:
    """The area's routes, as its module-level router built them at import. `include_router` would make each
    new app build every route again on its first request (FastAPI 0.163 does so lazily, per app: about 0.1 s
    of pydantic work before the first page of a fresh server, and in every test that makes an app)."""
    app.router.routes.extend(router.routes)


def create_app(settings: Settings | None = None, arxiv_client: httpx.Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Connections for what may run at once: the admitted requests (two each at most), and the background jobs
    # (index keeper, sync, digests, webhooks, sign-in checks of uploads); /healthz has a pool of its own.
    engine = make_engine(settings.db_url, pool_size=2 * settings.max_inflight + 8)
    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description="Daily papers, trending, hybrid search and libraries — self-hosted. "
        "Authenticate scripts with `Authorization: Bearer <token>` (make one on /settings).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = Context(settings, engine, arxiv_client)
    app.state.ctx.health = Health(app.state.ctx, settings.health_ttl)
    app.router.add_event_handler("shutdown", app.state.ctx.health.close)
    app.state.mcp = McpRoute(app.state.ctx)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # MCP over streamable HTTP (web/agents.py): an ASGI endpoint, so the SDK reads the body itself.
    app.router.add_route("/mcp", app.state.mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.add_api_route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    _add(app, library_pages.api)  # /api/library/export and /import before /api/library/{paper_id}
    _add(app, discussions.api)  # /api/papers/{id}/comments before /api/papers/{id}
    _add(app, discussions.router)
    _add(app, authors.api)
    _add(app, collections.api)
    _add(app, groups.api)
    _add(app, groups.router)  # /papers/{id}/note/share before the paper pages
    _add(app, collections.router)  # /library/{tag}/collection before the library's own pages
    _add(app, authors.router)  # /feeds/author.xml with the other feeds' helpers
    _add(app, api.router)
    _add(app, api.pages)
    _add(app, admin.router)
    _add(app, digest_pages.api)
    _add(app, digest_pages.router)
    _add(app, feeds.router)
    _add(app, taste_pages.router)
    _add(app, library_pages.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    # The lists first: /papers/date/D is a list, /papers/ID (any other path) a paper.
    for pages in (lists, search_pages, paper, account_pages):
        _add(app, pages.router)
    # Each middleware wraps those added before it: LogAndProtect, added last, is outermost, so every answer
    # (a 413 or a shed 503 included) is logged and gets the headers.
    app.add_middleware(
        Admission,
        slots=settings.max_inflight,
        wait=settings.admission_wait,
        queue=settings.admission_queue,
        tally=app.state.ctx.tally,
        refuse_after=settings.admission_refuse_after,
        parked=settings.admission_parked,
    )
    big = max(settings.max_body_bytes, IMPORT_BYTES + 65536)
    larger = {"/settings/taste/import": big, "/library/import": big}
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
        larger=larger,
        signed_in=lambda cookies: signed_in(app.state.ctx.engine, cookies),
    )
    app.add_middleware(LogAndProtect)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(accounts.Busy, busy_error)
    app.add_exception_handler(Unavailable, busy_error)
    return app


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """The MCP endpoint's lifetime (its session manager, once asked). A lifespan replaces FastAPI's running of
    the startup and shutdown handlers (`paperfeed serve` stops its background jobs in one), so they run here."""
    await _run_handlers(app.router.on_startup)
    try:
        async with app.state.mcp.running():
            yield
    finally:
        await _run_handlers(app.router.on_shutdown)


async def _run_handlers(handlers) -> None:
    for handler in handlers:
        result = handler()
        if inspect.isawaitable(result):
            await result


def signed_in(engine, cookies: dict) -> bool:
    token = cookies.get(SESSION_COOKIE)
    return bool(token) and accounts.session_user(engine, token) is not None


def api_docs():
    """Swagger UI 5 (reads OpenAPI 3.1), vendored from npm under static/swagger-ui: works offline.
    No validator badge: Swagger UI would send the schema to validator.swagger.io."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="paperfeed API",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
    )


async def healthz(request: Request):
    """The truth about what serves: database, storage, both search indexes, sync, overload. "ok" only when
    all is well; "degraded" when something works in a reduced way (the reasons say what); 503 "error" when the
    database cannot be read. Computed at most once a second, apart from the pages (web/health.py)."""
    status, body = await request.app.state.ctx.health.get()
    return JSONResponse(body, status)


class LogAndProtect:
    """Outermost: every answer gets Server-Timing, the security headers and one JSON access-log line, and an
    unexpected error is answered here (`failure`) rather than by a bare 500. Plain ASGI: it adds no task or
    stream per request, which matters when hundreds of requests a second are being turned away."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        request = Request(scope)
        seen = {"status": 500, "bytes": 0, "started": False}

        async def stamped(message):
            if message["type"] == "http.response.start":
                seen.update(status=message["status"], started=True)
                headers = MutableHeaders(scope=message)
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
                protect(request, headers)
                seen["bytes"] = int(headers.get("content-length", 0) or 0)
            await send(message)

        try:
            await self.app(scope, receive, stamped)
        except Exception as exc:
            if seen["started"]:  # too late for an error page: the client gets a cut answer, we get the log
                error_log.error("%s %s failed mid-answer", request.method, logged_path(request), exc_info=exc)
            else:
                await failure(request, exc)(scope, receive, stamped)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(access_line(request, seen["status"], (time.perf_counter() - start) * 1000, seen["bytes"]))


def logged_path(request: Request) -> str:
    """The path with any secret token in it (private feeds, mail links) cut out."""
    return SECRET_PATH.sub(r"\1…", request.url.path)


def protect(request: Request, headers: MutableHeaders) -> None:
    personal = request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization")
    if personal or SECRET_PATH.match(request.url.path):
        # A page for one user (their name, tokens, library) is kept by no shared cache or back button.
        headers.setdefault("Cache-Control", "private, no-store")
    if request.url.path != "/docs":  # Swagger UI starts with an inline script
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)


def access_line(request: Request, status: int, ms: float, size: int) -> str:
    return json.dumps(
        {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": request.method,
            "path": logged_path(request),
            "status": status,
            "ms": round(ms, 1),
            "client": request.client.host if request.client else None,
            "bytes": size,
        }
    )


def failure(request: Request, exc: Exception) -> Response:
    """A clear answer for an unexpected error: 503 naming a storage problem (disk full, read-only),
    else 500 with an id to quote; the traceback goes to the log once, never to the client."""
    c = request.app.state.ctx
    reason = explain(exc, c.settings.data_dir)
    if reason:
        c.storage.failed(reason)
        error_log.warning("%s %s: storage failure: %s", request.method, logged_path(request), reason)
        message = f"The server cannot save or read its data right now: {reason}. Nothing was changed; try later."
        status, headers = 503, {"Retry-After": "60"}
    else:
        ref = secrets.token_hex(4)
        error_log.error("%s %s failed (ref %s)", request.method, logged_path(request), ref, exc_info=exc)
        message = f"Something went wrong on our side (reference {ref}); it has been logged."
        status, headers = 500, {}
    if wants_json(request):
        return JSONResponse({"detail": message}, status, headers=headers)
    try:
        return c.render(request, "error.html", status=status, code=status, message=message, headers=headers)
    except Exception:  # the error page itself needs the database (who is logged in): plain text then
        return PlainTextResponse(message, status, headers=headers)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PATHS) or request.url.path in ("/openapi.json",)


async def http_error(request: Request, exc: StarletteHTTPException):
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))
    c = request.app.state.ctx
    if exc.status_code == 401:
        return login_first(request)
    return c.render(request, "error.html", status=exc.status_code, code=exc.status_code, message=exc.detail)


async def busy_error(request: Request, exc: Exception):
    """503 + Retry-After: too many password checks at once, or a search index being rebuilt."""
    headers = {"Retry-After": "5" if isinstance(exc, accounts.Busy) else "30"}
    if wants_json(request):
        return JSONResponse({"detail": str(exc)}, 503, headers=headers)
    c = request.app.state.ctx
    return c.render(request, "error.html", status=503, code=503, message=str(exc), headers=headers)


async def validation_error(request: Request, exc: RequestValidationError):
    if wants_json(request):
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": errors}, 422)
    parts = [f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()]
    c = request.app.state.ctx
    return c.render(request, "error.html", status=422, code=422, message="; ".join(parts))
