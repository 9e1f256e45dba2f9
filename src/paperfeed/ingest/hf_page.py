"""The text of a Hugging Face Daily Papers page, as copied from a browser (see shared/seeds):
site chrome, a date line, then for each paper a title line, a blank line, an abstract line.

Such a page has no ids and no authors: papers are matched to stored ones by normalised title
(in the store), and unmatched ones are created under a title-derived id. The page's date line
is the day the page was shown, not a publication date, so it is not stored as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from paperfeed.ingest.common import BAD_CHAR, decode, read_bytes
from paperfeed.models import Paper, Rejected, SourceError, normalize_space

SOURCE = "hf-page"
CHROME = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "byak and the research community",
    "daily papers",
}
DATE_LINE = re.compile(r"^(?:[A-Z][a-z]{2,8}\.? \d{1,2}(?:, \d{4})?|\d{4}-\d{2}-\d{2})$")
MAX_TITLE = 400  # characters; a longer line is an abstract
MIN_ABSTRACT = 100


def read(path: Path) -> Iterator[Paper | Rejected]:
    text, note = decode(read_bytes(path), path.name)
    if note:
        yield note
    yield from parse(text, path.name)


def _content_lines(text: str) -> list[tuple[int, str]]:
    lines = [(n, normalize_space(line)) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line]
    start = 0
    while start < len(lines) and (lines[start][1].casefold() in CHROME or DATE_LINE.match(lines[start][1])):
        start += 1
    return lines[start:]


def parse(text: str, ref: str) -> Iterator[Paper | Rejected]:
    lines = _content_lines(text)
    if not lines:
        raise SourceError(f"{ref}: no papers found (expected title / blank / abstract pairs)")
    i = 0
    while i < len(lines):
        n, title = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if len(title) > MAX_TITLE:
            yield Rejected(f"{ref}:{n}", "abstract without a title line before it")
            i += 1
            continue
        if nxt is None or len(nxt[1]) < MIN_ABSTRACT:
            yield Rejected(f"{ref}:{n}", f"title {title[:60]!r} has no abstract after it")
            i += 1
            continue
        if BAD_CHAR in title or BAD_CHAR in nxt[1]:
            yield Rejected(f"{ref}:{n}", "text is not valid UTF-8")
        else:
            yield Paper(title=title, abstract=nxt[1], source=SOURCE, source_ref=f"{ref}:{n}")
        i += 2
