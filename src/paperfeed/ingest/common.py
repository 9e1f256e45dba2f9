"""Helpers the importers share: reading files, tolerant XML streaming, dates."""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from paperfeed.models import Rejected, SourceError

_UNSAFE_IN_URL = re.compile(r"[\s<>\"'`()\\]")
# What XML 1.0 forbids and upstream servers still send: raw C0 control bytes and character references to them
# (&#1;, &#x7;). Either makes a strict parser reject the whole document, so one bad record would cost every
# record on its page, on every run; they are removed before parsing (the store drops any that remain).
_XML_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_CHAR_REF = re.compile(r"&#([xX][0-9a-fA-F]+|[0-9]+);")
BAD_CHAR = "\ufffd"  # what undecodable bytes become; a record holding it is rejected


def check_text_file(path: Path) -> None:
    """Refuse a binary file at once, in one line: every importer reads text (JSON, XML or plain)."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.read(8192)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise SourceError(f"{path}: cannot be read ({exc})") from exc
    if b"\0" in head:
        raise SourceError(f"{path}: a binary file, not text (JSON, XML or a page's text)")


def json_lines(path: Path, from_record: Callable[[dict, str], object]) -> Iterator:
    """`from_record(object, "file:line")` for each line of a JSON-lines file (plain or .gz), streamed. A line
    that is not UTF-8 or not a JSON object, or that from_record refuses (ValueError and kin), is Rejected
    alone; a file cut short yields its complete lines, then a Rejected saying where it stops."""
    try:
        raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    lineno = 0
    try:
        with raw:
            for lineno, line in enumerate(raw, 1):
                if line.strip():
                    yield _json_line(line, f"{path.name}:{lineno}", from_record)
    except (EOFError, OSError, zlib.error) as exc:
        if lineno == 0:
            raise SourceError(f"cannot read {path}: {exc}") from exc
        yield Rejected(f"{path.name}:{lineno + 1}", f"file is truncated or corrupt after line {lineno} ({exc})")


def _json_line(line: bytes, ref: str, from_record: Callable[[dict, str], object]):
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(ref, f"not UTF-8: byte {line[exc.start : exc.start + 1]!r} at column {exc.start + 1}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(ref, f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return Rejected(ref, f"expected a JSON object, got {type(record).__name__}")
    try:
        return from_record(record, ref)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return Rejected(ref, str(exc))


def is_web_link(url: str) -> bool:
    """http(s) with a host: the only links a page may use as href (a `javascript:` "repository" would run in
    our users' browsers)."""
    parts = urlsplit(url)
    # No spaces, quotes, angle brackets or parentheses either: the link also goes into Markdown and HTML.
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not _UNSAFE_IN_URL.search(url)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc


def decode(data: bytes, ref: str) -> tuple[str, Rejected | None]:
    """UTF-8 text, with undecodable bytes replaced; plus a note naming the first bad line."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        note = Rejected(
            f"{ref}:{line}",
            f"bytes that are not UTF-8 ({data[exc.start : exc.start + 1]!r}"
            f" at byte {exc.start}); records containing them are rejected",
        )
        return data.decode("utf-8", errors="replace"), note


def xml_safe(data: bytes) -> bytes:
    """A UTF-8 XML document without what XML 1.0 forbids: control characters and U+FFFE/U+FFFF (raw or as
    character references), references to surrogates or past U+10FFFF; bytes that are not UTF-8 become U+FFFD
    (a record holding one is rejected alone, not its whole page)."""
    text = _XML_CONTROL_CHARS.sub("", data.decode("utf-8", "replace"))
    return _XML_CHAR_REF.sub(_allowed_ref, text).encode("utf-8")


def _allowed_ref(found: re.Match) -> str:
    ref = found.group(1)
    if len(ref) > 9:  # past U+10FFFF whatever its digits (and int() refuses thousands of them)
        return ""
    code = int(ref[1:], 16) if ref[:1] in "xX" else int(ref)
    allowed = (
        code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
    )
    return found.group(0) if allowed else ""


def has_bad_chars(*texts: str | None) -> bool:
    return any(t and BAD_CHAR in t for t in texts)


def iter_elements(text: str, local_name: str, ref: str) -> Iterator[ET.Element | Rejected]:
    """Stream the elements named `local_name` (any namespace). XML cut short or broken after some records:
    those records, then a Rejected saying where it stops. Not XML at all (nothing before the error):
    SourceError naming the file and the reason."""
    parser = ET.XMLPullParser(events=("end",))
    suffix = "}" + local_name
    error = None
    found = 0
    try:
        parser.feed(xml_safe(text.encode("utf-8")))
        parser.close()
    except ET.ParseError as exc:
        error = exc
    try:
        # The pull parser hands over the events before an error, then raises it again.
        for _event, elem in parser.read_events():
            if elem.tag.endswith(suffix) or elem.tag == local_name:
                found += 1
                yield elem
    except ET.ParseError as exc:
        error = error or exc
    if error is None:
        return
    line, col = error.position
    if not found:
        raise SourceError(f"{ref}: not readable as XML ({error})")
    yield Rejected(
        f"{ref}:{line}",
        f"malformed or truncated XML ({error}); records after line {line} were not read",
    )


def text_of(elem: ET.Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    value = " ".join(elem.text.split())
    return value or None


def parse_datetime(value: str | None) -> datetime | None:
    """ISO 8601 ("2025-12-15T18:59:57Z", "2014-01-09") or RFC 2822 (snapshot `versions`),
    as naive UTC."""
    if not value:
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"unreadable date {value!r}") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def parse_date(value: str | None) -> date | None:
    dt = parse_datetime(value)
    return dt.date() if dt else None


def core_problem(title: str | None, abstract: str | None, authors: list[str | None]) -> str | None:
    """What makes an arXiv record unusable (the API's and OAI-PMH's alike), or None: no title, no abstract, or
    text that is not valid UTF-8."""
    if not title:
        return "missing title"
    if not abstract:
        return "missing abstract"
    if has_bad_chars(title, abstract, *authors):
        return "text is not valid UTF-8"
    return None
