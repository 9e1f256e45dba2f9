"""Issue #19: a hostile upstream never stops the service. `paperfeed sync` in its own process against the fake
arXiv and Hugging Face servers turned hostile (tests/sync/fake_upstream.py): a resumption token that loops, one
refused on every resume, a drip, huge and endless bodies, control characters, 1 MB abstracts. Each run ends by
itself, says why on /admin/sources and /healthz, releases the lease, and keeps what can be kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.ingest.http import TooLarge, TooSlow
from paperfeed.models import Paper
from paperfeed.store import lease
from paperfeed.store.schema import papers
from paperfeed.sync.run import states
from paperfeed.sync.upstream import Upstream
from paperfeed.web.app import create_app
from tests.sync.conftest import FOLLOW, HF_DAY
from tests.sync.fake_upstream import CONTROLS

DAY = date(2025, 3, 21)  # a day with more than one page of papers (25 a page)


def sync_cli(settings, *args: str, timeout: float = 60, **env) -> tuple[subprocess.CompletedProcess, float]:
    """`paperfeed sync` on the test's store, upstreams at the fake server; (result, seconds it took)."""
    full = {
        **os.environ,
        "PAPERFEED_ARXIV_OAI_URL": settings.arxiv_oai_url,
        "PAPERFEED_HF_DAILY_URL": settings.hf_daily_url,
        "PAPERFEED_SYNC_CATEGORIES": FOLLOW,
        "PAPERFEED_SYNC_DELAY": "0",
        **{f"PAPERFEED_{k.upper()}": str(v) for k, v in env.items()},
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed", "sync", *args], env=full, capture_output=True, text=True, timeout=timeout
    )
    return done, time.monotonic() - started


def stored(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors)).mappings()
        return {r["id"]: dict(r) for r in rows}


def assert_failed_and_freed(engine, name: str, words: str) -> None:
    state = states(engine)[name]
    assert words in (state.last_error or ""), state.last_error
    assert state.failing_since and state.failures == 1
    assert not lease.held(engine, "sync", datetime.now(UTC).replace(tzinfo=None))


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [("loop", "sent the resumption token"), ("badtoken", "again after starting over")],
)
def test_a_harvest_that_would_never_end_fails_the_run_in_a_few_requests(
    engine, sync_settings, upstream, behaviour, words
):
    upstream.today = DAY
    upstream.always["/oai"] = behaviour
    done, took = sync_cli(sync_settings, "--since", "2025-03-17", "--no-hf")
    assert done.returncode == 1 and words in done.stdout, done.stdout + done.stderr
    assert len(upstream.requests("/oai")) <= 6 and took < 30
    assert_failed_and_freed(engine, "arxiv:cs", words)
    assert states(engine)["arxiv:cs"].token is None  # the next run starts over, not from the looping token
    upstream.always.clear()
    done, _ = sync_cli(sync_settings, "--since", "2025-03-17", "--no-hf")
    assert done.returncode == 0 and states(engine)["arxiv:cs"].failing_since is None


def test_a_run_stops_at_its_request_budget_and_the_next_run_goes_on(engine, sync_settings, upstream, sample_papers):
    upstream.today = DAY
    done, _ = sync_cli(sync_settings, "--since", "2025-03-17", "--no-hf", sync_run_requests=2)
    assert done.returncode == 1 and "run budget spent: 2 requests" in done.stdout
    assert len(upstream.requests("/oai")) == 2 and states(engine)["arxiv:cs"].token  # where to go on
    kept = len(stored(engine))
    done, _ = sync_cli(sync_settings, "--no-hf")
    assert done.returncode == 0 and len(stored(engine)) > kept


@pytest.mark.parametrize("route", ["/oai", "/api/daily_papers"])
def test_an_upstream_that_drips_is_cut_off_at_the_answer_deadline(engine, sync_settings, upstream, route):
    upstream.today = DAY
    upstream.always[route] = "drip"
    done, took = sync_cli(sync_settings, "--since", str(DAY), sync_answer_seconds=2)
    # One deadline per source: the dripping answer is asked for once, not retried. The sync as a whole takes
    # about 5 s on two idle cores and 20 s on two busy ones; unbounded, it took 200 s.
    assert len(upstream.requests(route)) == 1 and took < 60, (took, done.stdout)
    name = "arxiv:cs" if route == "/oai" else "hf"
    assert_failed_and_freed(engine, name, "no whole answer within 2 s")
    other = "hf" if route == "/oai" else "arxiv:cs"
    assert states(engine)[other].failing_since is None  # the other source still ran


@pytest.mark.parametrize("behaviour", ["huge", "endless"])
def test_an_oversized_answer_is_not_read(engine, sync_settings, upstream, behaviour):
    upstream.today = DAY
    upstream.always["/oai"] = behaviour
    done, took = sync_cli(sync_settings, "--since", str(DAY), "--no-hf", sync_answer_bytes=2**20)
    assert took < 20 and done.returncode == 1
    assert_failed_and_freed(engine, "arxiv:cs", "1 MB cap")
    assert upstream.sent < 64 * 2**20  # the client stopped reading (a huge body is refused by its length at once)


def test_reading_an_endless_answer_holds_no_more_than_the_cap(upstream):
    upstream.always["/oai"] = "endless"
    client = Upstream(delay=0, retries=0, max_bytes=4 * 2**20)
    tracemalloc.start()
    with pytest.raises(TooLarge, match="passed the 4 MB cap"):
        client.get(upstream.url + "/oai", {"verb": "ListRecords"})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, peak


