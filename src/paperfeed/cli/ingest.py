"""Getting papers in: `ingest` (one source, files or live) and `sync` (arXiv and Hugging Face on schedule)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

from paperfeed.cli.common import (
    _engine,
    _import_items,
    _index,
    app,
    err,
    fail,
    out,
)
from paperfeed.config import get_settings
from paperfeed.ingest.registry import Options, open_source
from paperfeed.models import SourceError
from paperfeed.store import queries as q


@app.command()
def ingest(
    source: Annotated[
        str, typer.Argument(help="arxiv-snapshot | arxiv-api | arxiv-oai | hf-daily | hf-page | hf-archive")
    ],
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Files or folders to read; or, live: a search query (arxiv-api), an OAI set such as cs "
            "(arxiv-oai), a date YYYY-MM-DD (hf-daily)."
        ),
    ],
    category: Annotated[
        list[str], typer.Option("--category", "-c", help="arxiv-api: limit to a category (repeatable).")
    ] = [],  # noqa: B006
    since: Annotated[str | None, typer.Option(help="arxiv-api/arxiv-oai: from this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="arxiv-api/arxiv-oai: up to this date (YYYY-MM-DD).")] = None,
    max_results: Annotated[int, typer.Option(help="arxiv-api: stop after this many results.")] = 1000,
    ids: Annotated[bool, typer.Option("--ids", help="arxiv-api: the targets are arXiv ids.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit with status 1 when any record is rejected.")] = False,
    batch_size: Annotated[int | None, typer.Option(help="Papers per transaction.")] = None,
) -> None:
    """Import papers from a source, idempotently; ends with counts of new/updated/unchanged/rejected."""
    try:
        opts = Options(
            categories=category,
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
            max_results=max_results,
            ids=ids,
        )
    except ValueError as exc:
        fail(f"bad date: {exc}")
    engine = _engine()
    watermark_key = None
    if source == "arxiv-oai" and opts.since is None and not Path(targets[0]).exists():
        watermark_key = f"arxiv-oai:{get_settings().arxiv_oai_url}:{targets[0]}"
        stored = q.get_state(engine, watermark_key)
        opts.since = date.fromisoformat(stored) if stored else None
        if opts.since:
            err.print(f"resuming the harvest from {opts.since}")
    try:
        items = open_source(source, targets, get_settings(), opts)
        counts = _import_items(engine, source, targets, items, batch_size)
    except SourceError as exc:
        fail(str(exc))
    watermark = getattr(items, "watermark", None)
    if watermark_key and watermark:
        q.set_state(engine, watermark_key, watermark)
    if get_settings().index_after_ingest and (counts.new or counts.updated):
        _index(engine, rebuild=False)
    if counts.rejected and counts.rejected == counts.seen:
        fail(f"every record ({counts.rejected}) was rejected; nothing was imported", 1)
    if strict and counts.rejected:
        raise typer.Exit(1)


@app.command()
def sync(
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="Backfill from this day (YYYY-MM-DD), resumable.")
    ] = None,
    category: Annotated[
        list[str], typer.Option("--category", "-c", metavar="CAT", help="Only this arXiv category (repeatable).")
    ] = [],  # noqa: B006
    arxiv: Annotated[bool, typer.Option(help="Fetch arXiv's new listings.")] = True,
    hf: Annotated[bool, typer.Option(help="Fetch Hugging Face's daily papers and their signals.")] = True,
) -> None:
    """Bring the store up to date: arXiv's new listings of the followed categories, Hugging Face's daily papers,
    then the search indexes. Cron-safe: one run at a time, resumable after a kill, never fetching twice."""
    from paperfeed.sync.run import Sync

    settings = get_settings()
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since takes a date YYYY-MM-DD, not {since!r}")
    engine = _engine()
    columns = (SpinnerColumn(), TextColumn("arXiv records"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("sync", total=None)
        job = Sync(engine, settings, on_page=lambda n, total: progress.update(task, completed=n, total=total))
        report = job.run(arxiv=arxiv, hf=hf, since=start, categories=category or None)
    out.print(f"sync: {report.line()}", highlight=False, markup=False, soft_wrap=True)
    if report.papers and settings.index_after_ingest:
        _index(engine, rebuild=False)
    if report.errors:
        raise typer.Exit(1)
