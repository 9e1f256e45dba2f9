"""The JSON API under /api/ (documented at /docs). Scripts authenticate with `Authorization: Bearer <token>`
(tokens are made on /settings); a browser session may be used too, with X-CSRF-Token on writes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from paperfeed.rank import foryou
from paperfeed.rank.recommend import reason_of
from paperfeed.search.query import QueryError
from paperfeed.store import accounts, marks
from paperfeed.store import queries as q
from paperfeed.store.accounts import AccountError
from paperfeed.store.listing import submitted_by
from paperfeed.web import present
from paperfeed.web.common import Category, Day, Search, ctx, need_user, paper_key, visible

router = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter(tags=["api"])  # Hugging Face's non-/api paths its client reads (registered before the HTML pages)
Limit = Annotated[int, Query(ge=1, le=100, description="results per page (at most 100)")]
Offset = Annotated[int, Query(ge=0, le=100_000)]
MAX_DEPTH = 10_000  # how deep into a period's ranking the API pages


def invalid(field: str, message: str) -> JSONResponse:
    """A 422 shaped like FastAPI's own validation errors, naming the parameter."""
    return JSONResponse({"detail": [{"loc": ["query", field], "msg": message, "type": "value_error"}]}, 422)


@router.get("/daily_papers", summary="The papers of a day, week or month, ranked (Hugging Face's shape)")
def daily_papers(
    request: Request,
    date_: Annotated[Day | None, Query(alias="date", description="YYYY-MM-DD; default the latest day")] = None,
    week: Annotated[str | None, Query(max_length=8, description="YYYY-Www, e.g. 2026-W22")] = None,
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
    sort: Annotated[str, Query(pattern="^(trending|new|publishedAt)$", description="publishedAt = new")] = "trending",
    category: Category = None,
    submitter: Annotated[str | None, Query(max_length=100, description="HF user who featured it")] = None,
    has_code: Annotated[bool, Query(description="only papers with a code repository")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    p: Annotated[int, Query(ge=0, le=10_000, description="page number from 0 (HF's paging)")] = 0,
):
    """A list of `{paper, publishedAt, title, summary, numComments, submittedBy, …}` objects, as Hugging Face's
    `/api/daily_papers`, so its clients (`HfApi.list_daily_papers`, `hf papers ls`) work against paperfeed."""
    c = ctx(request)
    user = c.api_user(request)
    start = offset + p * limit
    if start + limit > MAX_DEPTH:
        return invalid("p" if p else "offset", f"at most the first {MAX_DEPTH:,} papers of a period are listed")
    with c.engine.connect() as conn:
        try:
            period = _period(conn, date_, week, month)
        except ValueError as exc:
            return invalid("week" if week else "month", str(exc))
        if period is None:
            return []
        order = "new" if sort == "publishedAt" else sort
        only = submitted_by(conn, submitter) if submitter else None  # HF's signals say who featured it
        papers, _ = present.ranked_page(conn, period, order, category or None, 1, start + limit, user, has_code, only)
    base = c.settings.base_url.rstrip("/")
    return [present.hf_item(x, base) for x in papers[start : start + limit]]


def _period(conn, day, week: str | None, month: str | None):
    """The day, week or month asked for (ValueError for a malformed one), else the latest day."""
    if week:
        return present.parse_period("week", week)
    if month:
        return present.parse_period("month", month)
    day = day or q.latest_day(conn)
    return present.period_of("date", day) if day else None


@router.get("/papers/search", summary="Search, answered as Hugging Face's /api/papers/search (a list)")
async def hf_search(request: Request, q_: Annotated[str, Query(alias="q", max_length=2000)] = "", limit: Limit = 20):
    """Hugging Face's shape: a JSON list of daily-paper items, best first (`HfApi.list_papers`,
    `hf papers search`). paperfeed's own answer, with scores, filters and notes, is /api/search."""
    c = ctx(request)
    user = c.api_user(request)

    def answer():
        try:
            results = c.search.search(q_, limit=limit)
        except QueryError as exc:
            return invalid("q", str(exc))
        papers = present.visible_hits(c.engine, results.hits, user)
        base = c.settings.base_url.rstrip("/")
        return [present.hf_item(papers[h.id], base) for h in results.hits if h.id in papers]

    return await c.run_limited(answer)


@router.get("/search", summary="Hybrid search with filters, scores and notes (paperfeed's own shape)")
async def search(
    request: Request,
    params: Search,
    has_code: Annotated[bool, Query(description="only papers with a code repository (also has:code in q)")] = False,
    limit: Limit = 20,
    offset: Offset = 0,
):
    """`{query, total, goodMatch, match, matchNote, notes, results: [{paper, score, lexical, dense}]}`. `match` is
    what the search page says: "good", "weak" (results, but none really about the query: the page's "No good
    match", with `matchNote`) or "none". `score` is fused and relative to this query's results (the best is
    1.0 whatever it is worth); `lexical` (BM25) and `dense` (cosine) are each leg's own, absolute scores."""
    c = ctx(request)
    user = c.api_user(request)
    q_ = params.q

    def answer():
        # All of it in the timed thread, so the time limit holds for the whole request.
        try:
            results = params.run(c, limit, offset, has_code)
        except QueryError as exc:
            return invalid("q", str(exc))
        papers = present.visible_hits(c.engine, results.hits, user)
        base = c.settings.base_url.rstrip("/")
        found = [
            {"paper": present.paper_json(papers[h.id], base), "score": h.score, "lexical": h.lexical, "dense": h.dense}
            for h in results.hits
            if h.id in papers
        ]
        return {
            "query": q_,
            "total": results.total,
            "goodMatch": results.good_match,  # false: no result is really about the query
            "match": results.match,  # "good", "weak" (the page's "No good match") or "none"
            "matchNote": results.match_note,
            "notes": results.notes,
            "results": found,
        }

    return await c.run_limited(answer)


@router.get("/papers/{paper_id:path}/similar", summary="The papers most like this one")
def similar(request: Request, paper_id: str, limit: Annotated[int, Query(ge=1, le=50)] = 10):
    c = ctx(request)
    user = c.api_user(request)
    paper = visible(c, paper_id, user)
    hits = c.search.similar(paper["id"], limit)
    if hits is None:
        raise HTTPException(409, f"{paper['id']} is not in the search index yet; run `paperfeed index`")
    papers = present.visible_hits(c.engine, hits, user)
    base = c.settings.base_url.rstrip("/")
    return [{"paper": present.paper_json(papers[h.id], base), "score": h.score} for h in hits if h.id in papers]


@router.post("/papers/{paper_id:path}/upvote", summary="Upvote (once per user; repeating changes nothing)")
def upvote(request: Request, paper_id: str):
    return _vote(request, paper_id, True)


@router.delete("/papers/{paper_id:path}/upvote", summary="Take the upvote back")
def unvote(request: Request, paper_id: str):
    return _vote(request, paper_id, False)


def _vote(request: Request, paper_id: str, on: bool) -> dict:
    c = ctx(request)
    user = need_user(c, request, write=True)
    paper = visible(c, paper_id, user)
    return {"id": paper["id"], "upvotes": marks.set_upvote(c.engine, user, paper["id"], on), "upvoted": on}


@router.get("/papers/{paper_id:path}", summary="One paper")
def paper(request: Request, paper_id: str):
    c = ctx(request)
    p = visible(c, paper_id, c.api_user(request))
    return present.paper_json(p, c.settings.base_url.rstrip("/"))


class Tags(BaseModel):
    # Each left out: unchanged (a paper new to the library starts with no tag). [] removes the tags, "" the note,
    # null the reading state.
    tags: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=50)
    note: str | None = Field(default=None, max_length=marks.MAX_NOTE)
    state: Literal["to-read", "reading", "read"] | None = None
    model_config = {"json_schema_extra": {"examples": [{"tags": ["diffusion"], "note": "Read §3", "state": "to-read"}]}}


