"""Subscribing through the web and API, confirming the address, previewing, unsubscribing from a real mail."""

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.digest import outbox
from paperfeed.digest import subscriptions as subs
from tests.digest.conftest import NOW, subscriber
from tests.web.conftest import post, register

FORM = {
    "email": "ada@example.org",
    "frequency": "daily",
    "hour": "8",
    "weekday": "0",
    "timezone": "UTC",
    "trending_n": "5",
    "categories": "cs.RO",
    "authors": "",
    "active": "on",
}


def link_in(msg, path: str) -> str:
    body = msg.get_body(("plain",)).get_content()
    return re.search(rf"http://paperfeed\.test(/{path}/[\w.\-]+)", body).group(1)


def test_subscribe_confirm_receive_unsubscribe(web, mail_engine, mail_settings, sink, service):
    register(web, "ada")
    page = post(web, "/settings/digest", FORM, "/settings/digest")
    assert page.status_code == 200 and "We sent a link to ada@example.org" in page.text
    # Nothing but the confirmation goes out before the address is confirmed.
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert len(sink.messages) == 1 and sink.messages[0]["Subject"] == "Confirm your paperfeed digest address"
    link = link_in(sink.messages[0], "verify-email")
    # A mail scanner following the link (GET) confirms nothing; the button on that page (POST) does.
    opened = web.get(link)
    assert opened.status_code == 200 and "Confirm my address" in opened.text
    assert subs.get(mail_engine, 1).verified_at is None
    confirmed = web.post(link)
    assert confirmed.status_code == 200 and "Address confirmed" in confirmed.text
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    digest = sink.messages[1]
    assert "daily digest" in digest["Subject"]
    # The visible link and the List-Unsubscribe header both work, without logging in.
    header_url = digest["List-Unsubscribe"].strip("<>").removeprefix("http://paperfeed.test")
    assert header_url == link_in(digest, "unsubscribe")
    stranger = TestClient(web.app)
    assert "Unsubscribe" in stranger.get(header_url).text
    assert subs.get(mail_engine, 1).active  # following the link (GET) changes nothing
    one_click = stranger.post(header_url, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "Unsubscribed" in one_click.text
    assert not subs.get(mail_engine, 1).active
    later = outbox.run(mail_engine, mail_settings, service, now=NOW.replace(day=31, hour=23))
    assert later.composed == 0 and len(sink.messages) == 2
    assert "Paused: you unsubscribed" in web.get("/settings/digest").text


def test_forged_or_expired_links_reveal_nothing(web, mail_engine, mail_settings):
    sub = subscriber(mail_engine, "ada")
    secret = web.app.state.ctx.secret
    good = subs.make_unsubscribe_token(secret, sub.user_id, sub.email, NOW)
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    nobody = subs.make_unsubscribe_token(secret, 999, "nobody@example.org", NOW)
    other_key = subs.make_unsubscribe_token("not the server's key", sub.user_id, sub.email, NOW)
    expired = subs.make_unsubscribe_token(secret, sub.user_id, sub.email, NOW - timedelta(days=400))
    timed = subs.make_token(secret, "unsubscribe", sub.user_id, sub.email)  # another kind of token
    answers = [web.post(f"/unsubscribe/{t}") for t in (forged, nobody, other_key, expired, timed, "garbage")]
    assert {a.status_code for a in answers} == {400}
    assert len({re.search(r'role="status">([^<]*)<', a.text).group(1) for a in answers}) == 1  # one message for all
    assert all("ada" not in a.text and "example.org" not in a.text for a in answers)
    assert subs.get(mail_engine, sub.user_id).active
    assert web.post(f"/unsubscribe/{good}").status_code == 200
    assert not subs.get(mail_engine, sub.user_id).active


def test_form_refuses_bad_input_clearly(web):
    register(web, "ada")
    for field, value, message in (
        ("email", "ada at example", "not an email address"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("categories", "cs.LG' OR 1=1", "not an arXiv category"),
        ("hour", "25", "0 to 23"),
    ):
        page = post(web, "/settings/digest", {**FORM, field: value}, "/settings/digest")
        assert page.status_code == 422 and message in page.text, field
    bad = post(web, "/settings/digest/searches", {"title": "x", "query": "foo:bar"}, "/settings/digest")
    assert bad.status_code == 422 and "does not parse" in bad.text


def test_bounce_is_shown_on_the_settings_page(web, mail_engine, mail_settings, sink, service):
    register(web, "ada")
    post(web, "/settings/digest", FORM, "/settings/digest")
    subs.mark_verified(mail_engine, 1, "ada@example.org")
    sink.refuse["ada@example.org"] = "550 5.1.1 mailbox unavailable"
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    page = web.get("/settings/digest").text
    assert "failed for good" in page and "550 5.1.1 mailbox unavailable" in page
    # Saving a new address clears it and asks for confirmation again.
    post(web, "/settings/digest", {**FORM, "email": "ada@new.example.org"}, "/settings/digest")
    assert "not confirmed yet" in web.get("/settings/digest").text


def test_preview_page_renders_what_would_be_sent(web, mail_engine, mail_settings, sink, service):
    register(web, "ada")
    post(web, "/settings/digest", FORM, "/settings/digest")
    subs.mark_verified(mail_engine, 1, "ada@example.org")
    page = web.get("/settings/digest/preview", params={"date": "2025-03-31"})
    assert page.status_code == 200 and "<table" in page.text
    assert "'unsafe-inline'" in page.headers["content-security-policy"]
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert sink.messages[-1].get_body(("html",)).get_content() == page.text
    text = web.get("/settings/digest/preview", params={"date": "2025-03-31", "part": "text"})
    assert text.text == sink.messages[-1].get_body(("plain",)).get_content()


def test_api_subscription_and_saved_searches(web, mail_engine):
    register(web, "ada")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/").text).group(1)
    h = {"X-CSRF-Token": token}
    assert web.get("/api/digest/subscription").status_code == 404
    bad = web.put("/api/digest/subscription", json={"email": "nope"}, headers=h)
    assert bad.status_code == 422 and "not an email address" in str(bad.json()["detail"])
    assert web.put("/api/digest/subscription", json={"email": "a@b.org", "hour": 30}, headers=h).status_code == 422
    ok = web.put("/api/digest/subscription", json={"email": "ada@example.org", "frequency": "weekly"}, headers=h)
    assert ok.status_code == 200 and ok.json()["verification_sent"] and not ok.json()["verified"]
    made = web.post("/api/digest/searches", json={"title": "SSM", "query": '"state space"'}, headers=h)
    assert made.status_code == 201
    assert web.get("/api/digest/searches").json() == [
        {"id": made.json()["id"], "title": "SSM", "query": '"state space"'}
    ]
    assert web.delete(f"/api/digest/searches/{made.json()['id']}", headers=h).json()["deleted"]
    assert web.delete("/api/digest/searches/999", headers=h).status_code == 404


def test_cli_subscribe_preview_run_status(mail_engine, mail_settings, sink):
    from paperfeed.store import accounts

    accounts.create_user(mail_engine, "ada", "long enough password")
    runner = CliRunner()
    bad = runner.invoke(cli, ["digest", "subscribe", "ada", "--email", "nope"])
    assert bad.exit_code == 1 and "not an email address" in bad.output
    ok = runner.invoke(
        cli,
        [
            "digest",
            "subscribe",
            "ada",
            "--email",
            "ada@example.org",
            "--category",
            "cs.RO",
            "--search",
            "Robots=robot grasping",
            "--verified",
        ],
    )
    assert ok.exit_code == 0 and "active" in ok.output, ok.output
    shown = runner.invoke(cli, ["digest", "preview", "--user", "ada", "--date", "2025-03-31"])
    assert (
        shown.exit_code == 0 and "== New in cs.RO ==" in shown.output and "== Saved search: Robots ==" in shown.output
    )
    sent = runner.invoke(cli, ["digest", "run", "--now", NOW.isoformat()])
    assert sent.exit_code == 0 and "sent 1" in sent.output, sent.output
    assert sink.messages[0].get_body(("plain",)).get_content().replace("\r\n", "\n") == shown.output
    assert "sent: 1" in runner.invoke(cli, ["digest", "status"]).output
    assert runner.invoke(cli, ["digest", "run", "--now", "yesterday"]).exit_code == 2


def test_an_empty_preview_is_a_page_that_offers_the_newest_day(web, mail_engine):
    register(web, "ada")
    post(web, "/settings/digest", FORM, "/settings/digest")
    subs.mark_verified(mail_engine, 1, "ada@example.org")
    empty = web.get("/settings/digest/preview", params={"date": "2026-12-01"})  # long after the sample's papers
    assert empty.status_code == 200 and "text/html" in empty.headers["content-type"]
    assert "Nothing new for Tuesday, Dec 01, 2026" in empty.text and "<title>" in empty.text
    offered = re.search(r'href="(/settings/digest/preview\?date=[\d-]+)"', empty.text).group(1)
    assert offered.endswith("2025-03-31")
    assert "<table" in web.get(offered).text  # the digest for that day, as it would be sent
