"""FastAPI app: the daily list of papers, with previous/next-day navigation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.store import make_engine
from paperfeed.store import queries as q

HERE = Path(__file__).parent


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.db_url)
    templates = Jinja2Templates(directory=HERE / "templates")
    app = FastAPI(title="paperfeed", version=__version__)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render_day(request: Request, day: date | None, category: str | None) -> HTMLResponse:
        with engine.connect() as conn:
            day = day or q.latest_day(conn)
            papers = q.papers_of_day(conn, day, category) if day else []
            prev_day, next_day = q.neighbour_days(conn, day) if day else (None, None)
        return templates.TemplateResponse(
            request,
            "daily.html",
            {"day": day, "papers": papers, "prev_day": prev_day, "next_day": next_day, "category": category},
        )

    @app.get("/", response_class=HTMLResponse)
    def latest(request: Request, category: str | None = None):
        """The papers of the latest day that has any."""
        return render_day(request, None, category)

    @app.get("/papers/date/{day}", response_class=HTMLResponse)
    def daily(request: Request, day: str, category: str | None = None):
        """The papers listed on one day (YYYY-MM-DD)."""
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=f"not a date (YYYY-MM-DD): {day!r}") from exc
        return render_day(request, parsed, category)

    @app.get("/healthz")
    def healthz():
        with engine.connect() as conn:
            return {"status": "ok", "papers": q.count_papers(engine), "latest_day": str(q.latest_day(conn))}

    return app
