"""A private note and a reading state on each saved paper, through the app: written on the paper's page, shown
there and on its card, searched and filtered in the library, kept private, and refused in one line (with the
text kept) where it cannot be saved; the same through the API and the CLI."""

from __future__ import annotations

import lxml.html
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from tests.web.conftest import api_token, post, register


def save(client, pid: str, tags: str = "") -> None:
    assert post(client, f"/papers/{pid}/save", {"tags": tags}, f"/papers/{pid}").status_code == 303


def note(client, pid: str, text: str, state: str = ""):
    return post(client, f"/papers/{pid}/note", {"note": text, "state": state}, f"/papers/{pid}")


def test_note_and_state_on_the_page_the_card_and_in_the_library(client, other, sample_papers):
    first, second, third = (p.id for p in sorted(sample_papers, key=lambda p: p.id)[:3])
    register(client, "alice")
    for pid in (first, second, third):
        save(client, pid)
    text = "Compare with **Table 3**: $O(n^2)$ vs ours. <script>alert(1)</script> [ok](javascript:alert(2))"
    assert note(client, first, text, "reading").status_code == 303
    assert note(client, second, "skim the appendix", "read").status_code == 303

    page = lxml.html.fromstring(client.get(f"/papers/{first}").text)
    [shown] = page.xpath('//section[@id="library"]//div[contains(@class, "note-text")]')
    assert shown.xpath(".//strong/text()") == ["Table 3"]
    assert shown.xpath('.//span[@class="math"]/text()') == ["$O(n^2)$"]
    assert not shown.xpath(".//script") and not shown.xpath(".//a")  # nothing runs; the javascript: link is text
    assert page.xpath('//select[@id="state"]/option[@selected]/@value') == ["reading"]

    card = lxml.html.fromstring(client.get("/library").text).xpath(f'//li[@id="p-{first}"]')[0]
    assert "Table 3" in card.xpath('.//div[contains(@class, "card-note")]')[0].text_content()
    assert card.xpath('.//span[contains(@class, "state")]/text()') == ["Reading"]

    def listed(query: str) -> list[str]:
        tree = lxml.html.fromstring(client.get("/library" + query).text)
        return [i.removeprefix("p-") for i in tree.xpath("//ol[@class='papers']/li/@id")]

    assert listed("?state=reading") == [first]
    assert listed("?state=read") == [second]
    assert listed("?state=unset") == [third]
    assert listed("?q=APPENDIX") == [second]  # the note's words, any case
    assert listed("?q=100%25") == []  # a LIKE wildcard is a plain character
    assert "Nothing in your library matches" in client.get("/library?q=zzzqqq").text
    assert client.get("/library?state=done").status_code == 422

    # Private: another reader sees neither the note nor the state.
    register(other, "bob")
    theirs = other.get(f"/papers/{first}").text + other.get(f"/search?q={first}").text
    assert "Table 3" not in theirs and "Reading</span>" not in theirs

    # Emptied: the note goes; the state can be cleared.
    assert note(client, first, "", "").status_code == 303
    assert sorted(listed("?state=unset")) == sorted([first, third])
    assert "Table 3" not in client.get(f"/papers/{first}").text


def test_a_note_that_cannot_be_saved_is_one_line_and_kept(client, sample_papers):
    pid = sorted(sample_papers, key=lambda p: p.id)[5].id
    register(client, "alice")
    answer = note(client, pid, "my long thought about this paper")  # not saved yet
    assert answer.status_code == 422
    tree = lxml.html.fromstring(answer.text)
    assert tree.xpath('//section[@id="library"]/p[@class="error"]/text()') == ["save the paper to your library first"]
    assert tree.xpath('//pre[@class="draft"]/text()') == ["my long thought about this paper"]
    save(client, pid)
    too_long = note(client, pid, "x" * 20_001)
    assert too_long.status_code == 422 and "at most 20,000 characters" in too_long.text
    assert 'maxlength="20000">' + "x" * 100 in too_long.text  # the text stays in the form


def test_notes_and_states_through_the_api_and_the_cli(client, sample_papers, settings):
    first, second = (p.id for p in sorted(sample_papers, key=lambda p: p.id)[:2])
    register(client, "alice")
    headers = {"Authorization": f"Bearer {api_token(client)}"}
    body = {"tags": ["x"], "note": "See §2", "state": "to-read"}
    put = client.put(f"/api/library/{first}", json=body, headers=headers)
    assert put.status_code == 200 and put.json()["note"] == "See §2" and put.json()["state"] == "to-read"
    # Left out: unchanged; retagging keeps the note, and a note alone keeps the tags.
    assert client.put(f"/api/library/{first}", json={"tags": ["y"]}, headers=headers).json()["note"] == "See §2"
    alone = client.put(f"/api/library/{first}", json={"note": "See §3"}, headers=headers).json()
    assert (alone["tags"], alone["note"], alone["state"]) == (["y"], "See §3", "to-read")
    bad = client.put(f"/api/library/{first}", json={"state": "done"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "state"
    client.put(f"/api/library/{second}", json={}, headers=headers)
    assert [x["paper"]["id"] for x in client.get("/api/library?state=to-read", headers=headers).json()] == [first]
    assert [x["paper"]["id"] for x in client.get("/api/library?q=%C2%A73", headers=headers).json()] == [first]

    # An author's name finds their papers whatever its accents or case.
    accented = next(p for p in sample_papers if any(not w.isascii() for a in p.authors for w in a.split()))
    word = next(w for a in accented.authors for w in a.split() if not w.isascii())  # e.g. "García"
    client.put(f"/api/library/{accented.id}", json={}, headers=headers)
    for query in (word, word.upper()):
        hits = client.get("/api/library", params={"q": query}, headers=headers).json()
        assert accented.id in [x["paper"]["id"] for x in hits], query

    runner = CliRunner()
    done = runner.invoke(cli, ["library", "note", "--user", "alice", second, "Proof of Lemma 1", "--state", "read"])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(cli, ["library", "list", "--user", "alice", "--state", "read"]).output
    assert second in listed and "Proof of Lemma 1" in listed and first not in listed
    unsaved = sorted(sample_papers, key=lambda p: p.id)[9].id
    refused = runner.invoke(cli, ["library", "note", "--user", "alice", unsaved, "x"])
    assert refused.exit_code == 1 and "save the paper to your library first" in refused.output
