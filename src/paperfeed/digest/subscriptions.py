"""Subscriptions and saved searches: validation, storage, periods, and the signed links in emails."""

from __future__ import annotations

import re
import time as time_module
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Engine

from paperfeed.search.query import QueryError, parse
from paperfeed.store import subscriptions as store
from paperfeed.store.accounts import EMAIL

# What the store reads and writes, named here as the digest's callers have always named them.
from paperfeed.store.subscriptions import (  # noqa: F401
    Subscription,
    delete_search,
    get,
    mark_verified,
    searches,
    set_active,
    user_of,
)

FREQUENCIES = ("daily", "weekly")
CATEGORY = re.compile(r"^[A-Za-z\-]+(\.[A-Za-z\-]+)?$")
MAX_SAVED_SEARCHES = 20
VERIFY_MAX_AGE = 7 * 86400
UNSUBSCRIBE_MAX_AGE = 365 * 86400


# Seconds since the epoch, for the age of unsubscribe links (a seam for tests that replay a past day).
clock = time_module.time


class SubscriptionError(ValueError):
    """Input that cannot be subscribed, with a message to show."""


def _plain(text: str, limit: int) -> str:
    """One line of text: control characters (CR/LF included) become spaces."""
    kept = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(kept.split())[:limit]


def validate(sub: Subscription) -> Subscription:
    sub.email = sub.email.strip()
    if not EMAIL.match(sub.email) or len(sub.email) > 254:
        raise SubscriptionError(f"not an email address: {_plain(sub.email, 80)!r}")
    if sub.frequency not in FREQUENCIES:
        raise SubscriptionError("frequency is daily or weekly")
    if not 0 <= sub.hour <= 23:
        raise SubscriptionError("the delivery hour is 0 to 23")
    if not 0 <= sub.weekday <= 6:
        raise SubscriptionError("the weekday is 0 (Monday) to 6 (Sunday)")
    if not valid_timezone(sub.timezone):
        raise SubscriptionError(f"unknown time zone {_plain(sub.timezone, 60)!r} (e.g. Europe/Berlin, UTC)")
    if not 0 <= sub.trending_n <= 50:
        raise SubscriptionError("trending papers: 0 to 50")
    sub.categories = list(dict.fromkeys(c.strip() for c in sub.categories if c.strip()))
    bad = [c for c in sub.categories if not CATEGORY.match(c)]
    if bad or len(sub.categories) > 30:
        raise SubscriptionError(f"not an arXiv category: {_plain(bad[0], 40)!r}" if bad else "30 categories at most")
    sub.authors = list(dict.fromkeys(_plain(a, 100) for a in sub.authors if _plain(a, 100)))
    nameless = [a for a in sub.authors if not re.search(r"\w", a)]
    if nameless:
        raise SubscriptionError(f"an author to follow needs a name, not {nameless[0]!r}")
    if len(sub.authors) > 30:
        raise SubscriptionError("30 followed authors at most")
    return sub


def save(engine: Engine, sub: Subscription) -> tuple[Subscription, bool]:
    """Create or update the subscription; True when the address must (again) be verified."""
    return store.write(engine, validate(sub))


def mark_bounced(engine: Engine, user_id: int, reason: str) -> None:
    store.mark_bounced(engine, user_id, _plain(reason, 300))


# -- saved searches ---------------------------------------------------------------------------------
def add_search(engine: Engine, user_id: int, title: str, query: str) -> int:
    query = _plain(query, 1000)
    title = _plain(title, 100) or query[:100]
    try:
        parsed = parse(query)
    except QueryError as exc:
        raise SubscriptionError(f"the saved search does not parse: {exc}") from exc
    if not (parsed.has_text or parsed.has_filters):
        raise SubscriptionError("a saved search needs some words, a phrase, author: or cat:")
    try:
        return store.add_search(engine, user_id, title, query, MAX_SAVED_SEARCHES)
    except store.TooMany as exc:
        raise SubscriptionError(str(exc)) from None


