"""Paper serialisations: JSON lines and BibTeX (used by `paperfeed export` and the web app)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

EXPORT_FIELDS = (
    "id",
    "title",
    "authors",
    "abstract",
    "categories",
    "version",
    "published",
    "updated",
    "listed_date",
    "comments",
    "doi",
    "journal_ref",
    "report_no",
    "license",
    "links",
)


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def to_json(paper: dict) -> str:
    return json.dumps({f: _plain(paper.get(f)) for f in EXPORT_FIELDS}, ensure_ascii=False)


def _bib_escape(text: str) -> str:
    # Keep LaTeX as is; only balance-breaking braces are a problem for BibTeX parsers.
    return text if text.count("{") == text.count("}") else text.replace("{", "").replace("}", "")


def bibtex_key(paper: dict) -> str:
    first = paper["authors"][0].split()[-1] if paper.get("authors") else "anon"
    year = (paper.get("published") or paper.get("listed_date") or date.today()).year
    word = next((w for w in re.findall(r"[A-Za-z]+", paper["title"]) if len(w) > 3), "paper")
    return re.sub(r"[^A-Za-z0-9]", "", f"{first}{year}{word}").lower()


def to_bibtex(paper: dict) -> str:
    year = (paper.get("published") or paper.get("listed_date") or date.today()).year
    fields = [
        ("title", "{" + _bib_escape(paper["title"]) + "}"),
        ("author", " and ".join(paper.get("authors") or [])),
        ("year", str(year)),
    ]
    if not paper["id"].startswith("t-"):
        fields += [
            ("eprint", paper["id"]),
            ("archivePrefix", "arXiv"),
            ("primaryClass", paper.get("primary_category") or ""),
            ("url", f"https://arxiv.org/abs/{paper['id']}"),
        ]
    if paper.get("doi"):
        fields.append(("doi", paper["doi"]))
    if paper.get("journal_ref"):
        fields.append(("note", _bib_escape(paper["journal_ref"])))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}\n"


def citation_meta(paper: dict, base_url: str) -> list[tuple[str, str]]:
    """Google Scholar's Highwire Press `citation_*` tags (what Zotero Connector, Mendeley and Paperpile read to
    save a paper page as an article with its PDF), plus Dublin Core for the abstract and identifiers.
    (name, content) pairs, in the order Google Scholar's inclusion guidelines list them."""
    pid = paper["id"]
    arxiv = not pid.startswith("t-")
    day = paper.get("published") or paper.get("listed_date")
    tags = [("citation_title", paper["title"])]
    tags += [("citation_author", name) for name in paper.get("authors") or []]
    if day:
        tags += [("citation_date", f"{day:%Y/%m/%d}"), ("citation_online_date", f"{day:%Y/%m/%d}")]
    if arxiv:
        tags += [("citation_arxiv_id", pid), ("citation_publisher", "arXiv")]
        tags += [("citation_pdf_url", f"https://arxiv.org/pdf/{pid}")]
    if paper.get("journal_ref"):
        tags.append(("citation_journal_title", paper["journal_ref"]))
    if paper.get("doi"):
        tags.append(("citation_doi", paper["doi"]))
    tags.append(("citation_abstract_html_url", f"{base_url.rstrip('/')}/papers/{pid}"))
    tags += [("DC.title", paper["title"]), *(("DC.creator", name) for name in paper.get("authors") or [])]
    if day:
        tags.append(("DC.date", f"{day:%Y-%m-%d}"))
    if paper.get("abstract"):
        tags.append(("DC.description", paper["abstract"]))
    identifiers = ([f"arXiv:{pid}"] if arxiv else []) + ([f"doi:{paper['doi']}"] if paper.get("doi") else [])
    tags += [("DC.identifier", i) for i in identifiers]
    return tags
