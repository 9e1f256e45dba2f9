"""Code and project links named in a paper's abstract or comments.

About 16 % of arXiv papers name their code or project page in the abstract or comments, in every shape:
"https://github.com/a/b.", "(github.com/a/b)", "\\href{https://github.com/a/b}{...}", "b.git", a
`*.github.io` page, a Hugging Face model, dataset or space. `find_links` returns them cleaned and classified;
"github" in prose, e-mail addresses and DOIs are not links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A URL on one of the hosts we classify, with or without its scheme. Not after a letter, digit, "@" or "."
# (an e-mail address, a longer host name); braces, quotes and backslashes end it (TeX's \href{..}{..}).
_URL = re.compile(
    r"(?<![\w@.\-/])(?:https?://)?(?:www\.)?"
    r"(?P<host>github\.com|gitlab\.com|huggingface\.co|[a-z0-9][a-z0-9\-]*\.github\.io)"
    r"(?P<path>/[^\s{}<>\"'\\|^`\[\]]*)?",
    re.I,
)
_TRAILING = ".,;:!?)]}>'\"*"
# Every link we classify names one of these; most abstracts name none, and this test is ~30x cheaper than _URL.
_HOSTS = ("github", "gitlab", "huggingface")
# Hugging Face paths that are the site's own pages, not a model.
_HF_PAGES = {"papers", "docs", "blog", "spaces", "datasets", "models", "collections", "learn", "join", "login"}


@dataclass(frozen=True)
class Link:
    kind: str  # code | project | model | dataset | space
    url: str


def find_links(*texts: str | None) -> list[Link]:
    """The links in these texts, in order of appearance, each once."""
    out: dict[str, Link] = {}
    for text in texts:
        lower = (text or "").lower()
        if not any(host in lower for host in _HOSTS):
            continue
        for m in _URL.finditer(text):
            link = _classify(m.group("host").lower(), _clean(m.group("path") or ""))
            if link and link.url not in out:
                out[link.url] = link
    return list(out.values())


def code_url(*texts: str | None) -> str | None:
    return next((link.url for link in find_links(*texts) if link.kind == "code"), None)


def _clean(path: str) -> str:
    while path and path[-1] in _TRAILING:
        path = path[:-1]
    return path.removesuffix(".git")


def _classify(host: str, path: str) -> Link | None:
    parts = [p for p in path.split("/") if p]
    if host.endswith(".github.io"):
        return Link("project", f"https://{host}{'/' + '/'.join(parts) if parts else ''}")
    if host == "github.com":
        # A repository is owner/name; a bare account ("github.com/someone") is not one.
        return Link("code", f"https://github.com/{parts[0]}/{parts[1]}") if len(parts) >= 2 else None
    if host == "gitlab.com":
        project = path.split("/-/")[0].strip("/").split("/")
        return Link("code", f"https://gitlab.com/{'/'.join(project)}") if len(project) >= 2 else None
    return _hugging_face(parts)


def _hugging_face(parts: list[str]) -> Link | None:
    if len(parts) >= 3 and parts[0] in ("datasets", "spaces"):
        return Link(parts[0][:-1], f"https://huggingface.co/{'/'.join(parts[:3])}")
    if len(parts) >= 2 and parts[0] not in _HF_PAGES:
        return Link("model", f"https://huggingface.co/{parts[0]}/{parts[1]}")
    return None
