import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed.models import Paper
from paperfeed.store import make_engine
from paperfeed.store.importer import Importer
from paperfeed.web.app import create_app
from tests.support.serving import get, start, stop
from tests.web.conftest import post, register

ENTRY = re.compile(r'<li class="paper" id="p-([^"]+)"')


def ids_on(page) -> list[str]:
    return ENTRY.findall(page.text)


def test_empty_database_says_how_to_import(settings, engine):
    with TestClient(create_app(settings)) as c:
        page = c.get("/")
    assert page.status_code == 200
    assert "paperfeed ingest" in page.text


def test_latest_day_lists_its_papers_with_links(client, sample_papers, days):
    latest = days[-1]
    page = client.get("/")
    assert page.status_code == 200
    on_day = {p.id for p in sample_papers if p.listed_date == latest}
    assert f'<time datetime="{latest}">' in page.text
    assert f"{len(on_day)} papers" in page.text
    assert set(ids_on(page)) == on_day
    for pid in on_day:
        assert f'href="/papers/{pid}"' in page.text  # the title links to our paper page
        assert f'href="https://arxiv.org/abs/{pid}"' in page.text
    assert f'rel="prev" href="/papers/date/{days[-2]}"' in page.text
    assert 'rel="next" href="/papers/date' not in page.text
    assert "<title>Daily Papers — Monday, Mar 31, 2025 · paperfeed</title>" in page.text


def test_a_given_day_with_previous_and_next(client, sample_papers, days):
    page = client.get(f"/papers/date/{days[1]}")
    assert page.status_code == 200
    assert f'rel="prev" href="/papers/date/{days[0]}"' in page.text
    assert f'rel="next" href="/papers/date/{days[2]}"' in page.text
    assert set(ids_on(page)) == {p.id for p in sample_papers if p.listed_date == days[1]}


def test_week_and_month_lists(client, sample_papers):
    week = client.get("/papers/week/2025-W13")  # Mar 24-30
    expected = {p.id for p in sample_papers if date(2025, 3, 24) <= p.listed_date <= date(2025, 3, 30)}
    assert week.status_code == 200 and f"{len(expected)} papers" in week.text
    pages = [ids_on(client.get("/papers/week/2025-W13", params={"page": n})) for n in (1, 2, 3)]
    assert sum(len(p) for p in pages) == len(expected) and set().union(*pages) == expected
    assert 'rel="prev" href="/papers/week/2025-W12"' in week.text
    assert 'rel="next" href="/papers/week/2025-W14"' in week.text
    assert "<title>Weekly Papers" in week.text
    month = client.get("/papers/month/2025-03")
    assert f"{len(sample_papers)} papers" in month.text
    assert len(ids_on(month)) == 100  # one page
    assert "Page 1 of 5" in month.text
    page5 = client.get("/papers/month/2025-03", params={"page": 5})
    assert len(ids_on(page5)) == len(sample_papers) - 400
    assert not set(ids_on(page5)) & set(ids_on(month))
    assert "<title>Monthly Papers — March 2025" in month.text


@pytest.mark.parametrize(
    "path",
    [
        "/papers/date/2025-13-45",
        "/papers/date/yesterday",
        "/papers/week/2025-W60",
        "/papers/week/2025-13",
        "/papers/month/2025-3",
        "/papers/month/2025-00",
        "/?sort=best",
        "/?page=0",
        "/?category=<b>",
    ],
)
def test_malformed_periods_and_parameters_are_422_pages(client, path):
    page = client.get(path)
    assert page.status_code == 422
    assert "<title>" in page.text and 'class="error"' in page.text


def test_sort_new_and_trending(client, days):
    new = ids_on(client.get("/", params={"sort": "new"}))
    assert new == sorted(new, reverse=True)
    register(client)
    chosen = new[-1]  # the oldest id of the day; no votes yet anywhere
    assert ids_on(client.get("/"))[0] != chosen
    post(client, f"/papers/{chosen}/upvote", {"next": "/"})
    assert ids_on(client.get("/"))[0] == chosen  # one vote lifts it over same-day papers without votes
    assert ids_on(client.get("/", params={"sort": "new"})) == new


def test_category_filter_and_chips(client, sample_papers, days):
    page = client.get(f"/papers/date/{days[-1]}", params={"category": "cs.CL"})
    expected = {p.id for p in sample_papers if p.listed_date == days[-1] and "cs.CL" in p.categories}
    assert set(ids_on(page)) == expected
    assert "show all" in page.text
    assert 'class="chip on" href="/papers/date/2025-03-31?sort=trending&amp;category=cs.CL"' in page.text


def test_trending_page_ranks_votes_with_decay(client, other, sample_papers, days):
    page = client.get("/trending")
    assert page.status_code == 200 and "<title>Trending papers" in page.text
    window = {p.id for p in sample_papers if p.listed_date >= days[-3]}
    assert set(ids_on(page)) <= window and len(ids_on(page)) == 100
    # Unvoted papers rank newest first; two votes lift an older paper above every unvoted one of its day
    # (it needs many more to pass the newest day: see tests/rank for the decay).
    listed = {p.id: p.listed_date for p in sample_papers}
    before = ids_on(page)
    assert [listed[i] for i in before] == sorted((listed[i] for i in before), reverse=True)
    older = [i for i in before if listed[i] == days[-3]][-1]
    for c, name in ((client, "alice"), (other, "bob")):
        register(c, name)
        post(c, f"/papers/{older}/upvote", {"next": "/trending"})
    after = ids_on(client.get("/trending"))
    assert [i for i in after if listed[i] == days[-3]][0] == older
    assert after.index(older) < before.index(older)


