"""Hugging Face Daily Papers (`/api/daily_papers`): a saved response or the live endpoint.

Keeps HF's upvotes, comment count and submission day as external signals, apart from our
users' own votes. A truncated response still yields every complete paper before the cut.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx

from paperfeed.ingest.common import decode, has_bad_chars, is_web_link, parse_datetime, read_bytes
from paperfeed.ingest.http import BoundedClient
from paperfeed.models import Paper, Rejected, SourceError, normalize_space, parse_arxiv_id

SOURCE = "hf-daily"


def read(path: Path) -> Iterator[Paper | Rejected]:
    yield from parse(read_bytes(path), path.name)


def fetch(url: str, day: date, client: httpx.Client | None = None, retries: int = 3) -> Iterator[Paper | Rejected]:
    bounded = BoundedClient(client)
    response, error = None, ""
    try:
        for _attempt in range(retries + 1):
            try:
                response = bounded.get(url, params={"date": day.isoformat()})
            except httpx.TransportError as exc:
                response, error = None, str(exc)
                continue
            if response.status < 500:
                break
            response, error = None, f"HTTP {response.status}"
    finally:
        if client is None:
            bounded.close()
    if response is None:
        raise SourceError(f"Hugging Face daily papers unreachable: {error}")
    if response.status != 200:
        raise SourceError(f"Hugging Face answered HTTP {response.status} for {day}")
    yield from parse(response.body, f"{url}?date={day}")


def iter_json_array(text: str, ref: str) -> Iterator[tuple[int, object] | Rejected]:
    """(index, element) for each element of a top-level JSON array, parsed one at a time, so a
    damaged element or a truncated tail costs only what is damaged."""
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if pos >= len(text) or text[pos] != "[":
        raise SourceError(f"{ref}: not a JSON array (Hugging Face daily_papers format)")
    pos = _skip(text, pos + 1)
    index = 0
    while pos < len(text) and text[pos] != "]":
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Rejected(
                f"{ref}:{exc.lineno}", f"record {index}: invalid JSON ({exc.msg}); the rest of the file was not read"
            )
            return
        yield index, value
        index += 1
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
    if pos >= len(text):
        yield Rejected(f"{ref}:record {index}", "file is truncated (the JSON array is not closed)")


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse(data: bytes, ref: str) -> Iterator[Paper | Rejected]:
    text, note = decode(data, ref)
    if note:
        yield note
    for item in iter_json_array(text, ref):
        if isinstance(item, Rejected):
            yield item
            continue
        index, value = item
        try:
            yield from_item(value, f"{ref}#record{index}")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            yield Rejected(f"{ref}#record{index}", str(exc))


def _extras(item: dict, paper: dict) -> dict[str, float | str]:
    """Code, project page, AI summary and keywords, and the submitter, where HF gives them (on the item or its
    paper); a link that is not http(s) is left out."""

    def pick(name):
        return item.get(name) if item.get(name) is not None else paper.get(name)

    out: dict[str, float | str] = {}
    for field, name in (("githubRepo", "github_repo"), ("projectPage", "project_page")):
        if isinstance(pick(field), str) and is_web_link(pick(field)):
            out[name] = pick(field)
    if isinstance(pick("githubStars"), int) and pick("githubStars") >= 0:
        out["github_stars"] = pick("githubStars")
    if isinstance(pick("ai_summary"), str) and pick("ai_summary").strip():
        out["ai_summary"] = normalize_space(pick("ai_summary"))
    if isinstance(pick("ai_keywords"), list) and pick("ai_keywords"):
        out["ai_keywords"] = ", ".join(normalize_space(str(k)) for k in pick("ai_keywords") if str(k).strip())
    who = item.get("submittedBy") or item.get("submittedOnDailyBy") or {}
    if isinstance(who, dict) and isinstance(who.get("name") or who.get("user"), str):
        out["submitted_by"] = normalize_space(who.get("name") or who.get("user"))
    return out


def from_item(item: dict, ref: str) -> Paper | Rejected:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        return Rejected(ref, "expected an object with a 'paper' object")
    paper = item["paper"]
    arxiv_id = parse_arxiv_id(str(paper.get("id") or ""))
    if arxiv_id is None:
        return Rejected(ref, f"missing or invalid paper id {paper.get('id')!r}")
    ref = f"{ref} ({arxiv_id.canonical})"
    title = normalize_space(paper.get("title") or "")
    abstract = normalize_space(paper.get("summary") or "")
    if not title:
        return Rejected(ref, "missing title")
    if not abstract:
        return Rejected(ref, "missing abstract (summary)")
    authors = [normalize_space(a.get("name") or "") for a in paper.get("authors") or []]
    if has_bad_chars(title, abstract, *authors):
        return Rejected(ref, "text is not valid UTF-8")
    submitted = parse_datetime(item.get("publishedAt"))
    signals: dict[str, float | str] = {}
    if isinstance(paper.get("upvotes"), int | float):
        signals["upvotes"] = paper["upvotes"]
    if isinstance(item.get("numComments"), int | float):
        signals["comments"] = item["numComments"]
    if submitted:
        signals["submitted_on"] = submitted.date().isoformat()
    signals.update(_extras(item, paper))
    return Paper(
        id=arxiv_id.canonical,
        version=arxiv_id.version,
        title=title,
        abstract=abstract,
        authors=[a for a in authors if a],
        published=parse_datetime(paper.get("publishedAt")),
        listed_date=submitted.date() if submitted else None,
        signals=signals,
        source=SOURCE,
        source_ref=ref,
    )
