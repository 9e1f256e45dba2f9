"""One paper on demand (the web's /submit): fetched from the arXiv API, stored, and made searchable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest import arxiv_api
from paperfeed.models import Paper
from paperfeed.search.encoder import Encoder
from paperfeed.search.indexer import IndexBusy, sync
from paperfeed.store.importer import Importer


def fetch_and_index(
    engine: Engine,
    settings: Settings,
    encoder: Callable[[], Encoder],
    arxiv_id: str,
    client: httpx.Client | None = None,
) -> None:
    """Fetch one paper from the arXiv API, store it and bring the search index up to date. LookupError when
    arXiv has no such paper; SourceError when arXiv does not answer. `encoder` is called only once the paper is
    stored (its first load can take seconds)."""
    api = arxiv_api.ArxivApi(settings.arxiv_api_url, delay=0, retries=1, client=client)
    found = [p for p in api.fetch(id_list=[arxiv_id], max_results=1) if isinstance(p, Paper) and p.id == arxiv_id]
    if not found:
        raise LookupError(f"arXiv has no paper {arxiv_id}")
    Importer(engine).run(found, "arxiv-api", f"submit {arxiv_id}")
    # Stored either way; if another writer holds the index for long, it (or the next `paperfeed index`)
    # makes the paper searchable.
    with contextlib.suppress(IndexBusy):
        sync(engine, settings.data_dir, encoder(), wait=30)