@router.get("/library", summary="Your saved papers (optionally one tag, reading state or words)")
def library(
    request: Request,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(pattern="^(to-read|reading|read|unset)$")] = None,
    q: Annotated[str, Query(max_length=200, description="words in the title, the authors or your note")] = "",
):
    c = ctx(request)
    user = need_user(c, request)
    with c.engine.connect() as conn:
        saved = marks.library_of(conn, user, tag, state, q)
        papers = present.load_papers(conn, [s["id"] for s in saved], user)
    base = c.settings.base_url.rstrip("/")
    return [
        {
            "paper": present.paper_json(p, base),
            "tags": s["tags"],
            "savedAt": present.iso(s["saved_at"]),
            "note": s["note"],
            "state": s["state"],
        }
        for s, p in zip(saved, papers, strict=True)
    ]


@router.put("/library/{paper_id:path}", summary="Save a paper with these tags (replaces its tags)")
def save(request: Request, paper_id: str, body: Tags):
    c = ctx(request)
    user = need_user(c, request, write=True)
    paper = visible(c, paper_id, user)
    fields = body.model_fields_set
    try:
        tags = marks.clean_tags(body.tags) if body.tags is not None else None
    except AccountError as exc:
        return JSONResponse({"detail": [{"loc": ["body", "tags"], "msg": str(exc), "type": "value_error"}]}, 422)
    marks.save_paper(c.engine, user, paper["id"], tags)
    try:
        if "note" in fields:
            marks.set_note(c.engine, user, paper["id"], body.note or "")
        if "state" in fields:
            marks.set_state(c.engine, user, paper["id"], body.state)
    except AccountError as exc:
        field = "state" if "state" in str(exc) else "note"
        return JSONResponse({"detail": [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]}, 422)
    with c.engine.connect() as conn:
        kept = marks.notes_of(conn, user, [paper["id"]]).get(paper["id"], {})
        if tags is None:  # left as they were: say which they are
            tags = marks.tags_of(conn, user, [paper["id"]]).get(paper["id"], [])
    return {"id": paper["id"], "tags": tags, "saved": True, "note": kept.get("note"), "state": kept.get("state")}


