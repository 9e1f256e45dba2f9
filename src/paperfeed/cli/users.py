"""Accounts: the `user` group."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from paperfeed.cli.common import (
    _engine,
    app,
    fail,
    out,
)
from paperfeed.store import accounts

user_app = typer.Typer(help="Manage accounts (the first account registered on the web is an admin too).")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: str,
    email: Annotated[str, typer.Option(help="Email address (for digests).")] = "",
    admin: Annotated[bool, typer.Option(help="Make the account an admin.")] = False,
) -> None:
    """Create an account; the password is asked for (or read from PAPERFEED_NEW_PASSWORD)."""
    password = os.environ.get("PAPERFEED_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        user = accounts.create_user(_engine(), username, password, email, admin=admin)
    except accounts.AccountError as exc:
        fail(str(exc), 1)
    out.print(f"created {escape(user.username)}{' (admin)' if user.is_admin else ''}")


@user_app.command("admin")
def user_admin(
    username: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Give an account the admin role (it may hide papers), or take it away."""
    try:
        accounts.set_admin(_engine(), username, not revoke)
    except accounts.AccountError as exc:
        fail(str(exc), 1)
    out.print(f"{escape(username)} is {'no longer ' if revoke else ''}an admin")


@user_app.command("list")
def user_list() -> None:
    """Accounts, with their role."""
    for u in accounts.list_users(_engine()):
        out.print(f"{escape(u.username)}\t{u.email or '-'}\t{'admin' if u.is_admin else 'user'}")
