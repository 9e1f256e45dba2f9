"""Import a user's existing library as likes: a BibTeX export (Zotero, Mendeley, Google Scholar), a list of
arXiv ids or URLs, or "these are my papers" by author name.

Entries are matched to stored papers by arXiv id, then DOI, then normalised title. Unmatched entries with a
title still count: their title and abstract are embedded now (the newest EMBED_LIMIT of them, by year; the
encoder does about 30 texts a second) and stored with the import. The report says what was matched, kept
unmatched, and rejected, with a reason for each rejection. An import is written in one transaction: a file
that cannot be read imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from paperfeed.ingest import bibtex, library_file
from paperfeed.models import normalize_title
from paperfeed.search.service import SearchService
from paperfeed.store import queries, taste
from paperfeed.store.library_io import match

EMBED_LIMIT = 300
MAX_ENTRIES = 20_000  # a whole imported profile (a large Zotero library; 14 months of HF featured papers is 5,000+)
AUTHOR_LIMIT = 500  # a name with more papers than this is too common to mean one person
KINDS = ("bibtex", "ris", "csl-json", "ids", "author")
FILE_KINDS = KINDS[:4]


class ProfileError(ValueError):
    """An import that cannot be done, with a one-line message (nothing was imported)."""


@dataclass
class Report:
    matched: int = 0
    unmatched: int = 0  # kept by their own embedding
    added: int = 0  # rows new to the user's profile (a re-import adds nothing)
    rejected: list[bibtex.Rejected] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.matched} matched to papers here, {self.unmatched} kept by their text, "
            f"{len(self.rejected)} rejected; {self.added} new to your profile"
        )


def parse(kind: str, text: str, seconds: float = 60.0) -> bibtex.Parsed:
    if kind not in FILE_KINDS:
        raise ProfileError(f"an import is a BibTeX, RIS or CSL-JSON file or a list of arXiv ids, not {kind[:20]!r}")
    if len(text.encode("utf-8", "replace")) > bibtex.MAX_BYTES:
        raise ProfileError(f"the file is over {bibtex.MAX_BYTES // 2**20} MB; export a smaller collection")
    try:
        parsed = library_file.read(kind, text, seconds)
    except (bibtex.NotBibtex, library_file.TooSlow) as exc:
        raise ProfileError(str(exc)) from exc
    if not parsed.entries and kind == "ids":
        raise ProfileError("no arXiv id or URL found (one per line, like 2401.01234 or https://arxiv.org/abs/…)")
    return parsed


def import_entries(
    engine: Engine, search: SearchService, user_id: int, kind: str, text: str, seconds: float = 60.0
) -> Report:
    parsed = parse(kind, text, seconds)
    found = match(engine, parsed.entries)
    report = Report(rejected=list(parsed.rejected))
    rows = [row_for(pid, e, kind) for e, pid in zip(parsed.entries, found, strict=True) if pid]
    report.matched = len(rows)
    unmatched = [e for e, pid in zip(parsed.entries, found, strict=True) if not pid]
    check_room(engine, user_id, len(rows) + min(len(unmatched), EMBED_LIMIT))
    rows += unmatched_rows(search, unmatched, kind, report)
    report.added = taste.save_imported(engine, user_id, rows) if rows else 0
    return report


def check_room(engine: Engine, user_id: int, adding: int) -> None:
    with engine.connect() as conn:
        held = sum(taste.imported_count(conn, user_id))
    if held + adding > MAX_ENTRIES:
        raise ProfileError(
            f"your imported profile would hold {held + adding} entries, over {MAX_ENTRIES}: "
            "remove it first, or import a smaller collection"
        )


def import_author(engine: Engine, user_id: int, name: str) -> Report:
    """The stored papers with this exact author name (any case or accents) become the user's likes."""
    wanted = normalize_title(name)
    if len(wanted) < 3:
        raise ProfileError("type the author name as it appears on the papers, e.g. Ashish Vaswani")
    ids = papers_by(engine, name, wanted)
    if not ids:
        raise ProfileError(f"no paper here lists {name[:80]!r} as an author")
    if len(ids) > AUTHOR_LIMIT:
        raise ProfileError(f"{len(ids)} papers list {name[:80]!r}: too many to be one person; import a BibTeX file")
    rows = [
        {"key": pid, "paper_id": pid, "title": "", "vector": None, "source": "author", "added_at": None} for pid in ids
    ]
    check_room(engine, user_id, len(rows))
    return Report(matched=len(ids), added=taste.save_imported(engine, user_id, rows))


def papers_by(engine: Engine, name: str, wanted: str) -> list[str]:
    rows = queries.authors_like(engine, name.split()[-1])
    return [pid for pid, authors in rows if any(normalize_title(a) == wanted for a in authors)]


def row_for(pid: str, e: bibtex.Entry, kind: str) -> dict:
    return {"key": pid, "paper_id": pid, "title": e.title, "vector": None, "source": kind, "added_at": added(e)}


def added(e: bibtex.Entry) -> datetime | None:
    return datetime.combine(e.added, datetime.min.time()) if e.added else None


def unmatched_rows(search: SearchService, entries: list[bibtex.Entry], kind: str, report: Report) -> list[dict]:
    usable = [e for e in entries if normalize_title(e.title)]
    for e in entries:
        if not normalize_title(e.title):
            why = f"arXiv {e.arxiv_id} is not in this paperfeed" if e.arxiv_id else "not here, and no title to go by"
            report.rejected.append(bibtex.Rejected(e.key, why))
    usable.sort(key=lambda e: -(e.year or 0))
    for e in usable[EMBED_LIMIT:]:
        report.rejected.append(bibtex.Rejected(e.key, f"not here; only the newest {EMBED_LIMIT} unmatched are used"))
    keep = usable[:EMBED_LIMIT]
    vectors = search.encoder.encode([f"{e.title}\n{e.abstract}".strip() for e in keep]) if keep else []
    report.unmatched = len(keep)
    return [unmatched_row(e, v, kind) for e, v in zip(keep, vectors, strict=True)]


def unmatched_row(e: bibtex.Entry, vector, kind: str) -> dict:
    key = "t:" + normalize_title(e.title)[:290]
    vec = np.asarray(vector, dtype=np.float32).tobytes()
    return {"key": key, "paper_id": None, "title": e.title, "vector": vec, "source": kind, "added_at": added(e)}
