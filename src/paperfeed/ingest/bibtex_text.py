"""BibTeX field values as plain unicode on one line: TeX as exports write it ({\\"o}, \\'e, {Braces}, \\&),
read with pylatexenc within a budget per file, or roughly (`quick_text`) past it."""

from __future__ import annotations

import functools
import re
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from paperfeed.tex import MARKS

TEX_ESCAPE = re.compile(r"\{?\\([_%&#])\}?")  # Mendeley writes 10.1007/978-3-540-89689-0{\_}23, 80.5{\%}

# Only text with TeX commands in it goes through pylatexenc: it is a full parser (about 80 KB/s on TeX-dense
# text), and most titles and abstracts are plain or only protect capitals with braces ({Attention} is {All}...).
# A file gets TEX_BUDGET characters of it (about 3 s); past that, and for any field longer than FIELD_CHARS,
# a quick reading (`quick_text`: accents, formatting macros, braces) stands in, so a file of TeX costs time
# linear in its size with a small constant, and titles still match their stored papers.
TEX_BUDGET, FIELD_CHARS = 250_000, 20_000
_TEX_LEFT: ContextVar[list[int] | None] = ContextVar("tex_left", default=None)
# "--" and quotes count, so a title reads the same whether or not it also has a command in it.
_TEX_SYNTAX = re.compile(r"[\\$~]|--|``|''")
_BRACES = str.maketrans("", "", "{}")
# Exports write a bare % or & for a literal one (Mendeley, hand edits); TeX would read the first as a
# comment, dropping the rest of the line, and the second as a table column.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&])")


def plain_text(value: str) -> str:
    """TeX as an export writes it ({\\"o}, \\'e, {Braces}, \\&) as plain unicode on one line."""
    text = TEX_ESCAPE.sub(r"\1", value)  # Mendeley's {\%} and {\&} alone need no TeX parser
    if not _TEX_SYNTAX.search(text):
        return " ".join(text.translate(_BRACES).split())
    tex = _BARE_SPECIAL.sub(r"\\\1", value)
    left = _TEX_LEFT.get()
    if len(tex) > FIELD_CHARS or (left is not None and len(tex) > left[0]):
        return " ".join(quick_text(text).split())
    if left is not None:
        left[0] -= len(tex)
    return " ".join((_short_latex_to_text(tex) if len(tex) <= 300 else _latex_to_text(tex)).split())


# \"o, {\"o}, \'{e}, \c c ...: the letter and its combining mark; \ss, \o ...: the letter itself.
_ACCENT = re.compile(r"\\([\"'`^~=.uvHckrd])\s*\{?\s*([A-Za-z]|\\i|\\j)(?:\s*\})?")
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
_LETTER = re.compile(r"\\(ss|o|O|ae|AE|oe|OE|aa|AA|l|L|i|j)(?![A-Za-z])\s*")
_FORMAT = re.compile(
    r"\\(?:textbf|textit|emph|texttt|textsc|textrm|textsf|mathrm|mathbf|mathit|url|mbox|text)\s*(?=\{)"
)


def quick_text(value: str) -> str:
    """TeX read roughly, in one pass of a few regular expressions: what pylatexenc would give for accents and
    formatting macros (math and other commands kept as written, as pylatexenc keeps math)."""
    text = _ACCENT.sub(lambda m: _LETTERS.get(m.group(2)[1:], m.group(2)) + MARKS[m.group(1)], value)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], _FORMAT.sub("", text))
    return unicodedata.normalize("NFC", text.translate(_BRACES))


@functools.lru_cache(maxsize=4096)  # author names and venues repeat across a library; abstracts do not
def _short_latex_to_text(value: str) -> str:
    return _latex_to_text(value)


def _latex_to_text(value: str) -> str:
    try:
        return _DECODER.latex_to_text(value)
    except Exception:  # pylatexenc is tolerant; one odd field must still not fail a whole upload
        return value.translate(_BRACES)


def _decoder() -> LatexNodes2Text:
    # Math stays verbatim ("$\alpha$"): arXiv titles keep their TeX and the pages render it with KaTeX,
    # so a decoded "α" would neither match a stored title nor display like one.
    context = get_default_latex_context_db()
    context.add_context_category("paperfeed-bibtex", prepend=True, macros=[MacroTextSpec("url", simplify_repl="%s")])
    return LatexNodes2Text(latex_context=context, math_mode="verbatim")


_DECODER = _decoder()


@contextmanager
def tex_budget():
    """Within it, the fields read share TEX_BUDGET characters of pylatexenc (one file's worth)."""
    token = _TEX_LEFT.set([TEX_BUDGET])
    try:
        yield
    finally:
        _TEX_LEFT.reset(token)
