"""Days, weeks, months and searches as Markdown, for agents that read a list in one request; and the CLI's
`show --format md`, the same Markdown as /papers/ID.md."""

from __future__ import annotations

import re
from datetime import date

from typer.testing import CliRunner

from paperfeed.cli import app as cli

LISTED = re.compile(r"^arXiv (\S+) · listed (\S+)", re.M)


def test_a_day_as_markdown_holds_every_paper_of_the_day(client, sample_papers):
    answer = client.get("/papers/date/2025-03-25.md")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/markdown")
    text = answer.text
    assert text.startswith("# Daily papers: 2025-03-25\n")
    found = LISTED.findall(text)
    day = {p.id for p in sample_papers if p.listed_date == date(2025, 3, 25)}
    assert {pid for pid, _ in found} == day and {d for _, d in found} == {"2025-03-25"}
    assert len(re.findall(r"^## \d+\. ", text, re.M)) == len(day)
    first = next(p for p in sample_papers if p.id == found[0][0])
    assert first.abstract in text and "[PDF](<https://arxiv.org/pdf/" in text


def test_weeks_months_and_bad_keys(client, sample_papers):
    week = client.get("/papers/week/2025-W13.md").text
    month = client.get("/papers/month/2025-03.md", params={"limit": 5}).text
    in_week = {p.id for p in sample_papers if date(2025, 3, 24) <= p.listed_date <= date(2025, 3, 30)}
    assert {pid for pid, _ in LISTED.findall(week)} == in_week
    assert len(LISTED.findall(month)) == 5 and "the first 5 of them" in month
    assert client.get("/papers/date/2025-13-45.md").status_code == 422


def test_a_search_as_markdown_says_how_well_it_matched(client, sample_papers):
    target = sample_papers[12]
    good = client.get("/search.md", params={"q": target.title}).text
    assert f"## 1. {target.title}" in good and "match: good" in good
    weak = client.get("/search.md", params={"q": "qwertyuiop asdfgh zxcvbnm"}).text
    assert "No good match" in weak.split("## 1.")[0]


def test_show_format_md_is_what_the_web_serves(client, sample_papers):
    pid = sample_papers[3].id
    printed = CliRunner().invoke(cli, ["show", pid, "--format", "md"])
    served = client.get(f"/papers/{pid}.md").text
    assert printed.exit_code == 0 and printed.stdout == served
    assert "0 upvotes here" in served and "```bibtex\n@misc{" in served and f"eprint = {{{pid}}}" in served
    assert CliRunner().invoke(cli, ["show", pid, "--format", "pdf"]).exit_code == 2


def test_text_macros_become_markup_on_pages_and_text_in_markdown_and_feeds(client):
    """KaTeX renders only math: \\textbf{…} and \\emph{…} in a real abstract are shown as bold and italic on the
    page, as their words in Markdown and feeds, and the formulas stay for KaTeX."""
    page = client.get("/papers/2503.15944").text
    assert "<strong>Atomic Reasoner</strong>" in page and "\\textbf" not in page.split("<body")[1].split("BibTeX")[0]
    md = client.get("/papers/2503.15944.md").text
    assert "Atomic Reasoner" in md and "\\textbf" not in md.split("## BibTeX")[0]
    listed = client.get("/papers/2503.16566").text
    assert "<strong>RE</strong>liability" in listed
