"""Discussions: the thread under a paper (write, reply, edit, delete, report), the admins' queue, the
notifications of replies and mentions, the "Discussed" list, a thread's RSS feed, and the JSON API for them."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paperfeed.clock import utcnow
from paperfeed.models import clean_text
from paperfeed.store import discussions as talk
from paperfeed.store import threads
from paperfeed.store.accounts import User
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, login_first, need_user, page_user, signed_in, to, visible, visible_paper
from paperfeed.web.context import Context
from paperfeed.web.paper import render_paper

router = APIRouter(include_in_schema=False)
FEED_THREADS = 50  # the latest top-level comments (with replies) in a thread's feed
API_THREADS = 100  # top-level comments (with replies) on a page of /api/papers/ID/comments


def comment_url(paper_id: str, comment_id: int) -> str:
    """A comment's link: ?c= opens the page of the discussion that holds it."""
    return f"/papers/{paper_id}?c={comment_id}#c-{comment_id}"


api = APIRouter(prefix="/api", tags=["discussions"])
Body = Annotated[str, Form(max_length=talk.MAX_CHARS + 2000)]  # the store says "at most 10,000" in a sentence
DISCUSSED_DAYS = 30
ID_MAX = 2**31 - 1  # an id past what the database holds is answered 422, not 500
CommentId = Annotated[int, Path(ge=1, le=ID_MAX)]


def limits(c: Context) -> talk.Limits:
    return talk.Limits(c.settings.comments_per_minute, c.settings.comments_per_hour)


def status(exc: talk.DiscussionError) -> int:
    return 404 if isinstance(exc, talk.NotFound) else 429 if isinstance(exc, talk.RateLimited) else 422


def comment_or_404(c: Context, request: Request, comment_id: int, user: User | None) -> dict:
    """The comment, if its paper is one this user may see."""
    with c.engine.connect() as conn:
        found = threads.comment(conn, comment_id)
    if found is None:
        raise HTTPException(404, "no such comment")
    visible(c, found["paper_id"], user)
    return found


