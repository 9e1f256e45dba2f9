"""Domain records shared by every layer.

Importers yield `Paper` (a good record) or `Rejected` (a bad one, with where and why);
the store turns papers into rows. Nothing here touches a database or the network.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

# New-style ids (0704.0001, 2410.17243, 2410.17243v2) and old-style ones (hep-th/9901001v1,
# math.AG/0601001). The archive part of an old id may carry a subject class (math.AG) that
# arXiv drops from the canonical form.
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
_OLD_ID = re.compile(r"^([a-z\-]+)(?:\.[A-Za-z\-]+)?/(\d{7})(?:v(\d+))?$")
_ID_PREFIXES = re.compile(
    r"^(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|api/query\?id_list=)/?|arxiv:)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ArxivId:
    canonical: str  # without version: "2410.17243", "hep-th/9901001"
    version: int | None


def parse_arxiv_id(text: str) -> ArxivId | None:
    """Parse an arXiv id, versioned id, `arXiv:` id or abs/pdf URL; None if it is not one."""
    s = _ID_PREFIXES.sub("", text.strip())
    s = s.removesuffix(".pdf").strip("/")
    m = _NEW_ID.match(s)
    if m:
        return ArxivId(m.group(1), int(m.group(2)) if m.group(2) else None)
    m = _OLD_ID.match(s)
    if m:
        return ArxivId(f"{m.group(1)}/{m.group(2)}", int(m.group(3)) if m.group(3) else None)
    return None


def normalize_space(text: str) -> str:
    """Collapse runs of white space (feeds wrap titles and abstracts at 80 columns)."""
    return " ".join(text.split())


# What XML 1.0 cannot carry (feeds would fail on it) and no page means to show: C0 and C1 controls but tab,
# newline and carriage return, DEL, lone surrogates (a JSON "\ud800") and the non-characters U+FFFE/U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The longest a stored field may be, in characters. Each is several times the largest of the 67,802 real papers
# in the shared corpus (title 226, abstract 3,488, comments 431, authors 3,303 names): an upstream that sends
# more is cut there ("…"), so one record cannot make a page, a feed or a search answer megabytes long.
LIMITS = {
    "title": 1_000,
    "abstract": 10_000,
    "comments": 2_000,
    "doi": 300,
    "journal_ref": 1_000,
    "report_no": 300,
    "license": 300,
}
MAX_AUTHORS, MAX_NAME = 5_000, 300
MAX_CATEGORIES, MAX_CATEGORY = 50, 64
MAX_SIGNAL_TEXT = 2_000


def clean_text(text: str, limit: int | None = None) -> str:
    """Text from outside as the store keeps it: control characters removed, cut at `limit` characters."""
    text = _CONTROL.sub("", text)
    return text[: limit - 1] + "…" if limit and len(text) > limit else text


def clean_paper(p: Paper) -> Paper:
    """The one cleaning every importer and sync goes through (the store's write_batch calls it): control
    characters removed and lengths capped, field by field; the record is kept, never rejected for it."""
    p.title = clean_text(p.title, LIMITS["title"])
    p.abstract = clean_text(p.abstract, LIMITS["abstract"])
    p.source_ref = clean_text(p.source_ref, LIMITS["journal_ref"])
    for name in ("comments", "doi", "journal_ref", "report_no", "license"):
        value = getattr(p, name)
        if value is not None:
            setattr(p, name, clean_text(value, LIMITS[name]) or None)
    p.authors = [a for a in (clean_text(a, MAX_NAME) for a in p.authors[:MAX_AUTHORS]) if a]
    p.categories = [c for c in (clean_text(c, MAX_CATEGORY) for c in p.categories[:MAX_CATEGORIES]) if c]
    p.signals = {k: clean_signal(v) for k, v in p.signals.items()}
    return p


def clean_signal(value: float | str) -> float | str:
    return clean_text(value, MAX_SIGNAL_TEXT) if isinstance(value, str) else value


def normalize_title(title: str) -> str:
    """The key used to match the same paper across sources that carry no id.

    Case, accents, punctuation, LaTeX braces and spacing differ between arXiv, Hugging Face
    and hand-copied pages; only letters and digits are compared.
    """
    if title.isascii():  # most titles and names: no accents to take off, the same key in a third of the time
        s = title.lower()
    else:
        s = unicodedata.normalize("NFKD", title).casefold()
        s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(s))


_WORD = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=1 << 16)  # an import meets the same names again and again
def author_key(name: str) -> str:
    """The key of an author's page: case, accents, punctuation and spacing folded ("José García-López" and
    "Jose Garcia Lopez" are one page), initials kept ("J. Smith" and "John Smith" are two). On 67,802 arXiv
    papers this merges 3,333 written forms into 1,652 keys; a random 25 of them, checked by hand, are each
    one name typed differently (docs/discussions.md)."""
    return normalize_title(name)[:300]


def title_id(title: str) -> str:
    """Stable id for a paper that has no arXiv id, derived from its normalised title."""
    return "t-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


# What a paper says of itself, in the order exports write it: the stored content (store/merge.py) and the
# fields of every export (formats.py) are these.
PAPER_FIELDS = (
    "title",
    "authors",
    "abstract",
    "categories",
    "version",
    "published",
    "updated",
    "listed_date",
    "comments",
    "doi",
    "journal_ref",
    "report_no",
    "license",
)


@dataclass
class Paper:
    """One paper as a source describes it. `id` is None when the source has no arXiv id."""

    title: str
    abstract: str
    source: str  # importer name: arxiv-snapshot, arxiv-api, arxiv-oai, hf-daily, hf-page
    source_ref: str  # where in the source: "file.jsonl.gz:12", a URL, "page.txt:record 3"
    id: str | None = None
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    published: datetime | None = None  # first version
    updated: datetime | None = None  # this version
    listed_date: date | None = None  # the day it appears on a daily list
    comments: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    report_no: str | None = None
    license: str | None = None
    # Signals the source carries about the paper (e.g. Hugging Face upvotes); kept apart
    # from our own users' votes. name -> number or text.
    signals: dict[str, float | str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.id or title_id(self.title)


@dataclass
class Signals:
    """What a source says about a paper it does not describe (an archive of Hugging Face's daily lists):
    attached to the stored paper with that arXiv id, never creating one."""

    paper_id: str
    source: str
    source_ref: str
    values: dict[str, float | str]


@dataclass(frozen=True)
class Rejected:
    """A record that could not be imported: where it is and why."""

    source_ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source_ref}: {self.reason}"


# Days a user may ask about: wide enough for any paper, narrow enough that a week or month around one
# never leaves Python's calendar (year 1 and 9999 used to be a 500).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


def check_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date between {FIRST_DAY} and {LAST_DAY}, not {day}")
    return day


class SourceError(Exception):
    """The input could not be read at all (missing file, HTTP error, not the format)."""


def arxiv_links(paper_id: str) -> dict[str, str]:
    """Abstract and PDF links of an arXiv paper; empty for papers without an arXiv id."""
    if paper_id.startswith("t-"):
        return {}
    return {"abs": f"https://arxiv.org/abs/{paper_id}", "pdf": f"https://arxiv.org/pdf/{paper_id}"}
