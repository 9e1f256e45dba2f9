"""Library import: BibTeX exports (Zotero, Mendeley, Google Scholar) and plain lists of arXiv ids.

Turns the text of an upload into `Entry` records (plain unicode, with the arXiv id and DOI found
wherever the exporting tool put them) and `Rejected` ones, each with a one-line reason. Knows no
database: the caller matches entries to stored papers by arXiv id, DOI or `normalise_title`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import bibtexparser
from bibtexparser.exceptions import BlockAbortedException
from bibtexparser.library import Library
from bibtexparser.middlewares.names import parse_single_name_into_parts, split_multiple_persons_names
from bibtexparser.model import Block, DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Field, ParsingFailedBlock
from bibtexparser.model import Entry as BibEntry

from paperfeed.ingest.bibtex_text import TEX_ESCAPE, plain_text, tex_budget
from paperfeed.models import LIMITS, MAX_AUTHORS, MAX_NAME, clean_text, normalize_title, parse_arxiv_id

MAX_BYTES = 20 * 1024 * 1024  # callers refuse bigger uploads; the parser itself does not check

# An arXiv id inside free text: "arXiv preprint arXiv:1810.04805", "arXiv:1706.03762 [cs]",
# "http://arxiv.org/abs/1706.03762v5", the DOI "10.48550/arXiv.1706.03762", "arXiv preprint hep-th/9711200".
_ID_IN_TEXT = re.compile(
    r"arxiv(?:\s+preprint)?(?:\.org/(?:abs|pdf)/|\s*:\s*|\.|\s+)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[a-z\-]+)?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_ID_FIELDS = ("doi", "url", "journal", "note", "howpublished")
# A line of an id list, reduced to what parse_arxiv_id reads: "arxiv.org/html/2401.01234v2#S3" -> "arXiv:2401.01234v2"
_ARXIV_PREFIX = re.compile(r"^(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|arxiv:\s*)", re.I)
_URL_TAIL = re.compile(r"[?#].*")

_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_YEAR = re.compile(r"\d{4}")

# "@article{key," at the start of a block bibtexparser gave up on: an entry, just a broken one.
_ENTRY_START = re.compile(r"@\s*[A-Za-z]{2,}\s*[{(]\s*[\w:.\-+/]+\s*,", re.ASCII)
_ENTRY_TYPE = re.compile(r"[A-Za-z]+")
_BLOCK_KEY = re.compile(r'@\s*\w+\s*[{(]\s*([^\s,{}()=#"]+)')  # the key of a broken entry, comma or not
# One part of `"Proc. of " # nips # {2019}`: a quoted or braced string (braces nest three deep) or a macro name.
_CONCAT_PART = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}|[^\s#"{}]+)\s*(?:#|$)')


class NotBibtex(ValueError):
    """The text holds no BibTeX entry at all: an empty file, a PDF, JSON, CSV..."""


@dataclass
class Entry:
    key: str  # the citation key (for an id list, "line N")
    title: str  # plain unicode; TeX math such as $\alpha$ is kept as arXiv keeps it
    abstract: str = ""
    authors: list[str] = field(default_factory=list)  # "First Last"
    year: int | None = None
    doi: str | None = None  # lowercase, no https://doi.org/
    arxiv_id: str | None = None  # canonical, without version
    added: date | None = None  # when it joined the user's library (JabRef timestamp, BibDesk date-added, ...)
    tags: list[str] = field(default_factory=list)  # the file's keywords, as library tags (Zotero exports its tags so)
    note: str = ""  # the reader's note (BibTeX annote, RIS N1, CSL-JSON note), as paperfeed exports it


@dataclass
class Rejected:
    key: str  # the citation key, or "line N"
    reason: str  # one plain line


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: int = 0  # the parser's own warnings (broken entries), counted by ingest/library_file.py
    first_warning: str = ""


def normalise_title(title: str) -> str:
    """The key for matching a stored paper by title: the same function the store fills `title_norm` with,
    so "{Attention} is all you need." and "Attention Is All You Need" agree."""
    return normalize_title(title)


def parse_bibtex(text: str) -> Parsed:
    """Every entry of a BibTeX export, in file order; broken, empty and repeated ones rejected."""
    library = bibtexparser.parse_string(text.lstrip("\ufeff"))
    if not any(_looks_like_entry(block) for block in library.blocks):
        raise NotBibtex("this file is not BibTeX: no @article{...} or similar entry found")
    macros = {key.lower(): string.value for key, string in library.strings_dict.items()}
    with tex_budget():
        return collect(item for block in library.blocks for item in _read_block(block, library, macros))


def parse_id_list(text: str) -> Parsed:
    """One arXiv id or abs/pdf URL per line; blank lines and # comments skipped."""
    lines = enumerate(text.splitlines(), 1)
    return collect(_read_id_line(n, line.strip()) for n, line in lines if line.strip()[:1] not in ("", "#"))


