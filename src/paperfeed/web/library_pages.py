"""The library: its page (all or one tag), and the library in and out as a reference manager's file (BibTeX,
RIS, CSL-JSON) from the page and from the API."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from paperfeed.formats import LIBRARY_FORMATS, library_file
from paperfeed.rank import profile
from paperfeed.store import collections, groups, library_io, marks
from paperfeed.store.accounts import User
from paperfeed.web import present
from paperfeed.web.common import Csrf, ctx, need_user, page_user
from paperfeed.web.taste_pages import form_user, read_upload

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])
State = Annotated[str | None, Query(pattern="^(to-read|reading|read|unset)$")]
Format = Annotated[
    str | None, Query(pattern="^(bibtex|ris|csl-json)$", description="bibtex, ris or csl-json: the library as a file")
]
ImportFormat = Annotated[str, Query(pattern="^(auto|bibtex|ris|csl-json)$")]


@router.post("/library/import")
def import_file(
    request: Request,
    csrf_token: Csrf = "",
    file: Annotated[UploadFile | None, File()] = None,
):
    user = form_user(request, csrf_token)
    c = ctx(request)
    try:
        text = read_upload(file)
        if not text:
            raise ValueError("choose a BibTeX, RIS or CSL-JSON file to import")
        report = library_io.import_entries(
            c.engine, user, library_io.read_file("auto", text, c.settings.import_seconds)
        )
    except (ValueError, profile.ProfileError) as exc:
        return render_library(request, user, None, 422, error=f"Nothing imported: {exc}")
    return render_library(request, user, None, message=f"Imported: {report.line()}.", report=report)


@router.get("/library")
@router.get("/library/{tag}")
def library_page(
    request: Request,
    tag: str | None = None,
    format: Format = None,
    state: State = None,
    q: Annotated[str, Query(max_length=200)] = "",
):
    """The library page; with ?format=, this view (all or one tag) as a file to download; ?state= (to-read,
    reading, read, unset) and ?q= (words in a title, the authors or your note) narrow it."""
    c, user = page_user(request)
    if format:
        return export_response(c, user, format, tag)
    return render_library(request, user, tag, state=state, q=q)


def render_library(
    request: Request, user: User, tag: str | None, status: int = 200, state: str | None = None, q: str = "", **values
):
    c = ctx(request)
    with c.engine.connect() as conn:
        saved = marks.library_of(conn, user, tag, state, q)
        tags = marks.all_tags(conn, user)
        papers = present.load_papers(conn, [p["id"] for p in saved], user)
        shared = collections.of_tag(conn, user, tag) if tag else None
        arranged = collections.entries(conn, shared) if shared else {}
        my_groups = [(f"group:{g['id']}", f"Members of {g['name']}") for g in groups.of_user(conn, user)]
    if tag and not papers and not (state or q):
        raise HTTPException(404, f"no papers tagged {tag!r} in your library")
    values.update(state=state, q=q, states=marks.STATES, collection=shared, arranged=arranged, my_groups=my_groups)
    values.setdefault("share_form", None)
    values.setdefault("message", None)
    values.setdefault("error", None)
    values.setdefault("report", None)
    return c.render(request, "library.html", status, papers=papers, tags=tags, tag=tag, **values)


def export_response(c, user: User, fmt: str, tag: str | None) -> Response:
    with c.engine.connect() as conn:
        items = library_io.saved_items(conn, user, tag)
    if tag and not items:
        raise HTTPException(404, f"no papers tagged {tag!r} in your library")
    body = library_file(fmt, items)
    ext, media = LIBRARY_FORMATS[fmt]
    # A header is Latin-1: a tag such as "données" is written with ASCII letters only in the file name.
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", tag or "")
    name = f"paperfeed-library{'-' + safe if safe else ''}.{ext}"
    return Response(
        body, media_type=f"{media}; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@api.get("/library/export", summary="Your library (or one tag) as BibTeX, RIS or CSL-JSON")
def api_export(
    request: Request,
    format: Annotated[str, Query(pattern="^(bibtex|ris|csl-json)$")] = "bibtex",
    tag: Annotated[str | None, Query(max_length=64)] = None,
):
    """The file a reference manager imports: each saved paper with your tags as its keywords."""
    c = ctx(request)
    return export_response(c, need_user(c, request), format, tag)


@api.post("/library/import", summary="Save the papers of a BibTeX, RIS or CSL-JSON file to your library")
async def api_import(request: Request, format: ImportFormat = "auto"):
    """The request body is the file. Entries are matched to stored papers by arXiv id, DOI or title; matched
    ones are saved with the file's keywords as tags (added to any tags a paper already has). Answers
    `{saved, tagged, unmatched, rejected}`; nothing is removed from your library."""
    c = ctx(request)
    user = need_user(c, request, write=True)
    raw = await request.body()
    text = raw.decode("utf-8-sig", "replace")

    def answer():
        try:
            parsed = library_io.read_file(format, text, c.settings.import_seconds)
            report = library_io.import_entries(c.engine, user, parsed)
        except ValueError as exc:
            return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]}, 422)
        return {
            "saved": report.saved,
            "tagged": report.tagged,
            "unmatched": report.unmatched,
            "rejected": [{"key": r.key, "reason": r.reason} for r in report.rejected],
        }

    return await c.run_limited(answer, timeout=c.settings.import_seconds + 10)
