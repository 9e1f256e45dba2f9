"""The library out and in as BibTeX, RIS and CSL-JSON, through the real app (the library page's links and
form, the API) and the CLI: an export imported into a fresh account gives the same library, tags included."""

from __future__ import annotations

import json
import unicodedata

import pytest
import rispy
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.ingest import citations
from paperfeed.ingest.bibtex import NotBibtex
from tests.web.conftest import api_token, csrf, post, register

FORMATS = ("bibtex", "ris", "csl-json")


def hard_papers(sample_papers) -> list:
    """Papers that go wrong in reference files: accented names, TeX in titles, long author lists."""
    accented = [p for p in sample_papers if any(unicodedata.normalize("NFKD", a) != a for a in p.authors)][:4]
    tex = [p for p in sample_papers if "$" in p.title or "\\" in p.title][:4]
    crowded = sorted(sample_papers, key=lambda p: -len(p.authors))[:2]
    plain = sample_papers[:4]
    return list({p.id: p for p in accented + tex + crowded + plain}.values())


@pytest.fixture
def saved(client, sample_papers):
    """Alice's library: a dozen hard papers, some tagged twice, one with no tag."""
    register(client, "alice")
    token = api_token(client)
    headers = {"Authorization": f"Bearer {token}"}
    papers = hard_papers(sample_papers)
    for n, p in enumerate(papers):
        tags = [["robotics"], ["robotics", "to-read"], ["llm"], []][n % 4]
        body = {"tags": tags}
        if n % 3 == 0:  # a note with Markdown, TeX, an accent and two paragraphs
            body |= {"note": f"Read §{n} first: $O(n^2)$ is **tight**.\n\nThen the appendix ({n}).", "state": "to-read"}
        assert client.put(f"/api/library/{p.id}", json=body, headers=headers).status_code == 200
    return headers, library(client, headers)


def notes(client, headers) -> dict[str, str]:
    return {x["paper"]["id"]: x["note"] for x in client.get("/api/library", headers=headers).json() if x["note"]}


