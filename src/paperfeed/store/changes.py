"""The papers' change log: what every serving node follows to keep its own search indexes in step with the
shared store (a paper imported through one node is searchable on the others within seconds).

Writers append the id of each paper they add, change or remove, in the same transaction (`record`). A reader
keeps a Cursor: the highest number it has applied, and the numbers below it it has not seen yet ("gaps").
A number is handed out when its row is inserted but becomes visible when its transaction commits, so on
PostgreSQL a later number can be seen before an earlier one (two importers at once; SQLite commits one writer
at a time). A gap is therefore read again on every look until GAP_WAIT has passed: by then its transaction
has committed or rolled back (a rolled-back transaction's numbers never appear). Applying a change twice is
harmless (the indexer compares versions), so nothing here needs to be exact about what was already read.
Rows are never deleted (one per paper change: some 300,000 a year at arXiv's pace); a pruning that is added
one day must keep the newest row, or SQLite would hand its number out again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select

from paperfeed.store.schema import paper_changes

GAP_WAIT = 600.0  # seconds: far longer than any one import transaction takes to commit
WINDOW = 10_000  # numbers below the newest that may still belong to an open transaction (see `start`)
MAX_GAPS = 10_000  # more missing numbers than this: read everything again (a full index sync) instead


@dataclass
class Cursor:
    seq: int = 0
    gaps: dict[int, float] = field(default_factory=dict)  # missing number -> when first missed (epoch s)

    def dumps(self) -> str:
        return json.dumps({"seq": self.seq, "gaps": {str(k): v for k, v in self.gaps.items()}})

    @classmethod
    def loads(cls, text: str) -> Cursor:
        raw = json.loads(text)
        return cls(int(raw["seq"]), {int(k): float(v) for k, v in raw.get("gaps", {}).items()})


def record(conn: Connection, ids: Iterable[str], now: datetime) -> None:
    """Log these papers as changed, inside the caller's transaction (with the change itself)."""
    rows = [{"paper_id": pid, "changed_at": now} for pid in dict.fromkeys(ids)]
    if rows:
        conn.execute(insert(paper_changes), rows)


def start(engine: Engine, clock: Callable[[], float] = time.time) -> Cursor:
    """A cursor for an index about to be brought up to date by comparing every paper (a full sync): taken
    before that comparison, so what commits during it is read again afterwards; numbers near the newest that
    are not visible yet may be open transactions, and are gaps."""
    with engine.connect() as conn:
        newest = conn.scalar(select(func.max(paper_changes.c.seq))) or 0
        seen = set(conn.scalars(select(paper_changes.c.seq).where(paper_changes.c.seq > newest - WINDOW)))
    now = clock()
    return Cursor(newest, {s: now for s in range(max(1, newest - WINDOW + 1), newest) if s not in seen})


def read(
    engine: Engine, cursor: Cursor, limit: int, clock: Callable[[], float] = time.time
) -> tuple[list[str], Cursor] | None:
    """(papers changed since the cursor, the cursor after them); None when there are more than `limit`
    changes or too many gaps to follow one by one: then a full sync is cheaper (and `start` a new cursor)."""
    seq, pid = paper_changes.c.seq, paper_changes.c.paper_id
    with engine.connect() as conn:
        rows = conn.execute(select(seq, pid).where(seq > cursor.seq).order_by(seq).limit(limit + 1)).all()
        gaps = sorted(cursor.gaps)
        for i in range(0, len(gaps), 500):
            rows += conn.execute(select(seq, pid).where(seq.in_(gaps[i : i + 500]))).all()
    if len(rows) > limit:
        return None
    top = max([cursor.seq, *(s for s, _ in rows)])
    seen = {s for s, _ in rows}
    now = clock()
    if top - cursor.seq > MAX_GAPS + limit:
        return None  # numbers skipped by the thousand (a huge rolled-back import): not worth following
    left = {s: t for s, t in cursor.gaps.items() if s not in seen and now - t < GAP_WAIT}
    left.update({s: now for s in range(cursor.seq + 1, top) if s not in seen})
    if len(left) > MAX_GAPS:
        return None
    return list(dict.fromkeys(p for _, p in sorted(rows))), Cursor(top, left)
