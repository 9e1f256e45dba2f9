"""The arXiv API (Atom 1.0): saved responses, or live queries with paging, spacing and retries.

We parse the Atom ourselves (rather than through the `arxiv` package) so every entry is
validated on its own and a bad one is reported with its page and position, and so recorded
responses replay through the same code via an httpx transport.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

from paperfeed.ingest.common import core_problem, decode, iter_elements, parse_datetime, read_bytes, text_of
from paperfeed.ingest.http import Answer, BoundedClient
from paperfeed.models import Paper, Rejected, SourceError, parse_arxiv_id

SOURCE = "arxiv-api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
RETRY_STATUS = {429, 500, 502, 503, 504}


def read(path: Path) -> Iterator[Paper | Rejected]:
    """Entries of a saved API response."""
    page = parse_page(read_bytes(path), path.name)
    yield from page.items


@dataclass
class Page:
    items: list[Paper | Rejected] = field(default_factory=list)
    total: int | None = None
    entries: int = 0


def parse_page(data: bytes, ref: str) -> Page:
    text, note = decode(data, ref)
    page = Page(items=[note] if note else [])
    index = 0
    for elem in iter_elements(text, "entry", ref):
        if isinstance(elem, Rejected):
            page.items.append(elem)
            continue
        index += 1
        page.entries += 1
        page.items.append(parse_entry(elem, f"{ref}#entry{index}"))
    total = _total(text)
    page.total = total
    return page


def _total(text: str) -> int | None:
    start = text.find("totalResults>")
    if start < 0:
        return None
    end = text.find("<", start)
    try:
        return int(text[start + len("totalResults>") : end])
    except ValueError:
        return None


def api_error(entry: ET.Element) -> str | None:
    """arXiv reports a bad query as a feed with one entry whose id is an errors URL."""
    entry_id = text_of(entry.find(f"{ATOM}id")) or ""
    if "/api/errors" in entry_id:
        return text_of(entry.find(f"{ATOM}summary")) or "arXiv API error"
    return None


def parse_entry(entry: ET.Element, ref: str) -> Paper | Rejected:
    error = api_error(entry)
    if error:
        return Rejected(ref, f"arXiv API error: {error}")
    raw_id = text_of(entry.find(f"{ATOM}id")) or ""
    arxiv_id = parse_arxiv_id(raw_id)
    if arxiv_id is None:
        return Rejected(ref, f"missing or invalid arXiv id {raw_id!r}")
    ref = f"{ref} ({arxiv_id.canonical})"
    title = text_of(entry.find(f"{ATOM}title"))
    abstract = text_of(entry.find(f"{ATOM}summary"))
    authors = [text_of(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
    problem = core_problem(title, abstract, authors)
    if problem:
        return Rejected(ref, problem)
    primary = entry.find(f"{ARXIV}primary_category")
    categories = [c.get("term") for c in entry.findall(f"{ATOM}category") if c.get("term")]
    if primary is not None and primary.get("term"):
        categories = [primary.get("term")] + categories
    try:
        published = parse_datetime(text_of(entry.find(f"{ATOM}published")))
        updated = parse_datetime(text_of(entry.find(f"{ATOM}updated")))
    except ValueError as exc:
        return Rejected(ref, str(exc))
    return Paper(
        id=arxiv_id.canonical,
        version=arxiv_id.version,
        title=title,
        abstract=abstract,
        authors=[a for a in authors if a],
        categories=list(dict.fromkeys(categories)),
        published=published,
        updated=updated,
        listed_date=published.date() if published else None,
        comments=text_of(entry.find(f"{ARXIV}comment")),
        doi=text_of(entry.find(f"{ARXIV}doi")),
        journal_ref=text_of(entry.find(f"{ARXIV}journal_ref")),
        source=SOURCE,
        source_ref=ref,
    )


def build_query(
    query: str = "",
    categories: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> str:
    """An arXiv search_query: free text (or arXiv field syntax), categories, submission dates."""
    parts = []
    if query.strip():
        q = query.strip()
        parts.append(q if ":" in q else f"all:{q}")
    if categories:
        cats = " OR ".join(f"cat:{c}" for c in categories)
        parts.append(f"({cats})" if len(categories) > 1 else cats)
    if since or until:
        lo = (since or date(1991, 1, 1)).strftime("%Y%m%d") + "0000"
        hi = (until or date(2999, 12, 31)).strftime("%Y%m%d") + "2359"
        parts.append(f"submittedDate:[{lo} TO {hi}]")
    return " AND ".join(parts)


class ArxivApi:
    """A polite client: at least `delay` seconds between calls, retries with backoff."""

    def __init__(
        self,
        url: str,
        delay: float = 3.0,
        retries: int = 4,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self.delay = delay
        self.retries = retries
        self.client = BoundedClient(client)
        self.sleep = sleep
        self.clock = clock
        self._last_call: float | None = None

    def _get(self, params: dict) -> Answer:
        for attempt in range(self.retries + 1):
            if self._last_call is not None:
                wait = self.delay - (self.clock() - self._last_call)
                if wait > 0:
                    self.sleep(wait)
            self._last_call = self.clock()
            try:
                response = self.client.get(self.url, params=params)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status not in RETRY_STATUS:
                    return response
                error = f"HTTP {response.status}"
            if attempt < self.retries:
                self.sleep(self.delay * 2**attempt)
        raise SourceError(f"arXiv API unreachable after {self.retries + 1} tries: {error}")

    def fetch(
        self,
        search_query: str = "",
        id_list: list[str] | None = None,
        max_results: int = 1000,
        page_size: int = 100,
    ) -> Iterator[Paper | Rejected]:
        start = 0
        empty_retries = 0
        while start < max_results:
            params = {
                "search_query": search_query,
                "id_list": ",".join(id_list or []),
                "start": start,
                "max_results": min(page_size, max_results - start),
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
            response = self._get(params)
            ref = f"{self.url}?start={start}"
            page = parse_page(response.body, ref)
            errors = [i for i in page.items if isinstance(i, Rejected) and "arXiv API error" in i.reason]
            if response.status >= 400 or errors:
                detail = errors[0].reason if errors else f"HTTP {response.status}"
                raise SourceError(f"arXiv API refused the query: {detail}")
            yield from page.items
            total = page.total if page.total is not None else 0
            if page.entries == 0:
                # arXiv sometimes answers an empty page inside a result set; ask once more.
                if start < total and empty_retries < 1:
                    empty_retries += 1
                    continue
                return
            empty_retries = 0
            start += page.entries
            if start >= total:
                return
