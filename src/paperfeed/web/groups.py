"""Groups: a lab's or reading group's page (picks of the week, collections, shared notes, discussion, activity),
invite links, members and roles; the same as JSON. Anyone who is not a member gets 404 on every route."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from paperfeed.clock import utcnow
from paperfeed.store import accounts, group_activity, groups
from paperfeed.store import queries as q
from paperfeed.store.accounts import AccountError, User
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, login_first, need_user, page_user, signed_in, to, visible
from paperfeed.web.context import Context
from paperfeed.web.feeds import Format, feed_response

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["groups"])
GroupId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Token = Annotated[str, Path(min_length=10, max_length=64, pattern=r"^[\w-]+$")]
WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
PICKS_SHOWN = 30  # the group's page: the most picked papers of the period (the API's ?days= reads the same)


def group_url(group_id: int) -> str:
    return f"/groups/{group_id}"


def load(c: Context, group_id: int, user: User | None) -> dict:
    with c.engine.connect() as conn:
        found = groups.readable(conn, group_id, user)
    if found is None:
        raise HTTPException(404, "no such group (or you are not a member)")
    return found


def contents(c: Context, group: dict, user: User, days: int = 7) -> dict:
    """What a member sees on the group's page: picks of the last `days`, collections, shared notes, the
    discussion across papers and the activity."""
    now = utcnow()
    with c.engine.connect() as conn:
        day = q.latest_day(conn) or now.date()
        iso = day.isocalendar()
        picks = group_activity.picks(conn, group["id"], now - timedelta(days=days), PICKS_SHOWN)
        notes = group_activity.shared_notes(conn, group["id"], limit=30)  # the newest, however old
        talk = group_activity.member_comments(conn, group["id"], now - MONTH, 30)
        loaded = {p["id"]: p for p in present.load_visible(conn, [r["paper_id"] for r in picks], user)}
        picked = [loaded[r["paper_id"]] | {"picked_by": r["by"]} for r in picks if r["paper_id"] in loaded]
        return {
            "group": group,
            "picks": picked,
            "days": days,
            "members": groups.members(conn, group["id"]),
            "collections": group_activity.group_collections(conn, group["id"]),
            "notes": with_titles(conn, notes),
            "talk": with_titles(conn, talk),
            "activity": group_activity.activity(conn, group["id"], now - MONTH, 50, notes, talk),
            "invites": groups.invites(conn, group["id"]) if group["role"] == "owner" else [],
            "removed": groups.banned(conn, group["id"]) if group["role"] == "owner" else [],
            "week_key": f"{iso.year}-W{iso.week:02d}",
            "month_key": day.strftime("%Y-%m"),
        }


def with_titles(conn, rows: list[dict]) -> list[dict]:
    papers = {p["id"]: p for p in present.load_visible(conn, list({r["paper_id"] for r in rows}), None)}
    return [r | {"title": papers[r["paper_id"]]["title"]} for r in rows if r["paper_id"] in papers]


def page(request: Request, group_id: int, status: int = 200, days: int = 7, **extra):
    """The group's page for a member (a form's answer: `extra` holds its error or the new invite link)."""
    c, user = page_user(request)
    values = contents(c, load(c, group_id, user), user, days) | extra
    return c.render(request, "group.html", status, **values)


def failed(request: Request, group_id: int, exc: AccountError):
    if isinstance(exc, groups.NotFound):
        raise HTTPException(404, str(exc))
    return page(request, group_id, 422, error=str(exc))


# -- pages ----------------------------------------------------------------------------------------------
@router.get("/groups")
def groups_page(request: Request):
    c, user = page_user(request)
    with c.engine.connect() as conn:
        mine = groups.of_user(conn, user)
    return c.render(request, "groups.html", groups=mine, form={})


@router.post("/groups")
def create_form(
    request: Request,
    csrf_token: Csrf = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=groups.MAX_DESCRIPTION + 1000)] = "",
):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    try:
        group_id = groups.create(c.engine, user, name, description)
    except AccountError as exc:
        with c.engine.connect() as conn:
            mine = groups.of_user(conn, user)
        form = {"error": str(exc), "name": name, "description": description}
        return c.render(request, "groups.html", 422, groups=mine, form=form)
    return to(group_url(group_id))


@router.get("/groups/{group_id:int}")
def group_page(request: Request, group_id: GroupId, days: Annotated[int, Query(ge=1, le=90)] = 7):
    return page(request, group_id, days=days)


@router.post("/groups/{group_id:int}/edit")
def edit_form(
    request: Request,
    group_id: GroupId,
    csrf_token: Csrf = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=groups.MAX_DESCRIPTION + 1000)] = "",
):
    return act(request, group_id, csrf_token, groups.describe, name, description)


def act(request: Request, group_id: int, csrf_token: str, change, *args, then: str = ""):
    """Run one owner's or member's change; back to the group's page, or the page with the error."""
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    try:
        change(c.engine, user, group_id, *args)
    except AccountError as exc:
        return failed(request, group_id, exc)
    return to(then or group_url(group_id))


