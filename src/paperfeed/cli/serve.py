"""Serving: `serve` (the web app) and `mcp` (the MCP tools on stdio)."""

from __future__ import annotations

from typing import Annotated

import typer

from paperfeed.cli.common import (
    _engine,
    app,
    fail,
)
from paperfeed.config import get_settings
from paperfeed.store import accounts


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default PAPERFEED_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PAPERFEED_PORT or 8000).")] = None,
    with_scheduler: Annotated[
        bool,
        typer.Option(
            "--with-scheduler",
            help="Also sync arXiv and Hugging Face on their schedule and run the digest job, in this process.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Web processes sharing the port (uvicorn's supervisor restarts one that dies)."
        ),
    ] = 1,
) -> None:
    """Serve the web app."""
    from paperfeed.web.server import serve as run_server

    settings = get_settings()
    _engine()  # the store's migrations, once, before any worker starts
    run_server(host or settings.host, port or settings.port, workers, with_scheduler)


@app.command()
def mcp(
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PAPERFEED_TOKEN",
            help="An API token (made on /settings): For you, the library and upvotes act as its user.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve paperfeed's MCP tools over stdio, for an AI assistant (docs/agents.md)."""
    from paperfeed.web.agents import Agents
    from paperfeed.web.context import Context

    engine = _engine()
    if token and accounts.token_user(engine, token, "api") is None:
        fail("unknown or revoked API token; make one on /settings")
    Agents(Context(get_settings(), engine), token).server.run("stdio")
