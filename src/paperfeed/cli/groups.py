"""`paperfeed group`: a lab's or reading group's picks, members and invite links from the shell, as one of its
members (what the web shows that member, and nothing of groups they are not in)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer

from paperfeed.cli.common import _engine, _user_named, app, fail, out
from paperfeed.clock import utcnow
from paperfeed.config import get_settings
from paperfeed.store import group_activity, groups
from paperfeed.store.accounts import AccountError
from paperfeed.store.listing import load_papers

group_app = typer.Typer(help="Groups (labs, reading groups): list, start, invite, show the week's picks.")
app.add_typer(group_app, name="group")
As = Annotated[str, typer.Option("--as", help="The account (a member of the group).")]
GroupId = Annotated[int, typer.Argument(min=1, max=2**31 - 1, help="The group's number (`group list`).")]


@group_app.command("list")
def group_list(username: As) -> None:
    """The groups an account belongs to."""
    engine = _engine()
    with engine.connect() as conn:
        mine = groups.of_user(conn, _user_named(engine, username))
    if not mine:
        out.print(f"{username} is in no group", markup=False)
    for g in mine:
        print(f"{g['id']}\t{g['name']}\t{g['role']}\t{g['members']} members")  # tab-separated, for scripts


@group_app.command("create")
def group_create(name: str, username: As, description: str = "") -> None:
    """Start a group with the account as its owner; prints its id."""
    engine = _engine()
    try:
        group_id = groups.create(engine, _user_named(engine, username), name, description)
    except AccountError as exc:
        fail(str(exc), 1)
    out.print(f"group {group_id}: {name}", markup=False)


@group_app.command("invite")
def group_invite(
    group_id: GroupId,
    username: As,
    days: Annotated[int, typer.Option(help="How long the link works (1-90).")] = 7,
    uses: Annotated[int, typer.Option(help="How many people it admits (1-500).")] = 20,
) -> None:
    """A new invite link (an owner's); print it once, it is not kept."""
    engine = _engine()
    try:
        token = groups.invite(engine, _user_named(engine, username), group_id, days, uses)
    except AccountError as exc:
        fail(str(exc), 1)
    print(get_settings().base_url.rstrip("/") + f"/groups/join/{token}")


@group_app.command("show")
def group_show(
    group_id: GroupId,
    username: As,
    days: Annotated[int, typer.Option(help="Picks of the last N days.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """A group's members and what they picked (upvoted or saved) lately, most members first."""
    engine = _engine()
    user = _user_named(engine, username)
    with engine.connect() as conn:
        found = groups.readable(conn, group_id, user)
        if found is None:
            fail(f"no group {group_id} (or {username} is not a member)", 1)
        members = groups.members(conn, group_id)
        picks = group_activity.picks(conn, group_id, utcnow() - timedelta(days=days))
        titles = {p["id"]: p["title"] for p in load_papers(conn, [r["paper_id"] for r in picks], None)}
    if as_json:
        shown = [{"id": r["paper_id"], "title": titles.get(r["paper_id"], ""), "by": r["by"]} for r in picks]
        info = {"id": group_id, "name": found["name"], "members": [[m["username"], m["role"]] for m in members]}
        print(json.dumps(info | {"picks": shown}, indent=2))
        return
    out.print(f"{found['name']}: " + ", ".join(f"{m['username']} ({m['role']})" for m in members), markup=False)
    if not picks:
        out.print(f"nothing picked in the last {days} days", markup=False)
    for r in picks:
        line = f"{r['paper_id']}\t{titles.get(r['paper_id'], '')[:90]}\t{', '.join(r['by'])}"
        print(line)
