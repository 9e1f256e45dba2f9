"""TeX made readable where it cannot be rendered (paperfeed/tex.py), on real corpus titles and abstracts."""

from __future__ import annotations

import gzip
import json
import re

from markupsafe import escape

from paperfeed.tex import MATH, text_macros, text_macros_html, unicode_text
from tests.conftest import shared

TEXT_MACRO = re.compile(r"\\(textbf|emph|textit|texttt)\b")


def corpus_month() -> list[dict]:
    with gzip.open(shared("corpus", "arxiv-listings", "2025-03.jsonl.gz"), "rt") as f:
        return [json.loads(line) for line in f]


def test_the_cases_the_issue_names():
    assert unicode_text(r"$\alpha$-stable") == "α-stable"
    assert unicode_text(r"A $\mathcal{O}(n)$ method for $N=1$") == "A 𝒪(n) method for N=1"
    assert text_macros(r"\textbf{VLA-AD}: driving") == "VLA-AD: driving"
    html = text_macros_html(escape(r"\textbf{VLA-AD} is \emph{not} $\mathcal{O}(n^2)$ <b>"))
    assert html == r"<strong>VLA-AD</strong> is <em>not</em> $\mathcal{O}(n^2)$ &lt;b&gt;"
    assert text_macros(r"G\"odel, Erd\H{o}s, Caf\'{e}, \v{C}ech, 5\% \& more") == "Gödel, Erdős, Café, Čech, 5% & more"
    # Math is KaTeX's: a macro inside it stays; a literal dollar amount is not math.
    assert text_macros(r"$\text{keep}$ and \textbf{4.75$\times$} faster") == r"$\text{keep}$ and 4.75$\times$ faster"
    assert unicode_text("costs $4 per test, 94.3% agree") == "costs $4 per test, 94.3% agree"
    assert text_macros(r"\underline{P}ersona \u{a}") == "Persona ă"  # \underline is no breve accent


def test_real_abstracts_lose_their_text_macros_and_keep_their_math():
    papers = [p for p in corpus_month() if TEXT_MACRO.search(p["title"] + p["abstract"])]
    assert len(papers) > 50
    left = 0
    for p in papers:
        for text in (p["title"], p["abstract"]):
            plain = text_macros(text)
            left += bool(TEXT_MACRO.search(MATH.sub("", plain)))
            assert [m.group() for m in MATH.finditer(text) if "\\text" not in m.group()] == [
                m.group() for m in MATH.finditer(plain) if "\\text" not in m.group()
            ]
    # A macro around a braced argument that spans lines with a URL in it is left as written (one in 77).
    assert left <= 2, left


def test_real_titles_and_abstracts_read_as_unicode_in_mail():
    papers = [p for p in corpus_month() if re.search(r"[$\\]", p["title"] + p["abstract"])]
    titles = [unicode_text(p["title"]) for p in papers if "$" in p["title"]]
    assert len(titles) >= 10 and not [t for t in titles if "$" in t or "\\" in t]
    abstracts = [unicode_text(p["abstract"]) for p in papers]
    leftovers = [a for a in abstracts if re.search(r"\$\\|\\(alpha|beta|mathcal|times|frac)\b", a)]
    assert not leftovers, leftovers[:2]
