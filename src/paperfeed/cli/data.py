"""The store itself: `init`, `backup`, `restore`, `stats`, `show`, `export`."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from paperfeed.cli.common import (
    DEMO_CORPUS,
    DEMO_SIGNALS,
    _engine,
    _import_items,
    _index,
    app,
    err,
    fail,
    out,
)
from paperfeed.config import get_settings
from paperfeed.formats import to_bibtex, to_json
from paperfeed.ingest.registry import Options, open_source
from paperfeed.store import make_engine
from paperfeed.store import queries as q
from paperfeed.store.listing import load_papers


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Import the bundled demo corpus if the database is empty.")] = False,
    index: Annotated[
        bool, typer.Option(help="Index it for search now (`paperfeed serve` does it in the background otherwise).")
    ] = True,
) -> None:
    """Create or upgrade the database under PAPERFEED_DATA_DIR (default ./data)."""
    settings = get_settings()
    engine = _engine()
    out.print(f"database ready: {settings.db_url}")
    if demo and q.count_papers(engine) == 0:
        out.print(f"importing the demo corpus ({DEMO_CORPUS.name})")
        targets = [str(DEMO_CORPUS)]
        items = open_source("arxiv-snapshot", targets, settings, Options())
        _import_items(engine, "arxiv-snapshot", targets, items, None)
    if demo:
        # Also on a store imported before the demo shipped its signals; re-importing changes nothing.
        targets = [str(DEMO_SIGNALS)]
        _import_items(engine, "hf-archive", targets, open_source("hf-archive", targets, settings, Options()), None)
    if demo and index and settings.index_after_ingest:
        _index(engine, rebuild=False)


@app.command()
def backup(dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup.")]) -> None:
    """A consistent copy of the store while the server runs (SQLite's backup API, or pg_dump of one snapshot),
    the search indexes when no indexer is writing, and a manifest of counts and checksums."""
    from paperfeed.search.indexer import copy_indexes
    from paperfeed.store import backup as store_backup

    settings = get_settings()
    try:
        manifest = store_backup.backup(_engine(), settings.data_dir, dest)
    except (store_backup.BackupError, OSError) as exc:
        fail(str(exc))
    manifest.indexes = copy_indexes(settings.data_dir, dest)
    store_backup.write_manifest(dest, manifest)
    out.print(f"backed up to {dest}: {manifest.line()}", highlight=False, markup=False)


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A folder written by `paperfeed backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the store that is there.")] = False,
) -> None:
    """Check a backup against its manifest, put it in place, and bring the search indexes up to date with it
    (copied ones are checked and topped up; missing ones are rebuilt)."""
    from paperfeed.store import backup as store_backup

    settings = get_settings()
    try:
        # Not _engine(): that creates an empty store first, which the restore would then refuse to replace.
        manifest = store_backup.restore(src, settings.data_dir, make_engine(settings.db_url), force)
    except (store_backup.BackupError, OSError) as exc:
        fail(f"nothing restored: {exc}")
    target = settings.data_dir / "index"
    if (src / "index").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(src / "index", target)
    out.print(f"restored {manifest.line()} from {src}; checking the search indexes", highlight=False, markup=False)
    _index(_engine(), False)


@app.command()
def stats() -> None:
    """Papers per day, per category and per source, and the latest import runs."""
    engine = _engine()
    with engine.connect() as conn:
        s = q.stats(conn)
    out.print(f"[bold]{s['papers']:,}[/] papers")
    for title, rows in (("day", s["per_day"]), ("category", s["per_category"]), ("source", s["per_source"])):
        table = Table(title=f"papers per {title}")
        table.add_column(title)
        table.add_column("papers", justify="right")
        for key, n in rows:
            table.add_row(str(key), f"{n:,}")
        out.print(table)
    runs = Table(title="latest imports")
    for col in ("started", "source", "status", "new", "updated", "unchanged", "rejected"):
        runs.add_column(col)
    for r in s["recent_runs"]:
        status = r["status"] if r["status"] != "running" or r["finished_at"] else "running/interrupted"
        runs.add_row(
            f"{r['started_at']:%Y-%m-%d %H:%M}",
            r["source"],
            status,
            *(str(r[k]) for k in ("new", "updated", "unchanged", "rejected")),
        )
    out.print(runs)
    from paperfeed.sync.run import summary

    for name, s in summary(engine).items():
        line = f"last successful {name} sync: {s['last_success'] or 'never'}"
        line += f", lag: {s['lag']}" if s["lag"] else ""
        line += f"; failing since {s['failing_since']}: {s['last_error']}" if s["failing_since"] else ""
        out.print(line, highlight=False, markup=False, soft_wrap=True)


def _known(*pairs) -> str:
    """ "name value" for each pair whose value is known, two spaces apart (no "None" or "v?")."""
    return "  ".join(f"{k} {v}" for k, v in zip(pairs[::2], pairs[1::2], strict=True) if v)


@app.command()
def show(
    paper_id: Annotated[str, typer.Argument(help="An arXiv id (any version or URL form) or a paperfeed id.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="text, or md: the Markdown /papers/ID.md serves")
    ] = "text",
) -> None:
    """Show one paper with its sources and external signals."""
    if format not in ("text", "md"):
        fail("--format must be text or md")
    engine = _engine()
    with engine.connect() as conn:
        paper = q.get_paper(conn, paper_id)
        listed = load_papers(conn, [paper["id"]], None) if paper is not None and format == "md" else []
    if paper is None:
        err.print(f"[red]no paper {paper_id!r}[/]")
        raise typer.Exit(1)
    if format == "md":
        from paperfeed.web.present import paper_markdown

        sys.stdout.write(paper_markdown(listed[0]))
        return
    out.print(f"[bold]{paper['title']}[/]", highlight=False)
    out.print(", ".join(paper["authors"]), highlight=False)
    out.print(_known("id", paper["id"], "version", paper["version"] and f"v{paper['version']}"), highlight=False)
    out.print(" ".join(paper["categories"]), highlight=False)
    dates = ("listed", paper["listed_date"], "published", paper["published"], "updated", paper["updated"])
    if any(dates[1::2]):
        out.print(_known(*dates), highlight=False)
    for key in ("comments", "doi", "journal_ref"):
        if paper.get(key):
            out.print(f"{key}: {paper[key]}", highlight=False)
    for name, url in paper["links"].items():
        out.print(f"{name}: {url}")
    out.print()
    out.print(paper["abstract"], highlight=False)
    out.print()
    for s in paper["sources"]:
        out.print(f"source {s['source']}: {s['ref']}", highlight=False)
    for s in paper["signals"]:
        value = s["value_num"] if s["value_num"] is not None else s["value_text"]
        out.print(f"signal {s['source']}.{s['name']} = {value}")


@app.command()
def export(
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl or bibtex")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="Only papers listed on or after YYYY-MM-DD.")] = None,
    category: Annotated[str | None, typer.Option(help="Only papers in this category.")] = None,
) -> None:
    """Write papers to stdout, one JSON object per line (jsonl) or BibTeX entries."""
    if format not in ("jsonl", "bibtex"):
        fail("--format must be jsonl or bibtex")
    try:
        since_day = date.fromisoformat(since) if since else None
    except ValueError as exc:
        fail(f"bad --since: {exc}")
    render = to_json if format == "jsonl" else to_bibtex
    engine = _engine()
    with engine.connect() as conn:
        for paper in q.iter_papers(conn, since_day, category):
            sys.stdout.write(render(paper) + ("\n" if format == "jsonl" else ""))
