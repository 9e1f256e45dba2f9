"""/admin/sources, /healthz and `paperfeed stats` tell the truth about the sync, offline included."""

from __future__ import annotations

from datetime import date, datetime

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.sync.run import Follow, Sync
from paperfeed.web.app import create_app
from tests.sync.conftest import Clock, make_sync
from tests.web.conftest import csrf, register


def test_offline_the_page_healthz_and_stats_say_upstream_unreachable(engine, settings):
    """No route to arXiv or HF (these machines): each source is recorded as failing since its first attempt,
    with the reason in one line, and the next attempt backs off."""
    clock = Clock(datetime(2026, 5, 27, 1, 30))
    report = make_sync(engine, settings, clock).run()  # settings point at a closed local port
    assert report.errors and all("unreachable" in e for e in report.errors)
    with TestClient(create_app(settings)) as client:
        register(client, "root")  # the first account is the admin
        page = client.get("/admin/sources")
        assert page.status_code == 200
        assert "upstream failing since 2026-05-27T01:30:00Z (1 attempt)" in page.text and "unreachable" in page.text
        health = client.get("/healthz").json()
    assert health["status"] == "degraded"
    assert any(p.startswith("sync arxiv:cs: failing since 2026-05-27T01:30:00Z") for p in health["problems"])
    assert health["sync"]["hf"]["failures"] == 1
    out = CliRunner().invoke(cli, ["stats"]).output
    assert "last successful arxiv:cs sync: never; failing since 2026-05-27T01:30:00Z" in out


def test_admins_choose_what_to_follow_others_cannot(engine, settings, sync_settings, upstream):
    with TestClient(create_app(sync_settings)) as admin, TestClient(create_app(sync_settings)) as other:
        assert admin.get("/admin/sources", follow_redirects=False).status_code == 303  # log in first
        register(admin, "root")
        register(other, "bob")
        assert other.get("/admin/sources").status_code == 403
        token = csrf(admin, "/admin/sources")
        bad = admin.post("/admin/sources", data={"categories": "cs.LG <script>", "csrf_token": token})
        assert bad.status_code == 422 and "Nothing was changed: not an arXiv category: &lt;script&gt;" in bad.text
        # Spelled so that it would follow nothing: a lower-case class, a bare archive, an unknown one.
        vague = admin.post("/admin/sources", data={"categories": "cs.lg cs foo.Bar", "csrf_token": token})
        assert vague.status_code == 422 and "not an arXiv category: cs.lg, cs, foo.Bar" in vague.text
        assert Follow.load(engine, sync_settings).categories == sync_settings.sync_categories.split(",")
        done = admin.post(
            "/admin/sources", data={"categories": "cs.RO, cs.RO eess.SY", "csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303
        mine = other.post("/admin/sources", data={"categories": "math.AG", "csrf_token": csrf(other, "/admin/sources")})
        assert mine.status_code == 403
    assert Follow.load(engine, sync_settings) == Follow(["cs.RO", "eess.SY"], False)
    # The next sync follows them: the cs and eess sets, no Hugging Face.
    upstream.today = date(2025, 3, 25)
    Sync(
        engine,
        sync_settings,
        client=make_sync(engine, sync_settings, Clock(datetime(2025, 3, 25, 2))).client,
        now=lambda: datetime(2025, 3, 25, 2),
    ).run()
    assert {q.get("set") for q in upstream.requests("/oai") if q.get("set")} == {"cs", "eess"}
    assert upstream.requests("/api/daily_papers") == []
