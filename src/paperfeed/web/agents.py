"""paperfeed for AI assistants: an MCP server built with the official `mcp` SDK.

The same tools answer over stdio (`paperfeed mcp`, for a desktop assistant) and over streamable HTTP at `/mcp`
on `paperfeed serve`. They read what the web pages and /api read, through the same functions, so an agent sees
what a person sees: hidden papers stay hidden, search carries the page's match verdict, For you is the token's
user's. Reading needs no token (the instance's pages are public); For you, the library and upvotes need an API
token (made on /settings): `Authorization: Bearer …` over HTTP, `PAPERFEED_TOKEN` for stdio.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import date
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import HTTPException
from mcp.server.mcpserver import Context as ToolContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field

from paperfeed import __version__
from paperfeed.rank import foryou
from paperfeed.rank.recommend import reason_of
from paperfeed.search.query import QueryError
from paperfeed.search.service import Unavailable
from paperfeed.store import accounts, marks
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.tex import text_macros
from paperfeed.web import present
from paperfeed.web.api import clean_interest
from paperfeed.web.common import visible
from paperfeed.web.context import Context, Window

WRITES_PER_MINUTE = 30  # library_add and upvote, per user: an agent in a loop must not flood the store
ABSTRACT_CHARS = 600  # per paper in a list; get_paper gives the whole text
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
INSTRUCTIONS = (
    "paperfeed is a self-hosted hub of arXiv papers with Hugging Face's community signals. Use search_papers for "
    "a topic (check `match`: 'weak' or 'none' means nothing is really about the query), daily_papers for what "
    "appeared on a day, week or month, get_paper for one paper's full abstract and BibTeX as Markdown, "
    "similar_papers for more like one, and recommend for the user's own ranking (needs a token)."
)

PaperId = Annotated[str, Field(min_length=1, max_length=64, description="an arXiv id such as 2503.01234")]
Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)]


class Agents:
    """The MCP server over one web Context; `token` is the stdio process's API token (HTTP requests bring
    their own in the Authorization header)."""

    def __init__(self, c: Context, token: str | None = None):
        self.c, self.token = c, token
        self.writes = Window(WRITES_PER_MINUTE, 60)
        self.server = MCPServer("paperfeed", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
        self.http: StreamableHTTPSessionManager | None = None
        self._register()

    # -- who is asking, and running blocking work ----------------------------------------------------------
    def token_of(self, ctx: ToolContext | None) -> str | None:
        headers = ctx.headers if ctx is not None else None
        if headers is not None:  # HTTP: the request's own token, never the process's
            auth = headers.get("authorization", "")
            return auth[7:].strip() if auth.lower().startswith("bearer ") else None
        return self.token

    def _token_user(self, token: str) -> User:
        user = accounts.token_user(self.c.engine, token, "api")
        if user is None:
            raise ToolError("unknown or revoked API token")
        return user

    async def user(self, ctx: ToolContext | None) -> User | None:
        token = self.token_of(ctx)
        # In a thread: the lookup writes the token's last use, which may wait on another writer (SQLite).
        return await self.run(self._token_user, token) if token else None

    async def need_user(self, ctx: ToolContext | None, write: bool = False) -> User:
        user = await self.user(ctx)
        if user is None:
            raise ToolError(
                "this tool needs an API token (make one on the paperfeed /settings page): "
                "Authorization: Bearer <token> over HTTP, PAPERFEED_TOKEN for `paperfeed mcp`"
            )
        if write:
            key = f"user:{user.id}"
            if self.writes.count(key) >= WRITES_PER_MINUTE:
                raise ToolError(f"at most {WRITES_PER_MINUTE} library changes and upvotes a minute; try again shortly")
            self.writes.add(key)
        return user

    async def run(self, fn, *args, **kwargs):
        """Blocking work in a thread, under the query time limit, with the store's and search's refusals
        turned into tool errors the model can read (anything else is a crash the SDK reports as such)."""
        limit = self.c.settings.query_timeout
        try:
            with anyio.fail_after(limit):
                return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), abandon_on_cancel=True)
        except TimeoutError:
            raise ToolError(f"the request took longer than {limit:g} s; try again or narrow it") from None
        except HTTPException as exc:
            raise ToolError(str(exc.detail)) from None
        except (QueryError, accounts.AccountError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        except (Unavailable, accounts.Busy) as exc:
            raise ToolError(f"paperfeed is busy or not ready: {exc}") from None

    def base(self) -> str:
        return self.c.settings.base_url.rstrip("/")

    # -- the tools ----------------------------------------------------------------------------------------
    def _register(self) -> None:
        # JSON answers are also given as structured content; get_paper answers Markdown text.
        for fn in (self.search_papers, self.daily_papers, self.similar_papers, self.recommend, self.library_list):
            self.server.tool(annotations=READ, structured_output=True)(fn)
        for fn in (self.library_add, self.upvote):
            self.server.tool(annotations=WRITE, structured_output=True)(fn)
        self.server.tool(annotations=READ)(self.get_paper)
        self.server.resource("paper://{paper_id}", mime_type="text/markdown", description="One paper as Markdown")(
            self.paper_resource
        )

    async def search_papers(
        self,
        query: Annotated[str, Field(min_length=1, max_length=2000, description='words, "a phrase", author:Name')],
        since: Annotated[date | None, Field(description="only papers listed on or after this day")] = None,
        until: Annotated[date | None, Field(description="only papers listed on or before this day")] = None,
        categories: Annotated[
            list[str] | None, Field(max_length=20, description="arXiv categories, e.g. cs.CL")
        ] = None,
        has_code: Annotated[bool, Field(description="only papers with a code repository")] = False,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        ctx: ToolContext | None = None,
    ) -> dict[str, Any]:
        """Search the papers (words and meaning together), best first. `match` says whether anything is really
        about the query: "good", "weak" (results, but none truly about it; `matchNote` explains) or "none".
        `score` is relative to this query's results (the best is 1.0 whatever it is worth); `lexical` (BM25)
        and `dense` (cosine) are each method's own absolute score."""
        user = await self.user(ctx)

        def answer() -> dict[str, Any]:
            results = self.c.search.search(
                query, limit=limit, since=since, until=until, categories=categories or None, has_code=has_code
            )
            papers = present.visible_hits(self.c.engine, results.hits, user)
            found = [
                {**self.brief(papers[h.id]), "score": h.score, "lexical": h.lexical, "dense": h.dense}
                for h in results.hits
                if h.id in papers
            ]
            return {
                "query": query,
                "match": results.match,
                "matchNote": results.match_note,
                "total": results.total,
                "notes": results.notes,
                "results": found,
            }

        return await self.run(answer)

    async def daily_papers(
        self,
        date: Annotated[date | None, Field(description="YYYY-MM-DD; default the latest day with papers")] = None,
        week: Annotated[str | None, Field(max_length=8, description="instead of date: YYYY-Www, e.g. 2026-W22")] = None,
        month: Annotated[str | None, Field(max_length=7, description="instead of date: YYYY-MM")] = None,
        sort: Literal["trending", "new"] = "trending",
        category: Annotated[str | None, Field(max_length=32, description="one arXiv category, e.g. cs.LG")] = None,
        has_code: bool = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        ctx: ToolContext | None = None,
    ) -> dict[str, Any]:
        """The papers listed on a day (or in a week or month), ranked as the site ranks them: "trending" by
        upvotes here and on Hugging Face, or "new". `total` is how many the period holds."""
        user = await self.user(ctx)

        def answer() -> dict[str, Any]:
            with self.c.engine.connect() as conn:
                if week or month:
                    period = present.parse_period("week" if week else "month", week or month)
                else:
                    day = date or q.latest_day(conn)
                    if day is None:
                        return {"period": None, "total": 0, "papers": []}
                    period = present.period_of("date", day)
                papers, total = present.ranked_page(conn, period, sort, category, 1, limit, user, has_code)
            return {"period": period.key, "total": total, "papers": [self.brief(p) for p in papers]}

        return await self.run(answer)

    async def get_paper(self, paper_id: PaperId, ctx: ToolContext | None = None) -> str:
        """One paper as Markdown: title, authors, dates, categories, links (arXiv, PDF, code), upvotes here and
        on Hugging Face, the whole abstract and a BibTeX entry."""
        user = await self.user(ctx)
        return await self.run(lambda: present.paper_markdown(visible(self.c, paper_id, user)))

    async def similar_papers(
        self, paper_id: PaperId, limit: Annotated[int, Field(ge=1, le=50)] = 10, ctx: ToolContext | None = None
    ) -> dict[str, Any]:
        """The papers most like this one (by meaning), best first, with their cosine `score`."""
        user = await self.user(ctx)

        def answer() -> dict[str, Any]:
            paper = visible(self.c, paper_id, user)
            hits = self.c.search.similar(paper["id"], limit)
            if hits is None:
                raise ToolError(f"{paper['id']} is not in the search index yet; try again after indexing")
            papers = present.visible_hits(self.c.engine, hits, user)
            found = [{**self.brief(papers[h.id]), "score": h.score} for h in hits if h.id in papers]  # hidden: left out
            return {"of": paper["id"], "results": found}

        return await self.run(answer)

    async def recommend(
        self,
        date: Annotated[date | None, Field(description="the day to rank; default the latest")] = None,
        interest: Annotated[str | None, Field(max_length=64, description="one of the user's library tags")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        ctx: ToolContext | None = None,
    ) -> dict[str, Any]:
        """The token's user's For you ranking of a day's papers, each with the reason it was picked (the liked
        paper it is closest to, words the user reads about, an author they liked). `needsLikes` means the user
        has given no signal yet (no upvotes, saves, imports or topics)."""
        user = await self.need_user(ctx)

        def answer() -> dict[str, Any]:
            with self.c.engine.connect() as conn:
                day = date or q.latest_day(conn)
                ids = present.ranked_ids(conn, present.period_of("date", day), "trending", None) if day else []
            ranking = foryou.for_you(self.c.engine, self.c.search, user.id, ids, interest=clean_interest(interest))
            chosen = ranking.picks[:limit]
            with self.c.engine.connect() as conn:
                papers = {p["id"]: p for p in present.with_reasons(conn, chosen, user)}
            results = []
            for pick in chosen:
                if pick.id in papers:
                    r = papers[pick.id]["reason"]
                    why = reason_of(r)
                    results.append({**self.brief(papers[pick.id]), "score": round(pick.score, 4), "reason": why})
            return {"date": present.iso(day), "needsLikes": ranking.needs_signal, "results": results}

        return await self.run(answer)

    async def library_list(
        self,
        tag: Annotated[str | None, Field(max_length=64, description="only papers saved under this tag")] = None,
        ctx: ToolContext | None = None,
    ) -> dict[str, Any]:
        """The token's user's saved papers, newest saved first, each with its tags."""
        user = await self.need_user(ctx)

        def answer() -> dict[str, Any]:
            with self.c.engine.connect() as conn:
                saved = marks.library_of(conn, user, tag)
                papers = present.load_papers(conn, [s["id"] for s in saved], user)
            items = [
                {**self.brief(p), "tags": s["tags"], "savedAt": present.iso(s["saved_at"])}
                for s, p in zip(saved, papers, strict=True)
            ]
            return {"tag": tag, "total": len(items), "papers": items}

        return await self.run(answer)

    async def library_add(
        self, paper_id: PaperId, tags: Tags | None = None, ctx: ToolContext | None = None
    ) -> dict[str, Any]:
        """Save a paper to the token's user's library with these tags (saving again replaces its tags)."""
        user = await self.need_user(ctx, write=True)

        def answer() -> dict[str, Any]:
            paper = visible(self.c, paper_id, user)
            clean = marks.clean_tags(tags or [])
            marks.save_paper(self.c.engine, user, paper["id"], clean)
            return {"id": paper["id"], "tags": clean, "saved": True}

        return await self.run(answer)

    async def upvote(self, paper_id: PaperId, on: bool = True, ctx: ToolContext | None = None) -> dict[str, Any]:
        """Upvote a paper as the token's user (once per user; `on: false` takes the upvote back)."""
        user = await self.need_user(ctx, write=True)

        def answer() -> dict[str, Any]:
            paper = visible(self.c, paper_id, user)
            return {
                "id": paper["id"],
                "upvotes": marks.set_upvote(self.c.engine, user, paper["id"], on),
                "upvoted": on,
            }

        return await self.run(answer)

    async def paper_resource(self, paper_id: str) -> str:
        try:
            return await self.run(lambda: present.paper_markdown(visible(self.c, paper_id, None)))
        except ToolError as exc:
            raise ResourceError(str(exc)) from None

    def brief(self, p: dict) -> dict[str, Any]:
        """A paper in a list: enough to choose from; get_paper has the rest."""
        abstract = text_macros(p["abstract"])
        if len(abstract) > ABSTRACT_CHARS:
            abstract = abstract[:ABSTRACT_CHARS].rsplit(" ", 1)[0] + " …"
        return {
            "id": p["id"],
            "title": text_macros(p["title"]),
            "authors": p["authors"][:12] + ([f"and {len(p['authors']) - 12} more"] if len(p["authors"]) > 12 else []),
            "listedDate": present.iso(p.get("listed_date")),
            "categories": p["categories"],
            "upvotes": p.get("votes", 0) + p.get("external", 0),
            "url": f"{self.base()}/papers/{p['id']}",
            "abstract": abstract,
        }

    # -- streamable HTTP at /mcp ---------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        """The ASGI endpoint behind /mcp (under the app's body limit, admission control and access log)."""
        if self.http is None:
            raise HTTPException(503, "the MCP endpoint is starting or stopping; try again")
        await self.http.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def serving(self):
        """Run for the app's lifetime. Stateless, JSON answers: any worker answers any request, and a request
        holds nothing after its answer. No DNS-rebinding check: /mcp honours no cookie, so a page in a browser
        gains nothing a direct request would not (writes need a token the page cannot have)."""
        manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server,  # the SDK's own streamable_http_app() builds it the same way
            stateless=True,
            json_response=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with manager.run():
            self.http = manager
            try:
                yield
            finally:
                if self.http is manager:
                    self.http = None
