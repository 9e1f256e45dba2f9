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
"""

from __future__ import annotations

import os
import sqlite3
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
"""


@dataclass
class NewRow:
    paper_id: str
    modified_at: str
    text_hash: str
    listed: int
    categories: list[str]
    vector: np.ndarray  # float32, unit length


def new_hnsw() -> Index:
    return Index(ndim=DIM, metric="cos", dtype="f16", connectivity=16, expansion_add=128, expansion_search=64)


class VectorStore:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path / "state.sqlite", timeout=30, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    # -- committed state -----------------------------------------------------------------------
    def meta(self) -> tuple[int, int]:
        """(generation, committed row count)."""
        got = dict(self.db.execute("SELECT key, value FROM meta"))
        return int(got.get("generation", 0)), int(got.get("rows", 0))

    def live(self) -> dict[str, tuple[int, str, str]]:
        """paper id -> (row, modified_at, text_hash) for every live row."""
        cur = self.db.execute("SELECT paper_id, row, modified_at, text_hash FROM rows WHERE alive = 1")
        return {pid: (row, mod, h) for pid, row, mod, h in cur}

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
        if vec.exists() and vec.stat().st_size != n * ROW_BYTES:
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
        next_graph = self.graph_path(gen + 1)
        tmp = next_graph.with_suffix(".usearch.tmp")
        graph.save(str(tmp))
        os.replace(tmp, next_graph)
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
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(gen + 1),))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('rows', ?)", (str(n + len(new_rows)),))
        self.repair()  # the old generation's graph is no longer needed

    def load_graph(self, generation: int, view: bool) -> Index:
        graph = new_hnsw()
        path = self.graph_path(generation)
        if path.exists():
            if view:
                graph.view(str(path))
            else:
                graph.load(str(path))
        return graph
