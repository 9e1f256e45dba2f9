"""The sync scheduler: when each source is due, backing off after failures, one sync across processes, and the
digest after the sync."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import pytest

from paperfeed.sync.run import SourceState, states
from paperfeed.sync.scheduler import SyncScheduler, next_due
from tests.conftest import free_port
from tests.sync.conftest import FOLLOW, Clock, arxiv_days, expected

pytestmark = pytest.mark.process  # starts, kills or floods paperfeed processes: make test, not test-fast


def test_next_due_backs_off_after_failures():
    last = datetime(2026, 5, 27, 1, 0)
    ok = SourceState(last_attempt=last.isoformat() + "Z")
    assert next_due(None, 3600) == datetime.min
    assert next_due(ok, 3600) == last + timedelta(hours=1)
    waits = [next_due(SourceState(last_attempt=last.isoformat() + "Z", failures=n), 3600) - last for n in (1, 2, 3, 5)]
    assert waits == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20), timedelta(hours=1)]


def test_ticks_sync_when_due_and_retry_sooner_after_a_failure(engine, sync_settings, upstream, sample_papers):
    clock = Clock(datetime(2025, 3, 24, 0, 30))
    upstream.today = date(2025, 3, 24)
    scheduler = SyncScheduler(engine, sync_settings, now=clock)
    scheduler.tick()
    first = len(upstream.log)
    assert first and arxiv_days(engine)
    clock.now += timedelta(minutes=10)
    scheduler.tick()
    assert len(upstream.log) == first  # nothing due yet
    upstream.faults["/oai"] += ["503"] * 4
    clock.now += timedelta(minutes=51)  # an hour after the first: arXiv due, and failing
    scheduler.tick()
    assert states(engine)["arxiv:cs"].failures == 1
    clock.now += timedelta(minutes=5)  # retried after 5 minutes, not an hour
    upstream.today = date(2025, 3, 25)
    scheduler.tick()
    assert states(engine)["arxiv:cs"].failures == 0
    assert date(2025, 3, 25) in arxiv_days(engine).values()


def test_two_served_schedulers_sync_each_page_once(tmp_path, sync_settings, upstream, sample_papers):
    """Two `paperfeed serve --with-scheduler` on one store: every page fetched once, every paper stored once."""
    upstream.today = date(2025, 3, 25)
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_ARXIV_OAI_URL": sync_settings.arxiv_oai_url,
        "PAPERFEED_HF_DAILY_URL": sync_settings.hf_daily_url,
        "PAPERFEED_SYNC_CATEGORIES": FOLLOW,
        "PAPERFEED_SYNC_DELAY": "0.05",
        # The served processes run on the real clock: their first sync reaches back to the simulated days.
        "PAPERFEED_SYNC_FIRST_DAYS": str((date.today() - date(2025, 3, 16)).days),
        "PAPERFEED_SCHEDULER_INTERVAL": "0.2",
        "PAPERFEED_INDEX_IN_BACKGROUND": "false",
    }
    subprocess.run([sys.executable, "-m", "paperfeed", "init"], env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--with-scheduler", "--port", str(free_port())],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(p == "/api/daily_papers" for p, *_ in upstream.log):
            time.sleep(0.2)
        time.sleep(3)  # more scheduler turns in both processes: nothing is due again
    finally:
        for p in procs:
            p.terminate()
        errors = [p.communicate(timeout=20)[1] for p in procs]
    pages = upstream.pages()
    assert pages and len(pages) == len(set(pages)), (pages, errors[0][-2000:])
    from paperfeed.store import make_engine
    from tests.conftest import store_url

    engine = make_engine(store_url(tmp_path / "data"))
    assert arxiv_days(engine) == expected(sample_papers, date(2025, 3, 25))
    engine.dispose()
