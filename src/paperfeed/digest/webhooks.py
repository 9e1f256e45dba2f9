"""Webhooks: each day's top N "For you" papers POSTed to a URL the user chose, as plain JSON or in the shape
Slack's incoming webhooks or Discord's webhooks take.

Each hook is tried on its own, with a short timeout, so one slow or failing receiver never holds up the
others. A 5xx, 408, 429, timeout or refused connection is retried later (base * 4^attempt seconds apart, up
to `webhook_max_attempts`); any other 4xx means the URL is wrong or gone: the hook is disabled and the
reason shown on the user's taste page until they enable it again. By default a hook may not point at a
private, loopback or link-local address (checked when it is added and again before each send), so a user
cannot make the server probe the lab's own network.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.rank.foryou import for_you
from paperfeed.rank.trending import ranked_ids
from paperfeed.search.service import SearchService
from paperfeed.store import hooks as store
from paperfeed.store import queries as q
from paperfeed.store import taste
from paperfeed.store.accounts import User
from paperfeed.store.importer import utcnow

log = logging.getLogger("paperfeed.webhooks")
MAX_TOP = 10  # Discord takes at most 10 embeds in one message
RETRY_STATUS = {408, 429}


class HookError(ValueError):
    """A webhook that cannot be added, with a one-line reason."""


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: int = 0
    empty: int = 0


# -- adding ------------------------------------------------------------------------------------------
def add(engine: Engine, settings: Settings, user: User, url: str, shape: str, top_n: int) -> store.Hook:
    url = url.strip()
    if shape not in store.SHAPES:
        raise HookError(f"the shape is one of {', '.join(store.SHAPES)}")
    if not 1 <= top_n <= MAX_TOP:
        raise HookError(f"send between 1 and {MAX_TOP} papers a day")
    check_url(url, settings.webhook_allow_private)
    try:
        return store.add_hook(engine, user, url, shape, top_n)
    except ValueError as exc:
        raise HookError(str(exc)) from exc


def check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise HookError("a webhook is an http:// or https:// URL, like https://hooks.slack.com/services/…")
    if parts.username or parts.password:
        raise HookError("put no user name or password in the URL; use the secret path the service gives you")
    if not allow_private:
        for addr in addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
            if not addr.is_global:
                raise HookError(f"{parts.hostname} is a private or local address ({addr}); hooks go to the internet")


def addresses(host: str, port: int) -> list:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HookError(f"{host}: no such host ({exc.__class__.__name__})") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


# -- payloads ----------------------------------------------------------------------------------------
def payload(shape: str, day: date, papers: list[dict], base: str) -> dict:
    items = [
        {"id": p["id"], "title": " ".join(p["title"].split()), "url": f"{base}/papers/{p['id']}", "why": why(p)}
        for p in papers
    ]
    head = f"Your papers for {day.isoformat()} on paperfeed"
    if shape == "slack":
        lines = [f"*<{i['url']}|{slack_escape(i['title'])}>*\n{slack_escape(i['why'])}" for i in items]
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}} for text in lines]
        return {"text": head, "blocks": [{"type": "header", "text": {"type": "plain_text", "text": head}}, *blocks]}
    if shape == "discord":
        embeds = [{"title": i["title"][:256], "url": i["url"], "description": i["why"][:4096]} for i in items]
        return {"content": head, "embeds": embeds[:MAX_TOP], "allowed_mentions": {"parse": []}}
    return {"date": day.isoformat(), "papers": items}


def why(p: dict) -> str:
    r = p.get("reason") or {}
    text = f"Because you liked: {r['title']}" if r.get("title") else f"Matches: {r.get('interest', '')}"
    return text + (f" · mentions {', '.join(r['mentions'])}" if r.get("mentions") else "")


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- delivery ----------------------------------------------------------------------------------------
def run(engine: Engine, settings: Settings, search: SearchService, now: datetime | None = None) -> Report:
    """Plan the latest listing day for every enabled hook, then send what is due."""
    now = now or utcnow()
    with engine.connect() as conn:
        day = q.latest_day(conn)
    if day is not None:
        store.plan_day(engine, day, now)
    report = Report()
    sender = httpx.Client(timeout=settings.webhook_timeout, headers={"User-Agent": f"paperfeed/{__version__}"})
    with sender:
        for hook, when, attempts in store.claim(engine, now, settings.webhook_timeout * 4 + 60):
            deliver(engine, settings, search, sender, hook, when, attempts, now, report)
    return report


def deliver(engine, settings, search, sender, hook: store.Hook, day: date, attempts: int, now, report: Report) -> None:
    try:
        papers = top_papers(engine, search, settings, hook, day)
        if not papers:
            store.finish(engine, hook.id, day, status="empty", attempts=attempts)
            report.empty += 1
            return
        check_url(hook.url, settings.webhook_allow_private)  # again: the name may point elsewhere now
        answer = sender.post(hook.url, json=payload(hook.shape, day, papers, settings.base_url.rstrip("/")))
        settle(engine, settings, hook, day, attempts, now, answer.status_code, papers, report)
    except HookError as exc:
        give_up(engine, hook, day, attempts, str(exc), report)
    except httpx.HTTPError as exc:
        retry(engine, settings, hook, day, attempts, now, f"{exc.__class__.__name__}: {exc}"[:300], report)
    except Exception as exc:  # one hook's trouble never stops the others
        log.exception("webhook %s: %s", hook.id, exc)
        retry(engine, settings, hook, day, attempts, now, f"internal error: {exc}"[:300], report)


def top_papers(engine, search, settings: Settings, hook: store.Hook, day: date) -> list[dict]:
    from paperfeed.store.listing import load_papers

    with engine.connect() as conn:
        ids = ranked_ids(conn, day, day)
    picks = for_you(engine, search, hook.user_id, ids).picks[: hook.top_n]
    with engine.connect() as conn:
        titles = q.titles(conn, {p.because for p in picks if p.because})
        loaded = {p["id"]: p for p in load_papers(conn, [p.id for p in picks], None)}
    for p in picks:
        title = titles.get(p.because, "") if p.because else p.because_title
        loaded[p.id]["reason"] = {"title": title, "interest": p.interest, "mentions": p.mentions}
    return [loaded[p.id] for p in picks if p.id in loaded]


def settle(engine, settings, hook, day, attempts, now, status: int, papers, report: Report) -> None:
    if 200 <= status < 300:
        store.finish(engine, hook.id, day, status="sent", attempts=attempts + 1, sent_at=now, last_error=None)
        taste.mark_seen(engine, hook.user_id, [p["id"] for p in papers], "hook", at=now)
        report.sent += 1
    elif status >= 500 or status in RETRY_STATUS:
        retry(engine, settings, hook, day, attempts, now, f"the receiver answered HTTP {status}", report)
    else:
        reason = f"the receiver answered HTTP {status} on {now:%Y-%m-%d %H:%M} UTC; check the URL, then enable it"
        store.disable_hook(engine, hook.id, reason)
        give_up(engine, hook, day, attempts + 1, reason, report)
        report.disabled += 1


def retry(engine, settings: Settings, hook, day, attempts: int, now, error: str, report: Report) -> None:
    attempts += 1
    if attempts >= settings.webhook_max_attempts:
        give_up(engine, hook, day, attempts, f"gave up after {attempts} tries: {error}", report)
        return
    wait = timedelta(seconds=settings.webhook_retry_base_seconds * 4 ** (attempts - 1))
    later = now + wait
    store.finish(engine, hook.id, day, status="pending", attempts=attempts, next_attempt_at=later, last_error=error)
    report.retrying += 1


def give_up(engine, hook, day, attempts: int, error: str, report: Report) -> None:
    store.finish(engine, hook.id, day, status="failed", attempts=attempts, last_error=error)
    report.failed += 1
