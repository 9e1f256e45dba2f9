"""RSS 2.0 and Atom feeds (feedgen): the daily list, trending, any search, and private feeds of a user's library
and For you papers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from paperfeed.digest import subscriptions as subs
from paperfeed.models import clean_text
from paperfeed.rank import foryou, trending
from paperfeed.search.query import QueryError
from paperfeed.store import accounts, groups, marks, taste
from paperfeed.store import queries as q
from paperfeed.tex import text_macros
from paperfeed.web import present
from paperfeed.web.common import Category, Csrf, Day, ctx

router = APIRouter(prefix="/feeds", include_in_schema=False)
Format = Annotated[str, Query(pattern="^(rss|atom)$")]
FEED_SIZE = 50


def feed_response(request: Request, title: str, path: str, papers: list[dict], fmt: str) -> Response:
    # The configured address, never the request's Host header (which any client can set).
    base = ctx(request).settings.base_url.rstrip("/")
    from feedgen.feed import FeedGenerator  # loaded on first use, not by every server start

    fg = FeedGenerator()
    fg.id(base + path)
    fg.title(clean_text(title))
    fg.link(href=base + path, rel="alternate")
    query = f"?{request.url.query}" if request.url.query else ""
    fg.link(href=base + request.url.path + query, rel="self")
    fg.description(f"{title} — paperfeed")
    fg.language("en")
    for p in reversed(papers):  # feedgen prepends each entry; reversed keeps our order
        entry = fg.add_entry()
        url = f"{base}/papers/{p['id']}"
        entry.id(url)
        # Stored text is cleaned on the way in (models.clean_paper); cleaned again here, as XML cannot carry a
        # control character and one stored before that cleaning (or by hand) must not break the feed.
        entry.title(clean_text(text_macros(p["title"])))  # a feed reader renders no TeX: \textbf{X} as X
        entry.link(href=url)
        entry.description(clean_text(reason_line(p.get("reason")) + text_macros(p["abstract"])))
        for name in p["authors"][:20]:
            entry.author(name=clean_text(name))
        for cat in p["categories"]:
            entry.category(term=clean_text(cat))
        when = p.get("published") or (datetime.combine(p["listed_date"], time()) if p.get("listed_date") else None)
        if when:
            entry.published(when.replace(tzinfo=UTC))
            entry.updated((p.get("updated") or when).replace(tzinfo=UTC))
    if fmt == "atom":
        return Response(fg.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")
    return Response(fg.rss_str(pretty=True), media_type="application/rss+xml; charset=utf-8")


def reason_line(r: dict | None) -> str:
    if not r:
        return ""
    followed = r.get("followed", "")
    if r["title"] or r["interest"] or not followed:
        why = f"Because you liked: {r['title']}" if r["title"] else f"Matches your interest: {r['interest']}"
        why += f" · by {followed}, whom you follow" if followed else ""
    else:
        why = f"By {followed}, whom you follow"
    return why + (f" · mentions {', '.join(r['mentions'])}" if r["mentions"] else "") + "\n\n"


@router.get("/daily.xml")
def daily(
    request: Request,
    date_: Annotated[Day | None, Query(alias="date")] = None,
    category: Category = None,
    format: Format = "rss",
):
    c = ctx(request)
    with c.engine.connect() as conn:
        day = date_ or q.latest_day(conn)
        papers = []
        if day:
            papers, _ = present.ranked_page(
                conn, present.period_of("date", day), "trending", category or None, 1, c.settings.page_size, None
            )
    return feed_response(request, f"Daily Papers {day or ''}".strip(), "/", papers, format)


@router.get("/trending.xml")
def trending_feed(request: Request, category: Category = None, format: Format = "rss"):
    c = ctx(request)
    with c.engine.connect() as conn:
        top = trending.trending(conn, c.settings.trending_days, category or None, FEED_SIZE)
        papers = present.load_papers(conn, [e.id for e in top], None)
    return feed_response(request, "Trending papers", "/trending", papers, format)


@router.get("/search.xml")
async def search_feed(
    request: Request,
    q_: Annotated[str, Query(alias="q", min_length=1, max_length=2000)],
    category: Category = None,
    format: Format = "rss",
):
    """The best matches, newest first, so a feed reader shows what is new for a saved query."""
    c = ctx(request)
    try:
        results = await c.run_limited(c.search.search, q_, limit=FEED_SIZE, categories=[category] if category else None)
    except QueryError as exc:
        raise HTTPException(422, f"q: {exc}") from exc
    papers = list(present.visible_hits(c.engine, results.hits, None).values())
    papers.sort(key=lambda p: (p["listed_date"] or date.min, p["id"]), reverse=True)
    return feed_response(request, f"paperfeed search: {q_[:100]}", f"/search?q={q_[:200]}", papers, format)


@router.get("/library/{token}.xml")
def library_feed(
    request: Request, token: str, tag: Annotated[str | None, Query(max_length=64)] = None, format: Format = "rss"
):
    """A user's library, readable without a session by whoever holds the (revocable) feed token."""
    c = ctx(request)
    user = accounts.token_user(c.engine, token, "feed")
    if user is None:
        raise HTTPException(404, "no such feed (the token is unknown or was revoked)")
    with c.engine.connect() as conn:
        saved = marks.library_of(conn, user, tag)
        papers = present.load_papers(conn, [s["id"] for s in saved[:FEED_SIZE]], None)
    return feed_response(request, f"{user.username}'s library", "/library", papers, format)


