"""The discussion store on SQLite and PostgreSQL: the rate limit holds when one author posts from many
connections at once; edits and deletes name the author in the UPDATE; comment counts and trending."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import pytest

from paperfeed.rank import trending
from paperfeed.store import discussions as talk
from paperfeed.store import threads
from paperfeed.store.accounts import create_user
from tests.support.builders import make, run

PASSWORD = "correct horse battery"


@pytest.fixture
def two_papers(engine):
    day = date(2025, 1, 2)
    run(engine, [make("2501.00001", listed_date=day), make("2501.00002", listed_date=day)])
    return engine


def test_many_posts_at_once_stop_at_the_limit(two_papers):
    ada = create_user(two_papers, "ada", PASSWORD)
    limits = talk.Limits(per_minute=3, per_hour=100)

    def attempt(n: int) -> str:
        try:
            talk.post(two_papers, ada, "2501.00001", f"comment {n}", None, limits)
            return "ok"
        except talk.RateLimited:
            return "limited"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("ok") == 3 and outcomes.count("limited") == 13
    with two_papers.connect() as conn:
        assert threads.counts(conn, ["2501.00001"]) == {"2501.00001": 3}


def test_edit_and_delete_change_only_the_authors_live_comment(two_papers):
    ada = create_user(two_papers, "ada", PASSWORD)
    bob = create_user(two_papers, "bob", PASSWORD)
    cid = talk.post(two_papers, ada, "2501.00001", "v1", None, talk.Limits())
    with pytest.raises(talk.NotFound, match="not yours"):
        talk.edit(two_papers, bob, cid, "bob's")
    with pytest.raises(talk.NotFound, match="not yours"):
        talk.remove(two_papers, bob, cid)
    talk.edit(two_papers, ada, cid, "v2")
    talk.remove(two_papers, ada, cid)
    with pytest.raises(talk.NotFound, match="deleted already"):
        talk.remove(two_papers, ada, cid)
    with two_papers.connect() as conn:
        [shown] = [c for c in threads.thread(conn, "2501.00001", None)] or [None]
        admin_view = threads.thread(conn, "2501.00001", create_user(two_papers, "root", PASSWORD, admin=True))
    assert shown is None  # deleted, without replies: gone from the thread
    assert admin_view == []


def test_admins_see_the_earlier_texts(two_papers):
    ada = create_user(two_papers, "ada", PASSWORD)
    root = create_user(two_papers, "root", PASSWORD, admin=True)
    cid = talk.post(two_papers, ada, "2501.00001", "first", None, talk.Limits())
    talk.post(two_papers, root, "2501.00001", "a reply", cid, talk.Limits())
    talk.edit(two_papers, ada, cid, "second")
    talk.remove(two_papers, ada, cid)
    with two_papers.connect() as conn:
        [top] = threads.thread(conn, "2501.00001", root)
        [mine] = threads.thread(conn, "2501.00001", ada)
    assert [h["body"] for h in top["history"]] == ["first", "second"] and top["status"] == "[deleted]"
    assert "history" not in mine and mine["body"] == "" and len(mine["replies"]) == 1


def test_people_who_discuss_a_paper_lift_it_in_trending(two_papers):
    people = [create_user(two_papers, name, PASSWORD) for name in ("ada", "bob", "cyril")]
    for who in people:
        talk.post(two_papers, who, "2501.00001", "worth a read", None, talk.Limits())
    for _ in range(3):  # one person talking at length counts once
        talk.post(two_papers, people[0], "2501.00002", "me again", None, talk.Limits())
    with two_papers.connect() as conn:
        entries = trending.entries(conn, date(2025, 1, 2), date(2025, 1, 2))
    ranked = trending.rank(entries, datetime(2025, 1, 3))
    assert [(e.id, e.commenters) for e in ranked] == [("2501.00001", 3), ("2501.00002", 1)]
    assert ranked[0].score == pytest.approx(trending.score(0, 0, 24, commenters=3))
    assert trending.score(0, 0, 24, commenters=2) == pytest.approx(trending.score(1, 0, 24))


def test_edits_are_bounded(two_papers, monkeypatch):
    monkeypatch.setattr(talk, "MAX_EDITS", 2)
    ada = create_user(two_papers, "ada", PASSWORD)
    cid = talk.post(two_papers, ada, "2501.00001", "v0", None, talk.Limits())
    talk.edit(two_papers, ada, cid, "v1")
    talk.edit(two_papers, ada, cid, "v2")
    with pytest.raises(talk.DiscussionError, match="edited 2 times"):
        talk.edit(two_papers, ada, cid, "v3")
    with two_papers.connect() as conn:
        assert threads.thread(conn, "2501.00001", ada)[0]["body"] == "v2"  # the refused edit changed nothing


def test_a_deleted_account_leaves_its_comments_without_an_author(two_papers):
    from paperfeed.store.accounts import delete_user

    ada = create_user(two_papers, "ada", PASSWORD)
    bob = create_user(two_papers, "bob", PASSWORD)
    cid = talk.post(two_papers, ada, "2501.00001", "kept", None, talk.Limits())
    talk.post(two_papers, bob, "2501.00001", "thanks @ada", cid, talk.Limits())
    talk.report(two_papers, bob, cid, "test")
    delete_user(two_papers, ada)
    with two_papers.connect() as conn:
        [top] = threads.thread(conn, "2501.00001", None)
        assert (top["author"], top["body"]) == ("[deleted account]", "kept")
        assert top["replies"][0]["author"] == "bob"
    delete_user(two_papers, bob)  # its reports and notifications go with it
    with two_papers.connect() as conn:
        assert threads.reported(conn) == []


def test_edits_cannot_notify_more_people_than_one_comment_may(two_papers):
    from sqlalchemy import func, select

    from paperfeed import markup
    from paperfeed.store.schema import notifications

    ada = create_user(two_papers, "ada", PASSWORD)
    names = [f"reader{n:02d}" for n in range(2 * markup.MAX_MENTIONS)]
    for name in names:
        create_user(two_papers, name, PASSWORD)
    cid = talk.post(two_papers, ada, "2501.00001", "hello", None, talk.Limits())
    for start in range(0, len(names), 5):  # each edit names five new people
        talk.edit(two_papers, ada, cid, " ".join(f"@{n}" for n in names[start : start + 5]))
    with two_papers.connect() as conn:
        sent = conn.execute(select(func.count()).select_from(notifications)).scalar_one()
        [top] = threads.thread(conn, "2501.00001", create_user(two_papers, "root", PASSWORD, admin=True))
    assert sent == markup.MAX_MENTIONS + 1  # at most ten mentions and a reply per comment (without the cap: 20)
    assert [h["body"] for h in top["history"]][0] == "hello" and len(top["history"]) == len(names) // 5