@router.delete("/library/{paper_id:path}", summary="Remove a paper from your library")
def unsave(request: Request, paper_id: str):
    c = ctx(request)
    user = need_user(c, request, write=True)
    key = paper_key(paper_id)
    if not marks.unsave_paper(c.engine, user, key):
        raise HTTPException(404, f"{key} is not in your library")
    return {"id": key, "saved": False}


@pages.get("/papers/{paper_id:path}.md", summary="One paper as Markdown (Hugging Face's read_paper)")
def paper_markdown(request: Request, paper_id: str, limit: Annotated[int, Query(ge=1, le=5000)] = 500):
    """Title, authors, dates, links and the abstract as Markdown: what `HfApi.read_paper` and
    `hf papers read` return. `/papers/date/D.md`, `/papers/week/2026-W22.md`, `/papers/month/2026-05.md`: that
    list (ranked as its page ranks it, `limit` papers) as one Markdown document."""
    c = ctx(request)
    kind, _, key = paper_id.partition("/")
    if kind in ("date", "week", "month") and key:
        return period_markdown(c, request, kind, key, limit)
    p = visible(c, paper_id, c.api_user(request))
    return markdown(present.paper_markdown(p))


def period_markdown(c, request: Request, kind: str, key: str, limit: int) -> PlainTextResponse:
    try:
        period = present.parse_period(kind, key)
    except ValueError as exc:
        raise HTTPException(422, f"{kind}: {exc}") from exc
    with c.engine.connect() as conn:
        papers, total = present.ranked_page(conn, period, "trending", None, 1, limit, c.api_user(request))
    title = {"date": "Daily", "week": "Weekly", "month": "Monthly"}[kind] + f" papers: {period.key}"
    note = f"{total} papers, ranked by upvotes here and on Hugging Face"
    note += f"; the first {limit} of them" if total > limit else ""
    return markdown(present.list_markdown(title, papers, note))


