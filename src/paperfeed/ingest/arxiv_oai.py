"""arXiv OAI-PMH (metadataPrefix `arXiv`): saved responses, or incremental live harvests.

A live harvest uses `sickle`, which follows resumption tokens. The caller keeps the
watermark (the newest datestamp seen) and passes it back as `from` next time; harvesting
the same day twice is harmless because the import is idempotent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from paperfeed.ingest.common import core_problem, decode, iter_elements, parse_datetime, read_bytes, text_of
from paperfeed.models import Paper, Rejected, SourceError, parse_arxiv_id

SOURCE = "arxiv-oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
AX = "{http://arxiv.org/OAI/arXiv/}"


def read(path: Path) -> Iterator[Paper | Rejected]:
    """Records of a saved OAI-PMH response (ListRecords or GetRecord)."""
    text, note = decode(read_bytes(path), path.name)
    if note:
        yield note
    index = 0
    for elem in iter_elements(text, "record", path.name):
        if isinstance(elem, Rejected):
            yield elem
            continue
        index += 1
        item = parse_record(elem, f"{path.name}#record{index}")
        if item is not None:
            yield item


def _author(elem: ET.Element) -> str:
    parts = [text_of(elem.find(f"{AX}{n}")) for n in ("forenames", "keyname", "suffix")]
    return " ".join(p for p in parts if p)


def parse_record(record: ET.Element, ref: str) -> Paper | Rejected | None:
    """A Paper, a Rejected, or None for a record the repository marks deleted."""
    header = record.find(f"{OAI}header")
    if header is not None and header.get("status") == "deleted":
        return None
    meta = record.find(f"{OAI}metadata/{AX}arXiv")
    if meta is None:
        return Rejected(ref, "no arXiv metadata (was metadataPrefix=arXiv used?)")
    raw_id = text_of(meta.find(f"{AX}id")) or ""
    arxiv_id = parse_arxiv_id(raw_id)
    if arxiv_id is None:
        return Rejected(ref, f"missing or invalid arXiv id {raw_id!r}")
    ref = f"{ref} ({arxiv_id.canonical})"
    title = text_of(meta.find(f"{AX}title"))
    abstract = text_of(meta.find(f"{AX}abstract"))
    authors = [_author(a) for a in meta.findall(f"{AX}authors/{AX}author")]
    problem = core_problem(title, abstract, authors)
    if problem:
        return Rejected(ref, problem)
    try:
        created = parse_datetime(text_of(meta.find(f"{AX}created")))
        updated = parse_datetime(text_of(meta.find(f"{AX}updated"))) or created
    except ValueError as exc:
        return Rejected(ref, str(exc))
    return Paper(
        id=arxiv_id.canonical,
        title=title,
        abstract=abstract,
        authors=[a for a in authors if a],
        categories=(text_of(meta.find(f"{AX}categories")) or "").split(),
        published=created,
        updated=updated,
        listed_date=created.date() if created else None,
        comments=text_of(meta.find(f"{AX}comments")),
        doi=text_of(meta.find(f"{AX}doi")),
        journal_ref=text_of(meta.find(f"{AX}journal-ref")),
        report_no=text_of(meta.find(f"{AX}report-no")),
        license=text_of(meta.find(f"{AX}license")),
        source=SOURCE,
        source_ref=ref,
    )


class Harvest:
    """A live ListRecords harvest. After iterating, `watermark` is the newest datestamp seen."""

    def __init__(
        self,
        url: str,
        set_spec: str | None,
        since: date | None = None,
        until: date | None = None,
        max_retries: int = 5,
    ):
        self.url = url
        self.set_spec = set_spec
        self.since = since
        self.until = until
        self.max_retries = max_retries
        self.watermark: str | None = None

    def __iter__(self) -> Iterator[Paper | Rejected]:
        from sickle import Sickle
        from sickle.oaiexceptions import NoRecordsMatch, OAIError

        client = Sickle(
            self.url,
            max_retries=self.max_retries,
            retry_status_codes=[500, 502, 503, 504],
            default_retry_after=20,
            timeout=120,
        )
        params = {"metadataPrefix": "arXiv"}
        if self.set_spec:
            params["set"] = self.set_spec
        if self.since:
            params["from"] = self.since.isoformat()
        if self.until:
            params["until"] = self.until.isoformat()
        try:
            records = client.ListRecords(ignore_deleted=False, **params)
            for index, record in enumerate(records, 1):
                item = self._parse(record, index)
                if item is not None:
                    yield item
        except NoRecordsMatch:
            return
        except OAIError as exc:
            raise SourceError(f"OAI-PMH error from {self.url}: {exc}") from exc
        except OSError as exc:  # requests' errors derive from OSError
            raise SourceError(f"OAI-PMH harvest from {self.url} failed: {exc}") from exc

    def _parse(self, record, index: int) -> Paper | Rejected | None:
        stamp = getattr(record.header, "datestamp", None)
        if stamp and (self.watermark is None or stamp > self.watermark):
            self.watermark = stamp
        ref = f"{self.url}#record{index}"
        try:
            elem = ET.fromstring(record.raw.encode("utf-8"))
        except ET.ParseError as exc:
            return Rejected(ref, f"malformed record XML ({exc})")
        return parse_record(elem, ref)