# -- periods ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    key: str  # "daily:2026-11-25" | "weekly:2026-W48"
    day: date  # the local delivery day
    due_at: datetime  # UTC, naive
    start: date  # listing days this digest covers when there was no digest before: start..day
    label: str


def period_for(sub: Subscription, now: datetime) -> Period:
    """The latest period whose delivery time (local hour, and weekday for weekly) is not after `now` (UTC)."""
    tz = ZoneInfo(sub.timezone)
    local = now.replace(tzinfo=UTC).astimezone(tz)
    day = local.date()
    while True:
        due = datetime.combine(day, time(sub.hour), tz)
        if due <= local and (sub.frequency == "daily" or day.weekday() == sub.weekday):
            break
        day -= timedelta(days=1)
    due_utc = due.astimezone(UTC).replace(tzinfo=None)
    if sub.frequency == "daily":
        return Period(f"daily:{day}", day, due_utc, day - timedelta(days=1), day.strftime("%a, %b %d, %Y"))
    year, week, _ = day.isocalendar()
    return Period(
        f"weekly:{year}-W{week:02d}",
        day,
        due_utc,
        day - timedelta(days=7),
        f"week of {(day - timedelta(days=6)).strftime('%b %d')}–{day.strftime('%b %d, %Y')}",
    )


def due_time(sub: Subscription, day: date) -> datetime:
    """UTC (naive) of the delivery hour on `day` in the subscriber's time zone."""
    local = datetime.combine(day, time(sub.hour), ZoneInfo(sub.timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# -- signed links -----------------------------------------------------------------------------------
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"paperfeed-{purpose}")


def make_token(secret: str, purpose: str, user_id: int, email: str) -> str:
    return _serializer(secret, purpose).dumps({"u": user_id, "e": email.lower()})


def read_token(secret: str, purpose: str, token: str, max_age: int) -> tuple[int, str] | None:
    """(user id, address) of a genuine, unexpired token; None otherwise, without saying why."""
    try:
        data = _serializer(secret, purpose).loads(token, max_age=max_age)
    except BadData:  # a bad signature, an expired one, or garbage
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), str):
        return None
    return data["u"], data["e"]


def make_unsubscribe_token(secret: str, user_id: int, email: str, issued: datetime) -> str:
    """A token for a digest's unsubscribe link. It carries its issue time (the period's delivery time)
    instead of itsdangerous's signing-time stamp, so the same digest always has the same link: the
    preview and the message that is sent are identical."""
    stamp = int(issued.replace(tzinfo=UTC).timestamp())
    return URLSafeSerializer(secret, salt="paperfeed-unsubscribe").dumps({"u": user_id, "e": email.lower(), "t": stamp})


def read_unsubscribe_token(secret: str, token: str, max_age: int = UNSUBSCRIBE_MAX_AGE) -> tuple[int, str] | None:
    """(user id, address) of a genuine token issued less than `max_age` seconds ago; None otherwise."""
    try:
        data = URLSafeSerializer(secret, salt="paperfeed-unsubscribe").loads(token)
    except BadData:
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), t) for k, t in (("u", int), ("e", str), ("t", int))
    ):
        return None
    if clock() - data["t"] > max_age:
        return None
    return data["u"], data["e"]


def unsubscribe(engine: Engine, secret: str, token: str, max_age: int = UNSUBSCRIBE_MAX_AGE) -> bool:
    """Turn the subscription off if the token is genuine and still names the subscribed address."""
    found = read_unsubscribe_token(secret, token, max_age)
    if found is None:
        return False
    user_id, email = found
    sub = get(engine, user_id)
    if sub is None or sub.email.lower() != email:
        return False
    set_active(engine, user_id, False)
    return True


def verify(engine: Engine, secret: str, token: str) -> bool:
    found = read_token(secret, "verify", token, VERIFY_MAX_AGE)
    if found is None:
        return False
    user_id, email = found
    sub = get(engine, user_id)
    return sub is not None and sub.email.lower() == email and mark_verified(engine, user_id, sub.email)
