"""What every command shares: the Typer app, the consoles, the store, the search service, one way to fail."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from paperfeed import __version__
from paperfeed.config import get_settings
from paperfeed.models import Rejected
from paperfeed.store import accounts, init_db, make_engine
from paperfeed.store.importer import Counts, Importer

DEMO_CORPUS = Path(__file__).parents[1] / "demo" / "arxiv-demo.jsonl.gz"
DEMO_SIGNALS = Path(__file__).parents[1] / "demo" / "hf-daily-demo.jsonl.gz"  # HF's upvotes etc. for those papers
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


def _service(engine):
    from paperfeed.search.service import SearchService

    return SearchService.from_settings(engine, get_settings())


def _user_named(engine, name: str):
    with engine.connect() as conn:
        who = accounts.get_user(conn, name)
    if who is None:
        fail(f"no user {name!r}")
    return who


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


def fail(message: str, code: int = 2):
    """One line on stderr, then exit: how every command answers input it cannot use."""
    err.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)
