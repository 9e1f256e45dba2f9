"""Paper vectors: an append-only f16 matrix, an HNSW graph (usearch) over it, and a small SQLite
file that says which row holds which paper. That file is the commit point.

Files under the vector directory:
- `vectors.f16`: row-major float16, one row per embedded paper version, only ever appended to;
- `hnsw-<generation>.usearch`: the graph (cosine, f16), keyed by row number, holding live rows only;
- `state.sqlite`: rows (row, paper_id, modified_at, text_hash, listed, alive), the category of each
  row, and meta (generation, rows).

A change writes new vector rows past the committed end, saves the next generation's graph under a new
name, then commits state.sqlite in one transaction. A process killed anywhere before that commit leaves
the previous generation whole; the next run truncates the stray rows and deletes the stray graph.

Damage from outside (a truncated or overwritten file, a garbled state file) is found by `check`: the
commit records the graph's size and CRC-32 and a running CRC-32 of the vector file.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from paperfeed.search.encoder import DIM

ROW_BYTES = DIM * 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
  row INTEGER PRIMARY KEY, paper_id TEXT NOT NULL, modified_at TEXT NOT NULL,
  text_hash TEXT NOT NULL, listed INTEGER NOT NULL, alive INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rows_paper ON rows (paper_id) WHERE alive = 1;
CREATE TABLE IF NOT EXISTS row_categories (row INTEGER NOT NULL, category TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS row_categories_category ON row_categories (category);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keywords (paper_id TEXT PRIMARY KEY, stamp TEXT NOT NULL);
"""


@dataclass
class NewRow:
    paper_id: str
    modified_at: str
    text_hash: str
    listed: int
    categories: list[str]
    vector: np.ndarray  # float32, unit length


def file_crc_prefix(path: Path, length: int) -> int:
    crc = 0
    if not path.exists():
        return crc
    with open(path, "rb") as f:
        while length > 0 and (chunk := f.read(min(1 << 22, length))):
            crc = zlib.crc32(chunk, crc)
            length -= len(chunk)
    return crc


def new_hnsw() -> Index:
    return Index(ndim=DIM, metric="cos", dtype="f16", connectivity=16, expansion_add=128, expansion_search=64)


def search_breadth(papers: int) -> int:
    """HNSW's `expansion_search` for a graph of this many papers. Its top-10 agrees less with the exact
    top-10 as the graph grows, so the breadth grows with it: 256 at 67,802 papers, 983 at a million
    (with the square root of the size; at most 1,024).
    Measured (docs/benchmarks.md, agreement with exact / p95 of the graph search): 67,802 papers: 64 90.0 %
    0.8 ms, 256 97.2 % 2.3 ms, 512 99.2 % 4.3 ms; 1,000,000: 64 76.4 % 1.2 ms, 512 96.6 % 5.5 ms, 768 96.9 %
    7.5 ms, 1,024 98.6 % 10.6 ms."""
    return int(min(1024, max(64, 256 * (papers / 67_802) ** 0.5)))


class Damaged(Exception):
    """An index file is not what its last commit says; the message says which and how. `mendable`: the
    vectors that remain can be kept (`salvage`); otherwise the vector index must be rebuilt."""

    def __init__(self, message: str, mendable: bool = False):
        super().__init__(message)
        self.mendable = mendable


def file_crc(path: Path) -> int:
    return file_crc_prefix(path, path.stat().st_size)


