"""Paper serialisations: JSON lines, BibTeX, RIS and CSL-JSON (used by `paperfeed export`, library exports and
the web app)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import rispy

from paperfeed.models import PAPER_FIELDS

LIBRARY_FORMATS = {  # format -> (file extension, media type)
    "bibtex": ("bib", "application/x-bibtex"),
    "ris": ("ris", "application/x-research-info-systems"),
    "csl-json": ("json", "application/vnd.citationstyles.csl+json"),
}

EXPORT_FIELDS = ("id", *PAPER_FIELDS, "links")


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def to_json(paper: dict) -> str:
    return json.dumps({f: _plain(paper.get(f)) for f in EXPORT_FIELDS}, ensure_ascii=False)


def _bib_escape(text: str) -> str:
    # Keep LaTeX as is; only braces that do not nest (a "}" before its "{", or one left open) would end the
    # field early or swallow the next one.
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    return text if depth == 0 else text.replace("{", "").replace("}", "")


def bibtex_key(paper: dict) -> str:
    first = paper["authors"][0].split()[-1] if paper.get("authors") else "anon"
    year = (paper.get("published") or paper.get("listed_date") or date.today()).year
    word = next((w for w in re.findall(r"[A-Za-z]+", paper["title"]) if len(w) > 3), "paper")
    return re.sub(r"[^A-Za-z0-9]", "", f"{first}{year}{word}").lower()


def to_bibtex(paper: dict, tags: list[str] | None = None, full: bool = False) -> str:
    """The paper's entry; `full` (a library export) adds the abstract and the user's tags as `keywords`, as
    Zotero writes its tags."""
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
    if full:
        fields += [("abstract", _bib_escape(paper.get("abstract") or "")), ("keywords", ", ".join(tags or []))]
        fields += [("annote", _bib_escape(paper.get("library_note") or ""))]  # Zotero reads it as a note
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}\n"


def library_file(fmt: str, items: list[tuple[dict, list[str]]]) -> str:
    """A library (papers with their tags) as a file for a reference manager: "bibtex", "ris" or "csl-json"."""
    if fmt == "bibtex":
        return "\n".join(to_bibtex(p, tags, full=True) for p, tags in items)
    if fmt == "ris":
        return rispy.dumps([_ris(p, tags) for p, tags in items], implementation=_RisWriter)
    if fmt == "csl-json":
        return json.dumps([_csl(p, tags) for p, tags in items], ensure_ascii=False, indent=1) + "\n"
    raise ValueError(f"a library exports as {', '.join(LIBRARY_FORMATS)}, not {fmt[:20]!r}")


class _RisWriter(rispy.RisWriter):
    def set_header(self, count):  # rispy numbers the records ("1."); reference managers expect none
        return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())  # RIS is one field per line


def _day(paper: dict) -> date | None:
    return paper.get("published") or paper.get("listed_date")


def _ris(paper: dict, tags: list[str]) -> dict:
    """A preprint (UNPB) record; authors "Last, First" as RIS writes them."""
    day = _day(paper)
    ref = {"type_of_reference": "UNPB", "title": _one_line(paper["title"])}
    ref["authors"] = [_last_first(a) for a in paper.get("authors") or []]
    if day:
        ref |= {"year": str(day.year), "date": f"{day:%Y/%m/%d}"}
    ref["abstract"] = _one_line(paper.get("abstract") or "")
    if paper.get("doi"):
        ref["doi"] = paper["doi"]
    if not paper["id"].startswith("t-"):
        ref |= {"urls": [f"https://arxiv.org/abs/{paper['id']}"], "publisher": "arXiv"}
        ref["notes"] = [f"arXiv:{paper['id']}"]
    if paper.get("library_note"):  # RIS holds a field on one line: the note's line breaks become spaces
        ref["notes"] = [*ref.get("notes", []), _one_line(paper["library_note"])]
    ref["keywords"] = list(tags)
    return {k: v for k, v in ref.items() if v}


def _csl(paper: dict, tags: list[str]) -> dict:
    """CSL-JSON as Zotero exports an arXiv preprint: type "article", `number` "arXiv:ID", publisher arXiv."""
    item = {"id": paper["id"], "type": "article", "title": paper["title"]}
    item["author"] = [_csl_name(a) for a in paper.get("authors") or []]
    day = _day(paper)
    if day:
        item["issued"] = {"date-parts": [[day.year, day.month, day.day]]}
    item["abstract"] = paper.get("abstract") or ""
    if not paper["id"].startswith("t-"):
        item |= {"publisher": "arXiv", "number": f"arXiv:{paper['id']}", "URL": f"https://arxiv.org/abs/{paper['id']}"}
    if paper.get("doi"):
        item["DOI"] = paper["doi"]
    if tags:
        item["keyword"] = ", ".join(tags)
    if paper.get("library_note"):
        item["note"] = paper["library_note"]
    return {k: v for k, v in item.items() if v}


def _split_name(name: str) -> tuple[str, str]:
    """(given, family): the last word is the family name; a one-word name is all family."""
    given, _, family = name.strip().rpartition(" ")
    return given, family


def _last_first(name: str) -> str:
    given, family = _split_name(name)
    return f"{family}, {given}" if given else family


def _csl_name(name: str) -> dict:
    given, family = _split_name(name)
    return {"family": family, "given": given} if given else {"literal": family}


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
