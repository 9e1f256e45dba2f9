import subprocess
import sys
from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from paperfeed.models import Paper, Rejected, title_id
from paperfeed.store import queries as q
from paperfeed.store.db import HEAD, alembic_config, version
from paperfeed.store.schema import external_signals, metadata, paper_categories, paper_sources, papers
from tests.support.builders import make, run


def row(engine, pid):
    with engine.connect() as conn:
        return conn.execute(select(papers).where(papers.c.id == pid)).mappings().one()


def test_migrations_create_exactly_the_schema(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_head_is_alembics_newest_migration(engine):
    assert ScriptDirectory.from_config(alembic_config(engine)).get_current_head() == HEAD == version(engine)


def test_a_start_on_a_current_store_does_not_load_alembic(engine):
    """Every command starts with init_db: on a store at HEAD it is one SELECT, not alembic and its scripts."""
    check = (
        "import sys; from paperfeed.store import init_db, make_engine; "
        f"init_db(make_engine({engine.url.render_as_string(hide_password=False)!r})); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


@pytest.mark.sqlite_only("the SQLite file's own settings")
def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_reimport_changes_nothing(engine):
    items = [make(), make("2501.00002", title="Other")]
    first = run(engine, items)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = run(engine, [make(), make("2501.00002", title="Other")])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    assert row(engine, "2501.00001")["authors"] == ["Ada Lovelace", "Alan Turing"]
    with engine.connect() as conn:
        cats = conn.execute(select(paper_categories.c.category).where(paper_categories.c.paper_id == "2501.00001"))
        assert sorted(c for (c,) in cats) == ["cs.AI", "cs.LG"]


def test_newer_version_updates_and_older_never_overwrites(engine):
    run(engine, [make(version=2, title="Title v2", updated=datetime(2025, 2, 1))])
    older = run(engine, [make(version=1, title="Title v1", updated=datetime(2025, 1, 1), doi="10.1/x")])
    # The older record only fills what was missing (the DOI); the title stays v2's.
    assert older.updated == 1
    r = row(engine, "2501.00001")
    assert (r["title"], r["version"], r["doi"]) == ("Title v2", 2, "10.1/x")
    newer = run(engine, [make(version=3, title="Title v3", categories=["cs.CL"], updated=datetime(2025, 3, 1))])
    assert newer.updated == 1
    r = row(engine, "2501.00001")
    assert (r["title"], r["version"], r["primary_category"]) == ("Title v3", 3, "cs.CL")
    assert r["updated"] == datetime(2025, 3, 1)
    with engine.connect() as conn:
        cats = conn.execute(select(paper_categories.c.category).where(paper_categories.c.paper_id == "2501.00001"))
        assert [c for (c,) in cats] == ["cs.CL"]


def test_listed_date_keeps_the_first_day(engine):
    run(engine, [make(listed_date=date(2025, 1, 5))])
    run(engine, [make(listed_date=date(2025, 1, 3))])
    run(engine, [make(listed_date=date(2025, 1, 9))])
    assert row(engine, "2501.00001")["listed_date"] == date(2025, 1, 3)


def test_duplicates_within_one_batch_count_once(engine):
    counts = run(engine, [make(version=1), make(version=2, title="v2"), make(version=1)])
    assert counts.new == 1
    assert row(engine, "2501.00001")["title"] == "v2"


def test_rejected_records_are_counted_and_the_rest_kept(engine):
    counts = run(engine, [make(), Rejected("f.jsonl:2", "invalid JSON"), make("2501.00003")])
    assert (counts.new, counts.rejected) == (2, 1)
    assert counts.errors == ["f.jsonl:2: invalid JSON"]


def test_idless_paper_matches_by_title_then_is_rekeyed_by_its_arxiv_record(engine):
    run(engine, [make(title="Known Paper: A Title")])
    page = [
        Paper(title="known paper — a title", abstract="x", source="hf-page", source_ref="p.txt:11"),
        Paper(title="Unknown Paper", abstract="Only on the page.", source="hf-page", source_ref="p.txt:15"),
    ]
    counts = run(engine, page)
    assert (counts.new, counts.updated) == (1, 1)  # matched one gains a source; one created
    tid = title_id("Unknown Paper")
    assert row(engine, tid)["abstract"] == "Only on the page."
    assert run(engine, page).unchanged == 2
    # The arXiv record of the page-only paper arrives: same paper, now under its arXiv id.
    counts = run(engine, [make("2502.00009", title="Unknown paper", abstract="Full abstract.")])
    assert counts.updated == 1 and counts.new == 0
    with engine.connect() as conn:
        assert conn.execute(select(papers.c.id).where(papers.c.id == tid)).first() is None
        sources = conn.execute(select(paper_sources.c.source).where(paper_sources.c.paper_id == "2502.00009"))
        assert sorted(s for (s,) in sources) == ["hf-page", "test"]


def test_external_signals_are_stored_apart_and_updated(engine):
    run(engine, [make(signals={"upvotes": 10, "submitted_on": "2025-01-02"})])
    assert run(engine, [make(signals={"upvotes": 10, "submitted_on": "2025-01-02"})]).unchanged == 1
    assert run(engine, [make(signals={"upvotes": 12, "submitted_on": "2025-01-02"})]).updated == 1
    with engine.connect() as conn:
        rows = conn.execute(select(external_signals.c.name, external_signals.c.value_num)).all()
    assert dict(rows) == {"upvotes": 12.0, "submitted_on": None}


def test_batches_are_committed_and_runs_recorded(engine):
    counts = run(engine, [make(f"2501.{i:05d}") for i in range(1, 26)], batch_size=10)
    assert counts.new == 25
    assert q.count_papers(engine) == 25
    with engine.connect() as conn:
        s = q.stats(conn)
    assert s["recent_runs"][0]["status"] == "done"
    assert s["recent_runs"][0]["new"] == 25
    assert s["per_source"] == [("test", 25)]