class VectorStore:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._crcs: dict[Path, tuple[tuple, int]] = {}  # path -> (stat key, CRC-32): unchanged files are not reread
        try:
            self.db = sqlite3.connect(path / "state.sqlite", timeout=30, check_same_thread=False)
            self.db.executescript(SCHEMA)
            self.db.commit()
            self.inode = (path / "state.sqlite").stat().st_ino
        except sqlite3.DatabaseError as exc:
            raise Damaged(f"the vector state file is unreadable ({exc})") from exc

    def replaced(self) -> bool:
        """True when the state file on disk is no longer the one this store opened (a rebuild moved it)."""
        try:
            return (self.path / "state.sqlite").stat().st_ino != self.inode
        except OSError:
            return True

    def _crc(self, path: Path) -> int:
        st = path.stat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if path not in self._crcs or self._crcs[path][0] != key:
            self._crcs[path] = (key, file_crc(path))
        return self._crcs[path][1]

    def close(self) -> None:
        self.db.close()

    # -- committed state -----------------------------------------------------------------------
    def meta(self) -> tuple[int, int]:
        """(generation, committed row count)."""
        got = self._meta()
        return int(got.get("generation", 0)), int(got.get("rows", 0))

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def check(self, deep: bool = False) -> None:
        """Raise Damaged if the files differ from the last commit: the state file unreadable, the vector file
        shorter than its rows, the graph missing or changed. `deep` also checks every vector's bytes.
        A commit by another process while checking (it replaces the graph file) is not damage: look again."""
        try:
            self._check(deep)
        except Damaged:
            if not self._readable():
                raise
            self._check(deep)  # a commit that replaced the graph meanwhile passes a second look; damage does not

    def _readable(self) -> bool:
        try:
            self.meta()
            return True
        except sqlite3.DatabaseError:
            return False

    def _check(self, deep: bool) -> None:
        try:
            meta = self._meta()
            live = self.db.execute("SELECT count(*) FROM rows WHERE alive = 1").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise Damaged(f"the vector state file is unreadable ({exc})") from exc
        gen, n = int(meta.get("generation", 0)), int(meta.get("rows", 0))
        size = self.vectors_path().stat().st_size if self.vectors_path().exists() else 0
        if size < n * ROW_BYTES:
            raise Damaged(f"the vector file is truncated: {size // ROW_BYTES} of {n} rows", mendable=True)
        if (
            deep
            and "vectors_crc" in meta
            and file_crc_prefix(self.vectors_path(), n * ROW_BYTES) != int(meta["vectors_crc"])
        ):
            raise Damaged("the vector file's contents changed since the last commit")
        graph = self.graph_path(gen)
        if live and not graph.exists():
            raise Damaged(f"the graph file {graph.name} is missing", mendable=True)
        recorded = (int(meta.get("graph_size", -1)), int(meta.get("graph_crc", -1)))
        if "graph_crc" in meta and live and (graph.stat().st_size, self._crc(graph)) != recorded:
            raise Damaged(f"the graph file {graph.name} changed since the last commit", mendable=True)

    def live(self, scope: list[str] | None = None) -> dict[str, tuple[int, str, str]]:
        """paper id -> (row, modified_at, text_hash) for every live row, or those of the papers in `scope`."""
        query = "SELECT paper_id, row, modified_at, text_hash FROM rows WHERE alive = 1"
        return {pid: (row, mod, h) for pid, row, mod, h in self._select(query, scope)}

    # The keyword index's versions, kept here beside the vectors' (the keyword index is filled first).
    def live_rows(self):
        """A cursor over (row, paper_id, listed) of every live row (fetch it in chunks)."""
        return self.db.execute("SELECT row, paper_id, listed FROM rows WHERE alive = 1")

    def rows_in(self, categories: list[str]) -> np.ndarray:
        """The rows of papers that carry any of these categories."""
        marks = ",".join("?" * len(categories))
        cur = self.db.execute(f"SELECT row FROM row_categories WHERE category IN ({marks})", categories)
        return np.fromiter((r for (r,) in cur), dtype=np.int64)

    def keyword_stamps(self, scope: list[str] | None = None) -> dict[str, str]:
        return dict(self._select("SELECT paper_id, stamp FROM keywords WHERE 1", scope))

    def _select(self, query: str, scope: list[str] | None) -> list[tuple]:
        """The query's rows, or those of the papers in `scope` (in chunks: SQLite caps bound parameters)."""
        if scope is None:
            return self.db.execute(query).fetchall()
        got = []
        for i in range(0, len(scope), 500):
            part = scope[i : i + 500]
            got += self.db.execute(f"{query} AND paper_id IN ({','.join('?' * len(part))})", part).fetchall()
        return got

    def set_keyword_stamps(self, stamps: dict[str, str], removed: list[str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO keywords VALUES (?, ?)", list(stamps.items()))
            self.db.executemany("DELETE FROM keywords WHERE paper_id = ?", [(pid,) for pid in removed])

    def graph_path(self, generation: int) -> Path:
        return self.path / f"hnsw-{generation}.usearch"

    def vectors_path(self) -> Path:
        return self.path / "vectors.f16"

    def read_vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        matrix = self.matrix()
        return np.asarray(matrix[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def matrix(self) -> np.ndarray:
        _gen, n = self.meta()
        if n == 0:
            return np.zeros((0, DIM), dtype=np.float16)
        return np.memmap(self.vectors_path(), dtype=np.float16, mode="r", shape=(n, DIM))

    # -- repair and change ---------------------------------------------------------------------
    def repair(self) -> None:
        """Drop whatever a killed run left past the last commit."""
        gen, n = self.meta()
        vec = self.vectors_path()
        # Only ever cut what a killed run appended: a file shorter than its rows is damage for `check`
        # (extending it would invent zero vectors).
        if vec.exists() and vec.stat().st_size > n * ROW_BYTES:
            with open(vec, "r+b") as f:
                f.truncate(n * ROW_BYTES)
        for f in self.path.glob("hnsw-*.usearch*"):
            if f.name != self.graph_path(gen).name:
                f.unlink()

    def apply(self, new_rows: list[NewRow], dead_rows: list[int]) -> None:
        """Add rows and retire rows as one commit (see the module docstring for the order)."""
        if not new_rows and not dead_rows:
            return
        self.repair()
        gen, n = self.meta()
        graph = self.load_graph(gen, view=False)
        if dead_rows:
            graph.remove(np.asarray(dead_rows, dtype=np.uint64))
        if new_rows:
            vectors = np.stack([r.vector for r in new_rows]).astype(np.float16)
            with open(self.vectors_path(), "ab") as f:
                f.write(vectors.tobytes())
                f.flush()
                os.fsync(f.fileno())
            graph.add(np.arange(n, n + len(new_rows), dtype=np.uint64), vectors, threads=os.cpu_count() or 1)
        vectors_crc = self._vectors_crc(n, new_rows)
        graph_size, graph_crc = self._save_graph(graph, gen + 1)
        with self.db:
            self.db.executemany("UPDATE rows SET alive = 0 WHERE row = ?", [(r,) for r in dead_rows])
            self.db.executemany(
                "INSERT INTO rows VALUES (?, ?, ?, ?, ?, 1)",
                [(n + i, r.paper_id, r.modified_at, r.text_hash, r.listed) for i, r in enumerate(new_rows)],
            )
            self.db.executemany(
                "INSERT INTO row_categories VALUES (?, ?)",
                [(n + i, c) for i, r in enumerate(new_rows) for c in r.categories],
            )
            self._set_meta(
                generation=gen + 1,
                rows=n + len(new_rows),
                vectors_crc=vectors_crc,
                graph_size=graph_size,
                graph_crc=graph_crc,
            )
        self.repair()  # the old generation's graph is no longer needed

    def _set_meta(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

    def _vectors_crc(self, n: int, new_rows: list[NewRow]) -> int:
        """The running CRC-32 of the vector file after this change (computed once from the file for a
        store that predates it)."""
        meta = self._meta()
        crc = int(meta["vectors_crc"]) if "vectors_crc" in meta else file_crc_prefix(self.vectors_path(), n * ROW_BYTES)
        if new_rows:
            crc = zlib.crc32(np.stack([r.vector for r in new_rows]).astype(np.float16).tobytes(), crc)
        return crc

    def _save_graph(self, graph: Index, generation: int) -> tuple[int, int]:
        path = self.graph_path(generation)
        tmp = path.with_suffix(".usearch.tmp")
        graph.save(str(tmp))
        os.replace(tmp, path)
        return path.stat().st_size, file_crc(path)

    # -- mending damage --------------------------------------------------------------------------
    def salvage(self) -> int:
        """After damage to the vector file or graph: keep the rows whose vectors are still whole, retire
        the rest (the indexer embeds those papers again) and build a new graph from the matrix.
        Returns the rows retired."""
        gen, n = self.meta()
        whole = min(n, (self.vectors_path().stat().st_size if self.vectors_path().exists() else 0) // ROW_BYTES)
        live = [r for (r,) in self.db.execute("SELECT row FROM rows WHERE alive = 1 AND row < ?", (whole,))]
        graph = new_hnsw()
        if live:
            matrix = np.memmap(self.vectors_path(), dtype=np.float16, mode="r", shape=(whole, DIM))
            graph.add(np.asarray(live, dtype=np.uint64), np.asarray(matrix[live]), threads=os.cpu_count() or 1)
        with open(self.vectors_path(), "ab") as f:
            f.truncate(whole * ROW_BYTES)
        graph_size, graph_crc = self._save_graph(graph, gen + 1)
        with self.db:
            # Rows past the file's end have no vector any more: forgotten, so the indexer embeds them again.
            lost = self.db.execute("SELECT count(*) FROM rows WHERE alive = 1 AND row >= ?", (whole,)).fetchone()[0]
            self.db.execute("DELETE FROM rows WHERE row >= ?", (whole,))
            self.db.execute("DELETE FROM row_categories WHERE row >= ?", (whole,))
            self._set_meta(
                generation=gen + 1,
                rows=whole,
                vectors_crc=file_crc_prefix(self.vectors_path(), whole * ROW_BYTES),
                graph_size=graph_size,
                graph_crc=graph_crc,
            )
        self.repair()
        return lost

    def load_graph(self, generation: int, view: bool) -> Index:
        graph = new_hnsw()
        path = self.graph_path(generation)
        if path.exists():
            if view:
                graph.view(str(path))
            else:
                graph.load(str(path))
        return graph
