"""Server-rendered pages: lists, trending, search, paper pages, submit, accounts, library, settings."""

from __future__ import annotations

import contextlib
import math
import re
from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import AfterValidator, BeforeValidator

from paperfeed.formats import citation_meta, to_bibtex
from paperfeed.ingest import arxiv_api
from paperfeed.models import Paper, SourceError, check_day, parse_arxiv_id
from paperfeed.rank import foryou, trending
from paperfeed.search.indexer import IndexBusy, sync
from paperfeed.search.query import QueryError
from paperfeed.store import accounts, taste
from paperfeed.store import queries as q
from paperfeed.store.accounts import AccountError, User
from paperfeed.store.importer import Importer
from paperfeed.web import views
from paperfeed.web.context import SESSION_COOKIE, Context, client_ip, safe_next

router = APIRouter()
FOR_YOU_FIRST = 3  # likes and imported papers before For you becomes a user's default tab
# Lists: no sort given means For you for a logged-in user with enough signal, Trending otherwise.
ListSort = Annotated[str | None, Query(pattern="^(trending|new|foryou)$", description="trending, new or foryou")]
Category = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9.\-]*$")]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
# An HTML form sends an empty date field as "since=": that means no date, not a bad one.
Day = Annotated[date | None, BeforeValidator(lambda v: v or None), AfterValidator(lambda d: d and check_day(d))]
T_ID = re.compile(r"^t-[0-9a-f]{12}$")
SUBMIT_TIMEOUT = 120.0


def ctx(request: Request) -> Context:
    return request.app.state.ctx


