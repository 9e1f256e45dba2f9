"""Zotero Connector, Mendeley and Paperpile capture a paper page through Google Scholar's Highwire `citation_*`
meta tags: checked on the served page with an HTML parser, tag by tag against the stored paper, for 20 real
corpus papers chosen for what goes wrong (accents in names, the longest author lists, TeX in titles)."""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser


class Meta(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "meta" and "name" in found:
            self.tags.append((found["name"], found.get("content", "")))


def tags_of(html: str) -> list[tuple[str, str]]:
    parser = Meta()
    parser.feed(html)
    return parser.tags


def hard_cases(papers) -> list:
    accented = [p for p in papers if any(unicodedata.normalize("NFKD", a) != a for a in p.authors)]
    tex = [p for p in papers if "$" in p.title or "\\" in p.title]
    longest = sorted(papers, key=lambda p: -len(p.authors))
    picked = {p.id: p for group in (accented[:7], tex[:7], longest) for p in group}
    return list(picked.values())[:20]


def test_each_citation_tag_matches_the_stored_paper(client, sample_papers, settings):
    cases = hard_cases(sample_papers)
    assert (
        len(cases) == 20
        and any("$" in p.title or "\\" in p.title for p in cases)
        and max(len(p.authors) for p in cases) > 20
    )
    for p in cases:
        tags = tags_of(client.get(f"/papers/{p.id}").text)
        values = {name: [v for n, v in tags if n == name] for name, _ in tags}
        assert values["citation_title"] == [p.title] == values["DC.title"]
        assert values["citation_author"] == p.authors == values["DC.creator"]  # one tag per author, in order
        day = (p.published or p.listed_date).strftime("%Y/%m/%d")
        assert values["citation_date"] == [day] == values["citation_online_date"]
        assert values["citation_arxiv_id"] == [p.id]
        assert values["citation_pdf_url"] == [f"https://arxiv.org/pdf/{p.id}"]
        assert values["citation_abstract_html_url"] == [f"{settings.base_url}/papers/{p.id}"]
        assert values["DC.description"] == [p.abstract]
        assert ("citation_doi" in values) == bool(p.doi) and values.get("citation_doi", [p.doi]) == [p.doi]
        assert f"arXiv:{p.id}" in values["DC.identifier"]


def test_a_paper_with_a_doi_and_a_journal_carries_them(client, settings):
    from datetime import datetime

    from paperfeed.models import Paper
    from paperfeed.store import make_engine
    from paperfeed.store.importer import Importer

    paper = Paper(
        id="2503.99999",
        title="Gödel's {$\\mathcal{O}(n)$} Theorem",
        abstract="An abstract.",
        authors=["Zoë Ångström"],
        doi="10.1103/PhysRevD.111.064001",
        journal_ref="Phys. Rev. D 111, 064001 (2025)",
        published=datetime(2025, 3, 20, 17, 59),
        source="t",
        source_ref="t",
    )
    Importer(make_engine(settings.db_url)).run([paper], "t", "t")
    tags = tags_of(client.get(f"/papers/{paper.id}").text)
    values = dict(tags)
    assert values["citation_doi"] == paper.doi and values["citation_journal_title"] == paper.journal_ref
    assert values["citation_title"] == paper.title and values["citation_author"] == "Zoë Ångström"
    assert values["citation_date"] == "2025/03/20"
    assert [v for n, v in tags if n == "DC.identifier"] == [f"arXiv:{paper.id}", f"doi:{paper.doi}"]