def library(client, headers) -> dict[str, list[str]]:
    return {x["paper"]["id"]: sorted(x["tags"]) for x in client.get("/api/library", headers=headers).json()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_into_a_fresh_account_is_the_same_library(client, other, saved, fmt):
    headers, alice = saved
    assert len(alice) >= 10
    exported = client.get("/api/library/export", params={"format": fmt}, headers=headers)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    register(other, "bob")
    bob = {"Authorization": f"Bearer {api_token(other)}"}
    answer = other.post("/api/library/import", content=exported.content, headers=bob)
    assert answer.status_code == 200, answer.text
    assert answer.json()["saved"] == len(alice) and not answer.json()["unmatched"] and not answer.json()["rejected"]
    assert library(other, bob) == alice
    # The notes come back too (RIS keeps a field on one line: its paragraphs become spaces).
    written = notes(client, headers)
    assert len(written) >= 4
    assert notes(other, bob) == {k: " ".join(v.split()) if fmt == "ris" else v for k, v in written.items()}
    # The order of the library (newest saved first) comes back too.
    assert [x["paper"]["id"] for x in other.get("/api/library", headers=bob).json()] == [
        x["paper"]["id"] for x in client.get("/api/library", headers=headers).json()
    ]
    # Importing it again changes nothing and says so.
    again = other.post("/api/library/import", content=exported.content, headers=bob).json()
    assert again["saved"] == 0 and again["tagged"] == len(alice) and library(other, bob) == alice


def test_the_files_are_what_reference_managers_read(client, saved, sample_papers):
    headers, alice = saved
    by_id = {p.id: p for p in sample_papers}
    ris = rispy.loads(client.get("/api/library/export", params={"format": "ris"}, headers=headers).text)
    assert len(ris) == len(alice) and all(r["type_of_reference"] == "UNPB" for r in ris)
    for r in ris:
        pid = r["notes"][0].removeprefix("arXiv:")
        assert r["title"] == " ".join(by_id[pid].title.split())
        assert len(r["authors"]) == len(by_id[pid].authors) and "," in r["authors"][0]
        assert sorted(r.get("keywords", [])) == alice[pid]
    csl = json.loads(client.get("/api/library/export", params={"format": "csl-json"}, headers=headers).text)
    for item in csl:
        paper = by_id[item["id"]]
        assert item["type"] == "article" and item["number"] == f"arXiv:{paper.id}" and item["title"] == paper.title
        names = [" ".join(filter(None, (a.get("given"), a.get("family") or a.get("literal")))) for a in item["author"]]
        assert names == paper.authors
    client.put(f"/api/library/{next(iter(alice))}", json={"tags": ["données"]}, headers=headers)
    accented = client.get("/library/données", params={"format": "ris"})
    assert (
        accented.status_code == 200
        and 'filename="paperfeed-library-donn_es.ris"' in accented.headers["content-disposition"]
    )
    tagged = client.get("/api/library/export", params={"format": "bibtex", "tag": "to-read"}, headers=headers).text
    assert tagged.count("@misc{") == sum("to-read" in t for t in alice.values()) and "keywords = {" in tagged


def test_the_library_page_exports_and_imports(client, other, saved):
    _, alice = saved
    page = client.get("/library")
    assert 'href="/library?format=ris"' in page.text and 'href="/library?format=csl-json"' in page.text
    one_tag = client.get("/library/llm?format=ris")
    assert one_tag.status_code == 200 and one_tag.text.count("TY  - UNPB") == sum("llm" in t for t in alice.values())
    exported = client.get("/library?format=csl-json").content
    register(other, "carol")
    answer = post(other, "/library/import", page="/library")  # no file: a clear line, nothing changed
    assert answer.status_code == 422 and "choose a BibTeX, RIS or CSL-JSON file" in answer.text
    form = {"csrf_token": csrf(other, "/library")}
    imported = other.post("/library/import", data=form, files={"file": ("my.json", exported, "application/json")})
    assert imported.status_code == 200 and f"Imported: {len(alice)} saved" in imported.text
    assert {x: sorted(t) for x, t in page_library(other).items()} == alice


def page_library(client) -> dict[str, list[str]]:
    token = api_token(client, name="check")
    return library(client, {"Authorization": f"Bearer {token}"})


def test_a_bad_file_is_one_line_and_imports_nothing(client, saved):
    headers, alice = saved
    for body, fmt, words in [
        (b"TY  - JOUR\nTI  - no end", "ris", ""),
        (b"[{", "csl-json", "not CSL-JSON"),
        (b"just some words", "auto", "not BibTeX"),
        (b'{"items": 3}', "csl-json", "not CSL-JSON"),
    ]:
        answer = client.post("/api/library/import", params={"format": fmt}, content=body, headers=headers)
        if answer.status_code == 200:  # a record without its end line is still read by rispy: nothing matches
            assert answer.json()["saved"] == 0
            continue
        message = answer.json()["detail"][0]["msg"]
        assert answer.status_code == 422 and words in message and "\n" not in message
    assert library(client, headers) == alice


def test_readers_map_names_ids_and_keywords():
    ris = citations.parse(
        "bibtex",  # detected
        "TY  - JOUR\nTI  - Attention Is All You Need\nAU  - Vaswani, Ashish\nAU  - Gómez, Aidan N.\n"
        "UR  - http://arxiv.org/abs/1706.03762v5\nKW  - Machine Learning\nKW  - to read\nER  - \n",
    )
    entry = ris.entries[0]
    assert entry.authors == ["Ashish Vaswani", "Aidan N. Gómez"] and entry.arxiv_id == "1706.03762"
    assert entry.tags == ["machine-learning", "to-read"]
    csl = citations.parse(
        "bibtex",
        json.dumps(
            [
                {
                    "id": "x",
                    "type": "article",
                    "title": "T",
                    "author": [
                        {"family": "Beethoven", "given": "Ludwig", "non-dropping-particle": "van"},
                        {"literal": "The ATLAS Collaboration"},
                    ],
                    "DOI": "10.48550/arXiv.2401.01234",
                    "keyword": "a, b; c",
                    "issued": {"date-parts": [[2024, 1, 2]]},
                },
                "not an item",
            ]
        ),
    )
    assert csl.entries[0].authors == ["Ludwig van Beethoven", "The ATLAS Collaboration"]
    assert (
        csl.entries[0].arxiv_id == "2401.01234"
        and csl.entries[0].year == 2024
        and csl.entries[0].tags == ["a", "b", "c"]
    )
    assert csl.rejected[0].key == "item 2"
    with pytest.raises(NotBibtex, match="not CSL-JSON"):
        citations.parse("csl-json", "{oops")


def test_cli_round_trip(client, saved, tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "correct horse battery")
    out = tmp_path / "lib.ris"
    done = runner.invoke(cli, ["library", "export", "--user", "alice", "--format", "ris", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert runner.invoke(cli, ["user", "add", "dave"]).exit_code == 0
    done = runner.invoke(cli, ["library", "import", "--user", "dave", str(out)])
    assert done.exit_code == 0 and f"{len(saved[1])} saved" in done.output, done.output
    bad = runner.invoke(cli, ["library", "import", "--user", "dave", str(tmp_path / "missing.ris")])
    assert bad.exit_code == 2 and "nothing imported" in bad.output


def test_an_import_cannot_reach_a_hidden_paper_and_a_deep_file_is_one_line(client, other, saved, sample_papers):
    """A paper an admin hid is as unknown to an import as to its page; "[[[[…" is refused in one line."""
    headers, alice = saved  # alice registered first: she is the admin
    hidden = next(p for p in sample_papers if p.id not in alice)
    assert post(client, f"/papers/{hidden.id}/hide", {"hidden": "1"}, f"/papers/{hidden.id}").status_code == 303
    register(other, "erin")
    erin = {"Authorization": f"Bearer {api_token(other)}"}
    assert other.get(f"/api/papers/{hidden.id}", headers=erin).status_code == 404
    ris = f"TY  - UNPB\nTI  - {hidden.title}\nUR  - https://arxiv.org/abs/{hidden.id}\nER  - \n".encode()
    answer = other.post("/api/library/import", content=ris, headers=erin).json()
    assert answer["saved"] == 0 and len(answer["unmatched"]) == 1 and library(other, erin) == {}
    deep = other.post("/api/library/import", params={"format": "csl-json"}, content=b"[" * 60_000, headers=erin)
    assert deep.status_code == 422 and "nested too deeply" in deep.json()["detail"][0]["msg"]


def test_a_note_with_unbalanced_braces_cannot_break_its_entry(sample_papers):
    from paperfeed.formats import library_file

    paper = {"id": "2503.11731", "title": "A {Title}", "authors": ["Ada Lovelace"], "abstract": "x", "links": {}}
    items = [(paper | {"library_note": "a } b {", "published": None, "listed_date": None}, ["t"])]
    items.append((paper | {"id": "2503.11732", "library_note": "}{ keywords = {evil} }"}, ["u"]))
    parsed = citations.parse("bibtex", library_file("bibtex", items))
    assert [(e.arxiv_id, e.tags, e.note) for e in parsed.entries] == [
        ("2503.11731", ["t"], "a  b"),
        ("2503.11732", ["u"], "keywords = evil"),
    ] and not parsed.rejected
