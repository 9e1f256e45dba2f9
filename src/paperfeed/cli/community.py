"""The community from the shell: the `comments` group (read a thread, post as an account, the admins' queue)
and `author` (an author's papers, co-authors and categories; follow as an account)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from paperfeed.cli.common import _engine, app, fail, out
from paperfeed.config import get_settings
from paperfeed.models import parse_arxiv_id
from paperfeed.store import accounts, threads
from paperfeed.store import discussions as talk
from paperfeed.store.listing import load_papers

comments_app = typer.Typer(help="Discussions under papers: read a thread, comment as an account, moderate.")
app.add_typer(comments_app, name="comments")


def _paper_id(text: str) -> str:
    parsed = parse_arxiv_id(text)
    return parsed.canonical if parsed else text.strip()


@comments_app.command("show")
def comments_show(
    paper: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the thread as JSON.")] = False,
) -> None:
    """A paper's discussion, oldest first, replies indented (what a signed-out reader sees)."""
    with _engine().connect() as conn:
        thread = threads.thread(conn, _paper_id(paper), None)
    if as_json:
        keep = ("id", "author", "status", "body", "created_at", "edited_at")
        flat = [{k: x[k] for k in keep} | {"replies": [{k: r[k] for k in keep} for r in x["replies"]]} for x in thread]
        print(json.dumps(flat, default=str, indent=2))
        return
    if not thread:
        out.print("no comments")
    for x in thread:
        for item, indent in ((x, ""), *((r, "    ") for r in x["replies"])):
            when = item["created_at"].strftime("%Y-%m-%d %H:%M")
            out.print(f"{indent}#{item['id']} {escape(item['author'] or '-')} {when}", highlight=False)
            text = item["status"] or item["body"]
            out.print("\n".join(indent + "  " + line for line in text.splitlines()), highlight=False, markup=False)


@comments_app.command("post")
def comments_post(
    paper: str,
    text: str,
    username: Annotated[str, typer.Option("--as", help="The account that writes it.")],
    reply_to: Annotated[int | None, typer.Option(help="Reply to this comment id.")] = None,
) -> None:
    """Comment on a paper as an account (its rate limits apply); prints the new comment's id."""
    engine = _engine()
    with engine.connect() as conn:
        user = accounts.get_user(conn, username)
    if user is None:
        fail(f"no account named {username!r}", 1)
    settings = get_settings()
    limits = talk.Limits(settings.comments_per_minute, settings.comments_per_hour)
    try:
        new_id = talk.post(engine, user, _paper_id(paper), text, reply_to, limits)
    except talk.DiscussionError as exc:
        fail(str(exc), 1)
    out.print(f"comment {new_id} on {_paper_id(paper)}")


@comments_app.command("reported")
def comments_reported() -> None:
    """The admins' queue: comments with open reports, most reported first."""
    with _engine().connect() as conn:
        queue = threads.reported(conn)
    if not queue:
        out.print("no open reports")
    for x in queue:
        reasons = "; ".join(x["reasons"])
        out.print(f"#{x['id']} on {x['paper_id']} by {x['author']}: {x['reports']} report(s): {reasons}", markup=False)
        out.print("  " + x["body"][:200].replace("\n", " "), markup=False, highlight=False)


@comments_app.command("hide")
def comments_hide(
    comment_id: int,
    restore: Annotated[bool, typer.Option("--restore", help="Show it again instead.")] = False,
) -> None:
    """Hide a comment (its replies stay) or show it again; either way its reports are settled."""
    try:
        paper_id = talk.set_hidden(_engine(), comment_id, not restore)
    except talk.NotFound as exc:
        fail(str(exc), 1)
    out.print(f"comment {comment_id} on {paper_id} is {'shown' if restore else 'hidden'}")


@app.command("author")
def author(
    name: str,
    limit: Annotated[int, typer.Option(help="Papers to list, newest first.")] = 20,
    follow: Annotated[str | None, typer.Option(metavar="NAME", help="Follow this author as that account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """An author's papers (newest first), other written forms of the name, co-authors and categories."""
    from paperfeed.models import author_key
    from paperfeed.store import authors

    engine = _engine()
    key = author_key(name)
    with engine.connect() as conn:
        who = authors.profile(conn, key) if key else {"papers": 0}
        ids, total = authors.papers_of(conn, key, limit) if who["papers"] else ([], 0)
        titles = {p["id"]: p["title"] for p in load_papers(conn, ids, None)}
    if not who["papers"]:
        fail(f"no paper here lists {name[:80]!r} as an author", 1)
    if follow:
        with engine.connect() as conn:
            user = accounts.get_user(conn, follow)
        if user is None:
            fail(f"no account named {follow!r}", 1)
        authors.follow(engine, user, who["name"])
    if as_json:
        keep = {k: who[k] for k in ("name", "forms", "papers", "categories")}
        keep["coauthors"] = [[n, c] for _, n, c in who["coauthors"]]
        print(json.dumps(keep | {"recent": [{"id": i, "title": titles.get(i, "")} for i in ids]}, indent=2))
        return
    forms = f" (also {', '.join(who['forms'][:5])})" if who["forms"] else ""
    out.print(f"{who['name']}{forms}: {total} papers", highlight=False, markup=False)
    out.print("categories: " + ", ".join(f"{c} {n}" for c, n in who["categories"]), highlight=False, markup=False)
    out.print("co-authors: " + ", ".join(f"{n} {c}" for _, n, c in who["coauthors"]), highlight=False, markup=False)
    for pid in ids:
        out.print(f"{pid}\t{titles.get(pid, '')[:100]}", highlight=False, markup=False)
    if follow:
        out.print(f"{follow} follows {who['name']}", highlight=False, markup=False)
