"""Groups in the store: joins at once against a one-use invite and the member cap, the last owner, and whose
upvotes and saves count as the group's picks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from paperfeed.clock import utcnow
from paperfeed.store import group_activity, groups, marks, schema
from paperfeed.store.accounts import AccountError, create_user
from paperfeed.store.schema import collection_entries, group_members
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
        picks = group_activity.picks(conn, lab, utcnow() - timedelta(days=7))
        assert [(p["paper_id"], p["members"], p["by"]) for p in picks] == [(ids[1], 2, ["user0", "user1"])]
        assert group_activity.picked_ids(conn, lab) == {ids[1]}
        others = group_activity.picks(conn, lab, utcnow() - timedelta(days=7), but=ada.id)
        assert [p["paper_id"] for p in others] == [ids[1]]


def test_the_migration_keeps_every_collections_order_and_notes(engine):
    """Adding collections.group_id copies the table on SQLite, and dropping the old copy cascades: the entries
    must survive the upgrade and the downgrade."""
    from alembic import command

    from paperfeed.store import collections as shelf
    from paperfeed.store.db import alembic_config

    run(engine, [make("2501.00001", listed_date=date(2025, 1, 2))])
    ada = create_user(engine, "ada", PASSWORD)
    marks.save_paper(engine, ada, "2501.00001", ["week1"])
    shelf.share(engine, ada, "week1", "Week 1", "", "public")
    shelf.arrange(engine, ada, "week1", [("2501.00001", 1, "start here")])
    cfg = alembic_config(engine)
    for target in ("0013", "head"):
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if target == "0013" else command.upgrade)(cfg, target)
        with engine.connect() as conn:
            kept = conn.execute(select(collection_entries.c.paper_id, collection_entries.c.note)).all()
        assert kept == [("2501.00001", "start here")], target


def test_removed_members_stay_out_and_their_links_stop(engine):
    ada, bob, cy = people(engine, 3)
    lab = groups.create(engine, ada, "Lab")
    link = groups.invite(engine, ada, lab)
    groups.join(engine, bob, link)
    groups.set_role(engine, ada, lab, bob.id, "owner")
    bobs_link = groups.invite(engine, bob, lab)
    groups.leave(engine, ada, lab, bob.id)  # removed by an owner
    with pytest.raises(AccountError, match="removed you"):
        groups.join(engine, bob, link)
    with pytest.raises(AccountError, match="expired, been used up or been revoked"):
        groups.join(engine, cy, bobs_link)  # a removed owner's links stop
    groups.let_back(engine, ada, lab, bob.id)
    groups.join(engine, bob, link)
    with pytest.raises(AccountError, match="not a member"):
        groups.leave(engine, ada, lab, cy.id)


def test_turning_sharing_back_on_does_not_reveal_what_was_done_meanwhile(engine):
    ids = ["2501.00001", "2501.00002"]
    run(engine, [make(i, listed_date=date(2025, 1, 2)) for i in ids])
    ada, bob = people(engine, 2)
    lab = groups.create(engine, ada, "Lab")
    groups.join(engine, bob, groups.invite(engine, ada, lab))
    groups.set_sharing(engine, bob, lab, False)
    marks.save_paper(engine, bob, ids[0], [])
    groups.set_sharing(engine, bob, lab, True)
    marks.set_upvote(engine, bob, ids[1], True)
    with engine.connect() as conn:
        assert group_activity.picked_ids(conn, lab) == {ids[1]}


def test_a_cleared_note_is_no_longer_shared(engine):
    run(engine, [make("2501.00001", listed_date=date(2025, 1, 2))])
    ada, bob = people(engine, 2)
    lab = groups.create(engine, ada, "Lab")
    groups.join(engine, bob, groups.invite(engine, ada, lab))
    marks.save_paper(engine, bob, "2501.00001", [])
    marks.set_note(engine, bob, "2501.00001", "shared thoughts")
    group_activity.share_note(engine, bob, "2501.00001", lab)
    marks.set_note(engine, bob, "2501.00001", "")
    marks.set_note(engine, bob, "2501.00001", "private second thoughts")
    with engine.connect() as conn:
        assert group_activity.shared_notes(conn, lab) == []


def test_a_deleted_account_hands_its_groups_over(engine):
    from paperfeed.store.accounts import delete_user

    ada, bob, cy = people(engine, 3)
    lab = groups.create(engine, ada, "Lab")
    groups.create(engine, ada, "Solo")
    groups.join(engine, bob, groups.invite(engine, ada, lab))
    groups.join(engine, cy, groups.invite(engine, ada, lab))
    left_behind = groups.invite(engine, ada, lab)
    delete_user(engine, ada)
    dee = create_user(engine, "dee", PASSWORD)
    with pytest.raises(AccountError, match="revoked"):
        groups.join(engine, dee, left_behind)  # her links went with her
    with engine.connect() as conn:
        assert [(m["username"], m["role"]) for m in groups.members(conn, lab)] == [
            ("user1", "owner"),
            ("user2", "member"),
        ]
        assert conn.execute(select(schema.groups.c.id)).scalars().all() == [lab]  # alone in Solo: it went
        assert groups.of_user(conn, cy)[0]["members"] == 2