def _read_id_line(n: int, line: str) -> Entry | Rejected:
    found = parse_arxiv_id(_ARXIV_PREFIX.sub("arXiv:", _URL_TAIL.sub("", line).strip()))
    if found is None:
        return Rejected(f"line {n}", "not an arXiv id or URL")
    return Entry(f"line {n}", "", arxiv_id=found.canonical)


def _looks_like_entry(block: Block) -> bool:
    """A parsed entry, or a failed block that starts like one: a file of only broken entries is still BibTeX,
    while the stray @ of a CSV or of random bytes does not make it so."""
    if isinstance(block, BibEntry):
        return bool(_ENTRY_TYPE.fullmatch(block.entry_type))
    return isinstance(block, ParsingFailedBlock) and bool(_ENTRY_START.match(block.raw or ""))


def _read_block(block: Block, library: Library, macros: dict[str, str]) -> Iterator[Entry | Rejected]:
    if isinstance(block, DuplicateBlockKeyBlock):
        # Scholar's keys (he2016deep) repeat across different papers: read the second one too and let _collect
        # decide whether it is the same paper. The parser kept it unresolved (no macros applied, enclosing
        # braces and quotes still on): resolved here with the file's macros, in time linear in its size
        # (parsing it again with the macros copied each time was quadratic: 1,000 macros x 1,000 keys, 38 s).
        if isinstance(block.ignore_error_block, BibEntry):
            yield _entry(block.ignore_error_block, macros, raw=True)
    elif isinstance(block, ParsingFailedBlock):
        yield Rejected(_failed_key(block), f"could not be parsed: {_failure(block)}")
    elif isinstance(block, BibEntry) and not _looks_like_entry(block):
        yield Rejected(block.key, f"could not be parsed: no entry type (line {(block.start_line or 0) + 1})")
    elif isinstance(block, BibEntry):
        yield _entry(block, macros)


def _failed_key(block: ParsingFailedBlock) -> str:
    found = _BLOCK_KEY.match(block.raw or "")
    return found.group(1) if found else f"line {(block.start_line or 0) + 1}"


def _failure(block: ParsingFailedBlock) -> str:
    if isinstance(block, DuplicateFieldKeyBlock):
        return f"the field {', '.join(sorted(block.duplicate_keys))} appears twice"
    error = block.error
    reason = error.abort_reason if isinstance(error, BlockAbortedException) else str(error)
    return f"{' '.join(reason.split())} (line {(block.start_line or 0) + 1})"


def _entry(block: BibEntry, macros: dict[str, str], raw: bool = False) -> Entry:
    read = _raw_value if raw else _value
    fields = {f.key.lower(): read(f, macros) for f in block.fields}  # exports write arxivId, archivePrefix...
    fields["title"], fields["abstract"] = plain_text(fields.get("title", "")), plain_text(fields.get("abstract", ""))
    keywords = re.split(r"[,;]", fields.get("keywords", ""))
    return entry_from(block.key, fields, _authors(fields.get("author", "")), keywords)


def entry_from(key: str, fields: dict[str, str], authors: list[str], keywords: list[str]) -> Entry:
    """An entry from plain-text fields named as BibTeX names them (title, abstract, doi, url, eprint, note,
    year, timestamp...); RIS and CSL-JSON readers map theirs onto these. Cleaned as papers from upstream are
    (control characters out, lengths capped): what a user's file holds is stored and shown on their pages."""
    return Entry(
        key=clean_text(key, 200),
        title=clean_text(fields.get("title", ""), LIMITS["title"]),
        abstract=clean_text(fields.get("abstract", ""), LIMITS["abstract"]),
        authors=[clean_text(a, MAX_NAME) for a in authors[:MAX_AUTHORS]],
        year=_year(fields),
        doi=_doi(fields),
        arxiv_id=_arxiv_id(fields),
        added=_added(fields),
        tags=tags_from(keywords),
        note=clean_text(fields.get("annote", "").strip(), MAX_NOTE),
    )


MAX_NOTE = 20_000  # as a note written on the page
_TAG_JUNK = re.compile(r"[^\w.+-]+")
MAX_TAGS = 50


def tags_from(keywords: list[str]) -> list[str]:
    """Keywords as library tags: lower case, runs of other characters as one "-", at most 64 characters and
    MAX_TAGS tags; "Machine Learning" -> "machine-learning"."""
    tags: list[str] = []
    for word in keywords:
        tag = _TAG_JUNK.sub("-", word.strip().lower()).strip("-")[:64].strip("-")
        if tag and tag not in tags and len(tags) < MAX_TAGS:
            tags.append(tag)
    return tags


def _value(field: Field, macros: dict[str, str]) -> str:
    # bibtexparser resolves a lone macro (booktitle = nips) but leaves a concatenation as written
    if field.enclosing == "no-enclosing" and "#" in str(field.value):
        return "".join(_concat_part(part, macros) for part in _concat_parts(str(field.value)))
    return str(field.value)


