"""Fake arXiv OAI-PMH and Hugging Face servers on 127.0.0.1, started by the tests.

OAI-PMH: ListRecords pages in the envelope of the recorded real response
(tests/fixtures/arxiv-oai/arxiv-physics-hep-th.xml: namespaces, header, metadata, resumptionToken), holding
real papers (the snapshot sample), each with the datestamp of the day the simulated arXiv announces it.
Only days up to the server's `today` are visible, so a test can walk a week with an injected clock.
Hugging Face: /api/daily_papers?date= answers a recorded real response for the days it has, else [].
Faults are queued per route and used up one request each: 503/429 with Retry-After, a timeout, a dropped
connection, a page cut short, an expired resumption token.
A hostile server is set per route in `always`, for every request: "loop" (the same resumption token for
ever), "badtoken" (every resumption token refused), "drip" (headers, then one byte every `drip_every` s),
"huge" (declares 200 MB and sends it), "endless" (a body with no length that never ends), "control" (every C0
control character in each title, raw and as &#N; in XML, escaped in JSON), "bigabstract" (1 MB abstracts).
"""

from __future__ import annotations

import re
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
        self.always: dict[str, str] = {}  # route -> a hostile behaviour for every request
        self.drip_every = 0.2
        self.sent = 0  # bytes of the last hostile body sent
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
                fault = fake.faults[route].pop(0) if fake.faults[route] else fake.always.get(route)
                fake.served = 0
                status, body = fake.oai(params) if route == "/oai" else fake.daily(params)
                if fault in HOSTILE_BODY:
                    body = HOSTILE_BODY[fault](body, params)
                if fault in ("drip", "huge", "endless"):
                    fake.log.append((route, params, status, 0))
                    return fake.stream_hostile(self, fault, body)
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

    def stream_hostile(self, handler, fault: str, body: bytes) -> None:
        """Send until the client goes away (or 200 MB): a drip, a huge declared body, or an endless one."""
        handler.send_response(200)
        if fault != "endless":
            handler.send_header("Content-Length", str(200 * 2**20 if fault == "huge" else len(body)))
        handler.end_headers()
        self.sent = 0
        chunk = b" " * 65536
        try:
            while self.sent < 200 * 2**20:
                if fault == "drip":
                    handler.wfile.write(body[self.sent : self.sent + 1])
                    handler.wfile.flush()
                    self.sent += 1
                    time.sleep(self.drip_every)
                else:
                    handler.wfile.write(chunk)
                    self.sent += len(chunk)
        except OSError:  # the client stopped reading: what the test wants
            pass


CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")


def _control_xml(body: bytes, params: dict) -> bytes:
    raw = "".join(c for c in CONTROLS if c != "\0").encode()  # a NUL byte ends some servers' strings: one of each kind
    refs = "".join(f"&#{ord(c)};" for c in CONTROLS).encode()
    return body.replace(b"<title>", b"<title>" + raw + refs + b"\x00")


def _control_json(body: bytes, params: dict) -> bytes:
    escaped = "".join(f"\\u{ord(c):04x}" for c in CONTROLS).encode()
    return body.replace(b'"title":"', b'"title":"' + escaped)


def _big_abstract(body: bytes, params: dict) -> bytes:
    return body.replace(b"<abstract>", b"<abstract>" + b"lorem ipsum " * 87_382, 3)  # three 1 MB abstracts


def _loop_token(body: bytes, params: dict) -> bytes:
    # Every later page names itself as the next one: a server bug (or a hostile one) that never ends the list.
    token = params.get("resumptionToken")
    if token is None:
        return body
    return re.sub(rb"(<resumptionToken[^>]*>)[^<]*(</resumptionToken>)", rb"\g<1>" + token.encode() + rb"\g<2>", body)


def _bad_token(body: bytes, params: dict) -> bytes:
    if "resumptionToken" not in params:
        return body
    return ENVELOPE.format(today="2025-01-01", body='<error code="badResumptionToken">unknown</error>').encode()


HOSTILE_BODY = {
    "control": lambda body, params: (
        _control_xml(body, params) if body.lstrip().startswith(b"<") else _control_json(body, params)
    ),
    "bigabstract": _big_abstract,
    "loop": _loop_token,
    "badtoken": _bad_token,
}
