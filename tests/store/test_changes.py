"""The papers' change log (issue #12): what writers record, and how a reader follows it without missing a
change committed out of order or reading one for ever."""

from datetime import datetime

from sqlalchemy import insert, select

from paperfeed.store import changes
from paperfeed.store.changes import Cursor
from paperfeed.store.schema import paper_changes
from tests.support.builders import make, run

NOW = datetime(2026, 12, 1)


def logged(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(paper_changes.c.paper_id).order_by(paper_changes.c.seq)))


def put(engine, *seqs: int) -> None:
    """Log rows with chosen numbers: what a reader sees while another transaction holds the numbers between."""
    with engine.begin() as conn:
        conn.execute(insert(paper_changes), [{"seq": s, "paper_id": f"p{s}", "changed_at": NOW} for s in seqs])


def test_imports_log_new_changed_and_rekeyed_papers_and_nothing_else(engine):
    run(engine, [make("2501.00001"), make("2501.00002", title="Another")])
    assert logged(engine) == ["2501.00001", "2501.00002"]
    run(engine, [make("2501.00001"), make("2501.00002", title="Another")])  # the same again: no change
    assert len(logged(engine)) == 2
    run(engine, [make("2501.00002", title="Another, revised", version=2)])
    assert logged(engine)[2:] == ["2501.00002"]
    page = make(None, title="Seen on a page first", source="hf-page")
    run(engine, [page])
    title_key = logged(engine)[-1]
    assert title_key.startswith("t-")
    run(engine, [make("2501.00003", title="Seen on a page first")])  # its arXiv record re-keys it
    assert set(logged(engine)[-2:]) == {title_key, "2501.00003"}


def test_a_reader_gets_each_change_and_moves_on(engine):
    put(engine, 1, 2, 3)
    ids, cursor = changes.read(engine, Cursor(), limit=100)
    assert ids == ["p1", "p2", "p3"] and cursor == Cursor(3, {})
    assert changes.read(engine, cursor, limit=100) == ([], cursor)


def test_a_number_committed_late_is_still_read(engine):
    """Number 2 is taken by a transaction still open while 3 commits: the reader passes 3 but keeps looking
    for 2, and reads it once it commits."""
    put(engine, 1, 3)
    ids, cursor = changes.read(engine, Cursor(), limit=100, clock=lambda: 1000.0)
    assert ids == ["p1", "p3"] and cursor.seq == 3 and set(cursor.gaps) == {2}
    put(engine, 2, 4)
    ids, cursor = changes.read(engine, cursor, limit=100, clock=lambda: 1001.0)
    assert ids == ["p2", "p4"] and cursor == Cursor(4, {})


def test_a_number_that_never_commits_is_given_up_after_a_while(engine):
    put(engine, 1, 3)
    _, cursor = changes.read(engine, Cursor(), limit=100, clock=lambda: 1000.0)
    _, cursor = changes.read(engine, cursor, limit=100, clock=lambda: 1000.0 + changes.GAP_WAIT - 1)
    assert set(cursor.gaps) == {2}
    _, cursor = changes.read(engine, cursor, limit=100, clock=lambda: 1000.0 + changes.GAP_WAIT + 1)
    assert cursor == Cursor(3, {})


def test_too_many_changes_ask_for_a_full_sync(engine):
    put(engine, *range(1, 12))
    assert changes.read(engine, Cursor(), limit=10) is None
    assert changes.read(engine, Cursor(1), limit=10) is not None


def test_a_full_sync_starts_at_the_newest_and_watches_the_numbers_just_below(engine):
    put(engine, 1, 2, 5)
    cursor = changes.start(engine, clock=lambda: 7.0)
    assert cursor == Cursor(5, {3: 7.0, 4: 7.0})
    assert Cursor.loads(cursor.dumps()) == cursor