# -- the thread on a paper's page -------------------------------------------------------------------------
@router.post("/papers/{paper_id:path}/comments")
def comment_form(
    request: Request,
    paper_id: str,
    body: Body = "",
    reply_to: Annotated[int | None, Form(ge=1, le=ID_MAX)] = None,
    csrf_token: Csrf = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    paper = visible_paper(c, request, paper_id)
    user = c.user(request)
    if user is None:
        return to(f"/login?next=/papers/{paper['id']}%23discussion")
    try:
        new_id = talk.post(c.engine, user, paper["id"], body, reply_to, limits(c))
    except talk.DiscussionError as exc:
        # The text stays in the form it was typed in: nothing is lost to a refusal.
        form = {"error": str(exc), "draft": body, "reply_to": reply_to}
        return render_paper(c, request, paper, status=status(exc), form=form)
    return to(comment_url(paper["id"], new_id))


@router.post("/comments/{comment_id}/edit")
def edit_form(request: Request, comment_id: CommentId, body: Body = "", csrf_token: Csrf = ""):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    found = comment_or_404(c, request, comment_id, user)
    try:
        talk.edit(c.engine, user, comment_id, body)
    except talk.DiscussionError as exc:
        paper = visible_paper(c, request, found["paper_id"])
        form = {"error": str(exc), "draft": body, "editing": comment_id}
        return render_paper(c, request, paper, status=status(exc), form=form)
    return to(comment_url(found["paper_id"], comment_id))


@router.post("/comments/{comment_id}/delete")
def delete_form(request: Request, comment_id: CommentId, csrf_token: Csrf = ""):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    comment_or_404(c, request, comment_id, user)
    try:
        paper_id = talk.remove(c.engine, user, comment_id)
    except talk.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return to(comment_url(paper_id, comment_id))


@router.post("/comments/{comment_id}/report")
def report_form(
    request: Request,
    comment_id: CommentId,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return login_first(request)
    comment_or_404(c, request, comment_id, user)
    try:
        paper_id = talk.report(c.engine, user, comment_id, reason)
    except talk.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except talk.DiscussionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(f"/papers/{paper_id}?reported={comment_id}&c={comment_id}#c-{comment_id}")


# -- admins -------------------------------------------------------------------------------------------------
def admin(c: Context, request: Request) -> User:
    user = c.user(request)
    if user is None or not user.is_admin:
        raise HTTPException(403, "only an admin can moderate comments")
    return user


@router.get("/admin/comments")
def moderation_page(request: Request):
    c, _ = page_user(request)
    admin(c, request)
    with c.engine.connect() as conn:
        queue = threads.reported(conn)
    return c.render(request, "moderation.html", queue=queue)


@router.post("/admin/comments/{comment_id}")
def moderate_form(
    request: Request,
    comment_id: CommentId,
    hidden: Annotated[str, Form(pattern="^[01]$")] = "1",
    next: Annotated[str, Form()] = "",
    csrf_token: Csrf = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    admin(c, request)
    try:
        paper_id = talk.set_hidden(c.engine, comment_id, hidden == "1")
    except talk.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return to("/admin/comments" if next == "queue" else comment_url(paper_id, comment_id))


# -- notifications and the Discussed list ---------------------------------------------------------------------
@router.get("/notifications")
def notifications_page(request: Request):
    c, user = page_user(request)
    with c.engine.connect() as conn:
        items = talk.inbox(conn, user.id)
        titles = {p["id"]: p["title"] for p in present.load_visible(conn, list({n["paper_id"] for n in items}), user)}
    # Seeing the page reads them; not when another site sent the browser here (it could not read them).
    if items and request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
        talk.mark_read(c.engine, user.id, up_to=items[0]["id"])
    return c.render(request, "notifications.html", items=items, titles=titles)


@router.get("/discussed")
def discussed_page(request: Request):
    c = ctx(request)
    user = c.user(request)
    with c.engine.connect() as conn:
        rows = threads.discussed(conn, utcnow() - timedelta(days=DISCUSSED_DAYS))
        papers = {p["id"]: p for p in present.load_visible(conn, [r[0] for r in rows], user)}
    shown = [papers[pid] | {"last_comment": last} for pid, _, last in rows if pid in papers]
    return c.render(request, "discussed.html", papers=shown, days=DISCUSSED_DAYS)


@router.get("/feeds/comments.xml")
def thread_feed(request: Request, paper: Annotated[str, Query(max_length=200)]):
    """A paper's discussion as RSS: newest first, each comment's text (HTML, sanitised) and author."""
    c = ctx(request)
    found = visible(c, paper, None)  # a feed reader is nobody: a hidden paper's thread is not served
    with c.engine.connect() as conn:
        thread = threads.latest_threads(conn, found["id"], None, FEED_THREADS)
    base = c.settings.base_url.rstrip("/")
    from feedgen.feed import FeedGenerator  # loaded on first use, not by every server start

    fg = FeedGenerator()
    page = f"{base}/papers/{found['id']}"
    fg.id(page + "#discussion")
    fg.title(clean_text(f"Discussion: {found['title']}"))
    fg.link(href=page, rel="alternate")
    fg.description(f"Comments on {found['id']} — paperfeed")
    flat = [x for top in thread for x in (top, *top["replies"]) if not x["status"]]
    for x in sorted(flat, key=lambda x: x["created_at"]):
        entry = fg.add_entry()
        entry.id(f"{page}#c-{x['id']}")
        entry.link(href=base + comment_url(found["id"], x["id"]))
        entry.title(clean_text(f"{x['author']} on {found['title']}"[:200]))
        entry.author(name=clean_text(x["author"]))
        entry.description(clean_text(x["html"]))
        entry.published(x["created_at"].replace(tzinfo=UTC))
    return Response(fg.rss_str(pretty=True), media_type="application/rss+xml; charset=utf-8")


# -- JSON ---------------------------------------------------------------------------------------------------
class NewComment(BaseModel):
    body: str = Field(min_length=1, max_length=talk.MAX_CHARS)
    replyTo: int | None = Field(default=None, ge=1, le=ID_MAX)  # noqa: N815 (the API's field names are camelCase, as Hugging Face's)


def comment_json(x: dict, base: str) -> dict:
    return {
        "id": x["id"],
        "author": x["author"] if not x["status"] else None,
        "createdAt": present.iso(x["created_at"]),
        "editedAt": present.iso(x["edited_at"]),
        "status": x["status"] or None,
        "body": x["body"] or None,
        "html": x["html"] or None,
        "url": base + comment_url(x["paper_id"], x["id"]),
        "replies": [comment_json(r, base) for r in x.get("replies", [])],
    }


@api.get("/papers/{paper_id:path}/comments", summary="A paper's discussion here (top-level comments, replies)")
def comments_json(
    request: Request,
    paper_id: str,
    page: Annotated[
        int, Query(ge=1, le=100_000, description=f"{API_THREADS} top-level comments a page, oldest first")
    ] = 1,
):
    c = ctx(request)
    user = c.api_user(request)
    paper = visible(c, paper_id, user)
    with c.engine.connect() as conn:
        found = threads.thread_page(conn, paper["id"], user, API_THREADS, page, clamp=False)  # past the end: []
    base = c.settings.base_url.rstrip("/")
    listed = [comment_json(x, base) for x in found.threads]
    return {"id": paper["id"], "numComments": paper["discussion"], "page": found.page, "pages": found.pages} | {
        "comments": listed
    }


@api.post("/papers/{paper_id:path}/comments", summary="Comment on a paper, or reply (replyTo: a comment id)")
def post_json(request: Request, paper_id: str, comment: NewComment):
    c = ctx(request)
    user = need_user(c, request, write=True)
    paper = visible(c, paper_id, user)
    try:
        new_id = talk.post(c.engine, user, paper["id"], comment.body, comment.replyTo, limits(c))
    except talk.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except talk.DiscussionError as exc:
        detail = [{"loc": ["body", "body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status(exc))
    base = c.settings.base_url.rstrip("/")
    return {"id": new_id, "url": base + comment_url(paper["id"], new_id)}


@api.get("/notifications", summary="Your replies and mentions, newest first")
def notifications_json(request: Request):
    c = ctx(request)
    user = need_user(c, request)
    with c.engine.connect() as conn:
        items = talk.inbox(conn, user.id)
    base = c.settings.base_url.rstrip("/")
    return [
        {
            "kind": n["kind"],
            "author": n["author"],
            "paper": n["paper_id"],
            "comment": n["comment_id"],
            "url": base + comment_url(n["paper_id"], n["comment_id"]),
            "createdAt": present.iso(n["created_at"]),
            "read": n["read_at"] is not None,
            "body": n["body"],
        }
        for n in items
    ]
