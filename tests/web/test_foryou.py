"""The For you tab through the app: likes change it, each card says why, "not interested" removes a paper
and its undo brings it back, and nobody sees it without logging in."""

from __future__ import annotations

import json
import re

from tests.web.conftest import post, register

BECAUSE = re.compile(r'<p class="because">Because you liked <a href="/papers/([^"]+)">')
DAY = "2025-03-25"
ENTRY = re.compile(r'<li class="paper" id="p-([^"]+)"')


def test_for_you_follows_likes_with_reasons_and_not_interested_undo(client, sample_papers):
    day = "2025-03-25"
    on_day = [p for p in sample_papers if str(p.listed_date) == day]
    assert client.get(f"/papers/date/{day}?sort=foryou", follow_redirects=False).status_code == 303  # log in
    register(client, "ada")
    cold = client.get(f"/papers/date/{day}?sort=foryou")
    assert (
        cold.status_code == 200
        and "Upvote or save a few papers" in cold.text
        and 'aria-current="true">For you' in cold.text
    )

    # Like two robotics papers of another day: the day's robotics papers come first, with the reason.
    liked = [p for p in sample_papers if "cs.RO" in p.categories and str(p.listed_date) != day][:2]
    for p in liked:
        assert post(client, f"/papers/{p.id}/upvote", {"next": "/"}).status_code == 303
    page = client.get(f"/papers/date/{day}?sort=foryou")
    order = ENTRY.findall(page.text)
    assert "Upvote or save a few papers" not in page.text and len(order) == len(on_day)
    top = {p.id: p for p in on_day}
    robotics_first = sum("cs.RO" in top[pid].categories for pid in order[:5])
    robotics_rest = sum("cs.RO" in top[pid].categories for pid in order[5:])
    assert robotics_first >= 3 and robotics_first / 5 > robotics_rest / max(len(order) - 5, 1)
    assert set(BECAUSE.findall(page.text)) <= {p.id for p in liked} and BECAUSE.findall(page.text)

    # Not interested: gone from For you, the page says so with an Undo that brings it back.
    first = order[0]
    done = post(client, f"/papers/{first}/not-interested", {"next": f"/papers/date/{day}?sort=foryou"}, page="/")
    assert done.status_code == 303 and done.headers["location"] == f"/papers/date/{day}?sort=foryou&marked={first}"
    after = client.get(done.headers["location"])
    assert first not in ENTRY.findall(after.text) and "Marked as not interested" in after.text
    undo = post(
        client, f"/papers/{first}/not-interested", {"action": "remove", "next": f"/papers/date/{day}?sort=foryou"}
    )
    assert first in ENTRY.findall(client.get(undo.headers["location"]).text)


def test_recommendations_are_private(client, other, sample_papers):
    register(client, "ada")
    post(client, f"/papers/{sample_papers[0].id}/upvote", {"next": "/"})
    register(other, "bob")
    # Bob's For you knows nothing of Ada's likes.
    assert "Upvote or save a few papers" in other.get("/?sort=foryou").text


