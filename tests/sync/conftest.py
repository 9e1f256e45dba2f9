"""The fake upstream servers and settings pointing at them, for the sync tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

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
        }
    )
