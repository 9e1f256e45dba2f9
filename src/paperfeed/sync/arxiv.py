"""arXiv's new listings through OAI-PMH (metadataPrefix `arXiv`), one page of records per request.

Why OAI-PMH: it is the interface arXiv offers for harvesting (the API is for searches, the RSS feeds carry only
the current day), it covers any gap (a machine that was off for a week catches up), and a record's datestamp
is the day arXiv announced it, which is the listing day a user sees on arxiv.org/list. A record whose paper
was first submitted long before its datestamp is a replacement: its listing day stays the submission's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, timedelta

from paperfeed.ingest.arxiv_oai import OAI, parse_record
from paperfeed.ingest.common import xml_safe
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.sync.upstream import Upstream

NEW_WITHIN = timedelta(days=7)  # submitted this close before its datestamp: a new paper, listed that day


class TokenExpired(SourceError):
    """The server no longer knows the resumption token: start again from the watermark."""


class CutShort(SourceError):
    """An answer that ends mid-document (a dropped transfer that still said 200): ask again."""


@dataclass
class Page:
    papers: list[Paper] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    token: str | None = None  # the next page's resumption token; None: this was the last page
    newest: date | None = None  # the newest datestamp on the page
    total: int | None = None  # completeListSize, when the server says


def archive_of(category: str) -> str:
    """The OAI set holding a category: cs.LG -> cs, stat.ML -> stat, hep-th -> physics:hep-th."""
    head = category.split(".")[0]
    return head if head in ("cs", "math", "stat", "q-bio", "q-fin", "eess", "econ") else f"physics:{head}"


def list_records(client: Upstream, url: str, set_spec: str, since: date, token: str | None) -> Page:
    params = (
        {"verb": "ListRecords", "resumptionToken": token}
        if token
        else {
            "verb": "ListRecords",
            "metadataPrefix": "arXiv",
            "set": set_spec,
            "from": since.isoformat(),
        }
    )
    return parse_page(client.get(url, params), url)


def parse_page(body: bytes, url: str) -> Page:
    try:
        root = ET.fromstring(xml_safe(body))
    except ET.ParseError as exc:
        raise CutShort(f"{url}: the page is cut short or not XML ({exc}); nothing from it was kept") from exc
    error = root.find(f"{OAI}error")
    if error is not None:
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return Page()
        if code == "badResumptionToken":
            raise TokenExpired(f"{url}: resumption token expired ({(error.text or '').strip()})")
        raise SourceError(f"{url}: OAI-PMH error {code}: {(error.text or '').strip()}")
    page = Page()
    for n, record in enumerate(root.iter(f"{OAI}record"), 1):
        _add(page, record, f"{url}#record{n}")
    resumption = root.find(f"{OAI}ListRecords/{OAI}resumptionToken")
    if resumption is not None:
        page.token = (resumption.text or "").strip() or None
        size = resumption.get("completeListSize")
        page.total = int(size) if size and size.isdigit() else None
    return page


def _add(page: Page, record: ET.Element, ref: str) -> None:
    stamp = record.findtext(f"{OAI}header/{OAI}datestamp")
    try:
        day = date.fromisoformat((stamp or "").strip()[:10])
    except ValueError:
        page.rejected.append(Rejected(ref, f"bad datestamp {stamp!r}"))
        return
    page.newest = max(page.newest or day, day)
    item = parse_record(record, ref)
    if isinstance(item, Rejected):
        page.rejected.append(item)
    elif item is not None:
        submitted = item.published.date() if item.published else day
        item.listed_date = day if day - submitted <= NEW_WITHIN else submitted
        item.source = "arxiv-oai"
        page.papers.append(item)