def test_the_api_and_the_cli_give_the_same_picks(client, settings, sample_papers):
    from typer.testing import CliRunner

    from paperfeed.cli import app as cli

    assert client.get("/api/recommendations").status_code == 401  # nobody's
    register(client, "ada")
    headers = {}  # the browser session; API tokens are tested in test_api.py
    cold = client.get("/api/recommendations?date=2025-03-25", headers=headers).json()
    assert cold["needsLikes"] and cold["results"] == [] and not cold["indexing"] and not cold["coldStart"]
    liked = [p for p in sample_papers if "cs.RO" in p.categories and str(p.listed_date) != "2025-03-25"][:2]
    for p in liked:
        post(client, f"/papers/{p.id}/upvote", {"next": "/"})
    warm = client.get("/api/recommendations?date=2025-03-25&limit=5", headers=headers).json()
    assert not warm["needsLikes"] and len(warm["results"]) == 5
    assert all(r["because"] in {p.id for p in liked} for r in warm["results"])
    out = CliRunner().invoke(cli, ["recommend", "--user", "ada", "--date", "2025-03-25", "--limit", "5"]).output
    assert [line.split()[1] for line in out.splitlines() if line.strip() and "because you liked" not in line] == [
        r["paper"]["id"] for r in warm["results"]
    ]
    assert CliRunner().invoke(cli, ["recommend", "--user", "nobody"]).exit_code == 2
    # Scripts and agents: one JSON object per line, in rank order, the fields the API gives.
    whole = client.get("/api/recommendations?date=2025-03-25&limit=2000", headers=headers).json()["results"]
    lines = CliRunner().invoke(cli, ["recommend", "--user", "ada", "--date", "2025-03-25", "--json", "--limit", "2000"])
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    assert len(records) == len(whole) > 5 and [r["rank"] for r in records] == list(range(1, len(records) + 1))
    assert [r["id"] for r in records] == [r["id"] for r in whole] == [r["paper"]["id"] for r in whole]
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    liked_titles = {p.title for p in liked}
    for mine, api in zip(records, whole, strict=True):
        assert mine["reason"]["text"] == api["reason"]["text"] and mine["reason"]["likedTitle"] in liked_titles
        assert mine["reason"]["text"].startswith("because you liked: ") and abs(mine["score"] - api["score"]) < 1e-3


def test_the_undo_notice_takes_only_a_paper_id(client):
    register(client, "ada")
    page = client.get("/?marked=../logout%3Fa%3D")
    assert page.status_code == 200 and "Marked as not interested" not in page.text and "/logout?a=" not in page.text


def test_for_you_is_the_default_tab_once_the_user_has_liked_enough(client, sample_papers):
    register(client, "ada")
    assert 'aria-current="true">Trending' in client.get(f"/papers/date/{DAY}").text
    liked = [p for p in sample_papers if "cs.RO" in p.categories and str(p.listed_date) != DAY][:3]
    for p in liked:
        post(client, f"/papers/{p.id}/upvote", {"next": "/"})
    assert 'aria-current="true">For you' in client.get(f"/papers/date/{DAY}").text
    assert 'aria-current="true">Trending' in client.get(f"/papers/date/{DAY}?sort=trending").text


def test_an_interest_ranks_the_day_by_the_papers_saved_under_its_tag(client, sample_papers):
    """Two interests saved under two tags: each view of the For-you tab ranks by its own papers, the chips
    name both, and an unknown tag says so instead of guessing."""
    register(client, "ada")
    away = [p for p in sample_papers if str(p.listed_date) != DAY]
    robots = [p for p in away if p.categories[0] == "cs.RO"][:4]
    words = [p for p in away if p.categories[0] == "cs.CL"][:4]
    for tag, group in (("robots", robots), ("language", words)):
        for p in group:
            assert post(client, f"/papers/{p.id}/save", {"tags": tag, "next": "/"}).status_code == 303
    on_day = {p.id: p for p in sample_papers if str(p.listed_date) == DAY}
    tops = {}
    for tag in ("robots", "language"):
        page = client.get(f"/papers/date/{DAY}?sort=foryou&interest={tag}")
        assert page.status_code == 200 and f"papers you saved under <strong>{tag}</strong>" in page.text
        assert 'aria-label="Your interests"' in page.text and "robots (4)" in page.text and "language (4)" in page.text
        tops[tag] = ENTRY.findall(page.text)[:5]
    robot_share = sum("cs.RO" in on_day[i].categories for i in tops["robots"])
    language_share = sum("cs.CL" in on_day[i].categories for i in tops["language"])
    assert robot_share >= 3 and language_share >= 3 and tops["robots"] != tops["language"]
    unknown = client.get(f"/papers/date/{DAY}?sort=foryou&interest=knitting")
    assert unknown.status_code == 200 and "no indexed papers saved under <strong>knitting</strong>" in unknown.text
    assert client.get(f"/papers/date/{DAY}?sort=foryou&interest=a%20b").status_code == 422
    api = client.get(f"/api/recommendations?date={DAY}&interest=robots&limit=5").json()
    assert [r["id"] for r in api["results"]] == tops["robots"]