def _raw_value(field: Field, macros: dict[str, str]) -> str:
    """A field as written ({...}, "...", a macro, or parts joined with #), resolved."""
    value = str(field.value).strip()
    parts, end = _split_concat(value)
    if parts and end == len(value):
        return "".join(_concat_part(part, macros) for part in parts)
    return value[1:-1] if value[:1] + value[-1:] in ("{}", '""') else value  # braces nested deeper than 3


def _concat_parts(value: str) -> list[str]:
    return _split_concat(value)[0]


def _split_concat(value: str) -> tuple[list[str], int]:
    # Part after part from the start, stopping at the first that does not fit: findall would retry from
    # every position of an unparseable value, quadratic in its length (a 40 kB field took 18 s).
    parts, pos = [], 0
    while pos < len(value):
        found = _CONCAT_PART.match(value, pos)
        if found is None or found.end() == pos:
            break
        parts.append(found.group(1))
        pos = found.end()
    return parts, pos


def _concat_part(part: str, macros: dict[str, str]) -> str:
    return part[1:-1] if part[:1] in ('"', "{") else macros.get(part.lower(), part)


def _authors(value: str) -> list[str]:
    names = [name for name in split_multiple_persons_names(value) if name.strip().lower() != "others"]
    # not strict: a name with a stray comma or brace is kept as written rather than failing the entry
    return [plain_text(parse_single_name_into_parts(name, strict=False).merge_first_name_first) for name in names]


def _year(fields: dict[str, str]) -> int | None:
    found = _YEAR.search(fields.get("year") or fields.get("date", ""))  # biblatex exports date = {2017-12-06}
    return int(found.group()) if found else None


_ADDED_FIELDS = ("timestamp", "date-added", "dateadded", "date_added", "added-at", "creationdate")
_ADDED = re.compile(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})")


def _added(fields: dict[str, str]) -> date | None:
    """The day the entry joined the library, as exports write it (JabRef `timestamp = {2023-01-05}` or
    `{2023.01.05}`, BibDesk `date-added = {2020-01-01 12:00:00 +0000}`, Better BibTeX `dateadded`); a date
    that does not exist or lies ahead is ignored."""
    for name in _ADDED_FIELDS:
        found = _ADDED.search(fields.get(name, ""))
        if found:
            try:
                day = date(*map(int, found.groups()))
            except ValueError:
                continue
            return day if day <= date.today() else None
    return None


def _doi(fields: dict[str, str]) -> str | None:
    for text in (fields.get("doi", ""), fields.get("url", "")):
        found = _DOI.match(TEX_ESCAPE.sub(r"\1", text.strip()))
        if found:
            return found.group(1).lower()
    return None


def _arxiv_id(fields: dict[str, str]) -> str | None:
    for text in _id_candidates(fields):
        found = parse_arxiv_id(text)
        if found:
            return found.canonical
    return None


def _id_candidates(fields: dict[str, str]) -> Iterator[str]:
    # eprint is an arXiv id unless the entry names another archive (archivePrefix, or biblatex's eprinttype)
    if (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower() == "arxiv":
        yield fields.get("eprint", "")
    yield fields.get("arxivid", "")  # Mendeley
    for name in _ID_FIELDS:
        yield from (found.group(1) for found in _ID_IN_TEXT.finditer(fields.get(name, "")))


def collect(items: Iterable[Entry | Rejected]) -> Parsed:
    """Entries and rejects, in order; of entries for the same paper the first is kept."""
    parsed, seen = Parsed(), {}
    for item in items:
        checked = _check(item, seen) if isinstance(item, Entry) else item
        (parsed.entries if isinstance(checked, Entry) else parsed.rejected).append(checked)
    return parsed


def _check(entry: Entry, seen: dict[tuple[str, str], Entry]) -> Entry | Rejected:
    if not (entry.title or entry.arxiv_id or entry.doi):
        return Rejected(entry.key, "no title, arXiv id or DOI")
    for what, value in _marks(entry):
        first = seen.get((what, value))
        if first and not _other_preprint(first, entry):
            shown = "" if what == "title" else f" {value}"
            return Rejected(entry.key, f"duplicate of {first.key} (same {what}{shown})")
    for mark in _marks(entry):
        seen.setdefault(mark, entry)
    return entry


def _marks(entry: Entry) -> list[tuple[str, str]]:
    marks = [("arXiv id", entry.arxiv_id), ("DOI", entry.doi), ("title", normalise_title(entry.title))]
    return [(what, value) for what, value in marks if value]


def _other_preprint(first: Entry, entry: Entry) -> bool:
    # Short titles ("Scaling Laws", "Introduction") recur; two distinct arXiv ids are two papers.
    return bool(first.arxiv_id and entry.arxiv_id and first.arxiv_id != entry.arxiv_id)
