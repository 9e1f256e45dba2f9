"""What a user likes: `recommend`, `import-library`, `webhooks`, and the `library` group."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli.common import (
    _engine,
    _service,
    _user_named,
    app,
    err,
    fail,
    out,
)
from paperfeed.config import get_settings
from paperfeed.store import accounts
from paperfeed.store import queries as q


@app.command()
def recommend(
    user: Annotated[str, typer.Option(metavar="NAME", help="The user whose taste ranks the day.")],
    day: Annotated[
        str | None, typer.Option("--date", metavar="DATE", help="The listing day (default the latest).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="How many papers (a whole day can hold 2,000).")] = 20,
    seen: Annotated[bool, typer.Option("--seen", help="Include papers the user has already seen.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per paper, in rank order: id, score, title, reason.")
    ] = False,
    interest: Annotated[
        str, typer.Option(metavar="TAG", help="Rank by the papers saved under this library tag only.")
    ] = "",
) -> None:
    """A user's For you ranking of a day's papers, with the liked paper each one is closest to."""
    from paperfeed.rank.foryou import for_you
    from paperfeed.rank.recommend import reason_text
    from paperfeed.rank.trending import ranked_ids

    engine = _engine()
    with engine.connect() as conn:
        who = accounts.get_user(conn, user)
        if who is None:
            fail(f"no user {user!r}")
        try:
            when = date.fromisoformat(day) if day else q.latest_day(conn)
        except ValueError:
            fail(f"--date takes YYYY-MM-DD, not {day!r}")
        ids = ranked_ids(conn, when, when) if when else []
    ranking = for_you(engine, _service(engine), who.id, ids, show_seen=seen, interest=interest.lower())
    if ranking.needs_signal or ranking.indexing:
        why = "its index is still being built" if ranking.indexing else "nothing to learn from"
        (err if as_json else out).print(f"{user} has not upvoted, saved or imported any indexed paper yet: {why}.")
        return
    picks = ranking.picks[:limit]
    with engine.connect() as conn:
        titles = q.titles(conn, {p.id for p in picks} | {p.because for p in picks if p.because})
    for rank, p in enumerate(picks, 1):
        liked = titles.get(p.because, p.because) if p.because else p.because_title
        reason = reason_text(liked, p.interest, p.mentions, p.words, p.author, p.followed, p.coauthor)
        if as_json:
            record = {"rank": rank, "id": p.id, "score": round(p.score, 6), "title": titles.get(p.id, "")}
            record["reason"] = {"text": reason, "likedId": p.because, "likedTitle": liked, "interest": p.interest}
            record["reason"] |= {"mentions": p.mentions, "words": p.words, "likedAuthor": p.author}
            record["reason"]["coauthorOfLiked"] = p.coauthor
            sys.stdout.write(json.dumps(record) + "\n")
            continue
        out.print(f"{p.score:6.3f}  {p.id}  {titles.get(p.id, '')}", highlight=False, markup=False, soft_wrap=True)
        out.print(f"        {reason}", highlight=False, markup=False, soft_wrap=True)


@app.command("import-library")
def import_library(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose taste the library joins.")],
    path: Annotated[
        Path | None, typer.Argument(help="A BibTeX, RIS or CSL-JSON export (Zotero, Mendeley, Google Scholar, JabRef).")
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="PATH is a list of arXiv ids or URLs, one per line.")] = False,
    author: Annotated[
        str | None, typer.Option(metavar="NAME", help="Import the papers listing this author instead.")
    ] = None,
) -> None:
    """Import a library as likes for For you: matched by arXiv id, DOI or title; the rest by their text."""
    from paperfeed.rank import profile

    engine = _engine()
    with engine.connect() as conn:
        who = accounts.get_user(conn, user)
    if who is None or (path is None) == (author is None):
        why = f"no user {user!r}" if who is None else "give a file, or --author NAME"
        fail(str(why))
    try:
        if author:
            report = profile.import_author(engine, who.id, author)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
            report = profile.import_entries(
                engine, _service(engine), who.id, "ids" if ids else "bibtex", text, get_settings().import_seconds
            )
    except (OSError, profile.ProfileError) as exc:
        fail(f"nothing imported: {exc}")
    for r in report.rejected:
        err.print(f"rejected {r.key}: {r.reason}", highlight=False, markup=False)
    out.print(report.line(), highlight=False, markup=False)


@app.command()
def webhooks(
    at: Annotated[str | None, typer.Option(metavar="TIME", help="Pretend it is this UTC time (ISO).")] = None,
) -> None:
    """Send the latest day's For you papers to every webhook that is due (the scheduler does this itself)."""
    from paperfeed.digest import webhooks as hooks

    try:
        now = datetime.fromisoformat(at) if at else None
        now = now.astimezone(UTC).replace(tzinfo=None) if now and now.tzinfo else now
    except ValueError:
        fail(f"--at takes an ISO time like 2026-12-01T09:00, not {at!r}")
    engine = _engine()
    report = hooks.run(engine, get_settings(), _service(engine), now=now)
    out.print(
        f"webhooks: {report.sent} sent, {report.retrying} to retry, {report.failed} failed "
        f"({report.disabled} disabled), {report.empty} with nothing to send",
        highlight=False,
    )


