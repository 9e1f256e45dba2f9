"""Papers made up for store tests, and importing them."""

from __future__ import annotations

from datetime import date

from paperfeed.models import Paper
from paperfeed.store.importer import Importer


def make(pid="2501.00001", **kw) -> Paper:
    base = dict(
        id=pid,
        title="A Study of Things",
        abstract="We study things.",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.LG", "cs.AI"],
        listed_date=date(2025, 1, 2),
        source="test",
        source_ref="test:1",
    )
    base.update(kw)
    return Paper(**base)


def run(engine, items, batch_size=2000):
    return Importer(engine, batch_size).run(items, "test", "unit")
