"""The public arXiv metadata snapshot: JSON lines (plain or .gz), one paper per line.

Streamed line by line, so memory does not grow with the file. Bytes are decoded per line,
so one badly encoded record is rejected without losing its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from paperfeed.ingest.common import json_lines, parse_date, parse_datetime
from paperfeed.models import Paper, Rejected, normalize_space, parse_arxiv_id

SOURCE = "arxiv-snapshot"


def read(path: Path) -> Iterator[Paper | Rejected]:
    yield from json_lines(path, from_record)


def _required(record: dict, name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"missing {name}")
    return normalize_space(value)


def _optional(record: dict, name: str) -> str | None:
    value = record.get(name)
    return normalize_space(value) or None if isinstance(value, str) else None


def _authors(record: dict) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        # [last, first, suffix] -> "First Last Suffix"
        return [normalize_space(" ".join([p[1], p[0], *p[2:]])) for p in parsed]
    text = record.get("authors") or ""
    return [a.strip() for a in text.replace(" and ", ", ").split(",") if a.strip()]


def from_record(record: dict, ref: str) -> Paper:
    raw_id = record.get("id")
    arxiv_id = parse_arxiv_id(str(raw_id)) if raw_id else None
    if arxiv_id is None:
        raise ValueError(f"missing or invalid arXiv id {raw_id!r}")
    versions = record.get("versions") or []
    created = [parse_datetime(v.get("created")) for v in versions]
    return Paper(
        id=arxiv_id.canonical,
        version=len(versions) or arxiv_id.version,
        title=_required(record, "title"),
        abstract=_required(record, "abstract"),
        authors=_authors(record),
        categories=(record.get("categories") or "").split(),
        published=created[0] if created else None,
        updated=created[-1] if created else None,
        listed_date=parse_date(record.get("update_date")),
        comments=_optional(record, "comments"),
        doi=_optional(record, "doi"),
        journal_ref=_optional(record, "journal-ref"),
        report_no=_optional(record, "report-no"),
        license=_optional(record, "license"),
        source=SOURCE,
        source_ref=ref,
    )
