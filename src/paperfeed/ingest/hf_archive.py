"""An archive of Hugging Face Daily Papers: JSON lines (plain or .gz), one line per (list date, arXiv id).

The shape of ../shared/corpus/hf-daily-archive (see its SOURCE.md): `date`, `arxiv_id`, `upvotes`,
`num_comments`, `github_repo`, `github_stars`, `project_page`, `ai_keywords`, `ai_summary`, `submitted_by`,
`snapshot_time`, plus provenance. Each line becomes Signals for the stored paper with that id: the same
signals, under the same source name, as the live `/api/daily_papers` importer (hf_daily) records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from paperfeed.ingest.common import is_web_link, json_lines
from paperfeed.models import Rejected, Signals, check_day, normalize_space, parse_arxiv_id

SOURCE = "hf-daily"  # the signals are Hugging Face's daily-papers signals, whichever way they came
COUNTS = {"upvotes": "upvotes", "num_comments": "comments", "github_stars": "github_stars"}
TEXTS = {"submitted_by": "submitted_by", "ai_summary": "ai_summary"}
LINKS = {"github_repo": "github_repo", "project_page": "project_page"}


def read(path: Path) -> Iterator[Signals | Rejected]:
    yield from json_lines(path, from_record)


def from_record(record: dict, ref: str) -> Signals:
    arxiv_id = parse_arxiv_id(str(record.get("arxiv_id") or ""))
    if arxiv_id is None:
        raise ValueError(f"missing or invalid arxiv_id {record.get('arxiv_id')!r}")
    featured = check_day(date.fromisoformat(_text(record, "date") or "missing date"))
    values: dict[str, float | str] = {"featured_on": featured.isoformat()}
    for field, name in COUNTS.items():
        if (n := record.get(field)) is not None:
            if isinstance(n, bool) or not isinstance(n, int | float) or n < 0:
                raise ValueError(f"{field} is not a count: {n!r}")
            values[name] = n
    for field, name in TEXTS.items():
        if text := _text(record, field):
            values[name] = text
    for field, name in LINKS.items():
        if url := _text(record, field):
            values[name] = _web_link(url, field)
    listed = record.get("ai_keywords")
    keywords = [normalize_space(str(k)) for k in listed if str(k).strip()] if isinstance(listed, list) else []
    if keywords:
        values["ai_keywords"] = ", ".join(keywords)
    return Signals(arxiv_id.canonical, SOURCE, f"{ref} ({arxiv_id.canonical})", values)


def _text(record: dict, field: str) -> str:
    value = record.get(field)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field} is not text: {value!r}")
    return normalize_space(value or "")


def _web_link(url: str, field: str) -> str:
    if not is_web_link(url):
        raise ValueError(f"{field} is not a web link: {url!r}")
    return url
