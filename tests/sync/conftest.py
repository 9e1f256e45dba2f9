"""The fake upstream servers and settings pointing at them, for the sync tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from paperfeed.store.schema import papers
from paperfeed.sync.run import Sync
from paperfeed.sync.upstream import Upstream
from tests.conftest import FIXTURES
from tests.sync.fake_upstream import FakeUpstream

FOLLOW = "cs.CV,cs.LG,cs.CL,cs.AI,cs.RO"
HOLIDAY = date(2025, 3, 20)  # nothing announced that Thursday: its papers come out on Friday
HF_DAY = date(2025, 3, 21)  # the recorded /api/daily_papers answer is served for this day


def announce_day(listed: date) -> date:
    return listed + timedelta(days=1) if listed == HOLIDAY else listed


@pytest.fixture
def upstream(sample_papers):
    announced: dict[date, list] = {}
    for p in sample_papers:
        announced.setdefault(announce_day(p.listed_date), []).append(p)
    hf = {HF_DAY: (FIXTURES / "hf-daily" / "daily_papers_2024-10-25.json").read_bytes()}
    fake = FakeUpstream(announced, hf, page_size=25)
    yield fake
    fake.close()


@pytest.fixture
def sync_settings(settings, upstream):
    return settings.model_copy(
        update={
            "arxiv_oai_url": upstream.url + "/oai",
            "hf_daily_url": upstream.url + "/api/daily_papers",
            "sync_categories": FOLLOW,
            "sync_first_days": 1,
            "sync_delay": 0.0,  # arXiv's 3 s between requests: a test of the delay sets its own
        }
    )


# -- what several sync tests use ------------------------------------------------------------------
class Clock:
    def __init__(self, now: datetime):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now


def make_sync(engine, settings, clock: Clock, retries: int = 3) -> Sync:
    client = Upstream(delay=0, retries=retries, timeout=1.0, sleep=clock.sleeps.append)
    return Sync(engine, settings, client=client, now=clock)


def expected(sample_papers, until: date) -> dict[str, date]:
    wanted = set(FOLLOW.split(","))
    return {
        p.id: announce_day(p.listed_date)
        for p in sample_papers
        if set(p.categories) & wanted and announce_day(p.listed_date) <= until
    }


def arxiv_days(engine) -> dict[str, date]:
    with engine.connect() as conn:
        return dict(conn.execute(select(papers.c.id, papers.c.listed_date).where(~papers.c.id.like("2410.%"))).all())


def walk(engine, settings, upstream, first: date, last: date, **kw) -> Clock:
    """A sync at 01:30 UTC every day from `first` to `last`, the server announcing each day at midnight."""
    clock = Clock(datetime.combine(first, datetime.min.time()) + timedelta(hours=1, minutes=30))
    day = first
    while day <= last:
        upstream.today = day
        clock.now = datetime.combine(day, datetime.min.time()) + timedelta(hours=1, minutes=30)
        make_sync(engine, settings, clock, **kw).run()
        day += timedelta(days=1)
    return clock
