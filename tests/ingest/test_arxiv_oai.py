import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from paperfeed.ingest import arxiv_oai
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.store.importer import Importer
from tests.conftest import FIXTURES

OAI = FIXTURES / "arxiv-oai"


def test_get_record_parses_every_field():
    [p] = list(arxiv_oai.read(OAI / "arxiv-single.xml"))
    assert p.id == "1401.2122"
    assert p.title == "New integrable (3+1)-dimensional systems and contact geometry"
    assert p.authors == ["A. Sergyeyev"]
    assert p.categories[0] == "math.AP" and "nlin.SI" in p.categories
    assert (p.published.date(), p.updated.date()) == (date(2014, 1, 9), date(2017, 10, 23))
    assert p.doi == "10.1007/s11005-017-1013-4"
    assert p.journal_ref.startswith("Lett. Math. Phys. 108")
    assert p.abstract.startswith("We introduce a novel systematic construction")


def test_list_records_files():
    ids = [p.id for f in ("arxiv-physics-hep-th.xml", "arxiv-physics-hep-ex.xml") for p in arxiv_oai.read(OAI / f)]
    assert ids == ["1412.8323", "1507.07790", "1607.01710", "1706.05371", "1706.09418", "1707.00874"]


def test_record_missing_abstract_is_rejected_and_the_rest_kept(tmp_path, engine):
    xml = (OAI / "arxiv-physics-hep-th.xml").read_text()
    start = xml.index("<abstract>")
    end = xml.index("</abstract>") + len("</abstract>")
    path = tmp_path / "hep-th.xml"
    path.write_text(xml[:start] + xml[end:])
    items = list(arxiv_oai.read(path))
    [bad] = [i for i in items if isinstance(i, Rejected)]
    assert str(bad) == "hep-th.xml#record1 (1412.8323): missing abstract"
    assert Importer(engine).run(items, "arxiv-oai", str(path)).new == 2


class OaiServer:
    """A real HTTP server on loopback answering OAI-PMH from the recorded responses: page one
    (hep-th) carries a resumption token that leads to page two (hep-ex)."""

    def __init__(self, first_status=()):
        self.requests: list[dict] = []
        self.first_status = list(first_status)
        page1 = (OAI / "arxiv-physics-hep-th.xml").read_text()
        page1 = page1.replace(
            "</ListRecords>", '<resumptionToken cursor="0" completeListSize="6">tok-2</resumptionToken>\n</ListRecords>'
        )
        self.pages = {None: page1.encode(), "tok-2": (OAI / "arxiv-physics-hep-ex.xml").read_bytes()}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                outer.requests.append(params)
                if outer.first_status:
                    self.send_response(outer.first_status.pop(0))
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                body = outer.pages[params.get("resumptionToken")]
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oai"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_live_harvest_follows_resumption_tokens_and_reports_a_watermark():
    with OaiServer(first_status=[503]) as server:
        harvest = arxiv_oai.Harvest(server.url, "physics:hep-th", since=date(2017, 12, 1))
        items = list(harvest)
    assert [p.id for p in items if isinstance(p, Paper)] == [
        "1412.8323",
        "1507.07790",
        "1607.01710",
        "1706.05371",
        "1706.09418",
        "1707.00874",
    ]
    assert server.requests[0] == server.requests[1]  # the 503 was retried
    assert server.requests[1] == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "physics:hep-th",
        "from": "2017-12-01",
    }
    assert server.requests[2] == {"verb": "ListRecords", "resumptionToken": "tok-2"}
    assert harvest.watermark == "2017-12-14"


def test_harvest_from_an_unreachable_endpoint_is_a_source_error():
    with OaiServer() as server:
        url = server.url
    with pytest.raises(SourceError, match="failed"):
        list(arxiv_oai.Harvest(url, "cs", max_retries=0))
