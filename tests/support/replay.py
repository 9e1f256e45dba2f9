"""Recorded arXiv API answers replayed through an httpx transport (no network)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import httpx

from tests.conftest import FIXTURES

API = FIXTURES / "arxiv-api"


URL = "https://export.arxiv.org/api/query"


def key(params) -> tuple:
    get = lambda name: (params.get(name) or [""])[0]  # noqa: E731
    return get("search_query"), get("id_list"), int(get("start") or 0), int(get("max_results") or 0)


def recorded() -> dict:
    """Every recorded arxiv.py call, keyed by the parameters that select its answer."""
    calls = {}
    for path in API.glob("arxivpy_*.json"):
        rec = json.loads(path.read_text())
        calls[key(parse_qs(urlparse(rec["url"]).query, keep_blank_values=True))] = (
            rec["status_code"],
            rec["body"].encode(),
        )
    return calls


class Replay:
    """An httpx transport answering from recordings, logging each request; `fail` lists
    status codes to answer first (to exercise retries)."""

    def __init__(self, answer, fail=()):
        self.answer = answer
        self.fail = list(fail)
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = parse_qs(request.url.query.decode(), keep_blank_values=True)
        self.requests.append(params)
        if self.fail:
            return httpx.Response(self.fail.pop(0), text="busy")
        status, body = self.answer(params)
        return httpx.Response(status, content=body)
