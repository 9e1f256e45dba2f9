"""Composing a digest: the sections a user chose, each paper once, nothing from the previous digest,
rendered as one multipart (plain text + HTML) message with one-click unsubscribe headers."""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.subscriptions import Period, Subscription, make_token, make_unsubscribe_token
from paperfeed.rank import trending
from paperfeed.rank.foryou import for_you
from paperfeed.search.service import SearchService
from paperfeed.store import authors, discussions, group_activity, groups
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.store.listing import load_papers
from paperfeed.store.marks import hidden_ids
from paperfeed.tex import unicode_text

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


@functools.cache
def mail_templates() -> Environment:
    """The messages' templates, one set per process: every digest run and verification message made its
    own, compiling each template again."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


class Composer:
    """Builds digests; caches what many users share within one run (trending, categories, searches)."""

    def __init__(self, engine: Engine, settings: Settings, secret: str, search: SearchService | None = None):
        self.engine = engine
        self.settings = settings
        self.secret = secret
        self.search = search
        self.env = mail_templates()
        self._cache: dict[tuple, list[str] | set[str]] = {}
        self._rows: dict[str, dict] = {}

    # -- content ---------------------------------------------------------------------------------
    def digest(
        self, sub: Subscription, searches: list[dict], period: Period, after: date | None, previous: set[str]
    ) -> Digest:
        """Papers listed after `after` (or from the period's start) up to the period's day, by section."""
        covered = q.complete_day(self.engine, period.day)
        start = (after + timedelta(days=1)) if after else period.start + timedelta(days=1)
        end = covered
        seen = set(previous)
        sections: list[Section] = []
        if end is None or start > end:
            return Digest([], after or covered)
        wanted: list[tuple[str, list[str], str | None]] = []
        mine = self._for_you(sub.user_id, start, end)
        if mine:
            wanted.append(("Recommended for you", mine, f"/papers/date/{end}?sort=foryou"))
        talked = self._talk(sub.user_id, start)
        if talked:
            wanted.append(("Replies and mentions", talked, "/notifications"))
        if sub.trending_n:
            wanted.append(("Trending", self._trending(start, end)[: sub.trending_n], "/trending"))
        if sub.categories:
            label = ", ".join(sub.categories[:5]) + (" …" if len(sub.categories) > 5 else "")
            wanted.append(
                (f"New in {label}", self._categories(start, end, tuple(sub.categories)), f"/papers/date/{end}")
            )
        for s in searches:
            link = "/search?" + urlencode({"q": s["query"]})
            wanted.append((f"Saved search: {s['title']}", self._search(s["query"], start, end), link))
        # The names typed in the digest settings, and the authors followed from their pages.
        with self.engine.connect() as conn:
            ids = authors.new_papers(conn, authors.followed_keys(conn, sub.user_id), start, end)
        if sub.authors:
            # The name goes to the search as a value, never pasted into query syntax: whatever a user
            # typed (quotes, colons, "author:") cannot change what the query means.
            ids += [i for a in sub.authors for i in self._search("", start, end, author=a)]
        if ids:
            wanted.append(("Followed authors", list(dict.fromkeys(ids)), "/authors"))
        wanted += self._groups(sub.user_id, start)
        hidden = self._hidden()
        for title, ids, link in wanted:
            fresh = [i for i in ids if i not in seen and i not in hidden]
            shown = fresh[:PER_SECTION]
            seen.update(shown)
            if shown:
                sections.append(Section(title, self._papers(shown), len(fresh) - len(shown), link))
        return Digest(sections, end)

    def _groups(self, user_id: int, start: date) -> list[tuple[str, list[str], str]]:
        """For each of the user's groups, what the other members upvoted or saved since the window began (in a
        weekly digest: the group's week)."""
        since = datetime.combine(start, time())
        with self.engine.connect() as conn:
            found = [
                (g, group_activity.picks(conn, g["id"], since, PER_SECTION * 2, but=user_id))
                for g in groups.of_user(conn, user_id)
            ]
        return [
            (f"Picked in {g['name']}", [p["paper_id"] for p in picks], f"/groups/{g['id']}")
            for g, picks in found
            if picks
        ]

    def _talk(self, user_id: int, start: date) -> list[str]:
        """The papers where someone replied to or mentioned the user since the window began, and which the
        user has not read on /notifications yet (any listing day: a discussion can be about an old paper)."""
        with self.engine.connect() as conn:
            items = discussions.inbox(conn, user_id, limit=100, since=datetime.combine(start, time()))
        return list(dict.fromkeys(n["paper_id"] for n in items if n["read_at"] is None))

    def _for_you(self, user_id: int, start: date, end: date) -> list[str]:
        """The window's papers by this user's taste (nothing while they have liked nothing, or without the
        search index): the first section, the most personal one."""
        if self.search is None:
            return []
        ranking = for_you(self.engine, self.search, user_id, self._ranked(start, end))
        return [p.id for p in ranking.picks]

    def _papers(self, ids: list[str]) -> list[dict]:
        """Rows with vote counts, read once per run: thousands of digests share the same papers."""
        missing = [i for i in ids if i not in self._rows]
        if missing:
            with self.engine.connect() as conn:
                self._rows.update((p["id"], p) for p in load_papers(conn, missing, None))
        return [self._rows[i] for i in ids if i in self._rows]

    def _cached(self, key: tuple, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _ranked(self, start: date, end: date) -> list[str]:
        """Every paper listed in the window, in trending order (computed once per window and run)."""

        def compute():
            with self.engine.connect() as conn:
                ranked = trending.rank(trending.entries(conn, start, end), trending.end_of(end))
            return [e.id for e in ranked]

        return self._cached(("ranked", start, end), compute)

    def _trending(self, start: date, end: date) -> list[str]:
        return self._ranked(start, end)[:50]

    def _in_category(self, category: str, start: date, end: date) -> set[str]:
        def compute():
            with self.engine.connect() as conn:
                return q.in_category(conn, category, start, end)

        return self._cached(("category", category, start, end), compute)

    def _categories(self, start: date, end: date, cats: tuple[str, ...]) -> list[str]:
        def compute():
            wanted = set().union(*(self._in_category(c, start, end) for c in cats))
            return [pid for pid in self._ranked(start, end) if pid in wanted]

        return self._cached(("categories", start, end, cats), compute)

    def _search(self, query: str, start: date, end: date, author: str | None = None) -> list[str]:
        def compute():
            if self.search is None:
                return []
            authors = [author] if author else None
            found = self.search.search(query, limit=PER_SECTION + 10, since=start, until=end, authors=authors)
            return [h.id for h in found.hits]

        return self._cached(("search", query, start, end, author), compute)

    def _hidden(self) -> set[str]:
        """Papers an admin hid: in no section (trending already leaves them out; searches do not)."""

        def compute():
            with self.engine.connect() as conn:
                return hidden_ids(conn)

        return self._cached(("hidden",), compute)

    # -- the message -----------------------------------------------------------------------------
    def unsubscribe_url(self, sub: Subscription, period: Period) -> str:
        token = make_unsubscribe_token(self.secret, sub.user_id, sub.email, period.due_at)
        return f"{self.settings.base_url}/unsubscribe/{token}"

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
            "unsubscribe": self.unsubscribe_url(sub, period),
            "settings_url": f"{self.settings.base_url}/settings/digest",
            "excerpt": excerpt,
            "tex": unicode_text,  # mail clients run no script: TeX as readable Unicode ($\\alpha$ -> α)
            "subject": subject,
        }
        text = self.env.get_template("digest.txt").render(values)
        html = self.env.get_template("digest.html").render(values)
        return subject, text, html

    def message(self, user: User, sub: Subscription, period: Period, digest: Digest, now: datetime) -> str:
        """The digest as it goes on the wire (RFC 5322, CRLF). Assembled directly rather than through
        `email.message`, which costs more than composing the digest itself; the tests parse every message
        with the `email` package."""
        subject, text, html = self.render(user, sub, period, digest)
        # A boundary derived from the content, and the period's delivery time as the date: a preview is
        # byte for byte the message that is sent.
        boundary = "==paperfeed-" + hashlib.sha1((text + html).encode()).hexdigest()[:32]
        headers = [
            *self._headers(sub, subject, period.due_at, f"{period.key}.{sub.user_id}"),
            ("List-Unsubscribe", f"<{self.unsubscribe_url(sub, period)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        parts = [
            f"--{boundary}\r\n{_part_headers('plain')}\r\n\r\n{_qp(text)}\r\n",
            f"--{boundary}\r\n{_part_headers('html')}\r\n\r\n{_qp(html)}\r\n",
            f"--{boundary}--\r\n",
        ]
        return _head(headers) + "\r\n" + "".join(parts)

    def _headers(self, sub: Subscription, subject: str, when: datetime, key: str) -> list[tuple[str, str]]:
        name, addr = parseaddr(self.settings.mail_from)
        domain = addr.rsplit("@", 1)[-1] or "localhost"
        return [
            ("From", formataddr((name, addr))),
            ("To", sub.email),
            ("Subject", Header(subject, "utf-8").encode(linesep="\r\n")),
            ("Date", format_datetime(when.replace(tzinfo=UTC))),
            # The same Message-ID for the same digest: a resend after a crash is recognisably the same mail.
            ("Message-ID", f"<paperfeed.{hashlib.sha1(key.encode()).hexdigest()[:24]}@{domain}>"),
            ("Auto-Submitted", "auto-generated"),
        ]

    def verification(self, user: User, sub: Subscription, now: datetime) -> str:
        """A plain-text message with the signed link that confirms the address, assembled like a digest."""
        link = f"{self.settings.base_url}/verify-email/{make_token(self.secret, 'verify', sub.user_id, sub.email)}"
        text = self.env.get_template("verify.txt").render(user=user, sub=sub, link=link)
        headers = [
            *self._headers(
                sub, "Confirm your paperfeed digest address", now, f"verify.{sub.user_id}.{now.timestamp()}"
            ),
            ("MIME-Version", "1.0"),
        ]
        head = _head(headers)
        return f"{head}{_part_headers('plain')}\r\n\r\n{_qp(text)}\r\n"


FOLD_OR_BREAK = re.compile(r"\r(?!\n)|(?<!\r)\n|\r\n(?![ \t])")


def _clean(value: str) -> str:
    """A header value as given, but never a new header: CRLF is only allowed as folding (before a space)."""
    if FOLD_OR_BREAK.search(value):
        raise ValueError(f"a line break in a header value: {value[:80]!r}")
    return value


def _head(headers: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {_clean(value)}\r\n" for name, value in headers)


def _part_headers(subtype: str) -> str:
    return f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'


def _qp(text: str) -> str:
    """Quoted-printable with CRLF lines (C-implemented), safe for any mail server and line length."""
    crlf = "\r\n".join(text.replace("\r\n", "\n").split("\n"))
    return binascii.b2a_qp(crlf.encode("utf-8"), istext=True).decode("ascii")
