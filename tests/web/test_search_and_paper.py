"""Search page, paper page and submitting a paper, through HTTP with the real index."""

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.web.app import create_app
from tests.support.replay import Replay, key, recorded
from tests.web.conftest import post, register

ENTRY = re.compile(r'<li class="paper" id="p-([^"]+)"')


def test_search_page_ranks_and_highlights(client, sample_papers):
    target = sample_papers[20]
    page = client.get("/search", params={"q": target.title})
    assert page.status_code == 200
    assert ENTRY.findall(page.text)[0] == target.id
    assert "<mark>" in page.text
    assert f"<title>{target.title[:80]}" in page.text or "— Search · paperfeed</title>" in page.text
    assert 'type="application/rss+xml"' in page.text


def test_search_filters_and_qualifiers(client, sample_papers):
    page = client.get("/search", params={"q": "robot", "category": "cs.RO"})
    ids = ENTRY.findall(page.text)
    by_id = {p.id: p for p in sample_papers}
    assert ids and all("cs.RO" in by_id[i].categories for i in ids)
    window = {"q": "image", "since": "2025-03-25", "until": "2025-03-26"}
    dated = ENTRY.findall(client.get("/search", params=window).text)
    assert dated and all(str(by_id[i].listed_date) in ("2025-03-25", "2025-03-26") for i in dated)
    author = sample_papers[30].authors[0]
    surname = author.split()[-1]
    by_author = ENTRY.findall(client.get("/search", params={"q": f"author:{surname}"}).text)
    assert sample_papers[30].id in by_author
    assert all(any(surname.lower() in a.lower() for a in by_id[i].authors) for i in by_author)
    phrase = ENTRY.findall(client.get("/search", params={"q": '"gaussian splatting"'}).text)
    text = {i: " ".join((by_id[i].title + " " + by_id[i].abstract).lower().split()) for i in phrase}
    assert phrase and all(re.search(r"gaussian\W+splat", text[i]) for i in phrase), phrase


def test_search_pagination(client):
    first = ENTRY.findall(client.get("/search", params={"q": "learning"}).text)
    second_page = client.get("/search", params={"q": "learning", "page": 2})
    second = ENTRY.findall(second_page.text)
    assert len(first) == 20 and second and not set(first) & set(second)
    assert "Page 2 of" in second_page.text


def test_no_results_gives_help(client):
    page = client.get("/search", params={"q": '"quantum chromodynamics lattice" robots'})
    assert page.status_code == 200 and "No papers match" in page.text and "Remove a filter" in page.text


@pytest.mark.parametrize(
    "query",
    [
        "x" * 10_000,
        "<script>alert(1)</script>",
        "' OR 1=1; DROP TABLE papers; --",
        '"unbalanced',
        "foo:bar",
        "\x00\x01 control",
        "the of and",
    ],
)
def test_hostile_queries_get_results_or_a_clear_error(client, query):
    page = client.get("/search", params={"q": query})
    assert page.status_code in (200, 422)
    assert "<script>alert(1)" not in page.text
    if page.status_code == 422:
        assert 'class="error"' in page.text
    assert client.get("/healthz").json()["papers"] == 466


def test_reflected_input_is_escaped_everywhere(client):
    evil = '"><script>alert(1)</script>'
    for path, params in (
        ("/search", {"q": evil, "author": evil}),
        ("/login", {"next": evil}),
        ("/register", {"next": evil}),
        ("/papers/date/" + evil, {}),
    ):
        page = client.get(path, params=params)
        assert "<script>alert(1)" not in page.text, path


def test_paper_page(client, sample_papers):
    p = next(p for p in sample_papers if p.comments)
    page = client.get(f"/papers/{p.id}")
    assert page.status_code == 200
    assert f"<title>{p.title[:40]}" in page.text.replace("&#39;", "'")
    for name in p.authors:
        assert name.replace("'", "&#39;") in page.text
    assert f'href="https://arxiv.org/abs/{p.id}"' in page.text and f'href="https://arxiv.org/pdf/{p.id}"' in page.text
    assert "@misc{" in page.text and f"eprint = {{{p.id}}}" in page.text
    similar = re.search(r'<section class="similar".*?</section>', page.text, re.S).group()
    near = ENTRY.findall(similar)
    assert len(near) == 10 and p.id not in near
    # The page under a versioned id or an arXiv URL shows the same paper.
    assert client.get(f"/papers/{p.id}v2").status_code == 200


