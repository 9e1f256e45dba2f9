"""Domain records shared by every layer.

Importers yield `Paper` (a good record) or `Rejected` (a bad one, with where and why);
the store turns papers into rows. Nothing here touches a database or the network.
"""

from __future__ import annotations

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


def normalize_title(title: str) -> str:
    """The key used to match the same paper across sources that carry no id.

    Case, accents, punctuation, LaTeX braces and spacing differ between arXiv, Hugging Face
    and hand-copied pages; only letters and digits are compared.
    """
    s = unicodedata.normalize("NFKD", title).casefold()
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", s))


def title_id(title: str) -> str:
    """Stable id for a paper that has no arXiv id, derived from its normalised title."""
    return "t-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


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
