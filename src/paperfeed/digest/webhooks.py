"""Webhooks: each day's top N "For you" papers POSTed to a URL the user chose, as plain JSON or in the shape
Slack's incoming webhooks or Discord's webhooks take.

Each hook is tried on its own, with a short timeout, so one slow or failing receiver never holds up the
others. A 5xx, 408, 429, timeout or refused connection is retried later (base * 4^attempt seconds apart, up
to `webhook_max_attempts`); any other 4xx means the URL is wrong or gone: the hook is disabled and the
reason shown on the user's taste page until they enable it again. By default a hook may not point at a
private, loopback or link-local address (checked when it is added and again before each send), so a user
cannot make the server probe the lab's own network. The name is resolved once per send and the connection
made to that checked address (so DNS cannot answer differently in between); no proxy from the environment
is used; redirects are not followed; the receiver's body is never read; a delivery takes at most twice the
timeout in all. Each (hook, day) row is claimed just before it is sent, and its outcome recorded only while
the claim holds, so two schedulers never both send a day.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Engine

from paperfeed import __version__
from paperfeed.clock import utcnow
from paperfeed.config import Settings
from paperfeed.rank.foryou import for_you
from paperfeed.rank.trending import ranked_ids
from paperfeed.search.service import SearchService
from paperfeed.store import hooks as store
from paperfeed.store import queries as q
from paperfeed.store import taste
from paperfeed.store.accounts import User

log = logging.getLogger("paperfeed.webhooks")
MAX_TOP = 10  # Discord takes at most 10 embeds in one message
RETRY_STATUS = {408, 429}


class HookError(ValueError):
    """A webhook that cannot be added (or sent to), with a one-line reason."""


class Unresolvable(HookError):
    """The host name does not resolve now: when adding, an error; when sending, tried again later."""


@dataclass
class Target:
    """Where a hook's POST goes: the address resolved and checked once, so the name cannot point elsewhere
    between the check and the connection (DNS rebinding)."""

    url: str
    host: str
    port: int
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address

    def request(self) -> tuple[str, dict, dict]:
        """(URL to the checked address, headers naming the host, TLS extensions naming it for SNI and the
        certificate check)."""
        parts = urlsplit(self.url)
        address = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        pinned = urlunsplit((parts.scheme, f"{address}:{self.port}", parts.path or "/", parts.query, ""))
        default = 443 if parts.scheme == "https" else 80
        host = self.host if self.port == default else f"{self.host}:{self.port}"
        return pinned, {"Host": host}, ({"sni_hostname": self.host} if parts.scheme == "https" else {})


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


def check_url(url: str, allow_private: bool) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise HookError("a webhook is an http:// or https:// URL, like https://hooks.slack.com/services/…")
    if parts.username or parts.password:
        raise HookError("put no user name or password in the URL; use the secret path the service gives you")
    try:
        port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise HookError("the port in that URL is not a number from 1 to 65535")
    found = addresses(parts.hostname, port)
    if not all(unicast(ip) for ip in found):
        raise HookError(
            f"{parts.hostname[:100]} is a multicast, broadcast or unspecified address; hooks go to one host"
        )
    if not allow_private and not all(public(ip) for ip in found):
        raise HookError(f"{parts.hostname[:100]} is a private or local address; hooks go to the internet")
    return Target(url, parts.hostname, port, found[0])


def addresses(host: str, port: int) -> list:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise HookError(f"{host[:100]} is not a host name") from exc
    except OSError as exc:
        raise Unresolvable(f"{host[:100]}: no such host (or no answer from DNS)") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


EMBEDS_V4 = [
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
]


def unicast(ip) -> bool:
    """One host's address (even with private addresses allowed): not multicast, the broadcast address or 0.0.0.0."""
    inner = ip.ipv4_mapped if ip.version == 6 else None
    return not any(
        a.is_multicast or a.is_unspecified or a == ipaddress.IPv4Address("255.255.255.255")
        for a in (ip, inner)
        if a is not None
    )


