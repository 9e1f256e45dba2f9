"""Write importer output into the store, idempotently, one transaction per batch.

Rules (the issue's "re-importing changes nothing; newer wins; older never overwrites"):
- A paper's key is its arXiv id without version; id-less papers (a Daily Papers page) are
  matched to a stored paper by normalised title, else keyed by a hash of that title.
- An incoming record strictly newer than the stored one (higher version, else later `updated`)
  replaces each field it has; otherwise it only fills fields the stored paper lacks.
  `listed_date` and `published` keep the earliest value, `updated` and `version` the latest.
- A record that changes nothing is counted `unchanged` and writes nothing.
A process killed mid-run keeps every committed batch; rerunning completes the import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from paperfeed.clock import utcnow
from paperfeed.models import (
    Paper,
    Rejected,
    Signals,
    author_key,
    clean_paper,
    normalize_title,
    title_id,
)
from paperfeed.store import changes
from paperfeed.store.db import chunks, load_in
from paperfeed.store.merge import CONTENT, full_row, merge, paper_row
from paperfeed.store.schema import (
    external_signals,
    ingest_runs,
    metadata,
    paper_authors,
    paper_categories,
    paper_sources,
    papers,
)
from paperfeed.store.signals import signal_value, write_changed, write_signals


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unmatched: int = 0  # signals about a paper the store does not hold (import the paper, then rerun)
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.new + self.updated + self.unchanged + self.rejected + self.unmatched

    def summary(self) -> str:
        text = f"new {self.new}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"
        return text + (f", not in the store {self.unmatched}" if self.unmatched else "")


class Importer:
    """Consumes an importer's items and writes them in batches."""

    def __init__(self, engine: Engine, batch_size: int = 2000):
        self.engine = engine
        self.batch_size = batch_size

    def run(
        self,
        items: Iterable[Paper | Signals | Rejected],
        source: str,
        target: str,
        on_progress: Callable[[int], None] | None = None,
        on_reject: Callable[[Rejected], None] | None = None,
    ) -> Counts:
        counts = Counts()
        run_id = self._start_run(source, target)
        batch: list[Paper | Signals] = []
        try:
            for item in items:
                if isinstance(item, Rejected):
                    counts.rejected += 1
                    if len(counts.errors) < 1000:
                        counts.errors.append(str(item))
                    if on_reject:
                        on_reject(item)
                else:
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._commit(batch, counts, run_id)
                        batch = []
                if on_progress:
                    on_progress(counts.seen + len(batch))
            self._commit(batch, counts, run_id)
        except BaseException as exc:
            self._finish_run(run_id, counts, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self._finish_run(run_id, counts, "done", None)
        return counts

    def _commit(self, batch: list[Paper | Signals], counts: Counts, run_id: int) -> None:
        papers_ = [p for p in batch if isinstance(p, Paper)]
        signals = [s for s in batch if isinstance(s, Signals)]
        with self.engine.begin() as conn:
            if papers_:
                new, updated, unchanged = write_batch(conn, papers_)
                counts.new += new
                counts.updated += updated
                counts.unchanged += unchanged
            if signals:
                updated, unchanged, unmatched = write_signals(conn, signals)
                counts.updated += updated
                counts.unchanged += unchanged
                counts.unmatched += unmatched
            conn.execute(
                update(ingest_runs)
                .where(ingest_runs.c.id == run_id)
                .values(
                    new=counts.new,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    rejected=counts.rejected,
                )
            )

    def _start_run(self, source: str, target: str) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(ingest_runs).values(
                    source=source,
                    target=target,
                    started_at=utcnow(),
                    status="running",
                    new=0,
                    updated=0,
                    unchanged=0,
                    rejected=0,
                )
            )
            return res.inserted_primary_key[0]

    def _finish_run(self, run_id: int, counts: Counts, status: str, message: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ingest_runs)
                .where(ingest_runs.c.id == run_id)
                .values(
                    finished_at=utcnow(),
                    status=status,
                    new=counts.new,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    rejected=counts.rejected,
                    message=message,
                )
            )


