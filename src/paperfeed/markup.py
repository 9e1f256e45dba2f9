"""What people write here (comments), from Markdown to HTML that is safe to serve.

markdown-it-py parses CommonMark with raw HTML off, so `<script>` stays text; `$…$` and `$$…$$` are kept as
TeX (mdit-py-plugins' dollarmath) and written back with their dollars inside `<span class="math">`, which the
page's KaTeX renders like the titles and abstracts (so `$a_1 * b_2$` is never read as emphasis). Images and
headings are off (a comment loads nothing from elsewhere and does not outrank the page's headings). nh3
(Ammonia) then cleans the result once more: only the tags below, links only to http, https and mailto with
rel="nofollow ugc noopener". `@name` becomes a mention where `name` is someone here (the caller says who).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from mdit_py_plugins.dollarmath import dollarmath_plugin

MENTION = re.compile(r"(?<![\w@./+-])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,31})(?<![.-])")
MAX_MENTIONS = 10  # a comment notifies at most this many people: no mass-pinging
TAGS = {"p", "br", "em", "strong", "del", "a", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "span"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
CLASSES = {"span": {"math", "mention"}}


def mentions(text: str) -> list[str]:
    """The @names in a comment's text, outside code, in order, each once (not yet checked against users)."""
    found: list[str] = []
    for token in _parser().parse(text):
        for child in token.children or []:
            if child.type == "text":
                for name in MENTION.findall(child.content):
                    if name.lower() not in (f.lower() for f in found):
                        found.append(name)
    return found[:MAX_MENTIONS]


def render(text: str, known: Iterable[str] = ()) -> str:
    """Safe HTML for a comment; `known`: the mentioned usernames that exist (shown as mentions)."""
    wanted = {n.lower() for n in known}
    md = _parser()
    md.add_render_rule("text", _text_rule(wanted))
    return clean(md.render(text))


def clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow ugc noopener",
    )


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).use(dollarmath_plugin, allow_space=True, double_inline=True)
    md.disable(["image", "heading", "lheading"])
    md.add_render_rule("math_inline", lambda self, tokens, idx, options, env: _math(tokens[idx].content, "$"))
    md.add_render_rule("math_inline_double", lambda self, tokens, idx, options, env: _math(tokens[idx].content, "$$"))
    md.add_render_rule(
        "math_block", lambda self, tokens, idx, options, env: f"<p>{_math(tokens[idx].content.strip(), '$$')}</p>\n"
    )
    md.add_render_rule(
        "math_block_label",
        lambda self, tokens, idx, options, env: f"<p>{_math(tokens[idx].content.strip(), '$$')}</p>\n",
    )
    return md


def _math(tex: str, fence: str) -> str:
    return f'<span class="math">{fence}{escapeHtml(tex)}{fence}</span>'


def _text_rule(known: set[str]) -> Callable:
    def rule(self, tokens, idx, options, env) -> str:
        text = escapeHtml(tokens[idx].content)
        if not known:
            return text

        def mention(m: re.Match) -> str:
            name = m.group(1)
            return f'<span class="mention">@{name}</span>' if name.lower() in known else m.group(0)

        return MENTION.sub(mention, text)

    return rule