def test_a_deadline_covers_headers_that_drip_too():
    """A server that accepts and then says nothing (or one header byte at a time): cut at the deadline."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = Upstream(delay=0, retries=0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(TooSlow, match="within 1 s"):
        client.get(f"http://127.0.0.1:{listener.getsockname()[1]}/oai")
    assert time.monotonic() - started < 3
    listener.close()


def test_control_characters_from_upstream_are_removed_and_every_feed_answers(
    engine, sync_settings, upstream, sample_papers
):
    """Every C0 control character in every title, raw and as &#N; in the OAI XML, escaped in HF's JSON: the
    pages keep all their records, the store keeps the titles without the controls, and the feeds answer."""
    upstream.today = HF_DAY
    upstream.always["/oai"] = upstream.always["/api/daily_papers"] = "control"
    done, _ = sync_cli(sync_settings, "--since", "2025-03-20")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = stored(engine)
    by_id = {p.id: p for p in sample_papers}
    arxiv = [pid for pid in rows if pid in by_id]
    hf = [pid for pid in rows if pid.startswith("2410.")]
    assert len(arxiv) > 25 and len(hf) == 29  # no page was rejected for its bytes
    for pid in arxiv:
        assert rows[pid]["title"] == by_id[pid].title  # the controls gone, the rest as sent
    assert not any(c in row["title"] for row in rows.values() for c in CONTROLS)
    with TestClient(create_app(sync_settings)) as client:
        for path, params in (
            ("/feeds/daily.xml", {"date": str(HF_DAY)}),
            ("/feeds/daily.xml", {}),
            ("/feeds/trending.xml", {}),
            ("/feeds/search.xml", {"q": "video"}),
            ("/feeds/daily.xml", {"date": str(HF_DAY), "format": "atom"}),
        ):
            answer = client.get(path, params=params)
            assert answer.status_code == 200, (path, answer.text[:300])
            ET.fromstring(answer.content)


def test_a_feed_answers_whatever_control_character_is_already_stored(engine, sync_settings):
    """Text stored before this cleaning existed (or written by hand) still cannot break a feed."""
    from sqlalchemy import update

    from paperfeed.store.importer import Importer

    # PostgreSQL refuses NUL in any text (so it cannot be stored there at all); SQLite keeps it.
    codes = range(1 if engine.dialect.name == "postgresql" else 0, 32)
    rows = [
        Paper(id=f"2503.{9000 + c:05d}", title=f"Paper {c}", abstract="An abstract.", source="t", source_ref="t")
        for c in codes
    ]
    for p in rows:
        p.listed_date, p.authors = date(2025, 3, 31), ["Ada Lovelace"]
    Importer(engine).run(rows, "t", "t")
    with engine.begin() as conn:
        for c in codes:
            dirty = f"Paper {chr(c)} {c}"
            conn.execute(
                update(papers).where(papers.c.id == f"2503.{9000 + c:05d}").values(title=dirty, abstract=dirty)
            )
    with TestClient(create_app(sync_settings)) as client:
        for fmt in ("rss", "atom"):
            answer = client.get("/feeds/daily.xml", params={"date": "2025-03-31", "format": fmt})
            assert answer.status_code == 200, answer.text[:300]
            found = ET.fromstring(answer.content).findall(".//item" if fmt == "rss" else ".//{*}entry")
            assert len(found) == len(codes)


def test_one_megabyte_abstracts_are_cut_and_pages_stay_small(engine, sync_settings, upstream):
    upstream.today = DAY
    upstream.always["/oai"] = "bigabstract"
    done, _ = sync_cli(sync_settings, "--since", str(DAY), "--no-hf")
    assert done.returncode == 0, done.stdout + done.stderr
    long = [r for r in stored(engine).values() if r["abstract"].startswith("lorem ipsum")]
    assert long and all(len(r["abstract"]) == 10_000 and r["abstract"].endswith("…") for r in long)
    with TestClient(create_app(sync_settings)) as client:
        page = client.get(f"/papers/{long[0]['id']}")
        day = client.get("/", params={"date": str(DAY)})
    assert page.status_code == day.status_code == 200
    assert len(page.content) < 200_000 and len(day.content) < 1_500_000


def test_what_xml_forbids_costs_one_record_at_most_never_its_page(upstream, sample_papers):
    """Character references to U+FFFE, surrogates or past U+10FFFF, raw U+FFFF and bytes that are not UTF-8:
    each used to make the whole page unreadable (and the resumption token stuck on it, run after run)."""
    from paperfeed.sync.arxiv import parse_page

    upstream.today = DAY
    status, body = upstream.oai({"set": "cs", "from": str(DAY)})
    records = body.count(b"<record>")
    spoiled = body.replace(b"<title>", b"<title>&#xFFFE;&#65535;&#xD800;&#1114112;&#99999999999999;\xef\xbf\xbf", 2)
    spoiled = spoiled.replace(b"<abstract>", b"<abstract>\xff", 1)  # not UTF-8: that one record is rejected
    page = parse_page(spoiled, "fake")
    assert len(page.papers) == records - 1 and len(page.rejected) == 1 and page.token
    assert "not valid UTF-8" in page.rejected[0].reason


def test_the_environment_proxy_is_still_used(monkeypatch):
    """The bounded client brings its own transport; HTTP_PROXY (and NO_PROXY) must still apply."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from paperfeed.ingest.http import BoundedClient

    seen = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"via proxy")

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        answer = BoundedClient(deadline=5).get("http://arxiv.example/oai?verb=Identify")
    finally:
        proxy.shutdown()
    assert answer.body == b"via proxy" and seen == ["http://arxiv.example/oai?verb=Identify"]