def _resolve_titles(conn: Connection, batch: list[Paper]) -> None:
    """Give id-less papers the id of a stored paper with the same normalised title."""
    idless = [p for p in batch if p.id is None]
    if not idless:
        return
    norms = list({normalize_title(p.title) for p in idless})
    found: dict[str, str] = {}
    for chunk in chunks(norms):
        rows = conn.execute(select(papers.c.id, papers.c.title_norm).where(papers.c.title_norm.in_(chunk)))
        for pid, norm in rows:
            # Prefer a real arXiv id over another title-keyed paper.
            if norm not in found or found[norm].startswith("t-"):
                found[norm] = pid
    for p in idless:
        p.id = found.get(normalize_title(p.title))


def write_batch(conn: Connection, batch: list[Paper]) -> tuple[int, int, int]:
    """Apply one batch inside the caller's transaction. Returns (new, updated, unchanged)."""
    now = utcnow()
    batch = [clean_paper(p) for p in batch]  # every importer and sync writes through here
    _resolve_titles(conn, batch)
    got = Incoming.of(batch)
    keys = list(got.rows)
    stored, rekey = _stored_rekeyed(conn, got.rows, now)
    old_sources = {(r["paper_id"], r["source"]) for r in load_in(conn, paper_sources, paper_sources.c.paper_id, keys)}
    old_signals = {
        (r["paper_id"], r["source"], r["name"]): signal_value(r)
        for r in load_in(conn, external_signals, external_signals.c.paper_id, keys)
    }
    touched = {k for (k, src) in got.refs if (k, src) not in old_sources}
    touched |= {sk[0] for sk, v in got.signals.items() if old_signals.get(sk) != v}
    touched |= set(rekey.values())
    plan = Plan(updated=got.repeat_updated, unchanged=got.repeat_unchanged)
    for key, row in got.rows.items():
        plan.add(key, row, stored.get(key), key in touched, now)
    plan.write(conn)
    new_sources = [
        {"paper_id": k, "source": s, "ref": ref, "first_seen": now}
        for (k, s), ref in got.refs.items()
        if (k, s) not in old_sources
    ]
    if new_sources:
        conn.execute(insert(paper_sources), new_sources)
    write_changed(conn, got.signals, old_signals, now)
    # Every node's search index follows this log (a re-keyed paper: the old id is gone, the new one is new).
    changed = [r["id"] for r in plan.inserts] + [u["id"] for u in plan.updates] + [*rekey, *rekey.values()]
    changes.record(conn, changed, now)
    return plan.new, plan.updated, plan.unchanged


@dataclass
class Incoming:
    """A batch by paper: several records of one paper are applied in order, as if one at a time."""

    rows: dict[str, dict] = field(default_factory=dict)  # key -> content (CONTENT fields)
    refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, source) -> the source's reference
    signals: dict[tuple[str, str, str], float | str] = field(default_factory=dict)  # (key, source, name) -> value
    repeat_updated: int = 0  # a later record of a paper in the batch that changed the earlier one
    repeat_unchanged: int = 0

    @classmethod
    def of(cls, batch: list[Paper]) -> Incoming:
        got = cls()
        for p in batch:
            key, row = p.key, paper_row(p)
            if key in got.rows:
                merged = merge(got.rows[key], row)
                got.repeat_updated += merged != got.rows[key]
                got.repeat_unchanged += merged == got.rows[key]
                row = merged
            got.rows[key] = row
            got.refs.setdefault((key, p.source), p.source_ref)
            for name, value in p.signals.items():
                got.signals[(key, p.source, name)] = value
        return got


