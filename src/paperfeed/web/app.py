"""The FastAPI app: pages, JSON API, feeds, health; access logs and error pages."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.store import make_engine
from paperfeed.store import queries as q
from paperfeed.web import api, digest_pages, feeds, pages
from paperfeed.web.context import Context

HERE = Path(__file__).parent
access_log = logging.getLogger("paperfeed.access")
JSON_PATHS = ("/api/", "/feeds/", "/healthz")
# Private feed tokens and email links' tokens travel in the path; the access log must not keep them.
SECRET_PATH = re.compile(r"^(/feeds/library/|/unsubscribe/|/verify-email/)[^/]+")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
}


def create_app(settings: Settings | None = None, arxiv_client: httpx.Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.db_url)
    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description="Daily papers, trending, hybrid search and libraries — self-hosted. "
        "Authenticate scripts with `Authorization: Bearer <token>` (make one on /settings).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = Context(settings, engine, arxiv_client)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.add_api_route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    app.include_router(api.router)
    app.include_router(digest_pages.api)
    app.include_router(digest_pages.router)
    app.include_router(feeds.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.include_router(pages.router)
    app.middleware("http")(log_and_protect)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app


def api_docs():
    """Swagger UI from the installed swagger-ui-bundle package: no CDN, so it works offline."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="paperfeed API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
    )


def healthz(request: Request):
    """Database reachable and the search index holding every stored paper."""
    c = request.app.state.ctx
    try:
        with c.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            papers = q.count_papers(c.engine)
            latest = q.latest_day(conn)
    except Exception as exc:  # any database failure is what this endpoint reports
        return JSONResponse({"status": "error", "database": f"{type(exc).__name__}: {exc}"}, 503)
    try:
        indexed = c.search.indexed_count()
    except Exception:  # no index yet
        indexed = 0
    fresh = indexed >= papers
    return {
        "status": "ok" if fresh else "degraded",
        "database": "ok",
        "papers": papers,
        "indexed": indexed,
        "index_fresh": fresh,
        "latest_day": str(latest) if latest else None,
    }


async def log_and_protect(request: Request, call_next) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    ms = (time.perf_counter() - start) * 1000
    response.headers["Server-Timing"] = f"app;dur={ms:.1f}"
    if request.url.path != "/docs":  # Swagger UI starts with an inline script
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            json.dumps(
                {
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "method": request.method,
                    "path": SECRET_PATH.sub(r"\1…", request.url.path),
                    "status": response.status_code,
                    "ms": round(ms, 1),
                    "client": request.client.host if request.client else None,
                    "bytes": int(response.headers.get("content-length", 0) or 0),
                }
            )
        )
    return response


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PATHS) or request.url.path in ("/openapi.json",)


async def http_error(request: Request, exc: StarletteHTTPException):
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))
    c = request.app.state.ctx
    if exc.status_code == 401:
        return pages.login_first(request)
    return c.render(request, "error.html", status=exc.status_code, code=exc.status_code, message=exc.detail)


async def validation_error(request: Request, exc: RequestValidationError):
    if wants_json(request):
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": errors}, 422)
    parts = [f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()]
    c = request.app.state.ctx
    return c.render(request, "error.html", status=422, code=422, message="; ".join(parts))
