"""A user's library file in any of the formats reference managers export: BibTeX (ingest/bibtex.py), RIS (read
with rispy) and CSL-JSON (Zotero's and Mendeley's JSON, as citeproc reads it), or a list of arXiv ids. Each
yields the same entries (bibtex.Entry), matched to stored papers the same way."""

from __future__ import annotations

import json
import re

import rispy

from paperfeed.ingest import bibtex
from paperfeed.ingest.bibtex import Entry, NotBibtex, Parsed, Rejected

KINDS = ("bibtex", "ris", "csl-json", "ids")
_RIS_START = re.compile(r"^\s*TY\s{1,2}-", re.MULTILINE)


def parse(kind: str, text: str) -> Parsed:
    """`kind` "ids", or a file: "bibtex" (the upload form's choice) is read as what the file turns out to be."""
    if kind == "ids":
        return bibtex.parse_id_list(text)
    kind = detect(text) if kind == "bibtex" else kind
    readers = {"bibtex": bibtex.parse_bibtex, "ris": parse_ris, "csl-json": parse_csl_json}
    if kind not in readers:
        raise NotBibtex(f"a library file is BibTeX, RIS or CSL-JSON, not {kind[:20]!r}")
    return readers[kind](text)


def detect(text: str) -> str:
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("[", "{"):
        return "csl-json"
    if _RIS_START.search(text[:4096]):
        return "ris"
    return "bibtex"


ARXIV_NOTE = re.compile(r"^\s*arXiv:\s*\S+\s*$", re.I)  # a note that only names the arXiv id is not the reader's


def parse_ris(text: str) -> Parsed:
    try:
        records = rispy.loads(text.lstrip("\ufeff"), skip_unknown_tags=True)
    except Exception as exc:  # rispy raises plain IOError/ValueError subclasses for a file that is not RIS
        raise NotBibtex(f"this file is not RIS: {' '.join(str(exc).split())[:120]}") from None
    if not records:
        raise NotBibtex("this file is not RIS: no record (TY  - …) found")
    return bibtex.collect(_ris_entry(n, r) for n, r in enumerate(records, 1))


def _ris_entry(n: int, ref: dict) -> Entry | Rejected:
    title = ref.get("title") or ref.get("primary_title") or ""
    names = ref.get("authors") or ref.get("first_authors") or []
    arxiv = str(ref.get("accession_number") or "")
    fields = {
        "title": title,
        "abstract": ref.get("abstract") or ref.get("notes_abstract") or "",
        "doi": str(ref.get("doi") or ""),
        "url": " ".join(ref.get("urls") or []),
        "note": " ".join([*(ref.get("notes") or []), str(ref.get("note") or ""), f"arXiv:{arxiv}" if arxiv else ""]),
        "journal": str(ref.get("journal_name") or ref.get("secondary_title") or ""),
        "year": str(ref.get("year") or ref.get("publication_year") or ref.get("date") or ""),
        "annote": "\n\n".join(str(x) for x in ref.get("notes") or [] if not ARXIV_NOTE.match(str(x))),
    }
    return bibtex.entry_from(str(ref.get("id") or f"record {n}"), fields, [_first_last(a) for a in names], _list(ref))


def _list(ref: dict) -> list[str]:
    return [str(k) for k in ref.get("keywords") or []]


def _first_last(name: str) -> str:
    """RIS writes "Last, First" (or "Last, First, Suffix"); paperfeed stores "First Last"."""
    parts = [p.strip() for p in str(name).split(",")]
    return " ".join(p for p in [*parts[1:2], parts[0], *parts[2:]] if p) if len(parts) > 1 else parts[0]


def parse_csl_json(text: str) -> Parsed:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise NotBibtex(f"this file is not CSL-JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:  # "[[[[…" thousands deep: no reference manager writes that
        raise NotBibtex("this file is not CSL-JSON: it is nested too deeply") from None
    items = data.get("items", data) if isinstance(data, dict) else data  # some tools wrap the list
    if not isinstance(items, list):
        raise NotBibtex("this file is not CSL-JSON: expected a list of items")
    return bibtex.collect(_csl_entry(n, item) for n, item in enumerate(items, 1))


def _csl_entry(n: int, item) -> Entry | Rejected:
    if not isinstance(item, dict):
        return Rejected(f"item {n}", "not a CSL-JSON item (an object with a title)")
    fields = {
        "title": _text(item.get("title")),
        "abstract": _text(item.get("abstract")),
        "doi": _text(item.get("DOI")),
        "url": _text(item.get("URL")),
        "note": " ".join(_text(item.get(k)) for k in ("number", "note", "archive_location")),
        "journal": _text(item.get("container-title")),
        "year": _csl_year(item.get("issued")),
        "annote": "" if ARXIV_NOTE.match(_text(item.get("note"))) else _text(item.get("note")),
    }
    keywords = re.split(r"[,;]", _text(item.get("keyword")))
    return bibtex.entry_from(_text(item.get("id")) or f"item {n}", fields, _csl_names(item.get("author")), keywords)


def _text(value) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""


def _csl_names(value) -> list[str]:
    names = []
    for person in value if isinstance(value, list) else []:
        if isinstance(person, dict):
            name = _text(person.get("literal")) or " ".join(
                _text(person.get(k)) for k in ("given", "non-dropping-particle", "family") if person.get(k)
            )
            names.append(" ".join(name.split()))
    return [n for n in names if n]


def _csl_year(issued) -> str:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return _text(parts[0][0])
        return _text(issued.get("raw")) or _text(issued.get("literal"))
    return ""
