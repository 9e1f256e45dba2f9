"""Accounts: log in, register, log out, and the settings page (password, tokens, deleting the account)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from paperfeed.store import accounts, taste
from paperfeed.store.accounts import AccountError, User
from paperfeed.web.common import (
    Csrf,
    ctx,
    page_user,
    to,
)
from paperfeed.web.context import SESSION_COOKIE, Context, client_ip, safe_next

router = APIRouter(include_in_schema=False)


# -- accounts ---------------------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str = ""):
    return ctx(request).render(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/login")
def login_form(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Csrf = "",
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


@router.get("/register")
def register_page(request: Request, next: str = ""):
    values = dict(next=safe_next(next), error=None, username="", email="", categories="", keywords="")
    return ctx(request).render(request, "register.html", **values)


@router.post("/register")
def register_form(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    password2: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Csrf = "",
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


@router.post("/logout")
def logout(request: Request, csrf_token: Csrf = ""):
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


@router.get("/settings")
def settings_page(request: Request):
    page_user(request)  # signed out: the login form first
    return render_settings(request)


def settings_user(request: Request, csrf_token: str) -> tuple[Context, User]:
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c, c.require_user(request)


@router.post("/settings/password")
def change_password(
    request: Request,
    current: Annotated[str, Form(max_length=2000)] = "",
    new: Annotated[str, Form(max_length=2000)] = "",
    revoke_tokens: Annotated[str, Form()] = "",
    csrf_token: Csrf = "",
):
    c, user = settings_user(request, csrf_token)
    keep = request.cookies.get(SESSION_COOKIE)
    try:
        accounts.change_password(c.engine, user, current, new, keep_session=keep, revoke_tokens=bool(revoke_tokens))
    except AccountError as exc:
        return render_settings(request, 422, error=str(exc))
    also = " and every API and feed token revoked" if revoke_tokens else ""
    return render_settings(request, message=f"Password changed; your other sessions were logged out{also}.")


@router.post("/settings/delete")
def delete_account(request: Request, password: Annotated[str, Form(max_length=2000)] = "", csrf_token: Csrf = ""):
    c, user = settings_user(request, csrf_token)
    if accounts.authenticate(c.engine, user.username, password) is None:
        return render_settings(request, 422, error="Wrong password; the account was not deleted.")
    accounts.delete_user(c.engine, user)
    response = to("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/settings/tokens")
def create_token(
    request: Request,
    kind: Annotated[str, Form(pattern="^(api|feed)$")] = "api",
    name: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Csrf = "",
):
    c, user = settings_user(request, csrf_token)
    token = accounts.create_token(c.engine, user, kind, name)
    response = render_settings(request, new_token={"kind": kind, "token": token})
    response.headers["Cache-Control"] = "no-store"  # the secret is shown once; no cache may keep it
    return response


@router.post("/settings/tokens/revoke-all")
def revoke_all_tokens(request: Request, csrf_token: Csrf = ""):
    c, user = settings_user(request, csrf_token)
    n = accounts.revoke_all_tokens(c.engine, user)
    return render_settings(request, message=f"{n} token{'s' if n != 1 else ''} revoked.")


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf_token: Csrf = ""):
    c, user = settings_user(request, csrf_token)
    if not accounts.revoke_token(c.engine, user, token_id):
        raise HTTPException(404, "no such token")
    return render_settings(request, message="Token revoked.")