def to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_first(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return to(f"/login?next={quote(here)}")


def paper_key(text: str) -> str:
    """The stored id for a path segment; 422 for text that cannot be a paper id at all."""
    parsed = parse_arxiv_id(text)
    if parsed:
        return parsed.canonical
    if T_ID.match(text):
        return text
    raise HTTPException(422, f"not a paper id: {text[:80]!r} (an arXiv id such as 2503.01234, or a t- id)")


def visible_paper(c: Context, request: Request, paper_id: str) -> dict:
    key = paper_key(paper_id)
    user = c.user(request)
    with c.engine.connect() as conn:
        hidden = key in accounts.hidden_ids(conn)
        if hidden and not (user and user.is_admin):
            raise HTTPException(404, f"no paper {key}")
        found = views.load_papers(conn, [key], user)
    if not found:
        raise HTTPException(404, f"no paper {key}")
    paper = found[0]
    paper["hidden"] = hidden
    return paper


# -- lists ------------------------------------------------------------------------------------------
def render_list(
    request: Request,
    period: views.Period | None,
    sort: str,
    category: str | None,
    page: int,
    code: bool = False,
    seen: bool = False,
):
    c = ctx(request)
    user = c.user(request)
    sort = sort or default_sort(c, user)
    if sort == "foryou" and user is None:
        return login_first(request)
    interest = interest_of(request)
    size = c.settings.page_size
    with c.engine.connect() as conn:
        if period is None:
            latest = q.latest_day(conn)
            period = views.period_of("date", latest) if latest else None
        papers, total, prev, nxt, chips, ranking = [], 0, None, None, [], None
        if period:
            if sort == "foryou":
                papers, total, ranking = for_you_page(c, conn, user, period, category, code, page, size, seen, interest)
            else:
                papers, total = views.ranked_page(conn, period, sort, category, page, size, user, code)
            prev, nxt = views.neighbours(conn, period)
            chips = views.top_categories(conn, period.start, period.end)
        interests = accounts.all_tags(conn, user) if sort == "foryou" else []
        ask = views.load_papers(conn, ranking.unsure, user) if ranking and page == 1 and not interest else []
    return c.render(
        request,
        "list.html",
        period=period,
        papers=papers,
        total=total,
        prev=prev,
        next=nxt,
        sort=sort,
        category=category,
        chips=chips,
        page=page,
        pages=max(1, math.ceil(total / size)),
        code=code,
        ranking=ranking,
        show_seen=seen,
        interest=interest,
        interests=interests,
        ask=ask,
        marked=marked_paper(request.query_params.get("marked", "")),
    )


def default_sort(c: Context, user: User | None) -> str:
    """For you for a logged-in user who has given enough signal to rank by; Trending for everyone else."""
    if user is None:
        return "trending"
    with c.engine.connect() as conn:
        return "foryou" if taste.signal_count(conn, user.id) >= FOR_YOU_FIRST else "trending"


def marked_paper(value: str) -> str:
    """The paper the Undo notice is about: an id as we store them, never free text (it goes into a form's
    action, where "../logout?" would post elsewhere)."""
    parsed = parse_arxiv_id(value)
    if parsed is not None:
        return parsed.canonical
    return value if T_ID.match(value) else ""


def interest_of(request: Request) -> str:
    """The For-you view's interest (a library tag) from ?interest=, checked as tags are."""
    value = request.query_params.get("interest", "")
    try:
        found = accounts.clean_tags([value]) if value else []
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    return found[0] if found else ""


def for_you_page(
    c: Context, conn, user: User, period, category, code: bool, page: int, size: int, show_seen: bool, interest=""
):
    """The period's papers ranked by the user's taste (or one interest of it), each with its reason; the
    trending order while the user has given no signal yet (the Ranking says why)."""
    ids = views.ranked_ids(conn, period, "trending", category, code)
    ranking = foryou.for_you(c.engine, c.search, user.id, ids, show_seen=show_seen, interest=interest)
    if ranking.needs_signal or ranking.indexing:
        return views.load_papers(conn, ids[(page - 1) * size : page * size], user), len(ids), ranking
    chosen = ranking.picks[(page - 1) * size : page * size]
    return views.with_reasons(conn, chosen, user), len(ranking.picks), ranking


@router.get("/", include_in_schema=False)
def latest(
    request: Request,
    sort: ListSort = None,
    category: Category = None,
    page: PageNo = 1,
    code: bool = False,
    seen: bool = False,
):
    return render_list(request, None, sort, category or None, page, code, seen)


@router.get("/papers/{kind}/{key}", include_in_schema=False)
def period_list(
    request: Request,
    kind: str,
    key: str,
    sort: ListSort = None,
    category: Category = None,
    page: PageNo = 1,
    code: bool = False,
    seen: bool = False,
):
    if kind not in ("date", "week", "month"):
        return paper_page(request, f"{kind}/{key}")
    try:
        period = views.parse_period(kind, key)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return render_list(request, period, sort, category or None, page, code, seen)


@router.get("/trending", include_in_schema=False)
def trending_page(request: Request, category: Category = None, days: Annotated[int | None, Query(ge=1, le=90)] = None):
    c = ctx(request)
    days = days or c.settings.trending_days
    with c.engine.connect() as conn:
        top = trending.trending(conn, days, category or None, c.settings.page_size)
        papers = views.load_papers(conn, [e.id for e in top], c.user(request))
    return c.render(request, "trending.html", papers=papers, days=days, category=category)


# -- search -----------------------------------------------------------------------------------------
KEEP_OUT = ("q", "page", "spell")  # what a "did you mean" link replaces; the filters stay


@router.get("/search", include_in_schema=False)
async def search_page(
    request: Request,
    q_: Annotated[str, Query(alias="q", max_length=20_000)] = "",
    since: Day | None = None,
    until: Day | None = None,
    category: Category = None,
    author: Annotated[str, Query(max_length=200)] = "",
    mode: Annotated[str, Query(pattern="^(hybrid|lexical|dense)$")] = "hybrid",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
    page: PageNo = 1,
    spell: bool = True,
    code: bool = False,
):
    c = ctx(request)
    size = 20
    values = dict(
        q=q_,
        since=since,
        until=until,
        category=category or "",
        author=author,
        mode=mode,
        sort=sort,
        page=page,
        code=code,
        hits=[],
        total=0,
        error=None,
        notes=[],
        corrected="",
        good_match=True,
        words=[],
        searched=bool(q_.strip() or category or author or since or until or code),
    )
    if not values["searched"]:
        return c.render(request, "search.html", **values)

    def answer():
        # All of it (search, reading the papers, the page) in the timed thread, so the time limit holds.
        try:
            results = c.search.search(
                q_,
                limit=size,
                offset=(page - 1) * size,
                sort=sort,
                mode=mode,
                since=since,
                until=until,
                categories=[category] if category else None,
                authors=[author] if author.strip() else None,
                has_code=code,
                spell=spell,
            )
        except QueryError as exc:
            values["error"] = str(exc)
            return c.render(request, "search.html", status=422, **values)
        with c.engine.connect() as conn:
            papers = {p["id"]: p for p in views.load_visible(conn, [h.id for h in results.hits], c.user(request))}
        values.update(
            hits=[(h, papers[h.id]) for h in results.hits if h.id in papers],
            total=results.total,
            # The page shows a correction as links (the corrected query, and the query as typed) instead of a note.
            notes=[n for n in results.notes if not (results.query.corrections and n.startswith("Showing results"))],
            corrected=views.apply_corrections(q_, results.query.corrections),
            filters_query="".join(
                f"&{urlencode({k: v})}" for k, v in request.query_params.multi_items() if k not in KEEP_OUT
            ),
            good_match=results.good_match,
            words=results.query.terms + [w for ph in results.query.phrases for w in ph.split()],
            pages=max(1, math.ceil(results.total / size)),
        )
        return c.render(request, "search.html", **values)

    return await c.run_limited(answer)


# -- paper page and actions ------------------------------------------------------------------------
@router.get("/papers/{paper_id:path}", include_in_schema=False)
def paper_page(request: Request, paper_id: str):
    c = ctx(request)
    paper = visible_paper(c, request, paper_id)
    user = c.user(request)
    # Opened: a weak like, and seen (For you leaves it out from now on). Not when another site sent the browser
    # here: a page elsewhere must not be able to steer someone's taste by linking papers.
    if user is not None and request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
        taste.mark_seen(c.engine, user.id, [paper["id"]], "opened")
    similar = c.search.similar(paper["id"], 10) or []
    with c.engine.connect() as conn:
        near = views.load_visible(conn, [h.id for h in similar], user)
    citation = citation_meta(paper, c.settings.base_url)
    return c.render(request, "paper.html", paper=paper, similar=near, bibtex=to_bibtex(paper), citation=citation)


def form_paper(request: Request, paper_id: str, csrf_token: str) -> tuple[Context, User | None, dict]:
    """What every form on a paper starts with: the CSRF check, who is asking, the (visible) paper."""
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c, c.user(request), visible_paper(c, request, paper_id)


@router.post("/papers/{paper_id:path}/upvote", include_in_schema=False)
def upvote_form(
    request: Request,
    paper_id: str,
    csrf_token: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "up",
    next: Annotated[str, Form()] = "",
):
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next={quote(safe_next(next, '/papers/' + paper['id']))}")
    accounts.set_upvote(c.engine, user, paper["id"], action != "remove")
    return to(safe_next(next, f"/papers/{paper['id']}") + f"#p-{paper['id']}")


@router.post("/papers/{paper_id:path}/not-interested", include_in_schema=False)
def not_interested_form(
    request: Request,
    paper_id: str,
    csrf_token: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "mark",
    next: Annotated[str, Form()] = "",
):
    """Mark (or, with action=remove, unmark) a paper as not interesting: it leaves the user's For you list and
    pushes its neighbours down. The page it came from says so, with an Undo."""
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next={quote(safe_next(next, '/papers/' + paper['id']))}")
    marking = action != "remove"
    taste.set_not_interested(c.engine, user, paper["id"], marking)
    back = safe_next(next, "/").split("#")[0]
    back = re.sub(r"([?&])marked=[^&]*&?", r"\1", back).rstrip("?&")
    if marking:
        back += ("&" if "?" in back else "?") + f"marked={quote(paper['id'])}"
    return to(back)


@router.post("/papers/{paper_id:path}/relevant", include_in_schema=False)
def relevant_form(
    request: Request,
    paper_id: str,
    csrf_token: Annotated[str, Form()] = "",
    answer: Annotated[str, Form(pattern="^(yes|no)$")] = "yes",
    next: Annotated[str, Form()] = "",
):
    """An answer to "Is this relevant to you?": yes counts as a like, no as a "not interested" for the model
    (the paper stays visible elsewhere). For you is ranked again with it."""
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next={quote(safe_next(next, '/papers/' + paper['id']))}")
    taste.answer(c.engine, user.id, paper["id"], answer == "yes")
    return to(safe_next(next, "/?sort=foryou").split("#")[0] + "#ask")


@router.post("/papers/{paper_id:path}/save", include_in_schema=False)
def save_form(
    request: Request,
    paper_id: str,
    csrf_token: Annotated[str, Form()] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    action: Annotated[str, Form()] = "save",
):
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next=/papers/{paper['id']}")
    if action == "remove":
        accounts.unsave_paper(c.engine, user, paper["id"])
        return to(f"/papers/{paper['id']}")
    try:
        accounts.save_paper(c.engine, user, paper["id"], accounts.clean_tags(tags))
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(f"/papers/{paper['id']}#library")


@router.post("/papers/{paper_id:path}/hide", include_in_schema=False)
def hide_form(
    request: Request, paper_id: str, csrf_token: Annotated[str, Form()] = "", hidden: Annotated[str, Form()] = "1"
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.user(request)
    if user is None or not user.is_admin:
        raise HTTPException(403, "only an admin can hide a paper")
    paper = visible_paper(c, request, paper_id)
    accounts.set_hidden(c.engine, user, paper["id"], hidden == "1")
    return to(f"/papers/{paper['id']}")


# -- submit -----------------------------------------------------------------------------------------
@router.get("/submit", include_in_schema=False)
def submit_page(request: Request):
    c = ctx(request)
    if c.user(request) is None:
        return login_first(request)
    return c.render(request, "submit.html", value="", error=None)


@router.post("/submit", include_in_schema=False)
async def submit_form(
    request: Request, paper: Annotated[str, Form(max_length=500)] = "", csrf_token: Annotated[str, Form()] = ""
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    if c.user(request) is None:
        return login_first(request)
    parsed = parse_arxiv_id(paper)
    if parsed is None:
        error = (
            f"{paper.strip()[:100]!r} is not an arXiv id or URL (try 2503.01234 or https://arxiv.org/abs/2503.01234)"
        )
        return c.render(request, "submit.html", status=422, value=paper, error=error)
    with c.engine.connect() as conn:
        if q.get_paper(conn, parsed.canonical):
            return to(f"/papers/{parsed.canonical}")
    try:
        # One arXiv call plus embedding one paper; the model's first load alone can take seconds.
        await c.run_limited(fetch_and_index, c, parsed.canonical, timeout=SUBMIT_TIMEOUT)
    except LookupError as exc:
        return c.render(request, "submit.html", status=404, value=paper, error=str(exc))
    except SourceError as exc:
        return c.render(request, "submit.html", status=502, value=paper, error=f"arXiv did not answer: {exc}")
    return to(f"/papers/{parsed.canonical}")


def fetch_and_index(c: Context, arxiv_id: str) -> None:
    """Fetch one paper from the arXiv API, store it and bring the search index up to date."""
    api = arxiv_api.ArxivApi(c.settings.arxiv_api_url, delay=0, retries=1, client=c.arxiv_client)
    found = [p for p in api.fetch(id_list=[arxiv_id], max_results=1) if isinstance(p, Paper) and p.id == arxiv_id]
    if not found:
        raise LookupError(f"arXiv has no paper {arxiv_id}")
    Importer(c.engine).run(found, "arxiv-api", f"submit {arxiv_id}")
    # Stored either way; if another writer holds the index for long, it (or the next `paperfeed index`)
    # makes the paper searchable.
    with contextlib.suppress(IndexBusy):
        sync(c.engine, c.settings.data_dir, c.search.encoder, wait=30)


# -- accounts ---------------------------------------------------------------------------------------
@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = ""):
    return ctx(request).render(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/login", include_in_schema=False)
def login_form(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    ip = client_ip(request)
    wait = c.limiter.wait(ip, username)
    if wait > 0:
        response = c.render(
            request,
            "login.html",
            status=429,
            next=safe_next(next),
            username=username,
            error=f"Too many failed logins from here; wait {math.ceil(wait)} s and try again.",
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = accounts.authenticate(c.engine, username, password)
    if user is None:
        c.limiter.failed(ip, username)
        return c.render(
            request,
            "login.html",
            status=401,
            next=safe_next(next),
            username=username,
            error="Wrong username or password.",
        )
    c.limiter.succeeded(ip, username)
    return logged_in(c, user, safe_next(next))


def logged_in(c: Context, user: User, target: str) -> RedirectResponse:
    response = to(target)
    c.set_cookie(
        response, SESSION_COOKIE, accounts.start_session(c.engine, user), max_age=accounts.SESSION_DAYS * 86400
    )
    return response


@router.get("/register", include_in_schema=False)
def register_page(request: Request, next: str = ""):
    values = dict(next=safe_next(next), error=None, username="", email="", categories="", keywords="")
    return ctx(request).render(request, "register.html", **values)


@router.post("/register", include_in_schema=False)
def register_form(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    password2: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    categories: Annotated[str, Form(max_length=1000)] = "",
    keywords: Annotated[str, Form(max_length=2000)] = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    again = dict(next=safe_next(next), username=username, email=email, categories=categories, keywords=keywords)
    ip = client_ip(request)
    # Accounts made count, not attempts: a user retrying for a strong enough password is not locked out.
    if c.registrations.count(ip) >= c.registrations.limit:
        error = "Too many new accounts from this address; try again in an hour."
        response = c.render(request, "register.html", status=429, error=error, **again)
        response.headers["Retry-After"] = "3600"
        return response
    try:
        if password != password2:
            raise AccountError("the two passwords differ")
        topics = taste.parse_topics(categories, keywords)  # checked before the account exists
        # The first account of a fresh install administers it (hides spam); later ones are plain users.
        user = accounts.create_user(c.engine, username.strip(), password, email, first_admin=True)
    except (AccountError, taste.TasteError) as exc:
        return c.render(request, "register.html", status=422, error=str(exc), **again)
    c.registrations.add(ip)
    taste.set_interests(c.engine, user, *topics)
    return logged_in(c, user, safe_next(next))


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf_token: Annotated[str, Form()] = ""):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(c.engine, token)
    response = to("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- settings ---------------------------------------------------------------------------------------
def render_settings(request: Request, status: int = 200, **values):
    c = ctx(request)
    user = c.user(request)
    tokens = accounts.list_tokens(c.engine, user)
    values.setdefault("message", None)
    values.setdefault("error", None)
    values.setdefault("new_token", None)
    return c.render(request, "settings.html", status=status, tokens=tokens, **values)


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request):
    if ctx(request).user(request) is None:
        return login_first(request)
    return render_settings(request)


def settings_user(request: Request, csrf_token: str) -> tuple[Context, User]:
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c, c.require_user(request)


@router.post("/settings/password", include_in_schema=False)
def change_password(
    request: Request,
    current: Annotated[str, Form(max_length=2000)] = "",
    new: Annotated[str, Form(max_length=2000)] = "",
    revoke_tokens: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    c, user = settings_user(request, csrf_token)
    keep = request.cookies.get(SESSION_COOKIE)
    try:
        accounts.change_password(c.engine, user, current, new, keep_session=keep, revoke_tokens=bool(revoke_tokens))
    except AccountError as exc:
        return render_settings(request, 422, error=str(exc))
    also = " and every API and feed token revoked" if revoke_tokens else ""
    return render_settings(request, message=f"Password changed; your other sessions were logged out{also}.")


@router.post("/settings/delete", include_in_schema=False)
def delete_account(
    request: Request, password: Annotated[str, Form(max_length=2000)] = "", csrf_token: Annotated[str, Form()] = ""
):
    c, user = settings_user(request, csrf_token)
    if accounts.authenticate(c.engine, user.username, password) is None:
        return render_settings(request, 422, error="Wrong password; the account was not deleted.")
    accounts.delete_user(c.engine, user)
    response = to("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/settings/tokens", include_in_schema=False)
def create_token(
    request: Request,
    kind: Annotated[str, Form(pattern="^(api|feed)$")] = "api",
    name: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    c, user = settings_user(request, csrf_token)
    token = accounts.create_token(c.engine, user, kind, name)
    response = render_settings(request, new_token={"kind": kind, "token": token})
    response.headers["Cache-Control"] = "no-store"  # the secret is shown once; no cache may keep it
    return response


@router.post("/settings/tokens/revoke-all", include_in_schema=False)
def revoke_all_tokens(request: Request, csrf_token: Annotated[str, Form()] = ""):
    c, user = settings_user(request, csrf_token)
    n = accounts.revoke_all_tokens(c.engine, user)
    return render_settings(request, message=f"{n} token{'s' if n != 1 else ''} revoked.")


@router.post("/settings/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(request: Request, token_id: int, csrf_token: Annotated[str, Form()] = ""):
    c, user = settings_user(request, csrf_token)
    if not accounts.revoke_token(c.engine, user, token_id):
        raise HTTPException(404, "no such token")
    return render_settings(request, message="Token revoked.")