def test_html_in_stored_text_is_escaped(client, settings):
    evil = Paper(
        id="2503.00001",
        title="<script>alert('x')</script> Attention",
        abstract="<img src=x onerror=alert(1)> abstract",
        authors=["Robert'); DROP TABLE papers;--"],
        categories=["cs.LG"],
        listed_date=date(2025, 4, 1),
        source="test",
        source_ref="t",
    )
    engine = make_engine(settings.db_url)
    Importer(engine).run([evil], "test", "t")
    for path in ("/papers/date/2025-04-01", "/papers/2503.00001", "/feeds/daily.xml"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in client.get("/papers/2503.00001").text
    assert "DROP TABLE papers" in client.get("/papers/2503.00001").text  # shown as text; the table still exists
    assert client.get("/healthz").json()["papers"] == 467


def test_serve_answers_real_http(settings, data_dir):
    proc, url = start(settings.data_dir, None)
    try:
        page = get(url + "/", timeout=10)
        assert page.status_code == 200 and "Daily Papers" in page.text
    finally:
        log = stop(proc)
    # One structured access-log line per request.
    assert '"method": "GET", "path": "/", "status": 200' in log


def test_cards_show_hugging_face_signals_and_no_zero_counters(client, settings, sample_papers):
    """Real HF signals (the archive's lines for the sample) on the day's cards: upvotes marked as Hugging
    Face's and linked there, the code link with its stars; no "▲ 0" wall, and a day's trending order
    follows the HF upvotes."""
    import json

    from paperfeed.ingest import hf_archive
    from tests.conftest import ARCHIVE

    engine = make_engine(settings.db_url)
    Importer(engine).run(hf_archive.read(ARCHIVE), "hf-archive", str(ARCHIVE))
    engine.dispose()
    rows = [json.loads(line) for line in ARCHIVE.read_text().splitlines()]
    listed = {p.id: p.listed_date for p in sample_papers}
    featured = max((r for r in rows if r["arxiv_id"] in listed and r["github_repo"]), key=lambda r: r["upvotes"])
    day = listed[featured["arxiv_id"]]
    page = client.get(f"/papers/date/{day}?sort=trending")
    card = page.text[page.text.index(f'id="p-{featured["arxiv_id"]}"') :].split("</li>")[0]
    assert f'href="https://huggingface.co/papers/{featured["arxiv_id"]}"' in card
    assert f"HF</span> {featured['upvotes']} upvotes" in card and "on Hugging Face" in card
    assert f'<a class="signal code" href="{featured["github_repo"]}">Code' in card
    assert '<span class="count">' not in page.text  # nobody here has voted: no counters at all
    hf_votes = {r["arxiv_id"]: r["upvotes"] for r in rows}
    on_day = [pid for pid in ids_on(page) if pid in hf_votes]
    assert ids_on(page)[: len(on_day)] == sorted(on_day, key=lambda pid: -hf_votes[pid])  # HF-upvoted first


def test_a_paper_that_names_its_code_gets_a_code_link(client, sample_papers):
    """No Hugging Face data needed: the repository the abstract names is on the card, the paper page and in
    the API (HF's field name githubRepo)."""
    from paperfeed.links import code_url

    paper = next(p for p in sample_papers if code_url(p.abstract, p.comments))
    repo = code_url(paper.abstract, paper.comments)
    page = client.get(f"/papers/date/{paper.listed_date}?sort=new")
    card = page.text[page.text.index(f'id="p-{paper.id}"') :].split("</li>")[0]
    assert f'<a class="signal code" href="{repo}">Code</a>' in card
    assert f'href="{repo}">Code' in client.get(f"/papers/{paper.id}").text
    api = client.get(f"/api/papers/{paper.id}").json()
    assert api["githubRepo"] == repo and "githubStars" not in api


def test_has_code_filters_lists_search_and_the_api(client, sample_papers):
    """ "Has code" on a day's list, has:code in search (and the form's checkbox), has_code in the API: exactly the
    papers whose abstract or comments name a repository (Hugging Face's githubRepo counts too, tested above)."""
    from paperfeed.links import code_url

    day = max({p.listed_date for p in sample_papers}, key=lambda d: sum(1 for p in sample_papers if p.listed_date == d))
    coded = {p.id for p in sample_papers if p.listed_date == day and code_url(p.abstract, p.comments)}
    assert 3 <= len(coded) < sum(1 for p in sample_papers if p.listed_date == day)
    page = client.get(f"/papers/date/{day}?code=1")
    assert set(ids_on(page)) == coded and f"{len(coded)} papers with code" in page.text
    assert 'class="chip code-toggle on"' in page.text and "category=cs.CV&amp;code=1" in page.text  # chips keep it
    api = client.get(f"/api/daily_papers?date={day}&has_code=true&limit=100").json()
    assert {i["paper"]["id"] for i in api} == coded and all(i["paper"]["githubRepo"] for i in api)
    everything = {p.id for p in sample_papers if code_url(p.abstract, p.comments)}
    found = client.get("/api/search?q=has:code&limit=100").json()["results"]
    assert {r["paper"]["id"] for r in found} == everything  # newest first, every one with code
    topical = client.get("/search?q=segmentation+has:code")
    assert topical.status_code == 200 and set(ids_on(topical)) <= everything and ids_on(topical)
    boxed = client.get("/search?q=segmentation&code=1")
    assert ids_on(boxed) == ids_on(topical)
    bad = client.get("/api/search?q=has:stars")
    assert bad.status_code == 422 and "has: takes code (has:code)" in bad.text
