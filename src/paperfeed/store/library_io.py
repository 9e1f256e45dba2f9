"""A user's library in and out as files reference managers read and write (BibTeX, RIS, CSL-JSON), and the
matching of a file's entries to stored papers (by arXiv id, then DOI, then normalised title) that both library
imports and taste imports use.

An export holds each saved paper with the user's tags (as keywords, which Zotero, Mendeley and JabRef read as
tags). An import saves every matched entry, adding the file's tags to any the paper already has: it never
removes a saved paper or a tag, and it is written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine, and_, func, select, update

from paperfeed import formats, markup
from paperfeed.clock import utcnow
from paperfeed.ingest import bibtex, library_file
from paperfeed.models import normalize_title
from paperfeed.store import marks
from paperfeed.store.accounts import User
from paperfeed.store.db import insert_ignore
from paperfeed.store.listing import load_papers
from paperfeed.store.schema import library, library_tags, papers

MAX_LIBRARY_IMPORT = 20_000  # entries in one file: a large Zotero library


@dataclass
class Imported:
    saved: int = 0  # new to the library
    tagged: int = 0  # already there; the file's tags added
    unmatched: list[str] = field(default_factory=list)  # titles (or keys) of entries not stored here
    rejected: list[bibtex.Rejected] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.saved} saved, {self.tagged} already in your library (tags added), "
            f"{len(self.unmatched)} not found here, {len(self.rejected)} rejected"
        )


def read_file(kind: str, text: str, seconds: float) -> bibtex.Parsed:
    """A library file's entries: `kind` "bibtex" (or "auto": BibTeX, RIS or CSL-JSON, as the file turns out
    to be), "ris" or "csl-json". ValueError with one line for a file that is too big, of no such format, or
    too slow to read."""
    kind = "bibtex" if kind == "auto" else kind
    if kind not in ("bibtex", "ris", "csl-json"):
        raise ValueError(f"a library file is BibTeX, RIS or CSL-JSON, not {kind[:20]!r}")
    if len(text.encode("utf-8", "replace")) > bibtex.MAX_BYTES:
        raise ValueError(f"the file is over {bibtex.MAX_BYTES // 2**20} MB; export a smaller collection")
    try:
        return library_file.read(kind, text, seconds)
    except (bibtex.NotBibtex, library_file.TooSlow) as exc:
        raise ValueError(str(exc)) from None


def export(conn: Connection, user: User, fmt: str, tag: str | None = None) -> str:
    """The user's library (or one tag of it), oldest saved first, as a file in `fmt` (formats.LIBRARY_FORMATS)."""
    return formats.library_file(fmt, saved_items(conn, user, tag))


def saved_items(conn: Connection, user: User, tag: str | None = None) -> list[tuple[dict, list[str]]]:
    """(paper, its tags) of the user's library or one tag of it, oldest saved first."""
    saved = list(reversed(marks.library_of(conn, user, tag)))
    loaded = {p["id"]: p for p in load_papers(conn, [s["id"] for s in saved], None)}
    return [(loaded[s["id"]] | {"library_note": s["note"]}, s["tags"]) for s in saved if s["id"] in loaded]


def import_entries(engine: Engine, user: User, parsed: bibtex.Parsed) -> Imported:
    if len(parsed.entries) > MAX_LIBRARY_IMPORT:
        raise ValueError(f"the file holds {len(parsed.entries)} entries, over {MAX_LIBRARY_IMPORT}; split it")
    report = Imported(rejected=list(parsed.rejected))
    found = match(engine, parsed.entries)
    if not user.is_admin:  # a paper an admin hid is as unknown here as on its page
        with engine.connect() as conn:
            hidden = marks.hidden_ids(conn)
        found = [None if pid in hidden else pid for pid in found]
    wanted: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    for entry, pid in zip(parsed.entries, found, strict=True):
        if pid is None:
            report.unmatched.append(entry.title or entry.key)
        else:
            wanted.setdefault(pid, [])
            wanted[pid] += [t for t in entry.tags if t not in wanted[pid]]
            if entry.note:
                notes.setdefault(pid, entry.note)
    with engine.begin() as conn:
        held = (
            {
                pid
                for (pid,) in conn.execute(
                    select(library.c.paper_id).where(library.c.user_id == user.id, library.c.paper_id.in_(list(wanted)))
                )
            }
            if wanted
            else set()
        )
        new = [pid for pid in wanted if pid not in held]
        now = utcnow()
        # A microsecond apart, in file order (an export is oldest first): a round trip keeps the library's order.
        rows = [
            {"user_id": user.id, "paper_id": pid, "saved_at": now - timedelta(microseconds=len(new) - n)}
            for n, pid in enumerate(new)
        ]
        if rows:
            insert_ignore(conn, library, rows)
        tags = [{"user_id": user.id, "paper_id": pid, "tag": t} for pid, ts in wanted.items() for t in ts]
        if tags:
            insert_ignore(conn, library_tags, tags)
        for pid, note in notes.items():  # a note the file brings never replaces one written here
            mine = and_(library.c.user_id == user.id, library.c.paper_id == pid, library.c.note.is_(None))
            conn.execute(update(library).where(mine).values(note=note, note_html=markup.render(note)))
    report.saved, report.tagged = len(rows), len(wanted) - len(rows)
    return report


def match(engine: Engine, entries: list[bibtex.Entry]) -> list[str | None]:
    """The stored paper id of each entry, or None."""
    arxiv = {e.arxiv_id for e in entries if e.arxiv_id}
    dois = {e.doi for e in entries if e.doi}
    titles = {normalize_title(e.title) for e in entries if e.title}
    with engine.connect() as conn:
        by_id = set(_lookup(conn, papers.c.id, arxiv, papers.c.id))
        by_doi = dict(_lookup(conn, func.lower(papers.c.doi), dois, papers.c.id, key_first=True))
        by_title = dict(_lookup(conn, papers.c.title_norm, titles, papers.c.id, key_first=True))
    return [_one(e, by_id, by_doi, by_title) for e in entries]


def _lookup(conn, column, values: set[str], id_col, key_first: bool = False):
    values = sorted(values)
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        query = select(column, id_col) if key_first else select(id_col)
        rows = conn.execute(query.where(column.in_(chunk))).all()
        yield from (tuple(r) if key_first else r[0] for r in rows)


def _one(e: bibtex.Entry, by_id: set[str], by_doi: dict, by_title: dict) -> str | None:
    if e.arxiv_id in by_id:
        return e.arxiv_id
    return by_doi.get(e.doi) or by_title.get(normalize_title(e.title))