def public(ip) -> bool:
    """A global address, also for the IPv4 address inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if not ip.is_global:
        return False
    if ip.version == 4:
        return True
    inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    if inner is None and any(ip in net for net in EMBEDS_V4):
        inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return inner is None or inner.is_global


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
        # Discord refuses a message over 6,000 characters in all: 10 x (256 + 300) stays under it.
        embeds = [{"title": i["title"][:256], "url": i["url"], "description": i["why"][:300]} for i in items]
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
    """Plan the latest listing day for every enabled hook, then send what is due, one claimed row at a time."""
    now = now or utcnow()
    day = q.complete_day(engine)  # never a day a running sync is still adding to
    if day is not None:
        store.plan_day(engine, day, now)
    report, started = Report(), time.monotonic()
    lease = deadline(settings) + 60
    agent = {"User-Agent": f"paperfeed/{__version__}"}
    with httpx.Client(timeout=settings.webhook_timeout, headers=agent, trust_env=False) as sender:
        for hook, when in store.due(engine, now, lease):
            at = now + timedelta(seconds=time.monotonic() - started)
            attempt = store.take(engine, hook.id, when, at, lease)
            if attempt is not None:
                Delivery(engine, settings, search, sender, hook, when, attempt, at, report).run()
    return report


def deadline(settings: Settings) -> float:
    """The most one delivery may take in all (httpx's timeout is per read: a receiver sending a byte now and
    then would hold it for hours)."""
    return settings.webhook_timeout * 2


@dataclass
class Delivery:
    engine: Engine
    settings: Settings
    search: SearchService
    sender: httpx.Client
    hook: store.Hook
    day: date
    attempt: int
    at: datetime  # when it was claimed: the claim that finishing must still hold
    report: Report

    def run(self) -> None:
        try:
            papers = top_papers(self.engine, self.search, self.hook, self.day)
            if not papers:
                self.finish("empty", empty=1)
                return
            target = check_url(self.hook.url, self.settings.webhook_allow_private)  # again, just before sending
            body = payload(self.hook.shape, self.day, papers, self.settings.base_url.rstrip("/"))
            self.settle(post_within(self.sender, target, body, deadline(self.settings)), papers)
        except Unresolvable as exc:
            self.retry(str(exc))
        except HookError as exc:
            self.finish("failed", str(exc), failed=1)
        except httpx.HTTPError as exc:
            self.retry(f"{exc.__class__.__name__}: {exc}"[:300])
        except Exception as exc:  # one hook's trouble never stops the others
            log.exception("webhook %s: %s", self.hook.id, exc)
            self.retry(f"internal error: {exc}"[:300])

    def settle(self, status: int, papers: list[dict]) -> None:
        if 200 <= status < 300:
            if self.finish("sent", sent=1, sent_at=self.at):
                taste.mark_seen(self.engine, self.hook.user_id, [p["id"] for p in papers], "hook", at=self.at)
        elif status >= 500 or status in RETRY_STATUS:
            self.retry(f"the receiver answered HTTP {status}")
        else:
            reason = (
                f"the receiver answered HTTP {status} on {self.at:%Y-%m-%d %H:%M} UTC; check the URL, then enable it"
            )
            store.disable_hook(self.engine, self.hook.id, reason)
            self.finish("failed", reason, failed=1, disabled=1)

    def retry(self, error: str) -> None:
        if self.attempt >= self.settings.webhook_max_attempts:
            self.finish("failed", f"gave up after {self.attempt} tries: {error}", failed=1)
            return
        wait = timedelta(seconds=self.settings.webhook_retry_base_seconds * 4 ** (self.attempt - 1))
        self.finish("pending", error, retrying=1, next_attempt_at=self.at + wait)

    def finish(self, status: str, error: str | None = None, sent_at=None, next_attempt_at=None, **counts) -> bool:
        values = {"status": status, "last_error": error, "sent_at": sent_at}
        values |= {"next_attempt_at": next_attempt_at} if next_attempt_at else {}
        done = store.finish(self.engine, self.hook.id, self.day, self.at, **values)
        for name, n in counts.items():
            setattr(self.report, name, getattr(self.report, name) + (n if done else 0))
        return done


def post_within(sender: httpx.Client, target: Target, body: dict, seconds: float) -> int:
    """The receiver's status, its body never read (an endless one must not fill our memory), within `seconds`
    in all; httpx.TimeoutException past that (the stuck thread is left to httpx's own timeouts)."""
    url, headers, extensions = target.request()
    result: dict = {}

    def send() -> None:
        try:
            with sender.stream("POST", url, json=body, headers=headers, extensions=extensions) as answer:
                result["status"] = answer.status_code
        except Exception as exc:  # handed to the caller below
            result["error"] = exc

    worker = threading.Thread(target=send, name="webhook-post", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise httpx.TimeoutException(f"no answer within {seconds:g} s")
    if "error" in result:
        raise result["error"]
    return result["status"]


def top_papers(engine, search, hook: store.Hook, day: date) -> list[dict]:
    from paperfeed.store.listing import load_papers

    with engine.connect() as conn:
        ids = ranked_ids(conn, day, day)
    picks = for_you(engine, search, hook.user_id, ids).picks[: hook.top_n]
    with engine.connect() as conn:
        titles = q.titles(conn, {p.because for p in picks if p.because})
        loaded = {p["id"]: p for p in load_papers(conn, [p.id for p in picks], None)}
    for p in picks:
        title = titles.get(p.because, "") if p.because else p.because_title
        loaded[p.id]["reason"] = {
            "title": title,
            "interest": p.interest,
            "mentions": p.mentions,
            "words": p.words,
            "author": p.author,
            "followed": p.followed,
            "coauthor": p.coauthor,
        }
    return [loaded[p.id] for p in picks if p.id in loaded]
