"""Email digests: the `digest` group."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Annotated

import typer
from rich.markup import escape

from paperfeed.cli.common import (
    _engine,
    app,
    fail,
    out,
)
from paperfeed.config import get_settings
from paperfeed.store import accounts

digest_app = typer.Typer(help="Email digests: subscribe users, preview, send what is due.")
app.add_typer(digest_app, name="digest")


def _digest_service():
    from paperfeed.search.service import SearchService

    return SearchService.from_settings(_engine(), get_settings())


def _user_id(engine, username: str) -> int:
    with engine.connect() as conn:
        user = accounts.get_user(conn, username)
    if user is None:
        fail(f"no user {username!r}", 1)
    return user.id


@digest_app.command("run")
def digest_run(
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this UTC time (ISO 8601), e.g. to send a past day's digest.")
    ] = None,
) -> None:
    """Compose and send every digest that is due; safe to run from cron at any frequency, or twice at once."""
    from paperfeed.digest import outbox

    try:
        when = datetime.fromisoformat(now).replace(tzinfo=None) if now else None
    except ValueError:
        fail(f"--now is not an ISO date-time: {now!r}")
    report = outbox.run(_engine(), get_settings(), _digest_service(), now=when)
    out.print(f"digest: {escape(str(report))}")


@digest_app.command("preview")
def digest_preview(
    user: Annotated[str, typer.Option("--user", help="Username.")],
    day: Annotated[str | None, typer.Option("--date", help="The delivery day YYYY-MM-DD (default today).")] = None,
    part: Annotated[str, typer.Option(help="text, html, or raw (the whole message as sent).")] = "text",
) -> None:
    """Show exactly the digest this user gets (or got) for the period due on that day."""
    from email import message_from_string
    from email.policy import default as default_policy

    from paperfeed.digest import outbox
    from paperfeed.digest.subscriptions import SubscriptionError

    engine = _engine()
    try:
        when = date.fromisoformat(day) if day else date.today()
        raw = outbox.preview(engine, get_settings(), _user_id(engine, user), when, _digest_service())
    except (ValueError, SubscriptionError) as exc:
        fail(str(exc), 1)
    if not raw:
        out.print("nothing new for this period: no digest would be sent")
        return
    if part == "raw":
        sys.stdout.write(raw)
        return
    msg = message_from_string(raw, policy=default_policy)
    body = msg.get_body(("html",) if part == "html" else ("plain",)).get_content()
    sys.stdout.write(body.replace("\r\n", "\n"))  # CRLF is the wire format, not the terminal's


@digest_app.command("subscribe")
def digest_subscribe(
    user: str,
    email: Annotated[str, typer.Option(help="Where to send it.")],
    frequency: Annotated[str, typer.Option(help="daily or weekly.")] = "daily",
    hour: Annotated[int, typer.Option(help="Local delivery hour, 0-23.")] = 8,
    weekday: Annotated[int, typer.Option(help="Weekly: 0 = Monday ... 6 = Sunday.")] = 0,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
    trending: Annotated[int, typer.Option(help="Top trending papers to include (0: none).")] = 10,
    category: Annotated[list[str] | None, typer.Option(help="New papers in this category (repeatable).")] = None,
    author: Annotated[list[str] | None, typer.Option(help="Follow this author (repeatable).")] = None,
    search: Annotated[list[str] | None, typer.Option(help='A saved search, "title=query" (repeatable).')] = None,
    verified: Annotated[
        bool, typer.Option("--verified", help="You vouch for the address: skip the confirmation mail.")
    ] = False,
) -> None:
    """Subscribe a user (admins). Without --verified, a confirmation link is mailed first."""
    from paperfeed.digest import outbox
    from paperfeed.digest import subscriptions as subs

    engine = _engine()
    uid = _user_id(engine, user)
    try:
        sub, needs_check = subs.save(
            engine,
            subs.Subscription(
                user_id=uid,
                email=email,
                frequency=frequency,
                hour=hour,
                weekday=weekday,
                timezone=timezone,
                trending_n=trending,
                categories=category or [],
                authors=author or [],
            ),
        )
        for item in search or []:
            title, _, query = item.partition("=") if "=" in item else ("", "", item)
            subs.add_search(engine, uid, title, query)
    except subs.SubscriptionError as exc:
        fail(str(exc), 1)
    if verified:
        subs.mark_verified(engine, uid, sub.email)
    elif needs_check:
        outbox.queue_verification(engine, get_settings(), uid)
    state = "active" if verified or not needs_check else "waiting for the address to be confirmed"
    out.print(
        f"{escape(user)}: {sub.frequency} digest at {sub.hour:02d}:00 {sub.timezone} to {escape(sub.email)}, {state}"
    )


@digest_app.command("status")
def digest_status() -> None:
    """The outbox by status, and the latest failures."""
    from paperfeed.store import outbox as box

    counts, failed = box.status_counts(_engine())
    out.print(", ".join(f"{s}: {n}" for s, n in counts) or "the outbox is empty")
    for uid, period, error in failed:
        out.print(f"failed: user {uid} {escape(period)}: {escape(error or '')}")
