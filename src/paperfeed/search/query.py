"""The search box's syntax: free text, "quoted phrases", author:NAME, cat:CATEGORY, since:/until:DATE.

Anything a user can type parses to something sensible or to a `QueryError` with a message fit to
show them: stray quotes are dropped, control characters removed, very long text cut, and an
unknown `foo:` qualifier is named.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from paperfeed.models import check_day

MAX_QUERY_CHARS = 1000  # a pasted abstract is a fine query; 10 kB of text is cut here
QUALIFIERS = ("author", "cat", "since", "until", "has")
_TOKEN = re.compile(r'(\w[\w.\-]*):("([^"]*)"?|\S*)|"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


class QueryError(ValueError):
    """A query that cannot be run; the message says what to change."""


@dataclass
class ParsedQuery:
    text: str = ""  # free text and phrases, as the dense leg reads them
    terms: list[str] = field(default_factory=list)  # free words (OR-ed, BM25-scored)
    phrases: list[str] = field(default_factory=list)  # must appear, words in order
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    notes: list[str] = field(default_factory=list)  # what was changed in the user's query, to show them
    corrections: list[tuple[str, str]] = field(default_factory=list)  # (as typed, as searched) by spelling
    has_code: bool = False  # has:code — only papers with a code repository

    @property
    def has_text(self) -> bool:
        return bool(self.terms or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.categories or self.since or self.until or self.has_code)


def clean(text: str) -> str:
    """Remove control and format characters; collapse white space."""
    kept = (" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return " ".join("".join(kept).split())


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _date(name: str, value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: needs a date as YYYY-MM-DD, not {value!r}") from None
    try:
        return check_day(day)
    except ValueError as exc:
        raise QueryError(f"{name}: {exc}") from None


def parse(raw: str, plain: bool = False) -> ParsedQuery:
    """Parse the search box's syntax; with `plain`, every word is just a word (no quotes or qualifiers)."""
    q = ParsedQuery()
    text = clean(raw or "")
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
        q.notes.append(f"the query was cut to its first {len(text)} characters")
    if plain:
        q.terms = words(text)
        q.text = " ".join(q.terms)
        return q
    if text.count('"') % 2:
        # An unbalanced quote is almost always a typo; the words still count, the quote does not.
        last = text.rfind('"')
        text = text[:last] + " " + text[last + 1 :]
        q.notes.append("an unmatched quote was ignored")
    free: list[str] = []
    for m in _TOKEN.finditer(text):
        name, value, quoted_value, phrase, word = m.groups()
        if name is not None:
            _qualifier(q, name.lower(), quoted_value if quoted_value is not None else value, m.group(0), free)
        elif phrase is not None:
            if len(words(phrase)) > 1:
                q.phrases.append(" ".join(words(phrase)))
            else:
                free.extend(words(phrase))
        else:
            free.extend(words(word))
    q.terms = free
    q.text = " ".join([*free, *q.phrases])
    return q


def _qualifier(q: ParsedQuery, name: str, value: str, whole: str, free: list[str]) -> None:
    value = value.strip()
    if name not in QUALIFIERS:
        if re.fullmatch(r"[a-z]+", name) and value and name not in ("http", "https"):
            known = ", ".join(f"{k}:" for k in QUALIFIERS)
            raise QueryError(f"unknown qualifier {name}: (use {known}, or put the words in quotes)")
        free.extend(words(whole))  # e.g. "BERT-2: scaling" or "10:30"
        return
    if not value:
        raise QueryError(f"{name}: needs a value, e.g. {_EXAMPLES[name]}")
    if name == "author":
        q.authors.append(value)
    elif name == "cat":
        q.categories.append(value)
    elif name == "has":
        if value.lower() != "code":
            raise QueryError(f"has: takes code (has:code), not {value[:40]!r}")
        q.has_code = True
    elif name == "since":
        q.since = _date(name, value)
    else:
        q.until = _date(name, value)
    if q.since and q.until and q.since > q.until:
        raise QueryError(f"since:{q.since} is after until:{q.until}")


_EXAMPLES = {
    "author": 'author:"Yann LeCun"',
    "cat": "cat:cs.LG",
    "since": "since:2026-01-01",
    "until": "until:2026-03-31",
    "has": "has:code",
}


MODES = ("hybrid", "lexical", "dense")
FUSIONS = ("convex", "rrf")
SORTS = ("relevance", "date")


def check_options(mode: str, fusion: str, sort: str) -> None:
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}")
    if fusion not in FUSIONS:
        raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}")
    if sort not in SORTS:
        raise QueryError("sort must be relevance or date")


def with_filters(
    q: ParsedQuery,
    since: date | None = None,
    until: date | None = None,
    categories: list[str] | None = None,
    authors: list[str] | None = None,
    has_code: bool = False,
) -> ParsedQuery:
    """The query with the filters given beside it (form fields, API parameters) merged into those typed in it."""
    q.since = since or q.since
    q.until = until or q.until
    q.categories += categories or []
    q.authors += authors or []
    q.has_code = q.has_code or has_code
    if q.since and q.until and q.since > q.until:
        raise QueryError(f"since {q.since} is after until {q.until}")
    return q
