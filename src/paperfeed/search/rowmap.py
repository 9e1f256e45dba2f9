"""Paper id <-> vector row, in compact numpy arrays rather than Python objects.

A million ids as a dict and a list of str cost about 150 MB of the serving process's private memory; as a
fixed-width byte array plus sorted copies for lookup, about 60 MB (numbers in docs/benchmarks.md). The same
maps answer the keyword index's hits by a 64-bit key (FNV-1a of the id, a fast field there), so a search
does not read each hit's stored document to learn its id.
"""

from __future__ import annotations

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def id_key(paper_id: str) -> int:
    """The 64-bit FNV-1a hash of an id: what the keyword index stores beside each paper."""
    h = FNV_OFFSET
    for byte in paper_id.encode():
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def id_keys(ids: np.ndarray) -> np.ndarray:
    """`id_key` of every id in a fixed-width bytes array, vectorised (a million in well under a second)."""
    width = ids.dtype.itemsize
    raw = ids.view(np.uint8).reshape(len(ids), width)
    lengths = np.char.str_len(ids)
    h = np.full(len(ids), FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    with np.errstate(over="ignore"):  # the hash is defined modulo 2**64
        for i in range(width):
            h = np.where(i < lengths, (h ^ raw[:, i].astype(np.uint64)) * prime, h)
    return h


class RowMap:
    """`row_of`: paper id -> row (`get`, `in`, `[]`, `len`); `paper_of[row]` -> id or None."""

    def __init__(self, size: int, rows: np.ndarray, ids: list[str]):
        encoded = np.array([i.encode() for i in ids], dtype=f"S{max([1, *map(len, ids)])}")
        rows = np.asarray(rows, dtype=np.int64)
        self.by_row = np.zeros(size, dtype=encoded.dtype)
        self.by_row[rows] = encoded
        order = np.argsort(encoded, kind="stable")
        self.ids, self.rows = encoded[order], rows[order]
        keys = id_keys(encoded)
        by_key = np.argsort(keys, kind="stable")
        self.keys, self.key_rows = keys[by_key], rows[by_key]
        self.paper_of = PaperOf(self.by_row)

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, paper_id: str, default: int | None = None) -> int | None:
        key = paper_id.encode()
        i = int(np.searchsorted(self.ids, key))
        return int(self.rows[i]) if i < len(self.ids) and self.ids[i] == key else default

    def __contains__(self, paper_id: str) -> bool:
        return self.get(paper_id) is not None

    def __getitem__(self, paper_id: str) -> int:
        row = self.get(paper_id)
        if row is None:
            raise KeyError(paper_id)
        return row

    def names(self, keys: list[int]) -> list[str | None]:
        """The ids of papers by their keyword-index keys (None: not among these rows, e.g. not embedded yet)."""
        want = np.asarray(keys, dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.keys, want), max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return [None] * len(keys)
        hit = self.keys[at] == want
        return [self.paper_of[int(self.key_rows[a])] if h else None for a, h in zip(at, hit, strict=True)]


class PaperOf:
    def __init__(self, by_row: np.ndarray):
        self.by_row = by_row

    def __getitem__(self, row) -> str | None:
        value = self.by_row[row]
        return value.decode() if value else None

    def __len__(self) -> int:
        return len(self.by_row)
