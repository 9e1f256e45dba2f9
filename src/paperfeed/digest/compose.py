"""Composing a digest: the sections a user chose, each paper once, nothing from the previous digest,
rendered as one multipart (plain text + HTML) message with one-click unsubscribe headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, func, select

from paperfeed.config import Settings
from paperfeed.digest.subscriptions import Period, Subscription, make_token
from paperfeed.rank import trending
from paperfeed.search.service import SearchService
from paperfeed.store.accounts import User
from paperfeed.store.listing import load_papers
from paperfeed.store.schema import paper_categories, papers

TEMPLATES = Path(__file__).parent / "templates"
PER_SECTION = 15
EXCERPT = 280


@dataclass
class Section:
    title: str
    papers: list[dict] = field(default_factory=list)
    more: int = 0  # matches left out of this section
    link: str | None = None  # where to see them all


@dataclass
class Digest:
    sections: list[Section]
    covered_until: date | None

    @property
    def paper_ids(self) -> list[str]:
        return [p["id"] for s in self.sections for p in s.papers]


def excerpt(text: str, limit: int = EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


class Composer:
    """Builds digests; caches what many users share within one run (trending, categories, searches)."""

    def __init__(self, engine: Engine, settings: Settings, secret: str, search: SearchService | None = None):
        self.engine = engine
        self.settings = settings
        self.secret = secret
        self.search = search
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self._cache: dict[tuple, list[str]] = {}

    # -- content ---------------------------------------------------------------------------------
    def digest(
        self, sub: Subscription, searches: list[dict], period: Period, after: date | None, previous: set[str]
    ) -> Digest:
        """Papers listed after `after` (or from the period's start) up to the period's day, by section."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(papers.c.listed_date)).where(papers.c.listed_date <= period.day))
            covered = newest.scalar()
        start = (after + timedelta(days=1)) if after else period.start + timedelta(days=1)
        end = covered
        seen = set(previous)
        sections: list[Section] = []
        if end is None or start > end:
            return Digest([], after or covered)
        wanted: list[tuple[str, list[str], str | None]] = []
        if sub.trending_n:
            wanted.append(("Trending", self._trending(start, end)[: sub.trending_n], "/trending"))
        if sub.categories:
            label = ", ".join(sub.categories[:5]) + (" …" if len(sub.categories) > 5 else "")
            wanted.append(
                (f"New in {label}", self._categories(start, end, tuple(sub.categories)), f"/papers/date/{end}")
            )
        for s in searches:
            wanted.append(
                (f"Saved search: {s['title']}", self._search(s["query"], start, end), f"/search?q={s['query']}")
            )
        if sub.authors:
            ids = [i for a in sub.authors for i in self._search(f'author:"{a}"', start, end)]
            wanted.append(("Followed authors", list(dict.fromkeys(ids)), None))
        with self.engine.connect() as conn:
            for title, ids, link in wanted:
                fresh = [i for i in ids if i not in seen]
                shown = fresh[:PER_SECTION]
                seen.update(shown)
                if shown:
                    rows = load_papers(conn, shown, None)
                    sections.append(Section(title, rows, len(fresh) - len(shown), link))
        return Digest(sections, end)

    def _cached(self, key: tuple, compute) -> list[str]:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _trending(self, start: date, end: date) -> list[str]:
        def compute():
            with self.engine.connect() as conn:
                ranked = trending.rank(trending.entries(conn, start, end), trending.end_of(end))
            return [e.id for e in ranked[:50]]

        return self._cached(("trending", start, end), compute)

    def _categories(self, start: date, end: date, cats: tuple[str, ...]) -> list[str]:
        def compute():
            with self.engine.connect() as conn:
                ids = {
                    pid
                    for (pid,) in conn.execute(
                        select(paper_categories.c.paper_id)
                        .join(papers, papers.c.id == paper_categories.c.paper_id)
                        .where(paper_categories.c.category.in_(cats), papers.c.listed_date.between(start, end))
                    )
                }
                ranked = trending.rank(
                    [e for e in trending.entries(conn, start, end) if e.id in ids], trending.end_of(end)
                )
            return [e.id for e in ranked]

        return self._cached(("categories", start, end, cats), compute)

    def _search(self, query: str, start: date, end: date) -> list[str]:
        def compute():
            if self.search is None:
                return []
            found = self.search.search(query, limit=PER_SECTION + 10, since=start, until=end)
            return [h.id for h in found.hits]

        return self._cached(("search", query, start, end), compute)

    # -- the message -----------------------------------------------------------------------------
    def unsubscribe_url(self, sub: Subscription) -> str:
        return f"{self.settings.base_url}/unsubscribe/{make_token(self.secret, 'unsubscribe', sub.user_id, sub.email)}"

    def render(self, user: User, sub: Subscription, period: Period, digest: Digest) -> tuple[str, str, str]:
        """(subject, plain text, HTML)."""
        count = len(digest.paper_ids)
        kind = "daily" if sub.frequency == "daily" else "weekly"
        subject = f"{count} new paper{'s' if count != 1 else ''} · paperfeed {kind} digest, {period.label}"
        values = {
            "user": user,
            "sub": sub,
            "period": period,
            "sections": digest.sections,
            "count": count,
            "base": self.settings.base_url,
            "unsubscribe": self.unsubscribe_url(sub),
            "settings_url": f"{self.settings.base_url}/settings/digest",
            "excerpt": excerpt,
            "subject": subject,
        }
        text = self.env.get_template("digest.txt").render(values)
        html = self.env.get_template("digest.html").render(values)
        return subject, text, html

    def message(self, user: User, sub: Subscription, period: Period, digest: Digest, now: datetime) -> EmailMessage:
        subject, text, html = self.render(user, sub, period, digest)
        # Dated at the period's delivery time, so a preview is byte for byte the message that is sent.
        msg = self._envelope(sub, subject, period.due_at, f"{period.key}.{sub.user_id}")
        unsubscribe = self.unsubscribe_url(sub)
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        # A boundary derived from the content (not random), for the same reason.
        msg.set_boundary("==paperfeed-" + hashlib.sha1((text + html).encode()).hexdigest()[:32])
        return msg

    def verification(self, user: User, sub: Subscription, now: datetime) -> EmailMessage:
        link = f"{self.settings.base_url}/verify-email/{make_token(self.secret, 'verify', sub.user_id, sub.email)}"
        msg = self._envelope(
            sub, "Confirm your paperfeed digest address", now, f"verify.{sub.user_id}.{now.timestamp()}"
        )
        msg.set_content(self.env.get_template("verify.txt").render(user=user, sub=sub, link=link))
        return msg

    def _envelope(self, sub: Subscription, subject: str, now: datetime, key: str) -> EmailMessage:
        # policy=SMTP: CRLF line ends, and any header holding CR or LF is refused (no header injection).
        msg = EmailMessage(policy=SMTP)
        name, addr = parseaddr(self.settings.mail_from)
        msg["From"] = Address(display_name=name, addr_spec=addr) if name else addr
        msg["To"] = sub.email
        msg["Subject"] = subject
        msg["Date"] = format_datetime(now.replace(tzinfo=UTC))
        domain = addr.rsplit("@", 1)[-1] or "localhost"
        # The same Message-ID for the same digest: a resend after a crash is recognisably the same mail.
        msg["Message-ID"] = f"<paperfeed.{hashlib.sha1(key.encode()).hexdigest()[:24]}@{domain}>"
        msg["Auto-Submitted"] = "auto-generated"
        return msg
