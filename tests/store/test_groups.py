"""Groups in the store: joins at once against a one-use invite and the member cap, the last owner, and whose
upvotes and saves count as the group's picks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from paperfeed.clock import utcnow
from paperfeed.store import groups, marks
from paperfeed.store.accounts import AccountError, create_user
from paperfeed.store.schema import group_members
from tests.support.builders import make, run

PASSWORD = "correct horse battery"


def people(engine, n: int) -> list:
    return [create_user(engine, f"user{i}", PASSWORD) for i in range(n)]


def attempt_all(engine, users, *tokens: str) -> list[str]:
    def attempt(n: int) -> str:
        try:
            groups.join(engine, users[n], tokens[n % len(tokens)])
            return "in"
        except AccountError:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(attempt, range(len(users))))


def member_count(engine, group_id: int) -> int:
    with engine.connect() as conn:
        return len(groups.members(conn, group_id))


def test_a_one_use_invite_admits_one_of_many_at_once(engine):
    owner, *others = people(engine, 9)
    lab = groups.create(engine, owner, "Lab")
    outcomes = attempt_all(engine, others, groups.invite(engine, owner, lab, uses=1))
    assert outcomes.count("in") == 1 and member_count(engine, lab) == 2


def test_joins_at_once_stop_at_the_member_cap(engine, monkeypatch):
    monkeypatch.setattr(groups, "MAX_MEMBERS", 4)
    owner, *others = people(engine, 13)
    lab = groups.create(engine, owner, "Lab")
    # Through several invites: one invite's row lock alone would already put its joins in a queue.
    tokens = [groups.invite(engine, owner, lab, uses=100) for _ in range(6)]
    outcomes = attempt_all(engine, others, *tokens)
    assert outcomes.count("in") == 3 and member_count(engine, lab) == 4


def test_the_last_owner_hands_over_or_the_group_goes(engine):
    ada, bob = people(engine, 2)
    lab = groups.create(engine, ada, "Lab")
    groups.join(engine, bob, groups.invite(engine, ada, lab))
    with pytest.raises(AccountError, match="the last owner cannot leave"):
        groups.leave(engine, ada, lab)
    with pytest.raises(AccountError, match="at least one owner"):
        groups.set_role(engine, ada, lab, ada.id, "member")
    groups.leave(engine, bob, lab)
    groups.leave(engine, ada, lab)  # alone: the group goes with her
    with engine.connect() as conn:
        assert groups.readable(conn, lab, ada) is None and groups.of_user(conn, ada) == []


def test_picks_are_what_sharing_members_did_while_members(engine):
    day = date(2025, 1, 2)
    ids = [f"2501.0000{i}" for i in range(1, 5)]
    run(engine, [make(i, listed_date=day) for i in ids])
    ada, bob, cy = people(engine, 3)
    marks.set_upvote(engine, bob, ids[0], True)  # before bob joined: his own business
    lab = groups.create(engine, ada, "Lab")
    for who in (bob, cy):
        groups.join(engine, who, groups.invite(engine, ada, lab))
    with engine.begin() as conn:  # bob's earlier upvote was before he joined
        conn.execute(update(group_members).where(group_members.c.user_id == bob.id).values(joined_at=utcnow()))
    marks.set_upvote(engine, bob, ids[1], True)
    marks.save_paper(engine, ada, ids[1], ["x"])
    marks.save_paper(engine, cy, ids[2], [])
    groups.set_sharing(engine, cy, lab, False)
    marks.set_upvote(engine, cy, ids[3], True)
    with engine.connect() as conn:
        picks = groups.picks(conn, lab, utcnow() - timedelta(days=7))
        assert [(p["paper_id"], p["members"], p["by"]) for p in picks] == [(ids[1], 2, ["user0", "user1"])]
        assert groups.picked_ids(conn, lab) == {ids[1]}
        assert [p["paper_id"] for p in groups.picks(conn, lab, utcnow() - timedelta(days=7), but=ada.id)] == [ids[1]]
