"""The trending score's ordering properties, and the ranking over a real database."""

from datetime import date, datetime

import pytest

from paperfeed.models import Paper
from paperfeed.rank import trending
from paperfeed.rank.trending import Entry, rank, score
from paperfeed.store import accounts, marks
from paperfeed.store.importer import Importer


def test_more_votes_rank_higher_at_the_same_age():
    assert score(5, 0, 10) > score(4, 0, 10) > score(0, 0, 10)


def test_older_ranks_lower_with_the_same_votes():
    assert score(5, 0, 1) > score(5, 0, 24) > score(5, 0, 240)


def test_external_votes_count_like_ours():
    assert score(0, 3, 10) == score(3, 0, 10)
    assert score(1, 2, 10) > score(1, 1, 10)


def test_decay_outweighs_votes_in_time():
    # A day-old paper with 10 votes loses to a fresh one with 3 after enough hours pass...
    assert score(10, 0, 24) < score(3, 0, 2)
    # ...but not at the same age gap with many more votes.
    assert score(200, 0, 24) > score(3, 0, 2)


def test_score_is_finite_for_brand_new_and_future_papers():
    assert score(0, 0, 0) == pytest.approx(1 / 2**1.8)
    assert score(0, 0, -5) == score(0, 0, 0)  # a clock skew does not blow up


def test_rank_breaks_ties_newest_first_and_sorts_new():
    items = [
        Entry("2503.00001", date(2025, 3, 1), 0, 0),
        Entry("2503.00003", date(2025, 3, 2), 0, 0),
        Entry("2503.00002", date(2025, 3, 2), 0, 0),
        Entry("2503.00009", date(2025, 3, 1), 4, 0),
    ]
    now = trending.end_of(date(2025, 3, 2))
    assert [e.id for e in rank(items, now)] == ["2503.00009", "2503.00003", "2503.00002", "2503.00001"]
    assert [e.id for e in rank(items, now, "new")] == ["2503.00003", "2503.00002", "2503.00009", "2503.00001"]
    with pytest.raises(ValueError, match="sort must be one of"):
        rank(items, now, "best")


def test_trending_over_the_store_uses_votes_signals_and_hidden(engine):
    papers = [
        Paper(
            id=f"2503.0000{i}",
            title=f"Paper {i}",
            abstract="x",
            source="t",
            source_ref="t",
            listed_date=date(2025, 3, d),
            categories=["cs.LG"],
        )
        for i, d in ((1, 3), (2, 4), (3, 5), (4, 6))
    ]
    papers[0].signals = {"upvotes": 40}  # a Hugging Face favourite from the oldest day
    Importer(engine).run(papers, "t", "t")
    user = accounts.create_user(engine, "alice", "long enough password")
    marks.set_upvote(engine, user, "2503.00002", True)
    with engine.connect() as conn:
        top = trending.trending(conn, days=3)
    # Only the last three listing days (the HF favourite is outside); one vote is not enough to pass
    # a paper a day newer, two are: 2/(72+2)^1.8 < 1/(48+2)^1.8 < 3/(72+2)^1.8.
    assert [e.id for e in top] == ["2503.00004", "2503.00003", "2503.00002"]
    marks.set_upvote(engine, accounts.create_user(engine, "bob", "long enough password"), "2503.00002", True)
    with engine.connect() as conn:
        assert [e.id for e in trending.trending(conn, days=3)] == ["2503.00004", "2503.00002", "2503.00003"]
    with engine.connect() as conn:
        wide = trending.trending(conn, days=4)
    assert wide[0].id == "2503.00001" and wide[0].external == 40
    marks.set_hidden(engine, user, "2503.00001", True)
    with engine.connect() as conn:
        assert "2503.00001" not in {e.id for e in trending.trending(conn, days=4)}
    assert datetime(2025, 3, 7) == trending.end_of(date(2025, 3, 6))
