"""`paperfeed sync` against fake arXiv OAI-PMH and Hugging Face servers on 127.0.0.1 (tests/sync/fake_upstream.py):
a simulated fortnight with an injected clock, faults, a killed backfill, two syncs at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from paperfeed.store import lease
from paperfeed.store.schema import papers
from paperfeed.sync.run import states
from paperfeed.sync.upstream import Upstream
from tests.sync.conftest import FOLLOW, HOLIDAY, Clock, arxiv_days, expected, make_sync, walk

FIRST, LAST = date(2025, 3, 17), date(2025, 3, 31)


def test_a_simulated_fortnight_lands_every_paper_once_on_its_listing_day(
    engine, sync_settings, upstream, sample_papers
):
    """Weekdays with listings, two weekends without, a holiday whose papers come out the next day."""
    walk(engine, sync_settings, upstream, FIRST, LAST)
    want = expected(sample_papers, LAST)
    assert arxiv_days(engine) == want  # exactly these papers, each on the day it was announced
    assert sum(1 for d in want.values() if d == HOLIDAY) == 0 and date(2025, 3, 21) in want.values()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(papers).where(papers.c.id.like("2410.%"))) == 29  # HF's day
    # Each page of records was asked for once: no run read again what an earlier one kept. (A day without
    # listings costs one request answered "noRecordsMatch".)
    pages = upstream.pages()
    assert len(pages) == len(set(pages)), pages
    assert len(upstream.requests("/oai")) - len(pages) <= 2 * (LAST - FIRST).days
    state = states(engine)["arxiv:cs"]
    assert state.watermark == LAST.isoformat() and state.failures == 0 and state.last_success


def test_a_new_day_reads_only_that_day(engine, sync_settings, upstream):
    walk(engine, sync_settings, upstream, date(2025, 3, 24), date(2025, 3, 24))
    before = len(upstream.requests("/oai"))
    walk(engine, sync_settings, upstream, date(2025, 3, 25), date(2025, 3, 25))
    asked = upstream.requests("/oai")[before:]
    assert asked[0]["from"] == "2025-03-25"  # the day after the newest datestamp kept


@pytest.mark.parametrize(
    ("route", "faults", "waited"),
    [
        ("/oai", ["503"], 1.0),  # Retry-After: 1 is obeyed, then the page comes
        ("/oai", ["timeout"], None),
        ("/oai", ["drop"], None),  # the connection closes mid-answer
        ("/oai", ["truncate"], None),  # a page cut short is not kept; asked for again
        ("/oai", ["", "badtoken"], None),  # the first page is fine; its token has expired when used
        ("/api/daily_papers", ["429"], 1.0),
        ("/api/daily_papers", ["truncate"], None),
    ],
)
def test_a_passing_fault_is_survived_within_the_run(
    engine, sync_settings, upstream, sample_papers, route, faults, waited
):
    upstream.faults[route] += faults
    clock = walk(engine, sync_settings, upstream, date(2025, 3, 21), date(2025, 3, 21))
    if waited is not None:
        assert waited in clock.sleeps
    assert not any(s.last_error for s in states(engine).values())
    assert arxiv_days(engine) == {
        k: v for k, v in expected(sample_papers, date(2025, 3, 21)).items() if v >= date(2025, 3, 20)
    }


def test_a_source_down_for_a_run_is_reported_and_caught_up(engine, sync_settings, upstream, sample_papers):
    upstream.faults["/oai"] += ["503"] * 4  # more than the run retries
    walk(engine, sync_settings, upstream, date(2025, 3, 24), date(2025, 3, 24))
    state = states(engine)["arxiv:cs"]
    assert state.failures == 1 and "HTTP 503" in state.last_error and state.failing_since
    assert states(engine)["hf"].last_error is None  # the other source still ran
    assert arxiv_days(engine) == {}  # nothing half-written
    walk(engine, sync_settings, upstream, date(2025, 3, 25), date(2025, 3, 25))
    state = states(engine)["arxiv:cs"]
    assert state.failures == 0 and state.last_error is None
    assert arxiv_days(engine) == {
        k: v for k, v in expected(sample_papers, date(2025, 3, 25)).items() if v >= date(2025, 3, 24)
    }


def test_a_page_cut_short_every_time_is_reported_and_kept_out(engine, sync_settings, upstream, sample_papers):
    upstream.faults["/oai"] += ["truncate"] * 3
    walk(engine, sync_settings, upstream, date(2025, 3, 21), date(2025, 3, 21))
    assert "cut short" in states(engine)["arxiv:cs"].last_error and arxiv_days(engine) == {}
    walk(engine, sync_settings, upstream, date(2025, 3, 21), date(2025, 3, 21))
    assert states(engine)["arxiv:cs"].last_error is None and arxiv_days(engine)


def test_two_syncs_at_once_fetch_each_page_once(engine, sync_settings, upstream):
    upstream.today = date(2025, 3, 25)
    clock = Clock(datetime(2025, 3, 25, 1, 30))
    reports = []

    def one():
        reports.append(make_sync(engine, sync_settings, clock).run(since=date(2025, 3, 18)))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.busy for r in reports) == [False, True]
    pages = upstream.pages()
    assert len(pages) == len(set(pages)) > 3
    assert not lease.held(engine, "sync", datetime(2025, 3, 25, 1, 31))  # released at the end


@pytest.mark.process
def test_a_killed_backfill_resumes_without_asking_again(tmp_path, sync_settings, upstream, sample_papers):
    """`paperfeed sync --since` SIGKILLed mid-backfill, then run again: the same store as one uninterrupted run
    (exports compared byte for byte), and no committed page asked for twice."""
    upstream.page_size = 10
    upstream.today = LAST

    def run_cli(data, delay: str = "0", wait: bool = True):
        env = {
            **os.environ,
            "PAPERFEED_DATA_DIR": str(data),
            "PAPERFEED_ARXIV_OAI_URL": sync_settings.arxiv_oai_url,
            "PAPERFEED_HF_DAILY_URL": sync_settings.hf_daily_url,
            "PAPERFEED_SYNC_CATEGORIES": FOLLOW,
            "PAPERFEED_SYNC_DELAY": delay,
            "PAPERFEED_INDEX_AFTER_INGEST": "false",
        }
        cmd = [sys.executable, "-m", "paperfeed", "sync", "--since", "2025-03-17", "--no-hf"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if wait:
            proc.wait(timeout=120)
        return proc

    def export(data) -> str:
        env = {**os.environ, "PAPERFEED_DATA_DIR": str(data)}
        return subprocess.run(
            [sys.executable, "-m", "paperfeed", "export"], env=env, capture_output=True, text=True, check=True
        ).stdout

    whole = run_cli(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr.read()
    upstream.log.clear()

    killed = run_cli(tmp_path / "killed", delay="0.3", wait=False)
    while len(upstream.requests("/oai")) < 8:
        assert killed.poll() is None, killed.stderr.read()
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    first = [r.get("resumptionToken") for r in upstream.requests("/oai")]
    upstream.log.clear()
    again = run_cli(tmp_path / "killed")
    assert again.returncode == 0, again.stderr.read()
    second = [r.get("resumptionToken") for r in upstream.requests("/oai")]

    assert export(tmp_path / "killed") == export(tmp_path / "whole") != ""
    assert len(set(first) & set(second)) <= 1, (first, second)  # at most the page in flight at the kill
    assert second[0] is not None  # it went on from a stored token, not from the start


def test_a_lost_lease_stops_the_run_without_writing(engine, sync_settings, upstream):
    """A page that took longer than the lease: another process took it meanwhile; this run writes nothing more."""
    upstream.today = date(2025, 3, 25)
    clock = Clock(datetime(2025, 3, 25, 1, 30))
    job = make_sync(engine, sync_settings, clock)
    real = job.client.get

    def slow_get(url, params=None):
        body = real(url, params)
        clock.now += timedelta(hours=2)  # past the lease's expiry
        lease.acquire(engine, "sync", "other-host:1:1:1", 3600, clock.now)
        return body

    job.client.get = slow_get
    report = job.run(since=date(2025, 3, 18))
    assert any("lease was lost" in e for e in report.errors)
    assert arxiv_days(engine) == {} and lease.holder_of(engine, "sync") == "other-host:1:1:1"


def test_a_category_run_keeps_its_own_place(engine, sync_settings, upstream, sample_papers):
    """`sync -c cs.RO` must not move the watermark of the whole cs archive past days it skipped for others."""
    upstream.today = date(2025, 3, 25)
    clock = Clock(datetime(2025, 3, 25, 1, 30))
    make_sync(engine, sync_settings, clock).run(since=date(2025, 3, 24), categories=["cs.RO"])
    assert "arxiv:cs" not in states(engine) and states(engine)["arxiv:cs:cs.RO"].watermark == "2025-03-25"
    make_sync(engine, sync_settings, clock).run(since=date(2025, 3, 24))
    want = {k: v for k, v in expected(sample_papers, date(2025, 3, 25)).items() if v >= date(2025, 3, 24)}
    assert {k: v for k, v in arxiv_days(engine).items() if k in want} == want


def test_upstream_refuses_odd_answers_in_one_line():
    from paperfeed.ingest.common import is_web_link

    assert is_web_link("https://github.com/a/b") and not is_web_link("https://github.com/a/b) [x](javascript:y")
    assert not is_web_link("javascript:alert(1)") and not is_web_link("https://github.com/a b")
    assert Upstream()._retry_after(type("R", (), {"headers": {"retry-after": "nan"}})()) is None
