"""The search page."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from paperfeed.search.query import QueryError
from paperfeed.web import present
from paperfeed.web.common import PageNo, Search, ctx

router = APIRouter(include_in_schema=False)


# -- search -----------------------------------------------------------------------------------------
KEEP_OUT = ("q", "page", "spell")  # what a "did you mean" link replaces; the filters stay


@router.get("/search")
async def search_page(request: Request, params: Search, page: PageNo = 1, spell: bool = True, code: bool = False):
    c = ctx(request)
    size = 20
    q_, since, until, category, author = params.q, params.since, params.until, params.category, params.author
    mode, sort = params.mode, params.sort
    values = dict(
        q=q_,
        since=since,
        until=until,
        category=category or "",
        author=author,
        mode=mode,
        sort=sort,
        page=page,
        code=code,
        hits=[],
        total=0,
        error=None,
        notes=[],
        corrected="",
        good_match=True,
        words=[],
        searched=bool(q_.strip() or category or author or since or until or code),
    )
    if not values["searched"]:
        return c.render(request, "search.html", **values)

    def answer():
        # All of it (search, reading the papers, the page) in the timed thread, so the time limit holds.
        try:
            results = params.run(c, size, (page - 1) * size, code, spell)
        except QueryError as exc:
            values["error"] = str(exc)
            return c.render(request, "search.html", status=422, **values)
        papers = present.visible_hits(c.engine, results.hits, c.user(request))
        values.update(
            hits=[(h, papers[h.id]) for h in results.hits if h.id in papers],
            total=results.total,
            # The page shows a correction as links (the corrected query, and the query as typed) instead of a note.
            notes=[n for n in results.notes if not (results.query.corrections and n.startswith("Showing results"))],
            corrected=present.apply_corrections(q_, results.query.corrections),
            filters_query="".join(
                f"&{urlencode({k: v})}" for k, v in request.query_params.multi_items() if k not in KEEP_OUT
            ),
            good_match=results.good_match,
            words=results.query.terms + [w for ph in results.query.phrases for w in ph.split()],
            pages=max(1, math.ceil(results.total / size)),
        )
        return c.render(request, "search.html", **values)

    return await c.run_limited(answer)