@router.get("/foryou/{token}.xml")
def for_you_feed(request: Request, token: str, format: Format = "rss"):
    """The latest day's For you papers, readable with the user's (revocable) feed token. What a feed shows
    counts as seen: from the next day on, For you leaves it out (a reader polling today sees the same list)."""
    c = ctx(request)
    user = accounts.token_user(c.engine, token, "feed")
    if user is None:
        raise HTTPException(404, "no such feed (the token is unknown or was revoked)")
    with c.engine.connect() as conn:
        day = q.latest_day(conn)
        ids = present.ranked_ids(conn, present.period_of("date", day), "trending", None) if day else []
    picks = foryou.for_you(c.engine, c.search, user.id, ids).picks[:FEED_SIZE]
    with c.engine.connect() as conn:
        papers = present.with_reasons(conn, picks, None)
    taste.mark_seen(c.engine, user.id, [p["id"] for p in papers], "feed")
    return feed_response(request, f"For you, {user.username}: {day or ''}".strip(), "/?sort=foryou", papers, format)


@router.post("/opml")
def opml(request: Request, csrf_token: Csrf = ""):
    """Every feed the user has, in one OPML file for a feed reader: daily, trending, the digest's categories and
    saved searches, the library (all and each tag), For you and each of their groups' picks. The private ones
    need a feed token: a new one, named "OPML export", is made for this file (revocable on /settings like any
    other)."""
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.require_user(request)
    base = c.settings.base_url.rstrip("/")
    token = accounts.create_token(c.engine, user, "feed", "OPML export")
    sub = subs.get(c.engine, user.id)
    with c.engine.connect() as conn:
        tags = [t for t, _ in marks.all_tags(conn, user)]
        mine = groups.of_user(conn, user)
    public = [("Daily papers", "/feeds/daily.xml"), ("Trending papers", "/feeds/trending.xml")]
    public += (
        [(f"Daily papers in {cat}", f"/feeds/daily.xml?{urlencode({'category': cat})}") for cat in sub.categories]
        if sub
        else []
    )
    public += [
        (f"Search: {s['title']}", f"/feeds/search.xml?{urlencode({'q': s['query']})}")
        for s in subs.searches(c.engine, user.id)
    ]
    private = [("For you", f"/feeds/foryou/{token}.xml"), ("Library", f"/feeds/library/{token}.xml")]
    private += [(f"Library: {t}", f"/feeds/library/{token}.xml?{urlencode({'tag': t})}") for t in tags]
    private += [(f"Picked in {g['name']}", f"/feeds/group/{token}.xml?group={g['id']}") for g in mine]
    body = opml_document(
        f"paperfeed feeds for {user.username}", base, [("paperfeed", public), ("Private (feed token)", private)]
    )
    headers = {"Content-Disposition": 'attachment; filename="paperfeed-feeds.opml"', "Cache-Control": "no-store"}
    return Response(body, media_type="text/x-opml; charset=utf-8", headers=headers)


def opml_document(title: str, base: str, groups: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """OPML 2.0, one outline per group, one `rss` outline per feed (what feed readers import)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(root, "body")
    for name, feeds in groups:
        group = ET.SubElement(body, "outline", text=name, title=name)
        for label, path in feeds:
            url = base + path
            ET.SubElement(group, "outline", type="rss", text=label, title=label, xmlUrl=url, htmlUrl=base + "/")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
