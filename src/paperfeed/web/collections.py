"""Collections: share a library tag (title, description, order, a note per paper; private, unlisted or
public), its page and feed, the public list, and copying one into your library."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request

from paperfeed.store import collections as shelf
from paperfeed.store import marks
from paperfeed.store.accounts import AccountError, User
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, login_first, signed_in, to
from paperfeed.web.context import Context
from paperfeed.web.feeds import Format, feed_response
from paperfeed.web.library_pages import render_library

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["collections"])
Secret = Annotated[str, Form(max_length=100)]
CollectionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def tag_url(tag: str) -> str:
    return f"/library/{tag}"


def page_url(c: dict) -> str:
    return f"/collections/s/{c['secret']}" if c["visibility"] == "unlisted" else f"/collections/{c['id']}"


def load(c: Context, user: User | None, collection_id: int | None = None, secret: str | None = None) -> dict:
    with c.engine.connect() as conn:
        found = shelf.readable(conn, collection_id, secret, user)
    if found is None:
        raise HTTPException(404, "no such collection (or it is private)")
    return found


def with_papers(c: Context, found: dict, user: User | None) -> list[dict]:
    with c.engine.connect() as conn:
        listed = shelf.papers(conn, found)
        loaded = {p["id"]: p for p in present.load_visible(conn, [pid for pid, _ in listed], user)}
    return [loaded[pid] | {"collection_note": note} for pid, note in listed if pid in loaded]


# -- the owner: share a tag ------------------------------------------------------------------------------
@router.post("/library/{tag}/collection")
def share_form(
    request: Request,
    tag: str,
    csrf_token: Csrf = "",
    title: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=shelf.MAX_DESCRIPTION + 1000)] = "",
    visibility: Annotated[str, Form(pattern=r"^(private|unlisted|public|group:\d{1,10})$")] = "private",
    action: Annotated[str, Form(pattern="^(share|remove)$")] = "share",
):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    if action == "remove":
        shelf.unshare(c.engine, user, tag)
        return to(tag_url(tag))
    kind, _, group = visibility.partition(":")
    if group and not 0 < int(group) < 2**31:
        raise HTTPException(422, f"visibility: no group {group}")
    try:
        shelf.share(c.engine, user, tag, title, description, kind, int(group) if group else None)
    except AccountError as exc:
        form = {"error": str(exc), "title": title, "description": description, "visibility": kind, "group_id": group}
        return render_library(request, user, tag, 422, share_form=form)
    return to(tag_url(tag) + "#collection")


@router.post("/library/{tag}/collection/arrange")
async def arrange_form(request: Request, tag: str):
    """The order and notes of the collection's papers: one `paper`, `position` and `note` field per paper."""
    c = ctx(request)
    form = await request.form(max_files=0, max_fields=3 * 2000 + 10)
    c.check_csrf(request, str(form.get("csrf_token", "")))
    user = c.user(request)
    if user is None:
        return login_first(request)
    papers, positions, notes = (form.getlist(k) for k in ("paper", "position", "note"))
    if not len(papers) == len(positions) == len(notes):
        raise HTTPException(422, "each paper needs its position and note fields")
    entries = []
    for pid, pos, note in zip(papers, positions, notes, strict=True):
        pos = str(pos).strip()
        if pos and not (pos.isdigit() and len(pos) < 6):
            raise HTTPException(422, f"a position is a whole number from 1, not {pos[:10]!r}")
        entries.append((str(pid), int(pos) if pos else None, str(note)))
    try:
        await c.run_limited(shelf.arrange, c.engine, user, tag, entries)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(tag_url(tag) + "#collection")


# -- readers ----------------------------------------------------------------------------------------------
@router.get("/collections")
def public_page(request: Request):
    c = ctx(request)
    with c.engine.connect() as conn:
        listed = shelf.public_list(conn)
    return c.render(request, "collections.html", listed=listed)


@router.get("/collections/{collection_id:int}")
def collection_page(request: Request, collection_id: CollectionId):
    c = ctx(request)
    user = c.user(request)
    return render(c, request, load(c, user, collection_id=collection_id), user)


@router.get("/collections/s/{secret}")
def secret_page(request: Request, secret: str):
    c = ctx(request)
    user = c.user(request)
    return render(c, request, load(c, user, secret=secret[:100]), user)


def render(c: Context, request: Request, found: dict, user: User | None, **extra):
    papers = with_papers(c, found, user)
    return c.render(request, "collection.html", col=found, papers=papers, page_url=page_url(found), **extra)


@router.post("/collections/{collection_id:int}/copy")
def copy_form(
    request: Request,
    collection_id: CollectionId,
    csrf_token: Csrf = "",
    secret: Secret = "",
    tag: Annotated[str, Form(max_length=100)] = "",
):
    """Copy the collection's papers into your library under a tag (the collection's, unless you name one)."""
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    found = load(c, user, secret=secret) if secret else load(c, user, collection_id=collection_id)
    if found["id"] != collection_id:
        raise HTTPException(404, "no such collection (or it is private)")
    try:
        [wanted] = marks.clean_tags(tag.strip() or found["tag"]) or [found["tag"]]
    except (AccountError, ValueError) as exc:
        raise HTTPException(422, f"one tag, please: {exc}") from exc
    ids = [p["id"] for p in with_papers(c, found, user)]
    added = shelf.copy_into(c.engine, user, found, ids, wanted)
    return to(f"/library/{wanted}?copied={added}")


@router.get("/feeds/collection/{collection_id:int}.xml")
def public_feed(request: Request, collection_id: CollectionId, format: Format = "rss"):
    c = ctx(request)
    found = load(c, None, collection_id=collection_id)
    return feed_response(request, found["title"], page_url(found), with_papers(c, found, None)[:50], format)


@router.get("/feeds/collection/s/{secret}.xml")
def secret_feed(request: Request, secret: str, format: Format = "rss"):
    c = ctx(request)
    found = load(c, None, secret=secret[:100])
    return feed_response(request, found["title"], page_url(found), with_papers(c, found, None)[:50], format)


# -- JSON ---------------------------------------------------------------------------------------------------
@api.get("/collections/{collection_id}", summary="A public collection (or one of yours): title, papers in order")
def collection_json(request: Request, collection_id: CollectionId):
    c = ctx(request)
    user = c.api_user(request)
    found = load(c, user, collection_id=collection_id)
    base = c.settings.base_url.rstrip("/")
    return {
        "id": found["id"],
        "title": found["title"],
        "description": found["description"],
        "owner": found["owner"],
        "visibility": found["visibility"],
        "url": base + page_url(found),
        "papers": [
            {"paper": present.paper_json(p, base), "noteHtml": p["collection_note"] or None}
            for p in with_papers(c, found, user)
        ],
    }
