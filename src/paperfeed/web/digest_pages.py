"""Digest settings, preview, email verification and one-click unsubscribe (pages and JSON API)."""

from __future__ import annotations

from email import message_from_string
from email.policy import default as default_policy
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from paperfeed.clock import utcnow
from paperfeed.digest import outbox
from paperfeed.digest import subscriptions as subs
from paperfeed.store import outbox as outbox_store
from paperfeed.store import queries as q
from paperfeed.web.common import Csrf, Day, ctx, need_user, page_user, to
from paperfeed.web.context import Context

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/digest", tags=["digest"])
INVALID_LINK = "This link is invalid or has expired."
# The digest preview is an email: inline styles only, nothing loaded from anywhere.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _list(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def recent_mail(c: Context, user_id: int) -> list[dict]:
    return outbox_store.recent_of(c.engine, user_id)


def render_digest(request: Request, status: int = 200, **values):
    c = ctx(request)
    user = c.user(request)
    sub = subs.get(c.engine, user.id)
    values.setdefault("message", None)
    values.setdefault("error", None)
    return c.render(
        request,
        "digest_settings.html",
        status=status,
        sub=values.pop("sub", None) or sub or subs.Subscription(user_id=user.id, email=user.email or ""),
        exists=sub is not None,
        searches=subs.searches(c.engine, user.id),
        mail=recent_mail(c, user.id),
        **values,
    )


@router.get("/settings/digest")
def digest_page(request: Request):
    page_user(request)  # signed out: the login form first
    return render_digest(request)


@router.post("/settings/digest")
def digest_save(
    request: Request,
    csrf_token: Csrf = "",
    email: Annotated[str, Form(max_length=320)] = "",
    frequency: Annotated[str, Form()] = "daily",
    hour: Annotated[int, Form()] = 8,
    weekday: Annotated[int, Form()] = 0,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    trending_n: Annotated[int, Form()] = 10,
    categories: Annotated[str, Form(max_length=1000)] = "",
    authors: Annotated[str, Form(max_length=4000)] = "",
    send_empty: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "on",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.require_user(request)
    sub = subs.Subscription(
        user_id=user.id,
        email=email,
        frequency=frequency,
        hour=hour,
        weekday=weekday,
        timezone=timezone,
        trending_n=trending_n,
        categories=_list(categories),
        authors=_list(authors),
        send_empty=bool(send_empty),
        active=bool(active),
    )
    try:
        saved, needs_check = subs.save(c.engine, sub)
    except subs.SubscriptionError as exc:
        return render_digest(request, 422, error=str(exc), sub=sub)
    note = "Saved."
    if needs_check:
        note = "Saved. " + confirmation_note(c, user.id, saved.email)
    return render_digest(request, message=note)


def confirmation_note(c: Context, user_id: int, email: str) -> str:
    """Queue a confirmation mail (at most one per ten minutes) and say truthfully what happens to it."""
    if not outbox.queue_verification(c.engine, c.settings, user_id):
        return (
            "A confirmation link went to this address a few minutes ago (or several this hour): check your inbox,"
            " or ask again later."
        )
    if not c.settings.smtp_host:
        return (
            f"A confirmation link for {email} is waiting, but this server has no mail server configured "
            "(PAPERFEED_SMTP_HOST), so it cannot be sent yet."
        )
    return f"We sent a link to {email}: follow it to start receiving digests."


@router.post("/settings/digest/verify")
def digest_resend(request: Request, csrf_token: Csrf = ""):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.require_user(request)
    sub = subs.get(c.engine, user.id)
    if sub is None:
        raise HTTPException(404, "subscribe first")
    return render_digest(request, message=confirmation_note(c, user.id, sub.email))


@router.post("/settings/digest/searches")
def search_add(
    request: Request,
    csrf_token: Csrf = "",
    title: Annotated[str, Form(max_length=200)] = "",
    query: Annotated[str, Form(max_length=2000)] = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.require_user(request)
    try:
        subs.add_search(c.engine, user.id, title, query)
    except subs.SubscriptionError as exc:
        return render_digest(request, 422, error=str(exc))
    return to("/settings/digest#searches")


@router.post("/settings/digest/searches/{search_id}/delete")
def search_delete(request: Request, search_id: int, csrf_token: Csrf = ""):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    user = c.require_user(request)
    if not subs.delete_search(c.engine, user.id, search_id):
        raise HTTPException(404, "no such saved search")
    return to("/settings/digest#searches")


@router.get("/settings/digest/preview")
def digest_preview(
    request: Request,
    day: Annotated[Day | None, Query(alias="date")] = None,
    part: Annotated[str, Query(pattern="^(html|text)$")] = "html",
):
    """Exactly the digest that is (or would be) sent for the period due on `date`."""
    c, user = page_user(request)
    try:
        raw = outbox.preview(c.engine, c.settings, user.id, day or utcnow().date(), c.search)
    except subs.SubscriptionError as exc:
        raise HTTPException(404, str(exc)) from exc
    except outbox.ComposeError as exc:
        raise HTTPException(422, f"this digest cannot be composed: {exc}") from exc
    if not raw:
        # Say so on a page, and offer the newest day that has papers (a demo's papers are older than today).
        with c.engine.connect() as conn:
            latest = q.latest_day(conn)
        shown = day or utcnow().date()
        return c.render(request, "digest_empty.html", day=shown, latest=latest if latest != shown else None)
    msg = message_from_string(raw, policy=default_policy)
    body = msg.get_body(("html",) if part == "html" else ("plain",)).get_content()
    if part == "text":
        return PlainTextResponse(body)
    return HTMLResponse(body, headers={"Content-Security-Policy": PREVIEW_CSP})


@router.get("/verify-email/{token}")
def verify_email_page(request: Request, token: str):
    """A confirmation button: mail scanners follow links with GET, and must not confirm anyone's address."""
    c = ctx(request)
    if subs.read_token(c.secret, "verify", token, subs.VERIFY_MAX_AGE) is None:
        return c.render(request, "notice.html", status=400, heading="Not confirmed", text=INVALID_LINK)
    return c.render(request, "verify.html", token=token)


@router.post("/verify-email/{token}")
def verify_email(request: Request, token: str):
    """The signed token is the authority (it came by mail to the address), so no login or CSRF token."""
    c = ctx(request)
    if not subs.verify(c.engine, c.secret, token):
        return c.render(request, "notice.html", status=400, heading="Not confirmed", text=INVALID_LINK)
    return c.render(
        request, "notice.html", heading="Address confirmed", text="Your digest will arrive at the time you chose."
    )


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str):
    """A confirmation button: mail scanners follow links with GET, and must not unsubscribe anyone."""
    c = ctx(request)
    if subs.read_unsubscribe_token(c.secret, token) is None:
        return c.render(request, "notice.html", status=400, heading="Unsubscribe", text=INVALID_LINK)
    return c.render(request, "unsubscribe.html", token=token)


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str):
    """One click (RFC 8058): the signed token is the authority, so no login and no CSRF token."""
    c = ctx(request)
    if not subs.unsubscribe(c.engine, c.secret, token):
        return c.render(request, "notice.html", status=400, heading="Unsubscribe", text=INVALID_LINK)
    return c.render(
        request,
        "notice.html",
        heading="Unsubscribed",
        text="You will get no more digests. You can subscribe again from your settings.",
    )


