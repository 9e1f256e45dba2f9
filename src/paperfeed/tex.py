"""TeX in titles and abstracts, made readable where it cannot be rendered.

arXiv keeps authors' TeX: math (`$N=1$`, `\\mathcal{O}(n)`) and text-mode macros (`\\textbf{VLA-AD}`, `\\emph{not}`,
`G\\"odel`). The web pages render the math with KaTeX, but KaTeX renders only math, so text-mode macros are
turned into their text or markup here (`text_macros`, `text_macros_html`) on pages, feeds and Markdown, with
the math left for KaTeX or the reader. Mail clients run no script: a digest gets everything, math included,
as Unicode through pylatexenc (`unicode_text`: `$\\alpha$-stable` -> `α-stable`).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from markupsafe import Markup
from pylatexenc.latex2text import LatexNodes2Text

# Math as KaTeX's auto-render finds it: $$…$$, $…$, \(…\), \[…\].
_MATH = r"\$\$.+?\$\$|\$[^$]+?\$|\\\(.+?\\\)|\\\[.+?\\\]"
MATH = re.compile(_MATH, re.DOTALL)
_STYLE = {
    "textbf": "strong",
    "textit": "em",
    "emph": "em",
    "textsl": "em",
    "texttt": "code",
    "textsuperscript": "sup",
    "textsubscript": "sub",
}
_OLD_STYLE = {"bf": "strong", "it": "em", "em": "em", "sl": "em", "tt": "code"}  # {\\em words}
# Words authors type as macros; author-defined ones (\\ourmethod) stay as written.
_WORDS = {"ie": "i.e.", "eg": "e.g.", "etal": "et al.", "etc": "etc.", "vs": "vs.", "textdegree": "°", "deg": "°"}
_PLAIN = ("textrm", "textsf", "textsc", "textup", "textnormal", "underline", "mbox", "text", "url")
_INNER = r"((?:[^{}$]|\$[^$]*\$)*)"  # what a text macro wraps: text, and math without braces (4.75$\times$)
# One pass finds math (left as it is, with any macro inside it) or a text macro outside math.
_TOKEN = re.compile(
    rf"({_MATH})"
    rf"|\\({'|'.join([*_STYLE, *_PLAIN])})\s*\{{{_INNER}\}}"
    rf"|\\(?:href|textcolor|colorbox)\s*\{{[^{{}}]*\}}\s*\{{{_INNER}\}}"
    rf"|\{{\\({'|'.join(_OLD_STYLE)})\s+{_INNER}\}}"
    rf"|\{{?\\({'|'.join(_WORDS)})(?![A-Za-z])\}}?"
    r"|\\href\s*\{([^{}]*)\}"
    r"|~?\\cite[pt]?\s*\{[^{}]*\}",
    re.DOTALL,
)
_ESCAPED = re.compile(r"\\([&%_#])")
# \"o, \'{e}; the letter-named accents (\u, \v, \H, \c) only with a brace or a space, so \underline stays a word
_ACCENT = re.compile(
    r"\\([\"'`^~=.])\s*(?:\{\s*([A-Za-z])\s*\}|([A-Za-z]))|\\([uvHc])(?:\s*\{\s*([A-Za-z])\s*\}|\s+([A-Za-z]))"
)
MARKS = {  # TeX accent -> the Unicode combining mark it stands for
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
}
_BRACED_ACCENT = re.compile(r"\{(\\[\"'`^~=.uvHc]\s*\{?[A-Za-z]\}?)\}")  # {\"o}, as BibTeX-minded authors write it
MAX_CHARS = 20_000  # longer text is shown as written (pylatexenc reads about 80 KB/s of dense TeX)


def _outside_math(text: str, change) -> str:
    out, last = [], 0
    for m in MATH.finditer(text):
        out += [change(text[last : m.start()]), m.group()]
        last = m.end()
    out.append(change(text[last:]))
    return "".join(out)


def _accent(m: re.Match) -> str:
    if m.group(1):
        return (m.group(2) or m.group(3)) + MARKS[m.group(1)]
    return (m.group(5) or m.group(6)) + MARKS[m.group(4)]


def _letters(text: str) -> str:
    """Accents as letters and \\& \\% \\_ \\# as the characters (outside math)."""
    if "\\" not in text:
        return text
    text = _BRACED_ACCENT.sub(r"\1", text)
    found = _ACCENT.sub(_accent, text)
    found = unicodedata.normalize("NFC", found) if found != text else text
    return _ESCAPED.sub(r"\1", found)


def _macros(text: str, html: bool) -> str:
    def one(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)  # math, as written
        if m.group(2) or m.group(5):
            name, inner = (m.group(2), m.group(3)) if m.group(2) else (m.group(5), m.group(6))
            tag = (_STYLE.get(name) or _OLD_STYLE.get(name)) if html else None
            return f"<{tag}>{inner}</{tag}>" if tag else inner
        if m.group(7):
            return _WORDS[m.group(7)]
        return m.group(4) or m.group(8) or ""  # a link's text or lone URL; a citation is dropped

    for _ in range(3):  # nested: \\textbf{\\emph{x}}
        changed = _TOKEN.sub(one, text)
        if changed == text:
            break
        text = changed
    return _outside_math(text, _letters)


def text_macros(text: str) -> str:
    """Text-mode macros as their text, accents as letters; math kept as written (for feeds and Markdown)."""
    if not text or "\\" not in text:
        return text
    return _macros(text, html=False)


def text_macros_html(html: Markup) -> Markup:
    """The same on escaped HTML (e.g. a highlighted title): \\textbf{x} -> <strong>x</strong>, \\emph{x} ->
    <em>x</em>. Escaping leaves backslashes, braces and $ alone, so what the macros wrap is already escaped."""
    if "\\" not in html:
        return html
    text = str(html).replace("\\&#34;", '\\"').replace("\\&#39;", "\\'")  # \\" and \\' as escaping wrote them
    return Markup(_macros(text, html=True))


@functools.lru_cache(maxsize=8192)  # a digest run renders the same papers for many users
def unicode_text(text: str) -> str:
    """Everything readable as Unicode, math included, for mail (no script runs there): the text macros as
    above, then each formula through pylatexenc ($\\alpha$ -> α, $\\mathcal{O}(n)$ -> 𝒪(n))."""
    if not text or not re.search(r"[\\$]", text) or len(text) > MAX_CHARS:
        return text
    return " ".join(MATH.sub(lambda m: _formula(m.group()), text_macros(text)).split())


def _formula(tex: str) -> str:
    try:
        return _DECODER.latex_to_text(tex)
    except Exception:  # pylatexenc trips on a few constructs; the formula is then shown without its dollars
        return tex.strip("$")


_DECODER = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)