def test_answering_is_this_relevant_changes_the_ranking(client, sample_papers):
    register(client, "ada")
    liked = [p for p in sample_papers if "cs.RO" in p.categories and str(p.listed_date) != DAY][:3]
    for p in liked:
        post(client, f"/papers/{p.id}/upvote", {"next": "/"})
    page = client.get(f"/papers/date/{DAY}?sort=foryou")
    asked = re.findall(r'<form method="post" action="/papers/([^"]+)/relevant"', page.text)
    assert "Is this relevant to you?" in page.text and len(asked) == 3
    before = ENTRY.findall(page.text)
    answer = post(client, f"/papers/{asked[0]}/relevant", {"answer": "yes", "next": f"/papers/date/{DAY}?sort=foryou"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/date/{DAY}?sort=foryou#ask"
    after = client.get(f"/papers/date/{DAY}?sort=foryou")
    assert asked[0] not in ENTRY.findall(after.text)  # a yes is a like: it leaves the list as upvoted papers do
    assert ENTRY.findall(after.text) != [i for i in before if i != asked[0]]  # and the rest is ranked again
    no = post(client, f"/papers/{asked[1]}/relevant", {"answer": "no", "next": "/settings/taste"})
    assert no.headers["location"] == "/settings/taste#ask"
    assert asked[1] not in ENTRY.findall(client.get(f"/papers/date/{DAY}?sort=foryou").text)
    assert asked[1] in ENTRY.findall(client.get(f"/papers/date/{DAY}?sort=new").text)  # not hidden elsewhere
    taste_page = client.get("/settings/taste")
    assert "Is this relevant to you?" in taste_page.text
    bad = post(client, f"/papers/{asked[2]}/relevant", {"answer": "maybe", "next": "/"})
    assert bad.status_code == 422


def test_a_followed_authors_papers_are_lifted_and_say_why(client, sample_papers):
    from urllib.parse import quote

    day = "2025-03-25"
    on_day = [p for p in sample_papers if str(p.listed_date) == day]
    register(client, "ada")
    # Nothing liked yet: following one author is enough to rank the day, their paper first.
    target = on_day[len(on_day) // 2]
    name = target.authors[-1]
    url = "/authors/" + quote(name, safe="")
    assert post(client, url + "/follow", {"action": "follow"}, url).status_code == 303
    page = client.get(f"/papers/date/{day}?sort=foryou")
    order = ENTRY.findall(page.text)
    theirs = {p.id for p in on_day if name in p.authors}
    assert set(order[: len(theirs)]) == theirs, (order[:5], theirs)
    assert f"by <strong>{name}</strong>, whom you follow" in page.text
    api = client.get("/api/recommendations", params={"date": day}).json()
    first = api["results"][0] if isinstance(api, dict) else api[0]
    assert first["reason"]["followedAuthor"] == name and "whom you follow" in first["reason"]["text"]


def test_a_pick_lifted_by_its_authors_co_authors_says_so(settings):
    """The reason on the card, in the API's text and in `recommend`: "by Name, who has written with authors you
    liked" (rank/model.py's coauthor_for names them; tests/rank/test_model.py checks when)."""
    from paperfeed.rank.recommend import Pick, reason_of
    from paperfeed.web.app import create_app

    macros = create_app(settings).state.ctx.templates.env.get_template("_macros.html").module
    reason = {"id": "2503.00001", "title": "A liked paper", "interest": "", "mentions": [], "words": ["diffusion"]}
    reason |= {"author": "", "followed": "", "coauthor": "Carol Clark"}
    card = " ".join(str(macros.reason(reason)).split())
    assert "· by <strong>Carol Clark</strong>, who has written with authors you liked ·" in card
    assert reason_of(reason) == (
        "because you liked: A liked paper · by Carol Clark, who has written with authors you liked"
        " · words you read about: diffusion"
    )
    pick = Pick("2503.00002", 1.5, coauthor="Carol Clark")
    assert Pick(*pick.packed()) == pick  # kept through the rankings cache
