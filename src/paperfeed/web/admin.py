"""/admin/sources: what the instance follows (arXiv categories, Hugging Face on/off), the schedule, and how each
source's last sync went. Admins only."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request

from paperfeed.sync.run import Follow, summary
from paperfeed.web.common import Csrf, ctx, login_first, page_user, to

router = APIRouter(include_in_schema=False)
# arXiv's archives: those with subject classes name them in capitals (cs.LG, math.AG, q-bio.NC); physics-style
# ones in lower case (physics.optics, cond-mat.mes-hall, astro-ph.CO) or stand alone (hep-th, quant-ph).
UPPER = ("cs", "math", "stat", "eess", "econ", "q-bio", "q-fin", "nlin")
LOWER = ("physics", "cond-mat")
ALONE = ("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex", "nucl-th", "quant-ph", "astro-ph")
CATEGORY = re.compile(
    rf"^(?:(?:{'|'.join(UPPER)})\.[A-Z]{{2}}|(?:{'|'.join(LOWER)})\.[a-z][a-z\-]+|astro-ph\.[A-Z]{{2}}"
    rf"|{'|'.join(ALONE)})$"
)


def _admin(request: Request):
    c = ctx(request)
    user = c.user(request)
    if user is not None and not user.is_admin:
        raise HTTPException(403, "only an admin can change what this instance follows")
    return c, user


def _page(request: Request, error: str | None = None, saved: bool = False, status: int = 200):
    c, _ = _admin(request)
    s = c.settings
    return c.render(
        request,
        "admin_sources.html",
        status=status,
        follow=Follow.load(c.engine, s),
        sources=summary(c.engine),
        schedule={"arXiv": s.sync_interval, "Hugging Face": s.hf_sync_interval},
        error=error,
        saved=saved,
    )


@router.get("/admin/sources")
def sources_page(request: Request):
    page_user(request)  # signed out: the login form first
    return _page(request)


@router.post("/admin/sources")
def sources_form(
    request: Request,
    categories: Annotated[str, Form(max_length=2000)] = "",
    hf: Annotated[str, Form()] = "",
    csrf_token: Csrf = "",
):
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    if c.user(request) is None:
        return login_first(request)
    _admin(request)
    wanted = list(dict.fromkeys(w for w in re.split(r"[\s,]+", categories) if w))
    bad = [w for w in wanted if not CATEGORY.match(w)]
    if bad or not wanted:
        why = f"not an arXiv category: {', '.join(bad[:5])}" if bad else "follow at least one arXiv category"
        return _page(request, error=f"Nothing was changed: {why} (for example cs.LG, stat.ML).", status=422)
    Follow(wanted, hf == "on").save(c.engine)
    return to("/admin/sources?saved=1")
