"""A serving node follows the store's change log (issue #12): what another process or node imports or
changes is applied to this node's indexes without comparing every paper."""

from dataclasses import replace

from paperfeed.search.indexer import CURSOR, follow, index_dir, load_cursor, sync
from paperfeed.store.importer import Importer
from tests.support.builders import make

NEW = make(
    "2612.00001",
    title="Tidal locking of exomoons around rogue planets",
    abstract="We simulate the orbital evolution of moons bound to free-floating planets and find tidal locking "
    "within a few million years for most configurations.",
    categories=["astro-ph.EP"],
)


def test_an_import_elsewhere_is_searchable_after_one_follow(service, engine, data_dir, encoder):
    assert load_cursor(index_dir(data_dir)) is not None  # the full sync that built the index left one
    Importer(engine).run([NEW], "test", "another node")
    found = service.search("tidal locking exomoons rogue planets", mode="lexical").hits
    assert NEW.id not in [h.id for h in found]
    report = follow(engine, data_dir, encoder)
    assert (report.added, report.embedded) == (1, 1)
    for mode in ("lexical", "dense", "hybrid"):
        assert service.search("tidal locking exomoons rogue planets", mode=mode).hits[0].id == NEW.id, mode
    again = follow(engine, data_dir, encoder)
    assert (again.added, again.updated, again.embedded) == (0, 0, 0)


def test_a_changed_paper_is_embedded_again(service, engine, data_dir, encoder):
    Importer(engine).run([replace(NEW, version=1)], "test", "another node")
    follow(engine, data_dir, encoder)
    revised = replace(NEW, version=2, title="Rogue planets keep their moons tidally locked")
    Importer(engine).run([revised], "test", "another node")
    report = follow(engine, data_dir, encoder)
    assert (report.updated, report.embedded) == (1, 1)
    assert service.search("rogue planets keep moons tidally locked", mode="lexical").hits[0].id == NEW.id


def test_no_cursor_or_a_long_log_asks_for_a_full_sync(data_dir, engine, encoder):
    Importer(engine).run([NEW, replace(NEW, id="2612.00002", title="Another new one")], "test", "elsewhere")
    assert follow(engine, data_dir, encoder, limit=1) is None  # two changes: `paperfeed index` does it
    (index_dir(data_dir) / CURSOR).unlink()
    assert follow(engine, data_dir, encoder) is None
    report = sync(engine, data_dir, encoder)
    assert report.added == 2 and load_cursor(index_dir(data_dir)) is not None
    assert follow(engine, data_dir, encoder).added == 0
