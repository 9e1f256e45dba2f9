"""How papers are presented, for pages, the API, feeds, MCP and Markdown: periods, list pages, highlighting,
BibTeX, the JSON shapes (ours and Hugging Face's) and Markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from markupsafe import Markup, escape
from sqlalchemy import Connection, Engine

from paperfeed.formats import to_bibtex
from paperfeed.models import check_day
from paperfeed.rank import trending
from paperfeed.search.lexical import WORD, query_stems, stem
from paperfeed.store import marks
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.store.listing import load_papers
from paperfeed.tex import text_macros, text_macros_html

AUTHORS_SHOWN = 5


# -- periods ------------------------------------------------------------------------------------------
@dataclass
class Period:
    kind: str  # date | week | month
    start: date
    end: date

    @property
    def key(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        return self.start.isoformat()

    @property
    def url(self) -> str:
        return f"/papers/{self.kind}/{self.key}"

    @property
    def label(self) -> str:
        if self.kind == "week":
            return f"Week of {self.start.strftime('%b %d, %Y')}"
        if self.kind == "month":
            return self.start.strftime("%B %Y")
        return self.start.strftime("%A, %b %d, %Y")

    @property
    def short(self) -> str:
        if self.kind == "week":
            return self.key
        if self.kind == "month":
            return self.start.strftime("%b %Y")
        return self.start.strftime("%b %d")


def period_of(kind: str, day: date) -> Period:
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind == "month":
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, start, nxt - timedelta(days=1))
    return Period("date", day, day)


def parse_period(kind: str, text: str) -> Period:
    """ "2025-03-14", "2025-W11" or "2025-03", between FIRST_DAY and LAST_DAY; ValueError saying what is
    expected otherwise."""
    return period_of(kind, check_day(_first_day(kind, text)))


def _first_day(kind: str, text: str) -> date:
    try:
        if kind == "week":
            m = re.fullmatch(r"(\d{4})-W(\d{2})", text)
            if not m:
                raise ValueError
            return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        if kind == "month":
            m = re.fullmatch(r"(\d{4})-(\d{2})", text)
            if not m:
                raise ValueError
            return date(int(m.group(1)), int(m.group(2)), 1)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        form = {"week": "YYYY-Www, e.g. 2025-W11", "month": "YYYY-MM"}.get(kind, "YYYY-MM-DD")
        raise ValueError(f"not a {'day' if kind == 'date' else kind} ({form}): {text[:40]!r}") from None


def neighbours(conn: Connection, period: Period) -> tuple[Period | None, Period | None]:
    """The nearest earlier and later periods of the same kind that have papers."""
    before, _ = q.neighbour_days(conn, period.start)
    _, after = q.neighbour_days(conn, period.end)
    return (
        period_of(period.kind, before) if before else None,
        period_of(period.kind, after) if after else None,
    )


# -- lists ------------------------------------------------------------------------------------------
def top_categories(conn: Connection, start: date, end: date, n: int = 10) -> list[str]:
    return q.top_categories(conn, start, end, n)


def load_visible(conn: Connection, ids: list[str], user: User | None) -> list[dict]:
    """`load_papers` without the papers an admin hid (search and similar papers come from the indexes,
    which still hold them)."""
    hidden = marks.hidden_ids(conn)
    return load_papers(conn, [i for i in ids if i not in hidden], user)


def visible_hits(engine: Engine, hits: list, user: User | None) -> dict[str, dict]:
    """id -> paper for the hits (search results, similar papers) the user may see, in one read."""
    with engine.connect() as conn:
        return {p["id"]: p for p in load_visible(conn, [h.id for h in hits], user)}


def ranked_ids(
    conn: Connection,
    period: Period,
    sort: str,
    category: str | None,
    code: bool = False,
    only: set[str] | None = None,
) -> list[str]:
    return trending.ranked_ids(conn, period.start, period.end, sort, category, code, only)


def with_reasons(conn: Connection, picks: list, user: User | None) -> list[dict]:
    """The picked papers (rank.recommend.Pick), each with `reason`: the liked paper it is closest to (or the
    imported entry's title, or the sign-up interest it matches) and the boost phrases it mentions."""
    loaded = load_papers(conn, [p.id for p in picks], user)
    titles = q.titles(conn, {p.because for p in picks if p.because})
    by_id = {p.id: p for p in picks}
    for paper in loaded:
        pick = by_id[paper["id"]]
        title = titles.get(pick.because, "") if pick.because else pick.because_title
        paper["reason"] = {
            "id": pick.because,
            "title": title,
            "interest": pick.interest,
            "mentions": pick.mentions,
            "words": pick.words,
            "author": pick.author,
            "followed": getattr(pick, "followed", ""),
            "coauthor": getattr(pick, "coauthor", ""),
        }
    return loaded


def ranked_page(
    conn: Connection,
    period: Period,
    sort: str,
    category: str | None,
    page: int,
    size: int,
    user: User | None,
    code: bool = False,
    only: set[str] | None = None,
) -> tuple[list[dict], int]:
    """One page of a period's papers, ranked (see ranked_ids)."""
    ids = ranked_ids(conn, period, sort, category, code, only)
    return load_papers(conn, ids[(page - 1) * size : page * size], user), len(ids)


# -- text -----------------------------------------------------------------------------------------
def author_links(names: list[str], n: int = AUTHORS_SHOWN) -> Markup:
    """Each of the first `n` names linked to its author page, then "et al." (in Python: a hundred cards' links
    made by a template macro cost a daily page about 3 ms)."""
    links = ", ".join(f'<a class="author" href="/authors/{quote(a, safe="")}">{escape(a)}</a>' for a in names[:n])
    return Markup(links + (" et al." if len(names) > n else ""))


def authors_short(names: list[str], n: int = AUTHORS_SHOWN) -> str:
    return ", ".join(names[:n]) + (" et al." if len(names) > n else "")


# TeX as arXiv writes it in titles and abstracts; KaTeX renders it in the browser (static/tex.js).
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$|\\\(.+?\\\)", re.S)


def highlight(text: str, words: list[str]) -> Markup:
    """Escape `text` and wrap in <mark> the whole words that match a query word as the keyword index matches
    them (same stemming: "transformers" marks "Transformer"), stop words never, and nothing inside a formula
    (a mark would split the TeX that KaTeX renders)."""
    wanted = query_stems(words) if words else set()
    if not text or not wanted:
        return text_macros_html(escape(text or ""))
    out, last = [], 0
    for m in MATH.finditer(text):
        out += [_mark(text[last : m.start()], wanted), escape(m.group())]
        last = m.end()
    out.append(_mark(text[last:], wanted))
    return text_macros_html(Markup("").join(out))  # KaTeX renders only math: \textbf{…} and accents here


def _mark(text: str, wanted: set[str]) -> Markup:
    out, last = [], 0
    for m in WORD.finditer(text):
        if stem(m.group()) in wanted:
            out += [escape(text[last : m.start()]), Markup("<mark>"), escape(m.group()), Markup("</mark>")]
            last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def apply_corrections(raw: str, corrections: list[tuple[str, str]]) -> str:
    """The query as typed with the corrected words swapped in (operators such as author: kept), or ""."""
    for typed, fixed in corrections:
        raw = re.sub(rf"(?<![\w:]){re.escape(typed)}(?!\w)", fixed, raw, flags=re.I)
    return raw if corrections else ""


def stars(n: float) -> str:
    """GitHub-style star counts: 950, 1.2k, 15k."""
    n = int(n)
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}k".replace(".0k", "k") if n < 10_000 else f"{n // 1000}k"


# -- JSON -------------------------------------------------------------------------------------------
def moment(value: date | datetime | None) -> datetime | None:
    """A day as its first moment: HF's clients parse every time as YYYY-MM-DDTHH:MM:SSZ."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time())


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return value.isoformat()


def paper_json(p: dict, base_url: str = "") -> dict:
    """One paper, named as in Hugging Face's API where there is an equivalent (summary, publishedAt, upvotes)."""
    return {
        "id": p["id"],
        "title": p["title"],
        "summary": p["abstract"],
        "authors": [{"name": a} for a in p["authors"]],
        "categories": p["categories"],
        "primaryCategory": p.get("primary_category"),
        "publishedAt": iso(moment(p.get("published") or p.get("listed_date"))),
        "updatedAt": iso(p.get("updated")),
        "listedDate": iso(p.get("listed_date")),
        "version": p.get("version"),
        "comments": p.get("comments"),
        "doi": p.get("doi"),
        "journalRef": p.get("journal_ref"),
        # Hugging Face's clients read `upvotes` as the community's count: ours and HF's together here,
        # each also on its own.
        "upvotes": p.get("votes", 0) + p.get("external", 0),
        "ownUpvotes": p.get("votes", 0),
        "externalUpvotes": p.get("external", 0),
        "links": {**p["links"], "page": f"{base_url}/papers/{p['id']}"},
        **code_json(p),
    }


def hf_item(p: dict, base_url: str = "") -> dict:
    """A paper in the shape of an item of Hugging Face's /api/daily_papers (and /api/papers/search), so its
    clients (huggingface_hub's HfApi, `hf papers`) read it unchanged. `publishedAt` here is the day the paper
    was listed (HF: the day it was submitted to daily papers); the paper's own date is `paper.publishedAt`."""
    hf = p.get("hf") or {}
    listed = hf.get("submitted_on") or p.get("listed_date") or p.get("published")
    item = {
        "paper": paper_json(p, base_url),
        "publishedAt": iso(moment(date.fromisoformat(listed) if isinstance(listed, str) else listed)),
        "title": p["title"],
        "summary": p["abstract"],
        **code_json(p),  # the client reads these from the item (numComments too), not from its paper
    }
    if hf.get("submitted_by"):
        item["submittedBy"] = {"name": hf["submitted_by"], "fullname": hf["submitted_by"], "type": "user"}
    return item


def paper_markdown(p: dict) -> str:
    links = [f"[arXiv](<{p['links']['abs']}>)", f"[PDF](<{p['links']['pdf']}>)"] if p["links"].get("abs") else []
    links += [f"[Code](<{p['code']}>)"] if p.get("code") else []
    links += [f"[Project page](<{p['project']}>)"] if p.get("project") else []
    lines = [f"# {text_macros(p['title'])}", "", ", ".join(p["authors"]), ""]
    facts = [
        f"arXiv {p['id']}" if not p["id"].startswith("t-") else "",
        f"listed {p['listed_date']}" if p.get("listed_date") else "",
    ]
    facts += [", ".join(p["categories"])]
    lines += [" · ".join(f for f in facts if f), ""]
    if links:
        lines += [" · ".join(links), ""]
    signals = [f"{p.get('votes', 0)} upvotes here"]
    signals += [f"{p['external']} upvotes on Hugging Face"] if p.get("external") else []
    signals += [f"{p['discussion']} comments here"] if p.get("discussion") else []
    signals += [f"{int(p['hf']['comments'])} comments on Hugging Face"] if (p.get("hf") or {}).get("comments") else []
    lines += [" · ".join(signals), ""]
    lines += ["## Abstract", "", text_macros(p["abstract"]), ""]
    lines += ["## BibTeX", "", "```bibtex", to_bibtex(p).strip(), "```", ""]
    return "\n".join(lines)


def list_markdown(title: str, papers: list[dict], note: str = "", abstracts: bool = True) -> str:
    """A list of papers (a day, a week, a month, a search) as one Markdown document: what an agent reads in
    one request. Each paper: its rank and title, authors, id, date, categories, votes, links, and the abstract."""
    lines = [f"# {title}", ""] + ([note, ""] if note else [])
    if not papers:
        lines += ["No papers.", ""]
    for n, p in enumerate(papers, 1):
        lines += [f"## {n}. {text_macros(p['title'])}", "", ", ".join(p["authors"]), ""]
        facts = [f"arXiv {p['id']}" if not p["id"].startswith("t-") else p["id"]]
        facts += [f"listed {p['listed_date']}"] if p.get("listed_date") else []
        facts += [", ".join(p["categories"])] if p.get("categories") else []
        facts += [f"{p.get('votes', 0)} upvotes here"]
        facts += [f"{p['external']} upvotes on Hugging Face"] if p.get("external") else []
        lines += [" · ".join(facts), ""]
        links = [f"[arXiv](<{p['links']['abs']}>)", f"[PDF](<{p['links']['pdf']}>)"] if p["links"].get("abs") else []
        links += [f"[Code](<{p['code']}>)"] if p.get("code") else []
        lines += [" · ".join(links), ""] if links else []
        lines += [text_macros(p["abstract"]), ""] if abstracts else []
    return "\n".join(lines)


def code_json(p: dict) -> dict:
    """Code, project page and Hugging Face's AI keywords under HF's field names (githubRepo, …); absent where
    unknown, as HF leaves them out."""
    hf = p.get("hf") or {}
    stars = hf.get("github_stars") if p.get("code") and p["code"] == hf.get("github_repo") else None
    out = {
        "githubRepo": p.get("code"),
        "githubStars": int(stars) if stars is not None else None,
        "projectPage": p.get("project"),
        "ai_summary": hf.get("ai_summary"),
        "ai_keywords": [k.strip() for k in hf["ai_keywords"].split(",")] if hf.get("ai_keywords") else None,
    }
    return {k: v for k, v in out.items() if v is not None} | comments_json(p)


def comments_json(p: dict) -> dict:
    """Comment counts as the upvotes are given: `numComments` (what Hugging Face's clients read) is ours and
    Hugging Face's together; each is also on its own."""
    theirs = int((p.get("hf") or {}).get("comments") or 0)
    ours = int(p.get("discussion") or 0)
    return {"numComments": ours + theirs, "ownComments": ours, "externalComments": theirs}
