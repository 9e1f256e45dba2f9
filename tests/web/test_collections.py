"""Collections through the app: a library tag shared with a title, a description, an order and notes; who
sees a private, an unlisted and a public one on every route (page, feed, API, the paper's page, the list);
copying one into your library; what a title or a description may contain."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import lxml.html

from tests.web.conftest import api_token, post, register


def papers_of(sample_papers, n: int = 3) -> list[str]:
    return [p.id for p in sorted(sample_papers, key=lambda p: p.id)[20 : 20 + n]]


def shelve(client, ids: list[str], tag: str = "reading-group") -> None:
    for pid in ids:
        assert post(client, f"/papers/{pid}/save", {"tags": tag}, f"/papers/{pid}").status_code == 303


def share(client, visibility: str, title: str = "Reading group, week 1", tag: str = "reading-group", **more):
    data = {"title": title, "description": "Papers for **Friday**; $O(n)$ <script>alert(1)</script>"}
    return post(client, f"/library/{tag}/collection", data | {"visibility": visibility} | more, f"/library/{tag}")


def collection_id(client, tag: str = "reading-group") -> int:
    return int(re.search(r'href="/collections/(\d+)"', client.get(f"/library/{tag}").text).group(1))


def secret_link(client, tag: str = "reading-group") -> str:
    return re.search(r'href="(/collections/s/[\w-]+)"', client.get(f"/library/{tag}").text).group(1)


def listed(page: str) -> list[str]:
    return [i.removeprefix("p-") for i in lxml.html.fromstring(page).xpath("//ol[@class='papers']/li[@id]/@id")]


def test_a_public_collection_in_order_with_notes_copied_by_another(client, other, sample_papers):
    ids = papers_of(sample_papers)
    register(client, "alice")
    shelve(client, ids)
    assert share(client, "public").status_code == 303
    cid = collection_id(client)
    data = {"paper": ids, "position": ["2", "", "1"], "note": ["second", "", "Start **here**"]}
    arranged = post(client, "/library/reading-group/collection/arrange", data, "/library/reading-group")
    assert arranged.status_code == 303

    register(other, "bob")
    page = other.get(f"/collections/{cid}")
    assert page.status_code == 200
    assert listed(page.text) == [ids[2], ids[0], ids[1]]  # positions first, then newest saved
    tree = lxml.html.fromstring(page.text)
    assert tree.xpath("//li[@class='collection-note tex']//strong/text()") == ["here"]
    description = tree.xpath("//div[contains(@class, 'collection-description')]")[0]
    assert not description.xpath(".//script") and description.xpath(".//strong/text()") == ["Friday"]
    assert "In 1 collection" in other.get(f"/papers/{ids[0]}").text
    assert f'href="/collections/{cid}"' in other.get("/collections").text
    feed = ET.fromstring(other.get(f"/feeds/collection/{cid}.xml").content)
    assert len(feed.findall("./channel/item")) == 3
    info = other.get(f"/api/collections/{cid}").json()
    assert [x["paper"]["id"] for x in info["papers"]] == [ids[2], ids[0], ids[1]] and info["owner"] == "alice"

    copied = post(other, f"/collections/{cid}/copy", {"tag": "friday"}, f"/collections/{cid}")
    assert copied.status_code == 303 and copied.headers["location"] == "/library/friday?copied=3"
    assert sorted(listed(other.get("/library/friday").text)) == sorted(ids)


def test_private_and_unlisted_collections_show_to_nobody_else(client, other, sample_papers):
    ids = papers_of(sample_papers, 2)
    register(client, "alice")
    shelve(client, ids)
    share(client, "private")
    cid = collection_id(client)
    assert client.get(f"/collections/{cid}").status_code == 200  # the owner
    register(other, "bob")
    bob = {"Authorization": f"Bearer {api_token(other)}"}

    def nothing_shows() -> None:
        assert other.get(f"/collections/{cid}").status_code == 404
        assert other.get(f"/feeds/collection/{cid}.xml").status_code == 404
        assert other.get(f"/api/collections/{cid}", headers=bob).status_code == 404
        assert "collection" not in other.get(f"/papers/{ids[0]}").text.split("<h2>Abstract</h2>")[0].lower()
        assert "Reading group" not in other.get("/collections").text
        assert post(other, f"/collections/{cid}/copy", {}, "/collections").status_code == 404

    nothing_shows()
    share(client, "unlisted")
    nothing_shows()  # not by number, not listed, not on the paper
    link = secret_link(client)
    secret = link.rsplit("/", 1)[1]
    assert other.get(link).status_code == 200 and listed(other.get(link).text)
    assert other.get(f"/feeds/collection/s/{secret}.xml").status_code == 200
    assert other.get("/collections/s/not-the-secret").status_code == 404
    copied = post(other, f"/collections/{cid}/copy", {"secret": secret}, link)
    assert copied.status_code == 303 and sorted(listed(other.get("/library/reading-group").text)) == sorted(ids)

    share(client, "private")  # made private again: the old link stops working
    assert other.get(link).status_code == 404


def test_bad_input_is_one_line_and_kept(client, sample_papers):
    ids = papers_of(sample_papers, 1)
    register(client, "alice")
    shelve(client, ids)
    answer = share(client, "public", title="   ")
    assert answer.status_code == 422 and "give the collection a title" in answer.text
    assert "Papers for **Friday**" in answer.text  # the description typed is still in the form
    assert share(client, "public", tag="no-such-tag").status_code in (404, 422)
    weird = share(client, "public", title='<img src=x onerror="alert(1)"> & "quotes"')
    assert weird.status_code == 303
    page = client.get(f"/collections/{collection_id(client)}").text
    assert "<img src=x" not in page and "&lt;img src=x" in page
    bad = post(client, "/library/reading-group/collection/arrange", {"paper": ids, "position": ["x"], "note": [""]})
    assert bad.status_code == 422 and "whole number" in bad.text