@router.post("/groups/{group_id:int}/invites")
def invite_form(
    request: Request,
    group_id: GroupId,
    csrf_token: Csrf = "",
    days: Annotated[int, Form(ge=1, le=90)] = 7,
    uses: Annotated[int, Form(ge=1, le=500)] = 20,
):
    """A new invite link, shown once on the page that answers (only its hash is kept)."""
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    try:
        token = groups.invite(c.engine, user, group_id, days, uses)
    except AccountError as exc:
        return failed(request, group_id, exc)
    link = c.settings.base_url.rstrip("/") + f"/groups/join/{token}"
    return page(request, group_id, new_link=link)


@router.post("/groups/{group_id:int}/invites/{invite_id:int}/revoke")
def revoke_form(request: Request, group_id: GroupId, invite_id: RowId, csrf_token: Csrf = ""):
    return act(request, group_id, csrf_token, groups.revoke, invite_id)


@router.post("/groups/{group_id:int}/members/{member_id:int}")
def member_form(
    request: Request,
    group_id: GroupId,
    member_id: RowId,
    csrf_token: Csrf = "",
    action: Annotated[str, Form(pattern="^(remove|owner|member|let-back)$")] = "remove",
):
    """An owner's change to someone: remove (their invite links stop, and no link admits them again until an
    owner lets them back), make owner, make member (their links stop), let back."""
    if action == "remove":
        return act(request, group_id, csrf_token, lambda e, u, g: groups.leave(e, u, g, member_id))
    if action == "let-back":
        return act(request, group_id, csrf_token, groups.let_back, member_id)
    return act(request, group_id, csrf_token, groups.set_role, member_id, action)


@router.post("/groups/{group_id:int}/leave")
def leave_form(request: Request, group_id: GroupId, csrf_token: Csrf = ""):
    return act(request, group_id, csrf_token, groups.leave, then="/groups")


@router.post("/groups/{group_id:int}/delete")
def delete_form(request: Request, group_id: GroupId, csrf_token: Csrf = ""):
    return act(request, group_id, csrf_token, groups.remove_group, then="/groups")


@router.post("/groups/{group_id:int}/sharing")
def sharing_form(request: Request, group_id: GroupId, csrf_token: Csrf = "", on: Annotated[bool, Form()] = True):
    return act(request, group_id, csrf_token, groups.set_sharing, on)


# -- joining by invite ----------------------------------------------------------------------------------
@router.get("/groups/join/{token}")
def join_page(request: Request, token: Token):
    c, _ = page_user(request)
    with c.engine.connect() as conn:
        group = groups.invited_to(conn, token)
    if group is None:
        message = "This invite link has expired, been used up or been revoked; ask for a new one."
        return c.render(request, "notice.html", 404, heading="Invite not valid", text=message)
    return c.render(request, "group_join.html", group=group, token=token)


@router.post("/groups/join/{token}")
def join_form(request: Request, token: Token, csrf_token: Csrf = ""):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    try:
        group_id = groups.join(c.engine, user, token)
    except AccountError as exc:
        return c.render(request, "notice.html", 404, heading="Could not join the group", text=str(exc))
    return to(group_url(group_id))


