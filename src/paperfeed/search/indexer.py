"""Bring the search indexes up to date with the store: the store is the truth, indexes are derived.

The keyword index is brought up to date first, for every changed paper (no model needed: seconds);
then the vectors, in chunks, each committed by the vector store, whose commit records which paper
versions are done. A run killed at any point loses at most the chunk in hand, and the next run redoes it
and re-adds its keywords (re-adding to BM25 is delete-then-add, so it is idempotent).
A paper whose title and abstract did not change keeps its vector: only new text is embedded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.search.encoder import Encoder, paper_text
from paperfeed.search.lexical import LexicalIndex, day_number
from paperfeed.search.vectors import Damaged, NewRow, VectorStore
from paperfeed.store import changes
from paperfeed.store import queries as q

CHUNK = 1000
FOLLOW_LIMIT = 2000  # changes applied by the server itself; more: `paperfeed index` in its own process
CURSOR = "changes.json"  # how far this index has read the store's change log
LEXICAL_CHUNK = 5000  # papers per keyword-index commit


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    embedded: int = 0
    reused: int = 0
    repaired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"added {self.added}, updated {self.updated}, removed {self.removed}"
            f" (embedded {self.embedded}, vectors reused {self.reused})"
        )
        return "; ".join([text, *(f"repaired: {r}" for r in self.repaired)])


class IndexBusy(RuntimeError):
    """Another process (or thread) is changing the indexes right now."""


def index_dir(data_dir: Path) -> Path:
    return data_dir / "index"


@contextlib.contextmanager
def writer_lock(root: Path, wait: float | None = None) -> Iterator[None]:
    """One writer of the indexes at a time, across processes and threads (an flock on index/.lock):
    `paperfeed index` from cron, the server's index keeper and /submit never write over each other.
    `wait`: seconds to wait for it (None: as long as it takes), then IndexBusy."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as f:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (fcntl.LOCK_NB if wait is not None else 0))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusy("the search index is being updated by another process") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def copy_indexes(data_dir: Path, dest: Path, wait: float = 10.0) -> bool:
    """Both indexes copied to dest/index while no writer changes them; False when one held them too long
    (a restore then rebuilds them). Consistency with the store is `sync`'s job after a restore: papers the
    copy lacks are embedded, papers it has that the store lacks are removed."""
    try:
        with writer_lock(index_dir(data_dir), wait):
            shutil.copytree(index_dir(data_dir), dest / "index", ignore=shutil.ignore_patterns(".lock"))
        return True
    except (IndexBusy, FileNotFoundError):
        return False


def text_hash(title: str, abstract: str) -> str:
    return hashlib.sha1(paper_text(title, abstract).encode()).hexdigest()[:16]


def _stamp(value) -> str:
    return value.isoformat() if value is not None else ""


def current_stamps(engine: Engine, scope: list[str] | None = None) -> dict[str, str]:
    """paper id -> version stamp, for every paper or those in `scope`."""
    return {pid: _stamp(mod) for pid, mod in q.modified_stamps(engine, scope).items()}


def pending(
    engine: Engine, store: VectorStore, scope: list[str] | None = None
) -> tuple[list[str], list[str], dict[str, tuple[int, str, str]]]:
    """(ids to (re)embed, ids to remove, the store's live rows), over every paper or those in `scope`."""
    live = store.live(scope)
    current = current_stamps(engine, scope)
    changed = [pid for pid, mod in current.items() if pid not in live or live[pid][1] != mod]
    removed = [pid for pid in live if pid not in current]
    return sorted(changed), removed, live


def _keywords(engine: Engine, store: VectorStore, lexical: LexicalIndex, scope: list[str] | None) -> None:
    """The keyword index for every paper whose version it does not hold yet (its own record of versions,
    so a rerun after a kill re-adds nothing it already has: re-added documents would leave deleted copies
    that skew BM25's statistics until segments merge)."""
    current, held = current_stamps(engine, scope), store.keyword_stamps(scope)
    todo = sorted(pid for pid, mod in current.items() if held.get(pid) != mod)
    gone = [pid for pid in held if pid not in current]
    if gone:
        lexical.apply([], gone)
    for start in range(0, len(todo), LEXICAL_CHUNK):
        rows = _rows(engine, todo[start : start + LEXICAL_CHUNK])
        lexical.apply(rows, [])
        store.set_keyword_stamps({p["id"]: _stamp(p["modified_at"]) for p in rows}, [])
    store.set_keyword_stamps({}, gone)


def sync(
    engine: Engine,
    data_dir: Path,
    encoder: Encoder,
    rebuild: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    wait: float | None = None,
) -> IndexReport:
    """Bring both indexes up to date (mending damage first); see the module docstring. `wait`: give up with
    IndexBusy after this many seconds if another writer holds the indexes (None: wait)."""
    with writer_lock(index_dir(data_dir), wait):
        cursor = changes.start(engine)  # before comparing: what commits meanwhile is read again after
        report = _sync(engine, data_dir, encoder, rebuild, on_start, on_progress, chunk)
        save_cursor(index_dir(data_dir), cursor)
        return report


def follow(
    engine: Engine, data_dir: Path, encoder: Encoder, limit: int = FOLLOW_LIMIT, wait: float = 0
) -> IndexReport | None:
    """Apply what the store's change log holds since this index last read it (another node's import, a
    sync, a re-keyed paper). None when the index has never been synced here or more than `limit` papers
    changed: then a full `sync` (`paperfeed index`) is the way. IndexBusy when another writer holds it."""
    root = index_dir(data_dir)
    with writer_lock(root, wait):
        cursor = load_cursor(root)
        got = changes.read(engine, cursor, limit) if cursor is not None else None
        if got is None:
            return None
        ids, after = got
        report = _sync(engine, data_dir, encoder, False, None, None, CHUNK, scope=ids) if ids else IndexReport()
        save_cursor(root, after)
        return report


