"""The indexes and what reads them: `index`, `search`, `similar`."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer

from paperfeed.cli.common import (
    _engine,
    _index,
    _service,
    app,
    err,
    fail,
    out,
)


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
        fail(str(exc))
    for note in results.notes:
        err.print(f"note: {note}", highlight=False)
    if results.match != "good":
        err.print(results.match_note, highlight=False, markup=False)
    _print_hits(results.hits, as_json, results.match)


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
        fail(str(exc))
    if hits is None:
        err.print(f"[red]no indexed paper {paper_id!r}[/] (run `paperfeed index` after importing)", highlight=False)
        raise typer.Exit(1)
    _print_hits(hits, as_json)
