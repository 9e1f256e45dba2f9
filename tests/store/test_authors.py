"""Authors in the store: the importer keeps each paper's author rows in step (new, changed, re-keyed), the
migration fills them for papers stored before it, following feeds the digest's query, and the name key folds
what it should on the real corpus's names and nothing more."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
from alembic import command
from sqlalchemy import delete, select

from paperfeed.ingest import arxiv_snapshot
from paperfeed.models import Paper, author_key, title_id
from paperfeed.store import authors, marks, threads
from paperfeed.store import discussions as talk
from paperfeed.store.accounts import create_user
from paperfeed.store.db import alembic_config
from paperfeed.store.schema import paper_authors
from tests.conftest import shared
from tests.support.builders import make, run


def rows(engine, pid: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(paper_authors.c.name, paper_authors.c.key)
            .where(paper_authors.c.paper_id == pid)
            .order_by(paper_authors.c.position)
        )
        return [tuple(r) for r in found]


def test_the_importer_keeps_author_rows_in_step(engine):
    run(engine, [make("2501.00001", authors=["José García-López", "Ada Lovelace"], version=1)])
    assert rows(engine, "2501.00001") == [("José García-López", "jose garcia lopez"), ("Ada Lovelace", "ada lovelace")]
    newer = make("2501.00001", authors=["Ada Lovelace", "Alan Turing", "---"], version=2)  # a new version's list
    run(engine, [newer])
    assert rows(engine, "2501.00001") == [("Ada Lovelace", "ada lovelace"), ("Alan Turing", "alan turing")]
    # A paper first known by its title moves to its arXiv id with its authors.
    run(
        engine, [Paper(title="Only a Page", abstract="x", authors=["Grace Hopper"], source="hf-page", source_ref="p:1")]
    )
    tid = title_id("Only a Page")
    assert rows(engine, tid) == [("Grace Hopper", "grace hopper")]
    # What readers did with it moves too: a discussion, a save with a note.
    ada = create_user(engine, "ada", "correct horse battery")
    talk.post(engine, ada, tid, "Is there a preprint?", None, talk.Limits())
    marks.save_paper(engine, ada, tid, ["later"])
    marks.set_note(engine, ada, tid, "check the arXiv version")
    run(engine, [make("2501.00002", title="Only a page", authors=["Grace Hopper"])])
    assert rows(engine, tid) == [] and rows(engine, "2501.00002") == [("Grace Hopper", "grace hopper")]
    with engine.connect() as conn:
        assert [c["body"] for c in threads.thread(conn, "2501.00002", None)] == ["Is there a preprint?"]
        saved = [(p["id"], p["tags"], p["note"]) for p in marks.library_of(conn, ada)]
        assert saved == [("2501.00002", ["later"], "check the arXiv version")]


def test_the_migration_fills_author_rows_for_stored_papers(engine):
    run(
        engine, [make("2501.00001", authors=["Ada Lovelace"]), make("2501.00002", authors=["Émile Borel", "A. Turing"])]
    )
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        conn.execute(delete(paper_authors))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
        command.upgrade(cfg, "head")
    assert rows(engine, "2501.00002") == [("Émile Borel", "emile borel"), ("A. Turing", "a turing")]
    assert rows(engine, "2501.00001") == [("Ada Lovelace", "ada lovelace")]


def test_followed_authors_new_papers(engine):
    run(
        engine,
        [
            make("2501.00001", authors=["Ada Lovelace"], listed_date=date(2025, 1, 2)),
            make("2501.00002", authors=["ada  LOVELACE", "Bob Ross"], listed_date=date(2025, 1, 3)),
            make("2501.00003", authors=["Bob Ross"], listed_date=date(2025, 1, 3)),
        ],
    )
    alice = create_user(engine, "alice", "correct horse battery")
    authors.follow(engine, alice, "Ada Lovelace")
    authors.follow(engine, alice, "Ada Lovelace")  # twice: still one
    with engine.connect() as conn:
        keys = authors.followed_keys(conn, alice.id)
        assert keys == ["ada lovelace"]
        assert authors.new_papers(conn, keys, date(2025, 1, 1), date(2025, 1, 3)) == ["2501.00002", "2501.00001"]
        assert authors.new_papers(conn, keys, date(2025, 1, 3), date(2025, 1, 3)) == ["2501.00002"]
        assert authors.most_prolific(conn) in (("ada lovelace", 2), ("bob ross", 2))
    authors.follow(engine, alice, "ada lovelace", on=False)
    with engine.connect() as conn:
        assert authors.followed_keys(conn, alice.id) == []


@pytest.mark.slow  # reads the whole corpus: make test runs it, make test-fast leaves it out
def test_the_name_key_on_the_real_corpus():
    """67,802 arXiv papers: folding case, accents, punctuation and spacing merges 3,333 written forms into 1,652
    names; initials stay apart (say so in docs/discussions.md and the author page)."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for path in sorted(shared("corpus", "arxiv-listings").glob("*.jsonl.gz")):
        for paper in arxiv_snapshot.read(path):
            if isinstance(paper, Paper):
                for name in paper.authors:
                    forms[author_key(name)][name] += 1
    merged = {k: c for k, c in forms.items() if len(c) > 1}
    assert (len(merged), sum(len(c) for c in merged.values())) == (1652, 3333)
    # Checked by hand: one person each.
    assert set(forms["emmanuel candes"]) == {"Emmanuel Candes", "Emmanuel Candès"}
    assert set(forms["hung yi lee"]) == {"Hung-yi Lee", "Hung-Yi Lee"}
    assert set(forms["kevin w bowyer"]) == {"Kevin W. Bowyer", "Kevin W Bowyer"}
    assert set(forms["jordi armengol estape"]) == {
        "Jordi Armengol Estapé",
        "Jordi Armengol-Estape",
        "Jordi Armengol Estape",
    }
    # Initials are not expanded: "J. Smith" never joins "John Smith".
    assert author_key("Kevin W. Bowyer") != author_key("Kevin Bowyer") and author_key("J. Smith") != author_key(
        "John Smith"
    )


def test_the_teams_for_you_counts_co_authors_over(engine):
    """store.taste.teams_with: every stored paper up to a day that lists one of the keys, with all its authors
    (what rank.evidence.Coauthors reads)."""
    from paperfeed.store.taste import teams_with

    run(
        engine,
        [
            make("2501.00001", authors=["Ada Lovelace", "Alan Turing"], listed_date=date(2025, 1, 2)),
            make("2501.00002", authors=["Alan Turing", "Grace Hopper", "Ádá Lovelace"], listed_date=date(2025, 1, 3)),
            make("2501.00003", authors=["Grace Hopper"], listed_date=date(2025, 1, 3)),
            make("2501.00004", authors=["Ada Lovelace", "Kurt Gödel"], listed_date=date(2025, 1, 9)),
        ],
    )
    teams = teams_with(engine, {"ada lovelace"}, date(2025, 1, 3))
    assert sorted(map(sorted, teams)) == [
        ["ada lovelace", "alan turing"],
        ["ada lovelace", "alan turing", "grace hopper"],
    ]
    assert len(teams_with(engine, {"ada lovelace"}, date(2025, 1, 9))) == 3
    assert teams_with(engine, {"nobody"}, date(2025, 1, 9)) == []
