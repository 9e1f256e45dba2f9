"""Author pages through the app: an author's papers newest first, co-authors and categories; every name on a
card and a paper page links there; another written form of the name reaches the same page; following, as a
form and through the API; the author's feed; a hidden paper stays hidden."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from urllib.parse import quote

import lxml.html

from paperfeed.models import author_key
from tests.web.conftest import api_token, post, register


def prolific(sample_papers) -> tuple[str, list]:
    """The sample's author with the most papers, and those papers."""
    counts = Counter(author_key(a) for p in sample_papers for a in dict.fromkeys(p.authors))
    key = counts.most_common(1)[0][0]
    theirs = [p for p in sample_papers if any(author_key(a) == key for a in p.authors)]
    name = next(a for a in theirs[0].authors if author_key(a) == key)
    return name, theirs


def listed(page: str) -> list[str]:
    return [i.removeprefix("p-") for i in lxml.html.fromstring(page).xpath("//ol[@class='papers']/li/@id")]


def test_an_author_page_lists_their_papers_coauthors_and_categories(client, sample_papers):
    name, theirs = prolific(sample_papers)
    assert len(theirs) >= 2
    answer = client.get("/authors/" + quote(name, safe=""))
    assert answer.status_code == 200
    tree = lxml.html.fromstring(answer.text)
    assert tree.xpath("//h1/text()") == [name]
    newest_first = sorted(theirs, key=lambda p: (p.listed_date, p.id), reverse=True)
    assert listed(answer.text) == [p.id for p in newest_first]
    together = Counter(
        author_key(a) for p in theirs for a in dict.fromkeys(p.authors) if author_key(a) != author_key(name)
    )
    shown = tree.xpath("//ul[@class='coauthors']/li/a/text()")
    assert together[author_key(shown[0])] == max(together.values())  # the most frequent co-author first
    cats = Counter(c for p in theirs for c in p.categories)
    first_chip = tree.xpath("//p[@aria-label='Categories']/a/text()")[0]
    assert first_chip == f"{first_chip.split(' (')[0]} ({max(cats.values())})"

    # The same page for the name in other case, without accents or with other punctuation.
    folded = name.upper().replace("-", " ")
    assert listed(client.get("/authors/" + quote(folded, safe="")).text) == [p.id for p in newest_first]
    assert client.get("/authors/Nobody%20Here%20Atall").status_code == 404
    assert client.get("/authors/" + quote(name, safe="") + "?page=9").status_code == 404


def test_every_name_links_to_its_page(client, sample_papers):
    paper = max(sample_papers, key=lambda p: len(p.authors))
    page = lxml.html.fromstring(client.get(f"/papers/{paper.id}").text)
    links = page.xpath("//p[@class='authors full']/a")
    assert [a.text for a in links] == paper.authors
    assert all(author_key(a.get("href").removeprefix("/authors/")) for a in links)
    day = lxml.html.fromstring(client.get(f"/papers/date/{paper.listed_date}").text)
    card = day.xpath(f"//li[@id='p-{paper.id}']//p[@class='authors']")
    if card:  # on the first page of its day
        assert [a.text for a in card[0].xpath("a")] == paper.authors[:5] and "et al." in card[0].text_content()
    for a in links[:3]:
        assert client.get(a.get("href")).status_code == 200


def test_follow_unfollow_feed_and_api(client, sample_papers):
    name, theirs = prolific(sample_papers)
    url = "/authors/" + quote(name, safe="")
    assert "Log in to follow" in client.get(url).text
    register(client, "alice")
    assert post(client, url + "/follow", {"action": "follow"}, url).status_code == 303
    assert "Following ✓" in client.get(url).text
    following = lxml.html.fromstring(client.get("/authors").text)
    assert following.xpath("//ul[@class='following']/li/a/text()") == [name]
    headers = {"Authorization": f"Bearer {api_token(client)}"}
    assert client.get("/api/following", headers=headers).json() == [{"name": name, "url": url}]
    assert client.delete(f"/api/authors/{quote(name, safe='')}/follow", headers=headers).json()["following"] is False
    assert client.get("/api/following", headers=headers).json() == []
    # Stopping needs no author page (one whose papers were all hidden since has none).
    assert client.delete("/api/authors/Nobody%20Atall/follow", headers=headers).json()["following"] is False
    assert client.put("/api/authors/Nobody%20Atall/follow", headers=headers).status_code == 404

    feed = ET.fromstring(client.get("/feeds/author.xml", params={"name": name}).content)
    assert {i.findtext("link").rsplit("/papers/", 1)[1] for i in feed.findall("./channel/item")} == {
        p.id for p in theirs
    }
    info = client.get(f"/api/authors/{quote(name, safe='')}").json()
    assert (
        info["numPapers"] == len(theirs)
        and info["papers"][0]["id"] == max(theirs, key=lambda p: (p.listed_date, p.id)).id
    )


def test_a_hidden_paper_leaves_the_author_page(client, sample_papers):
    name, theirs = prolific(sample_papers)
    register(client, "admin")
    victim = theirs[0].id
    assert post(client, f"/papers/{victim}/hide", {"hidden": "1"}, f"/papers/{victim}").status_code == 303
    client.cookies.clear()
    logged_out_view = client.get("/authors/" + quote(name, safe="")).text
    assert victim not in listed(logged_out_view)
    assert f"{len(theirs) - 1} paper" in logged_out_view


def test_claiming_a_page_confirmed_by_an_admin_then_a_bio_and_pins(client, other, sample_papers):
    name, theirs = prolific(sample_papers)
    url = "/authors/" + quote(name, safe="")
    register(client, "admin")  # the first account administers
    register(other, "alice")
    assert post(other, url + "/claim", {}, url).status_code == 303
    assert "Your claim waits for an admin" in other.get(url).text
    assert other.get("/admin/claims").status_code == 403
    assert post(other, "/admin/claims/1", {"decision": "confirm"}, url).status_code == 403

    queue = lxml.html.fromstring(client.get("/admin/claims").text)
    [item] = queue.xpath("//ul[@class='claims']/li")
    assert "alice" in item.text_content() and name in item.text_content()
    claim_id = item.xpath(".//form/@action")[0].rsplit("/", 1)[1]
    assert post(client, f"/admin/claims/{claim_id}", {"decision": "confirm"}, "/admin/claims").status_code == 303
    page = lxml.html.fromstring(other.get(url).text)
    assert page.xpath("//h1/span[@class='claimed']/text()") == ["✓ alice"]
    assert post(client, url + "/claim", {}, url).status_code == 409  # claimed already

    bio = "Works on **world models**. <script>alert(1)</script>"
    pins = f"{theirs[-1].id}"
    assert post(other, url + "/profile", {"bio": bio, "pinned": pins}, url).status_code == 303
    page = lxml.html.fromstring(client.get(url).text)
    shown = page.xpath("//div[contains(@class, 'author-bio')]")[0]
    assert shown.xpath(".//strong/text()") == ["world models"] and not shown.xpath(".//script")
    assert page.xpath("//ol[@class='papers pinned']/li/@id") == [f"p-{theirs[-1].id}"]
    stranger = next(p.id for p in sample_papers if p not in theirs)
    wrong = post(other, url + "/profile", {"bio": "", "pinned": stranger}, url)
    assert wrong.status_code == 422 and "is not one of this author" in wrong.text
    assert post(client, url + "/profile", {"bio": "I am them"}, url).status_code == 422  # not the owner