@pages.get("/search.md", summary="Search results as Markdown (the page's ranking and its match note)")
async def search_markdown(
    request: Request,
    q_: Annotated[str, Query(alias="q", min_length=1, max_length=2000)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    c = ctx(request)
    user = c.api_user(request)

    def answer():
        try:
            results = c.search.search(q_, limit=limit)
        except QueryError as exc:
            raise HTTPException(422, f"q: {exc}") from exc
        papers = list(present.visible_hits(c.engine, results.hits, user).values())
        note = results.match_note or f"{results.total} results; match: {results.match}"
        return markdown(present.list_markdown(f"Search: {q_[:200]}", papers, note))

    return await c.run_limited(answer)


def markdown(text: str) -> PlainTextResponse:
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/recommendations", summary="Your For you ranking of a day's papers, with the reason for each")
def recommendations(
    request: Request,
    date_: Annotated[Day | None, Query(alias="date", description="YYYY-MM-DD; default the latest day")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="how many (a whole day can hold 2,000)")] = 20,
    seen: Annotated[bool, Query(description="include papers you have already seen")] = False,
    interest: Annotated[
        str | None, Query(max_length=64, description="one of your library tags: ranked by the papers saved under it")
    ] = None,
):
    """`{date, needsLikes, indexing, coldStart, ruledOut, seenOut, results: [{id, rank, paper, score, because,
    reason}]}`, in rank order (the fields of `paperfeed recommend --json`).
    `needsLikes`: no signal yet (upvote or save papers, import a library or pick topics): the results are then
    empty; `indexing`: your likes are not in the search index yet. `reason`: the sentence (`text`), the liked
    paper (`likedId`, `likedTitle`; an imported entry has only the title), the sign-up `interest`, the boost
    phrases it `mentions`, the `words` of the paper your model weighs most, the `likedAuthor` whose papers you
    liked. `interest`: a per-interest view, ranked by the papers saved under that library tag only."""
    c = ctx(request)
    user = need_user(c, request)
    with c.engine.connect() as conn:
        day = date_ or q.latest_day(conn)
        ids = present.ranked_ids(conn, present.period_of("date", day), "trending", None) if day else []
    tag = clean_interest(interest)
    ranking = foryou.for_you(c.engine, c.search, user.id, ids, show_seen=seen, interest=tag)
    chosen = ranking.picks[:limit]
    with c.engine.connect() as conn:
        papers = {p["id"]: p for p in present.with_reasons(conn, chosen, user)}
    base = c.settings.base_url.rstrip("/")
    shown = [x for x in chosen if x.id in papers]
    results = [{"rank": n, **recommendation_json(papers[x.id], x, base)} for n, x in enumerate(shown, 1)]
    return {
        "date": present.iso(day),
        "needsLikes": ranking.needs_signal,
        "indexing": ranking.indexing,
        "coldStart": ranking.cold,
        "ruledOut": ranking.ruled_out,
        "seenOut": ranking.seen_out,
        "results": results,
    }


def clean_interest(value: str | None) -> str:
    try:
        found = marks.clean_tags([value]) if value else []
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    return found[0] if found else ""


def recommendation_json(paper: dict, pick, base: str) -> dict:
    r = paper["reason"]
    reason = {
        "text": reason_of(r),
        "likedId": r["id"],
        "likedTitle": r["title"],
        "interest": r["interest"],
        "mentions": r["mentions"],
        "words": r["words"],
        "likedAuthor": r["author"],
        "followedAuthor": r["followed"],
        "coauthorOfLiked": r.get("coauthor", ""),
    }
    return {
        "id": paper["id"],
        "paper": present.paper_json(paper, base),
        "score": round(pick.score, 4),
        "because": pick.because,
        "reason": reason,
    }
