"""A day of 2,000 new papers from a fake arXiv OAI-PMH server (127.0.0.1) to "searchable and in the digest".

2,000 real papers of the shared corpus are announced on one simulated day by tests/sync/fake_upstream.py
(100 records a page, as arXiv's OAI-PMH pages). Measured in one run:
- parse only (baseline): the same pages fetched and parsed, nothing written;
- sync: fetch, parse, write each page with its resumption state (the 3 s pause between requests turned off);
- index: keywords and embeddings of the new papers (the index the search reads);
- digest: composing a digest of the day's cs.LG papers for one subscriber.
Then the real-world estimate with arXiv's 3 s pause: requests and minutes for the day and for a year of cs.*.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sync.fake_upstream import FakeUpstream  # noqa: E402

from bench.common import CORPUS, WORK, machine, table, write_section  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.ingest.arxiv_snapshot import from_record  # noqa: E402
from paperfeed.search.encoder import get_encoder  # noqa: E402
from paperfeed.search.indexer import sync as index_sync  # noqa: E402
from paperfeed.store import init_db, make_engine  # noqa: E402
from paperfeed.sync.arxiv import list_records  # noqa: E402
from paperfeed.sync.run import Sync  # noqa: E402
from paperfeed.sync.upstream import Upstream  # noqa: E402

DAY = date(2026, 5, 28)
N = 2000
PAGE = 100
# cs.* records a year (new submissions, cross-lists and replacements): an estimate, ~500 a weekday.
CS_PER_YEAR = 130_000


def papers() -> list:
    out = []
    with gzip.open(CORPUS / "2026-05.jsonl.gz", "rt") as f:
        for n, line in enumerate(f):
            p = from_record(json.loads(line), f"2026-05:{n}")
            if any(c.startswith("cs.") for c in p.categories):
                out.append(p)
            if len(out) == N:
                return out
    return out


def main() -> None:
    work = WORK / "sync"
    shutil.rmtree(work, ignore_errors=True)
    fake = FakeUpstream({DAY: papers()}, page_size=PAGE)
    fake.today = DAY
    settings = Settings(
        data_dir=work,
        arxiv_oai_url=fake.url + "/oai",
        sync_categories="cs.LG,cs.CL,cs.CV,cs.AI,cs.RO,cs.CR,cs.SE",
        sync_hf=False,
        model_cache_dir=WORK / "models",
    )
    engine = make_engine(settings.db_url)
    init_db(engine)

    start = time.perf_counter()
    client, token, parsed = Upstream(delay=0), None, 0
    while True:
        page = list_records(client, settings.arxiv_oai_url, "cs", DAY, token)
        parsed += len(page.papers)
        if not (token := page.token):
            break
    parse_s = time.perf_counter() - start

    start = time.perf_counter()
    report = Sync(engine, settings, client=Upstream(delay=0), now=lambda: datetime(2026, 5, 28, 1, 30)).run()
    sync_s = time.perf_counter() - start
    requests = report.requests

    start = time.perf_counter()
    index_sync(engine, work, get_encoder(settings.model_cache))
    index_s = time.perf_counter() - start

    start = time.perf_counter()
    composed = compose_one(engine, settings)
    digest_s = time.perf_counter() - start
    fake.close()

    total = sync_s + index_s + digest_s
    rows = [
        ["parse only (baseline: fetch + parse, no store)", f"{parsed:,}", f"{parse_s:.1f}", f"{parsed / parse_s:,.0f}"],
        [
            "sync (fetch, parse, write page by page)",
            f"{report.papers:,}",
            f"{sync_s:.1f}",
            f"{report.papers / sync_s:,.0f}",
        ],
        ["index (keywords + embeddings)", f"{report.papers:,}", f"{index_s:.1f}", f"{report.papers / index_s:,.0f}"],
        [f"digest (one subscriber, {composed} papers)", "–", f"{digest_s:.2f}", "–"],
        ["**day to searchable and in the digest**", f"{report.papers:,}", f"**{total:.1f}**", "–"],
    ]
    pages_per_year = CS_PER_YEAR / PAGE
    body = (
        f"{machine()}. {N:,} real cs papers of the shared corpus announced on one simulated day by the fake OAI-PMH\n"
        f"server (tests/sync/fake_upstream.py), {PAGE} records a page; arXiv's 3 s pause turned off.\n\n"
        + table(["step", "papers", "seconds", "papers/s"], rows)
        + f"\n\nRequests for the day: {requests}, one per page of {PAGE}. With arXiv's 3 s pause the same\n"
        f"day costs {requests * 3:.0f} s of waiting. A year of cs.* (an estimated {CS_PER_YEAR:,} records) is about "
        f"{pages_per_year:,.0f} requests: {pages_per_year * 3 / 60:.0f} minutes of pauses, at the page size arXiv's\n"
        "OAI-PMH serves (its pages may be larger, which only lowers the count). The backfill is resumable, so it can\n"
        "run over several nights.\n"
    )
    write_section("sync", body)
    print(body)


def compose_one(engine, settings) -> int:
    """The papers a cs.LG subscriber's digest for the day holds (what the morning mail would carry)."""
    from paperfeed.config import secret_key
    from paperfeed.digest import subscriptions as subs
    from paperfeed.digest.compose import Composer
    from paperfeed.store import accounts

    user = accounts.create_user(engine, "bench", "long enough password", "bench@example.org")
    sub, _ = subs.save(engine, subs.Subscription(user_id=user.id, email="bench@example.org", categories=["cs.LG"]))
    period = subs.period_for(sub, datetime(2026, 5, 28, 9, 0))
    digest = Composer(engine, settings, secret_key(settings), None).digest(sub, [], period, None, set())
    return len(digest.paper_ids)


if __name__ == "__main__":
    main()