def _stored_rekeyed(conn: Connection, rows: dict[str, dict], now: datetime) -> tuple[dict, dict]:
    """The stored papers of these keys, and {title key: arXiv id} of those just moved to their arXiv id: a paper
    first stored without one (from a page) is re-keyed when its arXiv record comes."""
    keys = list(rows)
    title_keys = {title_id(rows[k]["title"]): k for k in keys if not k.startswith("t-")}
    stored = {r["id"]: dict(r) for r in load_in(conn, papers, papers.c.id, keys + list(title_keys))}
    rekey = {tk: k for tk, k in title_keys.items() if tk in stored and k not in stored and tk != k}
    for tk, k in rekey.items():
        _rekey(conn, tk, k, stored, now)
    return stored, rekey


@dataclass
class Plan:
    """What a batch writes to papers, paper_categories and paper_authors, and how it counts."""

    inserts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    category_rows: list[dict] = field(default_factory=list)
    changed_categories: list[str] = field(default_factory=list)
    author_rows: list[dict] = field(default_factory=list)
    changed_authors: list[str] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, key: str, row: dict, old: dict | None, touched: bool, now: datetime) -> None:
        """One paper: new, merged into the stored one, or unchanged (`touched`: a new source or signal, or
        re-keyed, counts as updated even when its content is not)."""
        if old is None:
            self.inserts.append(full_row(key, row, now, now))
            self.category_rows.extend({"paper_id": key, "category": c} for c in dict.fromkeys(row["categories"]))
            self.author_rows.extend(authors_of(key, row["authors"]))
            self.new += 1
            return
        before = {f: old[f] for f in CONTENT}
        after = merge(before, row)
        if after == before:
            self.updated += touched
            self.unchanged += not touched
            return
        self.updates.append(full_row(key, after, old["created_at"], now))
        if after["categories"] != before["categories"]:
            self.changed_categories.append(key)
            self.category_rows.extend({"paper_id": key, "category": c} for c in dict.fromkeys(after["categories"]))
        if after["authors"] != before["authors"]:
            self.changed_authors.append(key)
            self.author_rows.extend(authors_of(key, after["authors"]))
        self.updated += 1

    def write(self, conn: Connection) -> None:
        if self.inserts:
            conn.execute(insert(papers), self.inserts)
        if self.updates:
            params = [{**u, "b_id": u["id"]} for u in self.updates]
            values = {c: bindparam(c) for c in self.updates[0] if c not in ("id",)}
            conn.execute(update(papers).where(papers.c.id == bindparam("b_id")).values(values), params)
        for chunk in chunks(self.changed_categories):
            conn.execute(delete(paper_categories).where(paper_categories.c.paper_id.in_(chunk)))
        if self.category_rows:
            conn.execute(insert(paper_categories), self.category_rows)
        for chunk in chunks(self.changed_authors):
            conn.execute(delete(paper_authors).where(paper_authors.c.paper_id.in_(chunk)))
        if self.author_rows:
            conn.execute(insert(paper_authors), self.author_rows)


def authors_of(paper_id: str, names: list[str]) -> list[dict]:
    """The paper's rows of paper_authors (a name with no letter or digit has no page, and no row)."""
    return [
        {"paper_id": paper_id, "position": n, "name": name, "key": author_key(name)}
        for n, name in enumerate(names)
        if author_key(name)
    ]


REFERENCING = [t for t in metadata.sorted_tables if any(fk.column is papers.c.id for c in t.c for fk in c.foreign_keys)]


def _rekey(conn: Connection, old_key: str, new_key: str, stored: dict, now: datetime) -> None:
    """Move a title-keyed paper to its arXiv id; the incoming record is merged into it after."""
    row = stored.pop(old_key)
    conn.execute(insert(papers), [{**row, "id": new_key, "modified_at": now}])
    # Every row that names the paper moves with it (categories, authors, sources, signals, and what users did:
    # votes, library, notes, comments, …); the old row's delete would otherwise cascade them away.
    for table in REFERENCING:
        conn.execute(update(table).where(table.c.paper_id == old_key).values(paper_id=new_key))
    conn.execute(delete(papers).where(papers.c.id == old_key))
    stored[new_key] = {**row, "id": new_key}