def test_unknown_and_malformed_paper_ids(client):
    assert client.get("/papers/2501.99999").status_code == 404
    page = client.get("/papers/robert'); DROP TABLE papers;--")
    assert page.status_code == 422 and "not a paper id" in page.text
    assert client.get("/papers/2501.99999/upvote").status_code in (404, 405, 422)


@pytest.fixture
def arxiv_app(settings, data_dir):
    """The app with its arXiv client answering from recorded real API responses (by id list)."""
    by_ids = {k[1]: (int(status), body) for k, (status, body) in recorded().items() if k[1] and k[2] == 0}
    replay = Replay(lambda params: by_ids.get(key(params)[1], (404, b"not recorded")))
    return create_app(settings, arxiv_client=httpx.Client(transport=httpx.MockTransport(replay)))


def test_submit_fetches_imports_and_indexes(arxiv_app):
    with TestClient(arxiv_app) as c:
        register(c)
        answer = post(c, "/submit", {"paper": "https://arxiv.org/abs/1605.08386v1"}, "/submit")
        assert answer.status_code == 303 and answer.headers["location"] == "/papers/1605.08386"
        page = c.get("/papers/1605.08386")
        assert page.status_code == 200 and "None yet" not in page.text  # indexed: similar papers shown
        title = c.get("/api/papers/1605.08386").json()["title"]
        assert c.get("/api/search", params={"q": title}).json()["results"][0]["paper"]["id"] == "1605.08386"
        # Submitting it again goes straight to the page.
        assert post(c, "/submit", {"paper": "1605.08386"}, "/submit").headers["location"] == "/papers/1605.08386"


def test_submit_explains_bad_and_unknown_ids(arxiv_app):
    with TestClient(arxiv_app) as c:
        register(c)
        bad = post(c, "/submit", {"paper": "not an id <b>"}, "/submit")
        assert bad.status_code == 422 and "is not an arXiv id or URL" in bad.text and "<b>" not in bad.text
        unknown = post(c, "/submit", {"paper": "0000.0000"}, "/submit")
        assert unknown.status_code in (404, 502) and 'class="error"' in unknown.text


def test_category_chips_open_the_category_list_of_the_day(client, sample_papers):
    paper = next(p for p in sample_papers if p.categories and p.listed_date)
    page = client.get(f"/papers/{paper.id}").text
    day, cat = paper.listed_date.isoformat(), paper.categories[0]
    assert f'href="/papers/date/{day}?category={cat}"' in page
    # Chips on the similar papers' cards link to their own day's list, never back to this page.
    assert f'href="/papers/{paper.id}?category=' not in page
    search = client.get("/search", params={"q": paper.title}).text
    assert 'href="/search?category=' not in search


def test_only_the_query_words_are_marked(client):
    """Whole words, stemmed as the index stems them; never stop words or mere prefixes ("in" in "information")."""
    from paperfeed.search.lexical import stem

    page = client.get("/search", params={"q": "attention in the vision transformers"})
    marks = re.findall(r"<mark>(.*?)</mark>", page.text)
    assert marks
    assert {stem(m) for m in marks} <= {"attent", "vision", "transform"}, set(marks)
    assert not {m.lower() for m in marks} & {"in", "the", "inducing", "information"}


def test_gibberish_gets_an_honest_no_good_match(client, sample_papers):
    junk = client.get("/search", params={"q": "zycidpyo umzgdpa qwvtx"})
    assert junk.status_code == 200 and "No good match" in junk.text and "About " not in junk.text
    assert client.get("/api/search", params={"q": "zycidpyo umzgdpa qwvtx"}).json()["goodMatch"] is False
    real = client.get("/search", params={"q": sample_papers[3].title})
    assert "No good match" not in real.text and "About " in real.text
    assert client.get("/api/search", params={"q": sample_papers[3].title}).json()["goodMatch"] is True


def test_the_search_form_with_empty_date_fields_searches(client):
    """The folded filters send since= and until= when left empty, as every HTML form does: no 422."""
    page = client.get("/search?q=robot+grasping&since=&until=&category=&author=&mode=lexical&sort=relevance")
    assert page.status_code == 200 and 'class="paper"' in page.text
    assert client.get("/api/search?q=robot&since=").status_code == 200
    assert client.get("/search?q=robot&since=1800-01-01").status_code == 422  # a real bad date still is
