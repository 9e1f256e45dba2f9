"""Fake arXiv OAI-PMH and Hugging Face servers on 127.0.0.1, started by the tests.

OAI-PMH: ListRecords pages in the envelope of the recorded real response
(tests/fixtures/arxiv-oai/arxiv-physics-hep-th.xml: namespaces, header, metadata, resumptionToken), holding
real papers (the snapshot sample), each with the datestamp of the day the simulated arXiv announces it.
Only days up to the server's `today` are visible, so a test can walk a week with an injected clock.
Hugging Face: /api/daily_papers?date= answers a recorded real response for the days it has, else [].
Faults are queued per route and used up one request each: 503/429 with Retry-After, a timeout, a dropped
connection, a page cut short, an expired resumption token.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from paperfeed.models import Paper

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">
<responseDate>{today}T01:00:00Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv">http://export.arxiv.org/oai2</request>
{body}
</OAI-PMH>
"""
RECORD = """<record>
<header>
 <identifier>oai:arXiv.org:{id}</identifier>
 <datestamp>{day}</datestamp>
 <setSpec>{set}</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">
 <id>{id}</id><created>{created}</created><authors>{authors}</authors><title>{title}</title>\
<categories>{categories}</categories>{comments}<abstract>{abstract}</abstract></arXiv>
</metadata>
</record>"""


def render(p: Paper, day: date, set_spec: str) -> str:
    authors = "".join(
        f"<author><keyname>{escape(a.split()[-1])}</keyname><forenames>{escape(' '.join(a.split()[:-1]))}</forenames>"
        "</author>"
        for a in p.authors
    )
    return RECORD.format(
        id=p.id,
        day=day.isoformat(),
        set=set_spec,
        created=(p.published.date() if p.published else day).isoformat(),
        authors=authors,
        title=escape(p.title),
        categories=" ".join(p.categories),
        comments=f"<comments>{escape(p.comments)}</comments>" if p.comments else "",
        abstract=escape(p.abstract),
    )


class FakeUpstream:
    def __init__(self, announced: dict[date, list[Paper]], hf: dict[date, bytes] | None = None, page_size: int = 25):
        self.announced = announced  # the day arXiv announces them -> papers
        self.hf = hf or {}
        self.page_size = page_size
        self.today = max(announced) if announced else date.today()
        self.faults: dict[str, list[str]] = defaultdict(list)  # "/oai" or "/api/daily_papers" -> faults
        self.log: list[tuple[str, dict, int, int]] = []  # (path, params, status, records served)
        self.served = 0  # records in the last OAI answer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests(self, path: str) -> list[dict]:
        return [params for p, params, _, _ in self.log if p == path]

    def pages(self) -> list[tuple]:
        """The OAI requests answered with records, as (from, resumptionToken)."""
        return [(q.get("from"), q.get("resumptionToken")) for p, q, status, n in self.log if p == "/oai" and n]

    # -- answers -------------------------------------------------------------------------------
    def oai(self, params: dict) -> tuple[int, bytes]:
        token = params.get("resumptionToken")
        if token:
            set_spec, since, offset = token.split("|")
            offset = int(offset)
        else:
            set_spec, since, offset = params.get("set", ""), params.get("from", "1900-01-01"), 0
        visible = [
            (day, p)
            for day in sorted(self.announced)
            if since <= day.isoformat() <= self.today.isoformat()
            for p in sorted(self.announced[day], key=lambda p: p.id)
            if any(c.split(".")[0] == set_spec for c in p.categories)
        ]
        page = visible[offset : offset + self.page_size]
        self.served = len(page)
        if not visible:
            body = '<error code="noRecordsMatch">No records match</error>'
            return 200, ENVELOPE.format(today=self.today, body=body).encode()
        records = "\n".join(render(p, day, set_spec) for day, p in page)
        more = offset + self.page_size < len(visible)
        nxt = f"{set_spec}|{since}|{offset + self.page_size}" if more else ""
        resumption = f'<resumptionToken cursor="{offset}" completeListSize="{len(visible)}">{nxt}</resumptionToken>'
        body = f"<ListRecords>\n{records}\n{resumption}\n</ListRecords>"
        return 200, ENVELOPE.format(today=self.today, body=body).encode()

    def daily(self, params: dict) -> tuple[int, bytes]:
        day = date.fromisoformat(params["date"])
        return 200, self.hf.get(day, b"[]") if day <= self.today else b"[]"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                route = parts.path
                fault = fake.faults[route].pop(0) if fake.faults[route] else None
                fake.served = 0
                status, body = fake.oai(params) if route == "/oai" else fake.daily(params)
                fake.log.append((route, params, 0 if fault else status, 0 if fault else fake.served))
                if fault in ("503", "429"):
                    self.send_response(int(fault))
                    self.send_header("Retry-After", "1")
                    self.end_headers()
                    return
                if fault == "timeout":
                    time.sleep(2.5)
                if fault == "badtoken" and "resumptionToken" in params:
                    body = ENVELOPE.format(
                        today=fake.today, body='<error code="badResumptionToken">expired</error>'
                    ).encode()
                if fault == "truncate":
                    body = body[: len(body) // 2]
                self.send_response(status)
                self.send_header("Content-Type", "text/xml" if route == "/oai" else "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if fault == "drop":
                        self.wfile.write(body[: len(body) // 3])
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    self.wfile.write(body)
                except OSError:  # the client gave up (a timeout test): nothing to tell it
                    pass

        return Handler
