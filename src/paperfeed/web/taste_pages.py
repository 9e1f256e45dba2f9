"""Your taste: sign-up topics, keyword rules, library import, the private For-you feed and webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile

from paperfeed.digest import webhooks
from paperfeed.ingest import bibtex
from paperfeed.rank import foryou, profile
from paperfeed.store import hooks as store_hooks
from paperfeed.store import queries as q
from paperfeed.store import taste
from paperfeed.store.accounts import User
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, page_user

router = APIRouter(include_in_schema=False)


def form_user(request: Request, csrf_token: str) -> User:
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c.require_user(request)


def render_taste(request: Request, status: int = 200, **values):
    c = ctx(request)
    user = c.user(request)
    with c.engine.connect() as conn:
        values.update(
            rules=taste.rules(conn, user.id),
            categories=taste.categories(conn, user.id),
            imported=taste.imported_count(conn, user.id),
        )
    values.setdefault("ask", [])
    values.setdefault("message", None)
    values.setdefault("error", None)
    values.setdefault("report", None)
    return c.render(request, "taste.html", status=status, hooks=store_hooks.hooks_of(c.engine, user.id), **values)


def to_ask(c, user: User, n: int = 5) -> list[dict]:
    """The latest day's papers the user's model is least sure about (none before the first like)."""
    with c.engine.connect() as conn:
        day = q.latest_day(conn)
        ids = present.ranked_ids(conn, present.period_of("date", day), "trending", None) if day else []
    unsure = foryou.least_sure(foryou.for_you(c.engine, c.search, user.id, ids).picks, n)
    with c.engine.connect() as conn:
        return present.load_papers(conn, unsure, user)


@router.get("/settings/taste")
def taste_page(request: Request):
    page_user(request)  # signed out: the login form first
    c = ctx(request)
    return render_taste(request, ask=to_ask(c, c.user(request)))


@router.post("/settings/taste/interests")
def save_interests(
    request: Request,
    csrf_token: Csrf = "",
    categories: Annotated[str, Form(max_length=1000)] = "",
    keywords: Annotated[str, Form(max_length=2000)] = "",
):
    user = form_user(request, csrf_token)
    try:
        taste.set_interests(ctx(request).engine, user, *taste.parse_topics(categories, keywords))
    except taste.TasteError as exc:
        return render_taste(request, 422, error=str(exc))
    return render_taste(request, message="Saved: For you uses these until you upvote or save papers.")


@router.post("/settings/taste/rules")
def add_rule(
    request: Request,
    csrf_token: Csrf = "",
    kind: Annotated[str, Form(max_length=8)] = "",
    phrase: Annotated[str, Form(max_length=400)] = "",
):
    user = form_user(request, csrf_token)
    try:
        rule = taste.add_rule(ctx(request).engine, user, kind, phrase)
    except taste.TasteError as exc:
        return render_taste(request, 422, error=str(exc))
    return render_taste(request, message=f"Added: {rule.kind} “{rule.phrase}”.")


@router.post("/settings/taste/rules/{rule_id}/delete")
def remove_rule(request: Request, rule_id: int, csrf_token: Csrf = ""):
    user = form_user(request, csrf_token)
    if not taste.remove_rule(ctx(request).engine, user, rule_id):
        raise HTTPException(404, "no such rule")
    return render_taste(request, message="Rule removed.")


@router.post("/settings/taste/import")
def import_library(
    request: Request,
    csrf_token: Csrf = "",
    kind: Annotated[str, Form(max_length=8)] = "bibtex",
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form(max_length=1_000_000)] = "",
    author: Annotated[str, Form(max_length=200)] = "",
):
    user = form_user(request, csrf_token)
    c = ctx(request)
    try:
        if kind == "author":
            report = profile.import_author(c.engine, user.id, author)
        else:
            body = read_upload(file) or text
            report = profile.import_entries(c.engine, c.search, user.id, kind, body, c.settings.import_seconds)
    except profile.ProfileError as exc:
        return render_taste(request, 422, error=f"Nothing imported: {exc}")
    return render_taste(request, message="Imported: " + report.line() + ".", report=report)


def read_upload(file: UploadFile | None) -> str:
    if file is None or not file.filename:
        return ""
    data = file.file.read(bibtex.MAX_BYTES + 1)
    if len(data) > bibtex.MAX_BYTES:
        raise profile.ProfileError(f"the file is over {bibtex.MAX_BYTES // 2**20} MB; export a smaller collection")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older Mendeley and JabRef exports


@router.post("/settings/taste/import/clear")
def clear_import(request: Request, csrf_token: Csrf = ""):
    user = form_user(request, csrf_token)
    gone = taste.clear_imported(ctx(request).engine, user)
    return render_taste(request, message=f"Removed {gone} imported entries.")


@router.post("/settings/taste/hooks")
def add_hook(
    request: Request,
    csrf_token: Csrf = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    shape: Annotated[str, Form(max_length=8)] = "json",
    top_n: Annotated[int, Form()] = 5,
):
    user = form_user(request, csrf_token)
    c = ctx(request)
    try:
        webhooks.add(c.engine, c.settings, user, url, shape, top_n)
    except webhooks.HookError as exc:
        return render_taste(request, 422, error=str(exc))
    return render_taste(request, message="Webhook added: it receives each new day's top papers.")


@router.post("/settings/taste/hooks/{hook_id}/{action}")
def change_hook(request: Request, hook_id: int, action: str, csrf_token: Csrf = ""):
    user = form_user(request, csrf_token)
    engine = ctx(request).engine
    if action not in ("delete", "enable"):
        raise HTTPException(404, "no such action")
    change = store_hooks.remove_hook if action == "delete" else store_hooks.enable_hook
    if not change(engine, user, hook_id):
        raise HTTPException(404, "no such webhook")
    return render_taste(request, message="Webhook removed." if action == "delete" else "Webhook enabled.")