# -- notes shared with a group (from the paper page) ----------------------------------------------------------
@router.post("/papers/{paper_id:path}/note/share")
def share_note_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
    group: Annotated[int, Form(ge=1, le=2**31 - 1)] = 0,
    on: Annotated[bool, Form()] = True,
):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    paper = visible(c, paper_id, user)
    try:
        group_activity.share_note(c.engine, user, paper["id"], group, on)
    except groups.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(f"/papers/{paper['id']}#note")


# -- a member's feed of the group's picks --------------------------------------------------------------------
@router.get("/feeds/group/{token}.xml")
def picks_feed(request: Request, token: str, group: Annotated[int, Query(ge=1, le=2**31 - 1)], format: Format = "rss"):
    """The group's picks of the last 7 days, read with a member's (revocable) feed token: a feed reader cannot
    sign in. The membership is checked on every read, so a member who leaves or is removed stops getting it."""
    c = ctx(request)
    user = accounts.token_user(c.engine, token[:100], "feed")
    found = load(c, group, user)  # 404 for an unknown token as for a non-member
    with c.engine.connect() as conn:
        picks = group_activity.picks(conn, group, utcnow() - WEEK, PICKS_SHOWN)
        papers = present.load_visible(conn, [r["paper_id"] for r in picks], None)
    return feed_response(request, f"{found['name']}: picked this week", group_url(group), papers, format)


# -- JSON ---------------------------------------------------------------------------------------------------
class NewGroup(BaseModel):
    name: str = Field(min_length=1, max_length=groups.MAX_NAME)
    description: str = Field("", max_length=groups.MAX_DESCRIPTION, description="Markdown")


class Invite(BaseModel):
    token: str = Field(min_length=10, max_length=64, pattern=r"^[\w-]+$", description="the last part of the link")


@api.get("/groups", summary="The groups you belong to")
def groups_json(request: Request):
    c = ctx(request)
    user = need_user(c, request)
    with c.engine.connect() as conn:
        mine = groups.of_user(conn, user)
    base = c.settings.base_url.rstrip("/")
    return [
        {"id": g["id"], "name": g["name"], "role": g["role"], "members": g["members"], "url": base + group_url(g["id"])}
        for g in mine
    ]


@api.get("/groups/{group_id}", summary="A group of yours: members, the week's picks, collections, notes, activity")
def group_json(request: Request, group_id: GroupId, days: Annotated[int, Query(ge=1, le=90)] = 7):
    c = ctx(request)
    user = need_user(c, request)
    found = contents(c, load(c, group_id, user), user, days)
    base = c.settings.base_url.rstrip("/")
    return {
        "id": group_id,
        "name": found["group"]["name"],
        "description": found["group"]["description"],
        "role": found["group"]["role"],
        "members": [{"username": m["username"], "role": m["role"]} for m in found["members"]],
        "picks": [{"paper": present.paper_json(p, base), "pickedBy": p["picked_by"]} for p in found["picks"]],
        "collections": [
            {"id": x["id"], "title": x["title"], "owner": x["owner"], "url": f"{base}/collections/{x['id']}"}
            for x in found["collections"]
        ],
        "sharedNotes": [
            {"paper": n["paper_id"], "title": n["title"], "by": n["username"], "noteHtml": n["note_html"]}
            for n in found["notes"]
        ],
        "activity": [
            {"who": a["username"], "did": a["kind"], "paper": a["paper_id"], "at": a["at"].isoformat() + "Z"}
            for a in found["activity"]
        ],
    }


@api.post("/groups", summary="Start a group (you are its owner)", status_code=201)
def create_json(request: Request, new: NewGroup):
    c = ctx(request)
    user = need_user(c, request, write=True)
    try:
        group_id = groups.create(c.engine, user, new.name, new.description)
    except AccountError as exc:  # shaped like FastAPI's own validation errors
        raise HTTPException(422, [{"loc": ["body", "name"], "msg": str(exc), "type": "value_error"}]) from exc
    return {"id": group_id, "url": c.settings.base_url.rstrip("/") + group_url(group_id)}


@api.post("/groups/join", summary="Join a group with an invite link's token")
def join_json(request: Request, invite: Invite):
    c = ctx(request)
    user = need_user(c, request, write=True)
    try:
        group_id = groups.join(c.engine, user, invite.token)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"id": group_id, "url": c.settings.base_url.rstrip("/") + group_url(group_id)}
