"""Author pages: an author's papers by date, frequent co-authors and categories; following an author (their new
papers in the digest and a feed); the authors you follow; the same as JSON and RSS."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request

from paperfeed.models import author_key
from paperfeed.store import authors
from paperfeed.store.accounts import AccountError
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, need_user, page_user, paper_key, signed_in, to
from paperfeed.web.context import Context
from paperfeed.web.feeds import FEED_SIZE, Format, feed_response

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["authors"])
PER_PAGE = 50
Page = Annotated[int, Query(ge=1, le=1000)]


def found(c: Context, name: str) -> dict:
    key = author_key(name)
    with c.engine.connect() as conn:
        who = authors.profile(conn, key) if key else {"papers": 0}
    if not who["papers"]:
        raise HTTPException(404, f"no paper here lists {name[:80]!r} as an author")
    return who


def author_url(name: str) -> str:
    return "/authors/" + quote(name, safe="")


@router.get("/authors")
def following_page(request: Request):
    c, user = page_user(request)
    with c.engine.connect() as conn:
        follows = authors.followed(conn, user)
    return c.render(request, "following.html", follows=follows)


@router.get("/authors/{name:path}")
def author_page(request: Request, name: str, page: Page = 1):
    c = ctx(request)
    user = c.user(request)
    who = found(c, name)
    with c.engine.connect() as conn:
        ids, total = authors.papers_of(conn, who["key"], PER_PAGE, (page - 1) * PER_PAGE)
        papers = present.load_visible(conn, ids, user)
        following = who["key"] in {k for k, _ in authors.followed(conn, user)}
        owner = authors.confirmed(conn, who["key"])
        asked = authors.claim_of(conn, user, who["key"])
        pinned = present.load_visible(conn, owner["pinned"], user) if owner and page == 1 else []
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise HTTPException(404, f"page {page} of {pages}")
    values = {"who": who, "papers": papers, "page": page, "pages": pages, "following": following}
    values |= {"owner": owner, "asked": asked, "pinned": pinned}
    return c.render(request, "author.html", **values, author_url=author_url)


@router.post("/authors/{name:path}/claim")
def claim_form(request: Request, name: str, csrf_token: Csrf = ""):
    """ "This is me": a claim an admin confirms (as Hugging Face does for paper authors)."""
    c, user = signed_in(request, csrf_token)
    if user is None:
        return to(f"/login?next={quote(author_url(name))}")
    who = found(c, name)
    try:
        authors.claim(c.engine, user, who["key"])
    except AccountError as exc:
        raise HTTPException(409, str(exc)) from exc
    return to(author_url(who["name"]))


@router.post("/authors/{name:path}/profile")
def profile_form(
    request: Request,
    name: str,
    csrf_token: Csrf = "",
    bio: Annotated[str, Form(max_length=authors.MAX_BIO + 1000)] = "",
    pinned: Annotated[str, Form(max_length=500)] = "",
):
    """The confirmed owner's bio and pinned papers (ids, comma or space separated)."""
    c, user = signed_in(request, csrf_token)
    if user is None:
        return to(f"/login?next={quote(author_url(name))}")
    who = found(c, name)
    ids = [paper_key(x) for x in pinned.replace(",", " ").split()]
    try:
        authors.set_profile(c.engine, user, who["key"], bio, ids)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(author_url(who["name"]))


@router.get("/admin/claims")
def claims_page(request: Request):
    c, user = page_user(request)
    if not user.is_admin:
        raise HTTPException(403, "only an admin can confirm author claims")
    with c.engine.connect() as conn:
        waiting = authors.pending_claims(conn)
        names = {w["key"]: authors.profile(conn, w["key"])["name"] for w in waiting}
    return c.render(request, "claims.html", waiting=waiting, names=names, author_url=author_url)


@router.post("/admin/claims/{claim_id}")
def decide_form(
    request: Request,
    claim_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    csrf_token: Csrf = "",
    decision: Annotated[str, Form(pattern="^(confirm|refuse)$")] = "refuse",
):
    c, user = signed_in(request, csrf_token)
    if user is None or not user.is_admin:
        raise HTTPException(403, "only an admin can confirm author claims")
    try:
        authors.decide(c.engine, claim_id, decision == "confirm")
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from exc
    return to("/admin/claims")


@router.post("/authors/{name:path}/follow")
def follow_form(
    request: Request,
    name: str,
    csrf_token: Csrf = "",
    action: Annotated[str, Form(pattern="^(follow|unfollow)$")] = "follow",
    next: Annotated[str, Form()] = "",
):
    c, user = signed_in(request, csrf_token)
    if user is None:
        return to(f"/login?next={quote(author_url(name))}")
    shown = set_follow(c, user, name, action == "follow")
    return to("/authors" if next == "following" else author_url(shown))


def set_follow(c: Context, user, name: str, on: bool) -> str:
    """Follow or stop following; the name as shown. Stopping needs no page: an author whose papers were all
    hidden since can still be unfollowed."""
    shown = found(c, name)["name"] if on else name
    try:
        authors.follow(c.engine, user, shown, on)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return shown


@router.get("/feeds/author.xml")
def author_feed(request: Request, name: Annotated[str, Query(max_length=300)], format: Format = "rss"):
    """The author's newest papers (50)."""
    c = ctx(request)
    who = found(c, name)
    with c.engine.connect() as conn:
        ids, _ = authors.papers_of(conn, who["key"], FEED_SIZE)
        papers = present.load_papers(conn, ids, None)
    return feed_response(request, f"Papers by {who['name']}", author_url(who["name"]), papers, format)


# -- JSON ---------------------------------------------------------------------------------------------------
@api.get("/authors/{name:path}", summary="An author: name forms, co-authors, categories and papers, newest first")
def author_json(
    request: Request,
    name: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
):
    c = ctx(request)
    user = c.api_user(request)
    who = found(c, name)
    with c.engine.connect() as conn:
        ids, total = authors.papers_of(conn, who["key"], limit, offset)
        papers = present.load_visible(conn, ids, user)
    base = c.settings.base_url.rstrip("/")
    return {
        "name": who["name"],
        "otherForms": who["forms"],
        "numPapers": total,
        "url": base + author_url(who["name"]),
        "coauthors": [{"name": n, "papers": k} for _, n, k in who["coauthors"]],
        "categories": [{"category": cat, "papers": k} for cat, k in who["categories"]],
        "papers": [present.paper_json(p, base) for p in papers],
    }


@api.put("/authors/{name:path}/follow", summary="Follow an author (their new papers in your digest and feed)")
def follow_json(request: Request, name: str):
    return _follow(request, name, True)


@api.delete("/authors/{name:path}/follow", summary="Stop following an author")
def unfollow_json(request: Request, name: str):
    return _follow(request, name, False)


def _follow(request: Request, name: str, on: bool) -> dict:
    c = ctx(request)
    user = need_user(c, request, write=True)
    return {"name": set_follow(c, user, name, on), "following": on}


@api.get("/following", summary="The authors you follow")
def following_json(request: Request):
    c = ctx(request)
    user = need_user(c, request)
    with c.engine.connect() as conn:
        return [{"name": name, "url": author_url(name)} for _, name in authors.followed(conn, user)]