def load_cursor(root: Path) -> changes.Cursor | None:
    try:
        return changes.Cursor.loads((root / CURSOR).read_text())
    except (OSError, ValueError, KeyError):
        return None  # never synced here, or unreadable: a full sync writes a new one


def save_cursor(root: Path, cursor: changes.Cursor) -> None:
    tmp = root / f".{CURSOR}.tmp"
    tmp.write_text(cursor.dumps())
    os.replace(tmp, root / CURSOR)


def _sync(engine, data_dir, encoder, rebuild, on_start, on_progress, chunk, scope=None) -> IndexReport:
    """A full comparison with the store (scope None), or of the papers in `scope` only (following the log:
    damage is left to the full run that `check` triggers, since a deep check reads every vector)."""
    root = index_dir(data_dir)
    old_dir = root / "vectors.old"
    report = IndexReport()
    if scope is None:
        rebuild = _mend(root, report) or rebuild
    if rebuild:
        if (root / "vectors").exists():
            shutil.rmtree(old_dir, ignore_errors=True)
            (root / "vectors").rename(old_dir)
        lexical = LexicalIndex.recreate(root / "lexical")
    else:
        lexical = LexicalIndex(root / "lexical")
    store = VectorStore(root / "vectors")
    previous = VectorStore(old_dir) if old_dir.exists() else None  # vectors a rebuild may reuse
    try:
        store.repair()
        changed, removed, live = pending(engine, store, scope)
        reuse = previous.live() if previous else {}
        if on_start:
            on_start(len(changed) + len(removed))
        if removed:
            lexical.apply([], removed)
            store.apply([], [live[pid][0] for pid in removed])
            report.removed = len(removed)
            if on_progress:
                on_progress(len(removed))
        # Keywords first, for every paper (fast: no model), so that search finds them all while the
        # vectors are being embedded.
        _keywords(engine, store, lexical, scope)
        for start in range(0, len(changed), chunk):
            ids = changed[start : start + chunk]
            _index_chunk(engine, ids, live, reuse, previous, store, encoder, report)
            if on_progress:
                on_progress(len(ids))
    finally:
        store.close()
        if previous:
            previous.close()
    if previous:
        shutil.rmtree(old_dir, ignore_errors=True)
    return report


def _mend(root: Path, report: IndexReport) -> bool:
    """Check both indexes against their last commit and mend what is damaged: vectors whose files are
    whole are kept (a new graph is built from them); anything else is rebuilt. True: a rebuild is needed
    (the keyword index is rebuilt from the store, reusing every vector that is still good)."""
    if not root.exists():
        return False
    rebuild = False
    vectors = root / "vectors"
    try:
        store = VectorStore(vectors)
        try:
            store.check(deep=True)
        finally:
            store.close()
    except Damaged as exc:
        if exc.mendable:
            store = VectorStore(vectors)
            lost = store.salvage()
            store.close()
            report.repaired.append(f"{exc}; new graph built, {lost} vectors to embed again")
        else:
            shutil.rmtree(vectors)
            report.repaired.append(f"{exc}; vector index rebuilt")
            rebuild = True
    lexical_problem = _lexical_problem(root)
    if lexical_problem:
        report.repaired.append(f"{lexical_problem}; keyword index rebuilt")
        rebuild = True
    return rebuild


def _lexical_problem(root: Path) -> str | None:
    if not (root / "lexical").exists():
        return None
    try:
        held = LexicalIndex(root / "lexical").count()
    except ValueError as exc:  # tantivy: unreadable meta or segment
        return f"the keyword index is unreadable ({exc})"
    store = VectorStore(root / "vectors")
    try:
        live = len(store.live())
    finally:
        store.close()
    if held < live:
        return f"the keyword index holds {held} papers, the vector index {live}"
    return None


def _rows(engine: Engine, ids: list[str]) -> list[dict]:
    with engine.connect() as conn:
        return q.paper_rows(conn, ids)


def _index_chunk(engine, ids, live, reuse, previous, store, encoder, report) -> None:
    rows = _rows(engine, ids)
    hashes = [text_hash(p["title"], p["abstract"]) for p in rows]
    vectors: list[np.ndarray | None] = [None] * len(rows)
    # Reuse a vector when the text is unchanged: from this store, or (during a rebuild) the old one.
    for source, live_rows in ((store, live), (previous, reuse)):
        want = [(i, live_rows[p["id"]][0]) for i, p in enumerate(rows) if vectors[i] is None and p["id"] in live_rows]
        want = [(i, row) for i, row in want if live_rows[rows[i]["id"]][2] == hashes[i]]
        if source is not None and want:
            got = source.read_vectors([row for _, row in want])
            for (i, _), vec in zip(want, got, strict=True):
                vectors[i] = vec
                report.reused += 1
    todo = [i for i, v in enumerate(vectors) if v is None]
    if todo:
        embedded = encoder.encode([paper_text(rows[i]["title"], rows[i]["abstract"]) for i in todo])
        for i, vec in zip(todo, embedded, strict=True):
            vectors[i] = vec
        report.embedded += len(todo)
    new_rows = [
        NewRow(p["id"], _stamp(p["modified_at"]), h, day_number(p["listed_date"]), list(p["categories"]), v)
        for p, h, v in zip(rows, hashes, vectors, strict=True)
    ]
    dead = [live[p["id"]][0] for p in rows if p["id"] in live]
    store.apply(new_rows, dead)
    report.updated += len(dead)
    report.added += len(rows) - len(dead)