# -- JSON API -------------------------------------------------------------------------------------
class SubscriptionIn(BaseModel):
    email: str = Field(max_length=320)
    frequency: str = Field("daily", pattern="^(daily|weekly)$")
    hour: int = Field(8, ge=0, le=23)
    weekday: int = Field(0, ge=0, le=6)
    timezone: str = Field("UTC", max_length=64)
    trending_n: int = Field(10, ge=0, le=50)
    categories: list[str] = Field(default_factory=list, max_length=30)
    authors: list[str] = Field(default_factory=list, max_length=30)
    send_empty: bool = False
    active: bool = True


class SearchIn(BaseModel):
    title: str = Field("", max_length=200)
    query: str = Field(min_length=1, max_length=2000)


def _sub_json(sub: subs.Subscription) -> dict:
    out = {k: getattr(sub, k) for k in SubscriptionIn.model_fields}
    out.update(verified=sub.verified_at is not None, bounced=sub.bounce_reason)
    return out


def _api_user(request: Request, write: bool = False):
    c = ctx(request)
    user = need_user(c, request, write)
    return c, user


@api.get("/subscription", summary="Your digest subscription")
def get_subscription(request: Request):
    c, user = _api_user(request)
    sub = subs.get(c.engine, user.id)
    if sub is None:
        raise HTTPException(404, "no digest subscription")
    return _sub_json(sub)


@api.put("/subscription", summary="Create or change your digest subscription")
def put_subscription(request: Request, body: SubscriptionIn):
    c, user = _api_user(request, write=True)
    try:
        sub, needs_check = subs.save(c.engine, subs.Subscription(user_id=user.id, **body.model_dump()))
    except subs.SubscriptionError as exc:
        raise HTTPException(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from exc
    queued = needs_check and outbox.queue_verification(c.engine, c.settings, user.id)
    return {**_sub_json(sub), "verification_sent": queued}


@api.get("/searches", summary="Your saved searches")
def get_searches(request: Request):
    c, user = _api_user(request)
    return [{"id": s["id"], "title": s["title"], "query": s["query"]} for s in subs.searches(c.engine, user.id)]


@api.post("/searches", summary="Save a search for your digest", status_code=201)
def post_search(request: Request, body: SearchIn):
    c, user = _api_user(request, write=True)
    try:
        new_id = subs.add_search(c.engine, user.id, body.title, body.query)
    except subs.SubscriptionError as exc:
        raise HTTPException(422, [{"loc": ["body", "query"], "msg": str(exc), "type": "value_error"}]) from exc
    return {"id": new_id}


@api.delete("/searches/{search_id}", summary="Delete a saved search")
def delete_search(request: Request, search_id: int):
    c, user = _api_user(request, write=True)
    if not subs.delete_search(c.engine, user.id, search_id):
        raise HTTPException(404, "no such saved search")
    return {"id": search_id, "deleted": True}
