"""RSS/Atom feeds, health, access logs, limits."""

import json
import logging
import os
import re
import time
import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from paperfeed.models import Paper
from paperfeed.store import make_engine
from paperfeed.store.importer import Importer
from paperfeed.web.app import create_app
from tests.web.conftest import post, register

ATOM = "{http://www.w3.org/2005/Atom}"


def rss_items(answer) -> list[ET.Element]:
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/rss+xml")
    return ET.fromstring(answer.content).findall("./channel/item")


def test_daily_feed_rss_and_atom(client, sample_papers, days):
    items = rss_items(client.get("/feeds/daily.xml"))
    on_day = {p.id for p in sample_papers if p.listed_date == days[-1]}
    links = {i.findtext("link").rsplit("/papers/", 1)[1] for i in items}
    assert links == on_day
    assert all(i.findtext("title") and i.findtext("description") for i in items)
    atom = client.get("/feeds/daily.xml", params={"date": str(days[0]), "format": "atom"})
    assert atom.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(atom.content).findall(f"{ATOM}entry")
    assert len(entries) == sum(p.listed_date == days[0] for p in sample_papers)
    assert client.get("/feeds/daily.xml", params={"format": "json"}).status_code == 422


def test_trending_and_search_feeds(client, sample_papers):
    assert len(rss_items(client.get("/feeds/trending.xml"))) == 50
    target = sample_papers[7]
    items = rss_items(client.get("/feeds/search.xml", params={"q": target.title}))
    assert target.id in {i.findtext("link").rsplit("/", 1)[1] for i in items}
    dates = [i.findtext("pubDate") for i in items]
    assert dates and all(dates)
    assert client.get("/feeds/search.xml").status_code == 422  # q is required
    bad = client.get("/feeds/search.xml", params={"q": '"a'})
    assert bad.status_code in (200, 422)


def test_private_library_feed_with_revocable_token(client, other, sample_papers, settings):
    register(client)
    pid = sample_papers[4].id
    post(client, f"/papers/{pid}/save", {"tags": "feed-me"})
    page = post(client, "/settings/tokens", {"kind": "feed", "name": "reader"}, "/settings")
    # The configured address, not the Host the request came with.
    url = re.search(re.escape(settings.base_url) + r"/(feeds/library/[\w-]+\.xml)</code>", page.text).group(1)
    answer = other.get("/" + url)  # no session needed: the token is the key
    assert [i.findtext("link").rsplit("/", 1)[1] for i in rss_items(answer)] == [pid]
    mine = other.get("/" + url.replace("/library/", "/foryou/"))  # the same token opens the For-you feed
    for private in (answer, mine):  # one reader's list: no shared cache keeps it
        assert private.status_code == 200 and private.headers["cache-control"] == "private, no-store"
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", client.get("/settings").text).group(1)
    post(client, f"/settings/tokens/{token_id}/revoke", page="/settings")
    assert other.get("/" + url).status_code == 404
    assert other.get("/feeds/library/pf_feed_guess.xml").status_code == 404


def test_healthz_reports_database_and_index(client, settings):
    health = client.get("/healthz").json()
    assert health.pop("worker") == os.getpid()  # the serving process (here the test's own)
    assert health == {
        "status": "ok",
        "problems": [],
        "database": "ok",
        "storage": "ok",
        "papers": 466,
        "indexed": 466,
        "index_fresh": True,
        "indexes": {"lexical": "ok", "vectors": "ok"},
        "index_job": None,
        "busy_answers": 0,
        "latest_day": "2025-03-31",
        "sync": {},  # no sync has run
    }
    new = Paper(id="2504.00001", title="A new paper", abstract="Not indexed yet.", source="t", source_ref="t")
    Importer(make_engine(settings.db_url)).run([new], "t", "t")
    imported = time.monotonic()
    while (stale := client.get("/healthz").json())["papers"] == 466:  # the answer of the last second, at most
        assert time.monotonic() - imported < settings.health_ttl + 1
        time.sleep(0.05)
    assert stale["status"] == "degraded" and stale["index_fresh"] is False and stale["papers"] == 467


def test_access_log_is_one_json_line_per_request_without_secrets(client, caplog):
    with caplog.at_level(logging.INFO, logger="paperfeed.access"):
        client.get("/search", params={"q": "graph"})
        client.get("/feeds/library/pf_feed_secret.xml")
        client.get("/feeds/foryou/pf_feed_secret.xml")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "paperfeed.access"]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/search", 200),
        ("GET", "/feeds/library/…", 404),
        ("GET", "/feeds/foryou/…", 404),
    ]
    assert all(x["ms"] >= 0 for x in lines)
    assert "pf_feed_secret" not in caplog.text


def test_responses_carry_timing_and_security_headers(client):
    answer = client.get("/")
    assert answer.headers["server-timing"].startswith("app;dur=")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_slow_search_answers_503_instead_of_stalling(settings, data_dir):
    hasty = settings.model_copy(update={"query_timeout": 0})
    with TestClient(create_app(hasty)) as c:
        page = c.get("/search", params={"q": "graph neural networks"})
        assert page.status_code == 503 and "took longer than" in page.text
        api = c.get("/api/search", params={"q": "graph"})
        assert api.status_code == 503 and "took longer" in api.json()["detail"]
        assert c.get("/").status_code == 200  # the server is still answering


def test_unknown_routes_are_friendly_404s(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "<title>Not found" in page.text


def test_opml_holds_every_feed_and_each_one_answers(client):
    """One file for a feed reader: parsed back, every feed in it is fetched and is a feed."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlsplit

    from paperfeed.digest import subscriptions as subs
    from tests.web.conftest import post, register

    register(client, "olga")
    engine = client.app.state.ctx.engine
    with engine.connect() as conn:
        from paperfeed.store import accounts

        olga = accounts.get_user(conn, "olga")
    subs.save(engine, subs.Subscription(user_id=olga.id, email="olga@example.org", categories=["cs.RO"]))
    subs.add_search(engine, olga.id, "Robots", "robot manipulation")
    pid = client.get("/api/daily_papers", params={"limit": 1}).json()[0]["paper"]["id"]
    post(client, f"/papers/{pid}/save", {"tags": "robotics"}, f"/papers/{pid}")
    answer = post(client, "/feeds/opml", page="/settings")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/x-opml")
    root = ET.fromstring(answer.content)
    feeds = {o.get("text"): o.get("xmlUrl") for o in root.iter("outline") if o.get("type") == "rss"}
    wanted = {"Daily papers", "Trending papers", "Daily papers in cs.RO", "Search: Robots", "For you", "Library"}
    assert wanted | {"Library: robotics"} <= set(feeds)
    for url in feeds.values():
        parts = urlsplit(url)
        got = client.get(parts.path + ("?" + parts.query if parts.query else ""))
        assert got.status_code == 200 and b"<rss" in got.content, url
    # Without the form's token nothing is made.
    assert client.post("/feeds/opml", data={"csrf_token": "forged"}).status_code == 403