library_app = typer.Typer(help="A user's library in and out as BibTeX, RIS or CSL-JSON (Zotero, Mendeley, JabRef).")
app.add_typer(library_app, name="library")


@library_app.command("export")
def library_export(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library.")],
    format: Annotated[str, typer.Option("--format", "-f", help="bibtex, ris or csl-json.")] = "bibtex",
    tag: Annotated[str | None, typer.Option(help="Only the papers saved under this tag.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the library (or one tag) with its tags as keywords."""
    from paperfeed.store import library_io

    engine = _engine()
    who = _user_named(engine, user)
    try:
        with engine.connect() as conn:
            text = library_io.export(conn, who, format, tag)
    except ValueError as exc:
        fail(str(exc))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@library_app.command("import")
def library_import(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library the papers join.")],
    path: Annotated[Path, typer.Argument(help="A BibTeX, RIS or CSL-JSON file.")],
    format: Annotated[str, typer.Option("--format", "-f", help="auto, bibtex, ris or csl-json.")] = "auto",
) -> None:
    """Save the file's papers that are stored here, with its keywords as tags (nothing is removed)."""
    from paperfeed.store import library_io

    engine = _engine()
    who = _user_named(engine, user)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        parsed = library_io.read_file(format, text, get_settings().import_seconds)
        report = library_io.import_entries(engine, who, parsed)
    except (OSError, ValueError) as exc:
        fail(f"nothing imported: {exc}")
    for r in report.rejected:
        err.print(f"rejected {r.key}: {r.reason}", highlight=False, markup=False)
    out.print(report.line(), highlight=False, markup=False)


@library_app.command("note")
def library_note(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library.")],
    paper: Annotated[str, typer.Argument(help="A saved paper's arXiv id.")],
    text: Annotated[str, typer.Argument(help='The note (Markdown); "" removes it.')],
    state: Annotated[str | None, typer.Option(help="Also set the reading state: to-read, reading, read, none.")] = None,
) -> None:
    """Write the private note (and optionally the reading state) of a saved paper."""
    from paperfeed.models import parse_arxiv_id
    from paperfeed.store import marks

    engine = _engine()
    who = _user_named(engine, user)
    parsed = parse_arxiv_id(paper)
    pid = parsed.canonical if parsed else paper.strip()
    try:
        marks.set_note(engine, who, pid, text)
        if state is not None:
            marks.set_state(engine, who, pid, None if state == "none" else state)
    except accounts.AccountError as exc:
        fail(f"{pid}: {exc}", 1)
    out.print(f"{pid}: note {'saved' if text.strip() else 'removed'}" + (f", state {state}" if state else ""))


@library_app.command("list")
def library_list(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose library.")],
    state: Annotated[str | None, typer.Option(help="Only this reading state: to-read, reading, read, unset.")] = None,
    find: Annotated[str, typer.Option("--find", help="Only papers with these words in title, authors or note.")] = "",
    tag: Annotated[str | None, typer.Option(help="Only the papers saved under this tag.")] = None,
) -> None:
    """The saved papers, newest first: id, reading state, tags, title, and the note's first line."""
    from paperfeed.store import marks

    if state is not None and state not in (*marks.STATES, "unset"):
        fail(f"a reading state is one of {', '.join(marks.STATES)} or unset, not {state!r}", 2)
    engine = _engine()
    who = _user_named(engine, user)
    with engine.connect() as conn:
        saved = marks.library_of(conn, who, tag, state, find)
    for s in saved:
        note = (s["note"] or "").strip().splitlines()[:1]
        line = f"{s['id']}\t{s['state'] or '-'}\t{','.join(s['tags']) or '-'}\t{s['title'][:90]}"
        out.print(line + (f"\t{note[0][:80]}" if note else ""), highlight=False, markup=False)
