import os
import socket
import subprocess
import sys
import time
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.ingest import arxiv_snapshot
from paperfeed.models import Paper
from paperfeed.store.importer import Importer
from paperfeed.web.app import create_app
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz"


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def sample(engine):
    items = list(arxiv_snapshot.read(SAMPLE))
    Importer(engine).run(items, "arxiv-snapshot", "sample")
    days = sorted({p.listed_date for p in items})
    return items, days


def test_empty_database_says_how_to_import(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "paperfeed ingest" in page.text


def test_latest_day_lists_its_papers_with_links(client, sample):
    items, days = sample
    latest = days[-1]
    page = client.get("/")
    assert page.status_code == 200
    on_day = [p for p in items if p.listed_date == latest]
    assert f'<time datetime="{latest}">' in page.text
    assert f"{len(on_day)} papers" in page.text
    for p in on_day:
        assert f'href="https://arxiv.org/abs/{p.id}"' in page.text
    assert f'rel="prev" href="/papers/date/{days[-2]}"' in page.text
    assert 'rel="next"' not in page.text
    assert "<title>Daily Papers" in page.text


def test_a_given_day_with_previous_and_next(client, sample):
    items, days = sample
    page = client.get(f"/papers/date/{days[1]}")
    assert page.status_code == 200
    assert f'rel="prev" href="/papers/date/{days[0]}"' in page.text
    assert f'rel="next" href="/papers/date/{days[2]}"' in page.text
    ids = {p.id for p in items if p.listed_date == days[1]}
    other = next(p.id for p in items if p.listed_date != days[1])
    assert all(f'id="{i}"' in page.text for i in ids)
    assert f'id="{other}"' not in page.text


def test_category_filter(client, sample):
    items, days = sample
    page = client.get(f"/papers/date/{days[-1]}", params={"category": "cs.CL"})
    expected = [p for p in items if p.listed_date == days[-1] and "cs.CL" in p.categories]
    assert f"{len(expected)} paper" in page.text
    assert "show all" in page.text


def test_malformed_date_is_422(client):
    assert client.get("/papers/date/2025-13-45").status_code == 422
    assert client.get("/papers/date/yesterday").status_code == 422


def test_html_in_stored_text_is_escaped(client, engine):
    evil = Paper(
        id="2503.00001",
        title="<script>alert('x')</script> Attention",
        abstract="<img src=x onerror=alert(1)> abstract",
        authors=["Robert'); DROP TABLE papers;--"],
        categories=["cs.LG"],
        listed_date=date(2025, 3, 20),
        source="test",
        source_ref="t",
    )
    Importer(engine).run([evil], "test", "t")
    page = client.get("/papers/date/2025-03-20")
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text
    assert "DROP TABLE papers" in page.text  # shown as text, and the table still exists
    assert client.get("/healthz").json()["papers"] == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_real_http(settings, sample):
    port = free_port()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert page.status_code == 200 and "Daily Papers" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
