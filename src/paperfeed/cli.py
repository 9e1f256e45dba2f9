"""The `paperfeed` command: a thin shell over the store, the importers and the web app."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from paperfeed import __version__
from paperfeed.config import get_settings
from paperfeed.formats import to_bibtex, to_json
from paperfeed.ingest.registry import Options, open_source
from paperfeed.models import Rejected, SourceError
from paperfeed.store import accounts, init_db, make_engine
from paperfeed.store import queries as q
from paperfeed.store.importer import Counts, Importer
from paperfeed.store.listing import load_papers

DEMO_CORPUS = Path(__file__).parent / "demo" / "arxiv-demo.jsonl.gz"
DEMO_SIGNALS = Path(__file__).parent / "demo" / "hf-daily-demo.jsonl.gz"  # HF's upvotes etc. for those papers
# Help names a value in words ("--since DATE", "--limit N"), never as a Python type ("<str>", "<bool>").
PLAIN_TYPES = {"str": "TEXT", "int": "N", "float": "NUMBER", "Path": "PATH", "date": "DATE", "datetime": "DATE"}


def _plain_type(param, ctx) -> str | None:
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False):
        return None
    return PLAIN_TYPES.get(param.bare_type().removeprefix("list[").removesuffix("]"), "VALUE")


# Typer 0.29 prints every parameter's Python type in help: its one hook for that is this method.
typer.core._TyperParameter.display_type_rich = _plain_type
typer.core.TyperOption.display_type_rich = _plain_type

app = typer.Typer(help="paperfeed: a self-hosted research-paper discovery hub.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"paperfeed {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """paperfeed: daily papers, search and digests on your own machine."""


def _engine():
    engine = make_engine(get_settings().db_url)
    init_db(engine)
    return engine


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
        err.print(f"[red]error:[/] bad date: {exc}")
        raise typer.Exit(2) from exc
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
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    watermark = getattr(items, "watermark", None)
    if watermark_key and watermark:
        q.set_state(engine, watermark_key, watermark)
    if get_settings().index_after_ingest and (counts.new or counts.updated):
        _index(engine, rebuild=False)
    if counts.rejected and counts.rejected == counts.seen:
        err.print(f"error: every record ({counts.rejected}) was rejected; nothing was imported", highlight=False)
        raise typer.Exit(1)
    if strict and counts.rejected:
        raise typer.Exit(1)


def _import_items(engine, source, targets, items, batch_size) -> Counts:
    settings = get_settings()
    importer = Importer(engine, batch_size or settings.ingest_batch_size)
    return _with_progress(importer, items, source, " ".join(targets))


def _with_progress(importer: Importer, items, source: str, target: str) -> Counts:
    shown = 0

    def report(rejected: Rejected) -> None:
        nonlocal shown
        shown += 1
        if shown <= 20:
            err.print(f"rejected {rejected}", highlight=False, markup=False, soft_wrap=True)
        elif shown == 21:
            err.print("... more rejected records; the total is in the summary")

    columns = (
        SpinnerColumn(),
        TextColumn(source),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
    )
    # Drawn on a terminal; in a log or a pipe it would only add lines (the summary line says it all).
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(source, total=None, rate="")

        def advance(n: int) -> None:
            if n % 500 == 0:
                elapsed = progress.tasks[0].elapsed or 0
                progress.update(task, completed=n, rate=f"{n / elapsed:,.0f}/s" if elapsed else "")

        counts = importer.run(items, source, target, on_progress=advance, on_reject=report)
        progress.update(task, completed=counts.seen)
    out.print(f"{source}: {counts.summary()}")
    return counts


def _encoder(workers: int | None = None):
    from paperfeed.search.encoder import get_encoder

    settings = get_settings()
    return get_encoder(settings.model_cache, settings.encoder, workers)


def _index(engine, rebuild: bool, workers: int | None = None) -> None:
    from paperfeed.search.encoder import LazyEncoder
    from paperfeed.search.indexer import sync

    columns = (SpinnerColumn(), TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # A bar on a terminal; in a log (`paperfeed serve` indexing in the background) a line per chunk.
    log_lines = LogProgress() if not err.is_terminal else None
    with Progress(*columns, console=err, transient=True, disable=log_lines is not None) as progress:
        task = progress.add_task("index", total=None)
        report = sync(
            engine,
            get_settings().data_dir,
            LazyEncoder(lambda: _encoder(workers)),
            rebuild=rebuild,
            on_start=log_lines.start if log_lines else lambda n: progress.update(task, total=n),
            on_progress=log_lines.advance if log_lines else lambda n: progress.advance(task, n),
            chunk=get_settings().index_chunk,
        )
    # For you's vocabulary and negatives, refitted here when the store has drifted (rank/terms.py), so the
    # first For-you view after a large import does not pay for it.
    from paperfeed.rank import terms
    from paperfeed.search.indexer import index_dir

    terms.corpus_terms(engine, index_dir(get_settings().data_dir))
    out.print(f"index: {report.summary()}")


class LogProgress:
    """Progress as plain lines with an estimate of the time left, for logs."""

    def __init__(self):
        self.total, self.done, self.started = 0, 0, time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        if total:
            err.print(f"indexing {total} papers (keywords first, then meanings)", highlight=False)

    def advance(self, n: int) -> None:
        self.done += n
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0
        err.print(f"indexing: {self.done} of {self.total} papers, about {left:.0f} s left", highlight=False)


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
        err.print(f"error: --since takes a date YYYY-MM-DD, not {since!r}", highlight=False, markup=False)
        raise typer.Exit(2) from None
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


@app.command()
def index(
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild both indexes from the store (unchanged texts keep their vectors).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Parallel embedding sessions (default: one per core). Each embeds one text at a time, so a "
            "vector never depends on the texts beside it.",
        ),
    ] = None,
) -> None:
    """Bring the search indexes (BM25 and vectors) up to date with the store; only new or changed papers are
    processed. Safe to interrupt: the next run finishes the job."""
    _index(_engine(), rebuild, workers)


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
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from exc
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
        err.print(f"error: nothing restored: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    target = settings.data_dir / "index"
    if (src / "index").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(src / "index", target)
    out.print(f"restored {manifest.line()} from {src}; checking the search indexes", highlight=False, markup=False)
    _index(_engine(), False)


def _service(engine):
    from paperfeed.search.service import SearchService

    return SearchService(engine, get_settings().data_dir, encoder_factory=_encoder)


def _print_hits(hits, as_json: bool, match: str = "good") -> None:
    if as_json:
        for h in hits:
            # score: fused and relative to this query's results; lexical (BM25) and dense (cosine) are absolute.
            record = {"id": h.id, "score": round(h.score, 6), "lexical": h.lexical, "dense": h.dense, "match": match}
            record.update(title=h.paper.get("title"), listed_date=str(h.paper.get("listed_date")))
            sys.stdout.write(json.dumps(record) + "\n")
        return
    for rank, h in enumerate(hits, 1):
        authors = h.paper.get("authors") or []
        who = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")
        out.print(f"{rank:>3}. [bold]{h.paper.get('title', h.id)}[/]", highlight=False)
        cats = " ".join(h.paper.get("categories") or [])
        out.print(f"     {h.id}  {h.paper.get('listed_date')}  {cats}  score {h.score:.4f}", highlight=False)
        if who:
            out.print(f"     {who}", highlight=False)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Words, "quoted phrases", author:NAME, cat:cs.LG, since:/until:YYYY-MM-DD.')
    ],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many results.")] = 10,
    since: Annotated[str | None, typer.Option(help="Only papers listed on or after YYYY-MM-DD.")] = None,
    category: Annotated[list[str], typer.Option("--category", "-c", help="Only these categories.")] = [],  # noqa: B006
    sort: Annotated[str, typer.Option(help="relevance or date")] = "relevance",
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per result.")] = False,
) -> None:
    """Search the indexed papers (hybrid BM25 + embeddings) and print them ranked, with scores."""
    from paperfeed.search.query import QueryError

    try:
        since_day = date.fromisoformat(since) if since else None
        results = _service(_engine()).search(
            query, limit=limit, since=since_day, categories=category, sort=sort, mode=mode
        )
    except (QueryError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    for note in results.notes:
        err.print(f"note: {note}", highlight=False)
    if results.match != "good":
        err.print(results.match_note, highlight=False, markup=False)
    _print_hits(results.hits, as_json, results.match)


@app.command()
def recommend(
    user: Annotated[str, typer.Option(metavar="NAME", help="The user whose taste ranks the day.")],
    day: Annotated[
        str | None, typer.Option("--date", metavar="DATE", help="The listing day (default the latest).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="How many papers (a whole day can hold 2,000).")] = 20,
    seen: Annotated[bool, typer.Option("--seen", help="Include papers the user has already seen.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per paper, in rank order: id, score, title, reason.")
    ] = False,
    interest: Annotated[
        str, typer.Option(metavar="TAG", help="Rank by the papers saved under this library tag only.")
    ] = "",
) -> None:
    """A user's For you ranking of a day's papers, with the liked paper each one is closest to."""
    from paperfeed.rank.foryou import for_you
    from paperfeed.rank.recommend import reason_text
    from paperfeed.rank.trending import ranked_ids

    engine = _engine()
    with engine.connect() as conn:
        who = accounts.get_user(conn, user)
        if who is None:
            err.print(f"error: no user {user!r}", highlight=False, markup=False)
            raise typer.Exit(2)
        try:
            when = date.fromisoformat(day) if day else q.latest_day(conn)
        except ValueError:
            err.print(f"error: --date takes YYYY-MM-DD, not {day!r}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        ids = ranked_ids(conn, when, when) if when else []
    ranking = for_you(engine, _service(engine), who.id, ids, show_seen=seen, interest=interest.lower())
    if ranking.needs_signal or ranking.indexing:
        why = "its index is still being built" if ranking.indexing else "nothing to learn from"
        (err if as_json else out).print(f"{user} has not upvoted, saved or imported any indexed paper yet: {why}.")
        return
    picks = ranking.picks[:limit]
    with engine.connect() as conn:
        titles = q.titles(conn, {p.id for p in picks} | {p.because for p in picks if p.because})
    for rank, p in enumerate(picks, 1):
        liked = titles.get(p.because, p.because) if p.because else p.because_title
        reason = reason_text(liked, p.interest, p.mentions, p.words, p.author)
        if as_json:
            record = {"rank": rank, "id": p.id, "score": round(p.score, 6), "title": titles.get(p.id, "")}
            record["reason"] = {"text": reason, "likedId": p.because, "likedTitle": liked, "interest": p.interest}
            record["reason"] |= {"mentions": p.mentions, "words": p.words, "likedAuthor": p.author}
            sys.stdout.write(json.dumps(record) + "\n")
            continue
        out.print(f"{p.score:6.3f}  {p.id}  {titles.get(p.id, '')}", highlight=False, markup=False, soft_wrap=True)
        out.print(f"        {reason}", highlight=False, markup=False, soft_wrap=True)


@app.command("import-library")
def import_library(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose taste the library joins.")],
    path: Annotated[
        Path | None, typer.Argument(help="A BibTeX, RIS or CSL-JSON export (Zotero, Mendeley, Google Scholar, JabRef).")
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="PATH is a list of arXiv ids or URLs, one per line.")] = False,
    author: Annotated[
        str | None, typer.Option(metavar="NAME", help="Import the papers listing this author instead.")
    ] = None,
) -> None:
    """Import a library as likes for For you: matched by arXiv id, DOI or title; the rest by their text."""
    from paperfeed.rank import profile

    engine = _engine()
    with engine.connect() as conn:
        who = accounts.get_user(conn, user)
    if who is None or (path is None) == (author is None):
        why = f"no user {user!r}" if who is None else "give a file, or --author NAME"
        err.print(f"error: {why}", highlight=False, markup=False)
        raise typer.Exit(2)
    try:
        if author:
            report = profile.import_author(engine, who.id, author)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
            report = profile.import_entries(
                engine, _service(engine), who.id, "ids" if ids else "bibtex", text, get_settings().import_seconds
            )
    except (OSError, profile.ProfileError) as exc:
        err.print(f"error: nothing imported: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from exc
    for r in report.rejected:
        err.print(f"rejected {r.key}: {r.reason}", highlight=False, markup=False)
    out.print(report.line(), highlight=False, markup=False)


@app.command()
def webhooks(
    at: Annotated[str | None, typer.Option(metavar="TIME", help="Pretend it is this UTC time (ISO).")] = None,
) -> None:
    """Send the latest day's For you papers to every webhook that is due (the scheduler does this itself)."""
    from paperfeed.digest import webhooks as hooks

    try:
        now = datetime.fromisoformat(at) if at else None
        now = now.astimezone(UTC).replace(tzinfo=None) if now and now.tzinfo else now
    except ValueError:
        err.print(f"error: --at takes an ISO time like 2026-12-01T09:00, not {at!r}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    engine = _engine()
    report = hooks.run(engine, get_settings(), _service(engine), now=now)
    out.print(
        f"webhooks: {report.sent} sent, {report.retrying} to retry, {report.failed} failed "
        f"({report.disabled} disabled), {report.empty} with nothing to send",
        highlight=False,
    )


@app.command()
def similar(
    paper_id: Annotated[str, typer.Argument(help="An arXiv id (any form) or paperfeed id; with --text, free text.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    text: Annotated[bool, typer.Option("--text", help="Find papers similar to the given text instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per result.")] = False,
) -> None:
    """Papers most similar to a paper (itself excluded), or to a piece of text."""
    from paperfeed.search.query import QueryError

    service = _service(_engine())
    try:
        hits = service.similar_to_text(paper_id, limit) if text else service.similar(paper_id, limit)
    except QueryError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    if hits is None:
        err.print(f"[red]no indexed paper {paper_id!r}[/] (run `paperfeed index` after importing)", highlight=False)
        raise typer.Exit(1)
    _print_hits(hits, as_json)


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
        err.print("error: --format must be text or md", highlight=False, markup=False)
        raise typer.Exit(2)
    engine = _engine()
    with engine.connect() as conn:
        paper = q.get_paper(conn, paper_id)
        listed = load_papers(conn, [paper["id"]], None) if paper is not None and format == "md" else []
    if paper is None:
        err.print(f"[red]no paper {paper_id!r}[/]")
        raise typer.Exit(1)
    if format == "md":
        from paperfeed.web.views import paper_markdown

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
        err.print("[red]error:[/] --format must be jsonl or bibtex")
        raise typer.Exit(2)
    try:
        since_day = date.fromisoformat(since) if since else None
    except ValueError as exc:
        err.print(f"[red]error:[/] bad --since: {exc}")
        raise typer.Exit(2) from exc
    render = to_json if format == "jsonl" else to_bibtex
    engine = _engine()
    with engine.connect() as conn:
        for paper in q.iter_papers(conn, since_day, category):
            sys.stdout.write(render(paper) + ("\n" if format == "jsonl" else ""))


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
        err.print("[red]error:[/] unknown or revoked API token; make one on /settings", soft_wrap=True)
        raise typer.Exit(2)
    Agents(Context(get_settings(), engine), token).server.run("stdio")


digest_app = typer.Typer(help="Email digests: subscribe users, preview, send what is due.")
app.add_typer(digest_app, name="digest")


def _digest_service():
    from paperfeed.search.encoder import get_encoder
    from paperfeed.search.service import SearchService

    settings = get_settings()
    return SearchService(
        _engine(), settings.data_dir, encoder_factory=lambda: get_encoder(settings.model_cache, settings.encoder)
    )


def _user_id(engine, username: str) -> int:
    with engine.connect() as conn:
        user = accounts.get_user(conn, username)
    if user is None:
        err.print(f"[red]error:[/] no user {escape(username)!r}")
        raise typer.Exit(1)
    return user.id


@digest_app.command("run")
def digest_run(
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this UTC time (ISO 8601), e.g. to send a past day's digest.")
    ] = None,
) -> None:
    """Compose and send every digest that is due; safe to run from cron at any frequency, or twice at once."""
    from paperfeed.digest import outbox

    try:
        when = datetime.fromisoformat(now).replace(tzinfo=None) if now else None
    except ValueError as exc:
        err.print(f"[red]error:[/] --now is not an ISO date-time: {escape(now)!r}")
        raise typer.Exit(2) from exc
    report = outbox.run(_engine(), get_settings(), _digest_service(), now=when)
    out.print(f"digest: {escape(str(report))}")


@digest_app.command("preview")
def digest_preview(
    user: Annotated[str, typer.Option("--user", help="Username.")],
    day: Annotated[str | None, typer.Option("--date", help="The delivery day YYYY-MM-DD (default today).")] = None,
    part: Annotated[str, typer.Option(help="text, html, or raw (the whole message as sent).")] = "text",
) -> None:
    """Show exactly the digest this user gets (or got) for the period due on that day."""
    from email import message_from_string
    from email.policy import default as default_policy

    from paperfeed.digest import outbox
    from paperfeed.digest.subscriptions import SubscriptionError

    engine = _engine()
    try:
        when = date.fromisoformat(day) if day else date.today()
        raw = outbox.preview(engine, get_settings(), _user_id(engine, user), when, _digest_service())
    except (ValueError, SubscriptionError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if not raw:
        out.print("nothing new for this period: no digest would be sent")
        return
    if part == "raw":
        sys.stdout.write(raw)
        return
    msg = message_from_string(raw, policy=default_policy)
    body = msg.get_body(("html",) if part == "html" else ("plain",)).get_content()
    sys.stdout.write(body.replace("\r\n", "\n"))  # CRLF is the wire format, not the terminal's


@digest_app.command("subscribe")
def digest_subscribe(
    user: str,
    email: Annotated[str, typer.Option(help="Where to send it.")],
    frequency: Annotated[str, typer.Option(help="daily or weekly.")] = "daily",
    hour: Annotated[int, typer.Option(help="Local delivery hour, 0-23.")] = 8,
    weekday: Annotated[int, typer.Option(help="Weekly: 0 = Monday ... 6 = Sunday.")] = 0,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
    trending: Annotated[int, typer.Option(help="Top trending papers to include (0: none).")] = 10,
    category: Annotated[list[str] | None, typer.Option(help="New papers in this category (repeatable).")] = None,
    author: Annotated[list[str] | None, typer.Option(help="Follow this author (repeatable).")] = None,
    search: Annotated[list[str] | None, typer.Option(help='A saved search, "title=query" (repeatable).')] = None,
    verified: Annotated[
        bool, typer.Option("--verified", help="You vouch for the address: skip the confirmation mail.")
    ] = False,
) -> None:
    """Subscribe a user (admins). Without --verified, a confirmation link is mailed first."""
    from paperfeed.digest import outbox
    from paperfeed.digest import subscriptions as subs

    engine = _engine()
    uid = _user_id(engine, user)
    try:
        sub, needs_check = subs.save(
            engine,
            subs.Subscription(
                user_id=uid,
                email=email,
                frequency=frequency,
                hour=hour,
                weekday=weekday,
                timezone=timezone,
                trending_n=trending,
                categories=category or [],
                authors=author or [],
            ),
        )
        for item in search or []:
            title, _, query = item.partition("=") if "=" in item else ("", "", item)
            subs.add_search(engine, uid, title, query)
    except subs.SubscriptionError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if verified:
        subs.mark_verified(engine, uid, sub.email)
    elif needs_check:
        outbox.queue_verification(engine, get_settings(), uid)
    state = "active" if verified or not needs_check else "waiting for the address to be confirmed"
    out.print(
        f"{escape(user)}: {sub.frequency} digest at {sub.hour:02d}:00 {sub.timezone} to {escape(sub.email)}, {state}"
    )


@digest_app.command("status")
def digest_status() -> None:
    """The outbox by status, and the latest failures."""
    from sqlalchemy import func, select

    from paperfeed.store.schema import outbox as box

    with _engine().connect() as conn:
        counts = conn.execute(select(box.c.status, func.count()).group_by(box.c.status)).all()
        failed = conn.execute(
            select(box.c.user_id, box.c.period, box.c.last_error)
            .where(box.c.status == "failed")
            .order_by(box.c.id.desc())
            .limit(10)
        ).all()
    out.print(", ".join(f"{s}: {n}" for s, n in counts) or "the outbox is empty")
    for uid, period, error in failed:
        out.print(f"failed: user {uid} {escape(period)}: {escape(error or '')}")


user_app = typer.Typer(help="Manage accounts (the first account registered on the web is an admin too).")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: str,
    email: Annotated[str, typer.Option(help="Email address (for digests).")] = "",
    admin: Annotated[bool, typer.Option(help="Make the account an admin.")] = False,
) -> None:
    """Create an account; the password is asked for (or read from PAPERFEED_NEW_PASSWORD)."""
    password = os.environ.get("PAPERFEED_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        user = accounts.create_user(_engine(), username, password, email, admin=admin)
    except accounts.AccountError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    out.print(f"created {escape(user.username)}{' (admin)' if user.is_admin else ''}")


@user_app.command("admin")
def user_admin(
    username: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Give an account the admin role (it may hide papers), or take it away."""
    try:
        accounts.set_admin(_engine(), username, not revoke)
    except accounts.AccountError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    out.print(f"{escape(username)} is {'no longer ' if revoke else ''}an admin")


@user_app.command("list")
def user_list() -> None:
    """Accounts, with their role."""
    for u in accounts.list_users(_engine()):
        out.print(f"{escape(u.username)}\t{u.email or '-'}\t{'admin' if u.is_admin else 'user'}")


def main() -> None:
    """The command, with storage failures (disk full, read-only data directory, …) and a missing index
    answered in one line and exit status 1 rather than a traceback."""
    from paperfeed.search.service import Unavailable
    from paperfeed.store.errors import explain

    try:
        app()
    except Unavailable as exc:
        err.print(f"error: {exc}; run `paperfeed index` to repair", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:
        where = get_settings().data_dir.resolve()
        reason = explain(exc, where)
        if reason is None:
            raise
        err.print(
            f"error: {reason} ({where}); nothing was half-written, run the command again once fixed",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        sys.exit(1)


library_app = typer.Typer(help="A user's library in and out as BibTeX, RIS or CSL-JSON (Zotero, Mendeley, JabRef).")
app.add_typer(library_app, name="library")


def _user_named(engine, name: str):
    with engine.connect() as conn:
        who = accounts.get_user(conn, name)
    if who is None:
        err.print(f"error: no user {name!r}", highlight=False, markup=False)
        raise typer.Exit(2)
    return who


@library_app.command("export")
def library_export(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library.")],
    format: Annotated[str, typer.Option("--format", "-f", help="bibtex, ris or csl-json.")] = "bibtex",
    tag: Annotated[str | None, typer.Option(help="Only the papers saved under this tag.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the library (or one tag) with its tags as keywords."""
    from paperfeed.store import library_io

    engine = _engine()
    who = _user_named(engine, user)
    try:
        with engine.connect() as conn:
            text = library_io.export(conn, who, format, tag)
    except ValueError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@library_app.command("import")
def library_import(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library the papers join.")],
    path: Annotated[Path, typer.Argument(help="A BibTeX, RIS or CSL-JSON file.")],
    format: Annotated[str, typer.Option("--format", "-f", help="auto, bibtex, ris or csl-json.")] = "auto",
) -> None:
    """Save the file's papers that are stored here, with its keywords as tags (nothing is removed)."""
    from paperfeed.store import library_io

    engine = _engine()
    who = _user_named(engine, user)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        parsed = library_io.read_file(format, text, get_settings().import_seconds)
        report = library_io.import_entries(engine, who, parsed)
    except (OSError, ValueError) as exc:
        err.print(f"error: nothing imported: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    for r in report.rejected:
        err.print(f"rejected {r.key}: {r.reason}", highlight=False, markup=False)
    out.print(report.line(), highlight=False, markup=False)
