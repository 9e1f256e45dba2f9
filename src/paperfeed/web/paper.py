"""A paper's page, what a reader does there (upvote, save, not interested, relevant, hide), and /submit."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request

from paperfeed.formats import citation_meta, to_bibtex
from paperfeed.models import SourceError, parse_arxiv_id
from paperfeed.store import collections, group_activity, groups, marks, taste, threads
from paperfeed.store import queries as q
from paperfeed.store.accounts import AccountError, User
from paperfeed.sync.submit import fetch_and_index
from paperfeed.web import present
from paperfeed.web.common import (
    SUBMIT_TIMEOUT,
    Csrf,
    ctx,
    login_first,
    page_user,
    signed_in,
    to,
    visible_paper,
)
from paperfeed.web.context import Context, safe_next

router = APIRouter(include_in_schema=False)
THREAD_PAGE = 100  # top-level comments on a page (with all their replies)


# -- paper page and actions ------------------------------------------------------------------------
@router.get("/papers/{paper_id:path}")
def paper_page(request: Request, paper_id: str):
    c = ctx(request)
    paper = visible_paper(c, request, paper_id)
    user = c.user(request)
    # Opened: a weak like, and seen (For you leaves it out from now on). Not when another site sent the browser
    # here: a page elsewhere must not be able to steer someone's taste by linking papers.
    if user is not None and request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
        taste.mark_seen(c.engine, user.id, [paper["id"]], "opened")
    return render_paper(c, request, paper)


def render_paper(c: Context, request: Request, paper: dict, status: int = 200, **extra):
    """The paper page: the paper, its discussion, similar papers; `extra` e.g. a comment form's error and
    the text to keep in it."""
    user = c.user(request)
    similar = c.search.similar(paper["id"], 10) or []
    with c.engine.connect() as conn:
        near = present.load_visible(conn, [h.id for h in similar], user)
        page, around = thread_place(request)
        form = extra.get("form") or {}
        # A refused reply or edit: the page that holds the comment, so its form and draft are there.
        around = around or form.get("reply_to") or form.get("editing")
        talk = threads.thread_page(conn, paper["id"], user, THREAD_PAGE, page, around if page is None else None)
        held = collections.holding(conn, paper["id"])
        mine = groups.of_user(conn, user)
        notes = group_activity.shared_notes(conn, viewer=user, paper_id=paper["id"]) if mine else []
        shared = group_activity.note_shared_with(conn, user, paper["id"]) if mine else set()
    citation = citation_meta(paper, c.settings.base_url)
    values = {"paper": paper, "similar": near, "bibtex": to_bibtex(paper), "citation": citation}
    values |= {"thread": talk.threads, "talk": talk}
    values |= {"held": held, "my_groups": mine, "group_notes": notes, "note_groups": shared}
    return c.render(request, "paper.html", status=status, **values, **extra)


def thread_place(request: Request) -> tuple[int | None, int | None]:
    """?comments=P (a page of the discussion) and ?c=ID (the page holding that comment); 422 for anything else
    than a small whole number."""
    found = []
    for name in ("comments", "c"):
        value = request.query_params.get(name, "")
        if value and not (re.fullmatch(r"[0-9]{1,10}", value) and 0 < int(value) < 2**31):
            raise HTTPException(422, f"{name}: a whole number from 1, not {value[:20]!r}")
        found.append(int(value) if value else None)
    return found[0], found[1]


def form_paper(request: Request, paper_id: str, csrf_token: str) -> tuple[Context, User | None, dict]:
    """What every form on a paper starts with: the CSRF check, who is asking, the (visible) paper."""
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c, c.user(request), visible_paper(c, request, paper_id)


@router.post("/papers/{paper_id:path}/upvote")
def upvote_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
    action: Annotated[str, Form()] = "up",
    next: Annotated[str, Form()] = "",
):
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next={quote(safe_next(next, '/papers/' + paper['id']))}")
    marks.set_upvote(c.engine, user, paper["id"], action != "remove")
    return to(safe_next(next, f"/papers/{paper['id']}") + f"#p-{paper['id']}")


@router.post("/papers/{paper_id:path}/not-interested")
def not_interested_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
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


@router.post("/papers/{paper_id:path}/relevant")
def relevant_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
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


@router.post("/papers/{paper_id:path}/save")
def save_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    action: Annotated[str, Form()] = "save",
):
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next=/papers/{paper['id']}")
    if action == "remove":
        marks.unsave_paper(c.engine, user, paper["id"])
        return to(f"/papers/{paper['id']}")
    try:
        marks.save_paper(c.engine, user, paper["id"], marks.clean_tags(tags))
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return to(f"/papers/{paper['id']}#library")


@router.post("/papers/{paper_id:path}/note")
def note_form(
    request: Request,
    paper_id: str,
    csrf_token: Csrf = "",
    note: Annotated[str, Form(max_length=marks.MAX_NOTE + 2000)] = "",
    state: Annotated[str, Form(pattern="^(|to-read|reading|read)$")] = "",
):
    """The private note and the reading state of a saved paper, saved together from the paper's page."""
    c, user, paper = form_paper(request, paper_id, csrf_token)
    if user is None:
        return to(f"/login?next=/papers/{paper['id']}")
    try:
        marks.set_note(c.engine, user, paper["id"], note)
        marks.set_state(c.engine, user, paper["id"], state or None)
    except AccountError as exc:
        # The note stays in the form as typed: nothing is lost to a refusal.
        return render_paper(c, request, paper, status=422, note_form={"error": str(exc), "draft": note})
    return to(f"/papers/{paper['id']}#library")


@router.post("/papers/{paper_id:path}/hide")
def hide_form(request: Request, paper_id: str, csrf_token: Csrf = "", hidden: Annotated[str, Form()] = "1"):
    c, user = signed_in(request, csrf_token)
    if user is None or not user.is_admin:
        raise HTTPException(403, "only an admin can hide a paper")
    paper = visible_paper(c, request, paper_id)
    marks.set_hidden(c.engine, user, paper["id"], hidden == "1")
    return to(f"/papers/{paper['id']}")


# -- submit -----------------------------------------------------------------------------------------
@router.get("/submit")
def submit_page(request: Request):
    c, _ = page_user(request)
    return c.render(request, "submit.html", value="", error=None)


@router.post("/submit")
async def submit_form(request: Request, paper: Annotated[str, Form(max_length=500)] = "", csrf_token: Csrf = ""):
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
        await c.run_limited(
            fetch_and_index,
            c.engine,
            c.settings,
            lambda: c.search.encoder,
            parsed.canonical,
            c.arxiv_client,
            timeout=SUBMIT_TIMEOUT,
        )
    except LookupError as exc:
        return c.render(request, "submit.html", status=404, value=paper, error=str(exc))
    except SourceError as exc:
        return c.render(request, "submit.html", status=502, value=paper, error=f"arXiv did not answer: {exc}")
    return to(f"/papers/{parsed.canonical}")
