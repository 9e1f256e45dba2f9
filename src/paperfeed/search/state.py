"""The two search indexes as one process holds them, and what is wrong with either: the vector store's committed
snapshot (reloaded when `paperfeed index` commits a new generation) and the keyword index, each checked when
opened and on every change of generation. A damaged index is recorded in `damage` (index name -> what is
wrong) and searched around by search/service.py until the indexer (or the server's index keeper) rebuilds it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.rowmap import RowMap
from paperfeed.search.vectors import ROW_BYTES, Damaged, VectorStore, search_breadth
from paperfeed.store import queries

# What opening or reading a damaged index can raise (tantivy reports errors as ValueError).
INDEX_ERRORS = (Damaged, sqlite3.DatabaseError, ValueError, RuntimeError, OSError)


class Snapshot:
    """The vector store's committed state, held in memory for filtering: row -> paper, date, categories."""

    def __init__(self, store: VectorStore):
        self.generation, n = store.meta()
        self.listed = np.full(n, -1, dtype=np.int32)
        self.alive = np.zeros(n, dtype=bool)
        rows, ids = [], []
        cursor = store.live_rows()
        while chunk := cursor.fetchmany(100_000):
            part = np.array([(r, d) for r, _, d in chunk], dtype=np.int64).reshape(-1, 2)
            self.listed[part[:, 0]] = part[:, 1]
            rows.append(part[:, 0])
            ids += [pid for _, pid, _ in chunk]
        live = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.alive[live] = True
        self.row_of = RowMap(n, live, ids)  # compact arrays: see search/rowmap.py
        self.paper_of = self.row_of.paper_of
        self._store = store
        self.graph = store.load_graph(self.generation, view=True)
        self.graph.expansion_search = search_breadth(len(self.row_of))
        self.matrix = store.matrix()

    def rows_in(self, categories: list[str]) -> np.ndarray:
        return self._store.rows_in(categories)


class IndexState:
    """Both indexes of one data directory, opened and checked on demand; thread-safe."""

    def __init__(self, engine: Engine, root: Path):
        self.engine = engine
        self.root = root
        self.lexical: LexicalIndex | None = None
        self.store: VectorStore | None = None
        self.damage: dict[str, str] = {}  # index name -> what is wrong with it
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot | None:
        """The current committed state, reloaded (and checked) when `paperfeed index` has committed since;
        None while the vector index is damaged."""
        with self._lock:
            try:
                if self.store is None or self.store.replaced():
                    self.store = VectorStore(self.root / "vectors")  # new, or rebuilt by another process
                generation, rows = self.store.meta()
                if self._snapshot is None or self._snapshot.generation != generation:
                    self.store.check()
                    self._snapshot = Snapshot(self.store)
                    self._open_lexical(len(self._snapshot.row_of))
                elif rows and self.store.vectors_path().stat().st_size < rows * ROW_BYTES:
                    # Cut while mapped: reading past the end would kill the process (SIGBUS), so look first.
                    raise Damaged(f"the vector file was truncated below its {rows} rows")
                self.damage.pop("vectors", None)
                return self._snapshot
            except INDEX_ERRORS as exc:
                # Not closed: searches in other threads may still be reading the snapshot they hold.
                self.damage["vectors"] = str(exc)
                self._snapshot = None
                self.store = None
                self._open_lexical(None)
                return None

    def check(self) -> None:
        """A fresh look at both indexes' files, for damage done while they are open (the server's index keeper
        calls this every so often): the vector files against their commit, the keyword index reopened."""
        snap = self.snapshot()
        with self._lock:
            try:
                if self.store is not None:
                    self.store.check()
            except INDEX_ERRORS as exc:
                self.damage["vectors"] = str(exc)
                self._snapshot = None
            self._open_lexical(len(snap.row_of) if snap else None, fresh=True)

    def _open_lexical(self, expected: int | None, fresh: bool = False) -> None:
        """(Re)open the keyword index and check it holds at least the papers the vector index holds."""
        try:
            if fresh or self.lexical is None or "lexical" in self.damage:
                self.lexical = LexicalIndex(self.root / "lexical")
            self.lexical.names = self._snapshot.row_of.names if self._snapshot else None
            self.lexical.index.reload()
            held = self.lexical.count()
            if expected is not None and held < expected:
                raise Damaged(f"the keyword index holds {held} papers, the vector index {expected}")
            if expected is None and held == 0 and self.stored_papers():
                raise Damaged("the keyword index is empty while the store holds papers")
            self.damage.pop("lexical", None)
        except INDEX_ERRORS as exc:
            self.damage["lexical"] = str(exc)

    def keywords_ok(self) -> bool:
        """The keyword index is open and not damaged."""
        return self.lexical is not None and "lexical" not in self.damage

    def stored_papers(self) -> int:
        return queries.count_papers(self.engine)

    def indexed_count(self) -> int:
        snap = self.snapshot()
        return len(snap.row_of) if snap else 0

    def health(self, papers: int) -> dict:
        """Each index "ok" or what is wrong with it; how many papers are searchable; whether that is all."""
        indexed = self.indexed_count()
        if "vectors" in self.damage and self.keywords_ok():
            indexed = self.lexical.count()  # keyword search still covers these
        states = {name: self.damage.get(name, "ok") for name in ("lexical", "vectors")}
        return {"indexes": states, "indexed": indexed, "fresh": indexed >= papers}

    def vectors_behind(self, snap: Snapshot) -> str | None:
        """ "N of M papers" while the indexer has added keywords it has not embedded yet (it does keywords
        first), else None."""
        if not self.keywords_ok():
            return None
        held, embedded = self.lexical.count(), len(snap.row_of)
        if held == embedded == 0:
            held = self.stored_papers()  # nothing indexed yet: a fresh install, its indexer just started
        return f"{embedded:,} of {held:,} papers" if held > embedded else None
