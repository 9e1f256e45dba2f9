"""Webhooks against a real HTTP receiver on loopback: a 500 then a 200 is sent once, a timeout is retried later
while the other hooks are served, a 404 disables the hook with the reason on the user's page, Slack and
Discord get their shapes, private addresses are refused unless allowed, and another user's hook is 404."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from paperfeed.digest import webhooks
from paperfeed.store import accounts, make_engine, marks
from paperfeed.store import hooks as store_hooks
from tests.web.conftest import post, register

T0 = datetime(2026, 12, 1, 9, 0)


class Receiver:
    """Answers each POST with the next scripted status ("slow" sleeps past the client's timeout, then 200)."""

    def __init__(self, script: list):
        self.script, self.bodies, self.lock = list(script), [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    step = receiver.script.pop(0) if receiver.script else 200
                    receiver.bodies.append((self.path, body, step))
                if step == "slow":
                    time.sleep(1.5)
                    step = 200
                self.send_response(step)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(script):
        made.append(Receiver(script))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def loopback(settings):
    settings.webhook_allow_private = True  # the receivers live on 127.0.0.1
    settings.webhook_timeout = 0.5
    return settings


@pytest.fixture
def ada(service, sample_papers):
    """A user who liked two vision papers, so her For you has a top N."""
    user = accounts.create_user(service.engine, "ada", "correct horse battery")
    for p in [p for p in sample_papers if "cs.CV" in p.categories][:2]:
        marks.set_upvote(service.engine, user, p.id, True)
    return user


def test_a_500_then_a_200_is_sent_once(service, loopback, ada, receiver):
    r = receiver([500, 200])
    webhooks.add(service.engine, loopback, ada, r.url(), "json", 3)
    first = webhooks.run(service.engine, loopback, service, now=T0)
    assert (first.sent, first.retrying) == (0, 1)
    assert webhooks.run(service.engine, loopback, service, now=T0 + timedelta(seconds=30)).sent == 0  # not due
    later = webhooks.run(service.engine, loopback, service, now=T0 + timedelta(seconds=61))
    assert later.sent == 1
    assert webhooks.run(service.engine, loopback, service, now=T0 + timedelta(hours=5)).sent == 0
    assert [step for _, _, step in r.bodies] == [500, 200]
    body = r.bodies[-1][1]
    assert body["date"] == "2025-03-31" and len(body["papers"]) == 3
    assert all(
        p["url"].endswith(f"/papers/{p['id']}") and p["why"].startswith("Because you liked") for p in body["papers"]
    )
    (hook,) = store_hooks.hooks_of(service.engine, ada.id)
    assert hook.last["status"] == "sent" and hook.last["attempts"] == 2


def test_a_timeout_is_retried_and_never_holds_up_the_others(service, loopback, ada, receiver, sample_papers):
    slow, fine = receiver(["slow"]), receiver([200])
    bob = accounts.create_user(service.engine, "bob", "correct horse battery")
    marks.set_upvote(service.engine, bob, sample_papers[0].id, True)
    webhooks.add(service.engine, loopback, ada, slow.url(), "json", 2)
    webhooks.add(service.engine, loopback, bob, fine.url(), "json", 2)
    report = webhooks.run(service.engine, loopback, service, now=T0)
    assert (report.sent, report.retrying) == (1, 1) and len(fine.bodies) == 1
    (hook,) = store_hooks.hooks_of(service.engine, ada.id)
    assert hook.last["status"] == "pending" and "Timeout" in hook.last["last_error"]


def test_a_404_disables_the_hook_with_the_reason_shown(client, loopback, receiver, sample_papers, service):
    r = receiver([404])
    register(client, "ada")
    for p in [p for p in sample_papers if "cs.CV" in p.categories][:2]:
        post(client, f"/papers/{p.id}/upvote", {"next": "/"})
    page = post(client, "/settings/taste/hooks", {"url": r.url(), "shape": "slack", "top_n": "3"}, "/settings/taste")
    assert page.status_code == 200 and "Webhook added" in page.text
    report = webhooks.run(service.engine, loopback, service, now=T0)
    assert report.disabled == 1
    shown = client.get("/settings/taste").text
    assert "disabled</strong>: the receiver answered HTTP 404" in shown
    assert webhooks.run(service.engine, loopback, service, now=T0 + timedelta(days=1)).sent == 0  # stays off
    hook_id = store_hooks.hooks_of(service.engine, 1)[0].id
    assert post(client, f"/settings/taste/hooks/{hook_id}/enable", page="/settings/taste").status_code == 200
    assert "disabled</strong>" not in client.get("/settings/taste").text


def test_slack_and_discord_get_their_shapes(service, loopback, ada, receiver):
    slack, discord = receiver([200]), receiver([200])
    webhooks.add(service.engine, loopback, ada, slack.url(), "slack", 2)
    webhooks.add(service.engine, loopback, ada, discord.url(), "discord", 2)
    assert webhooks.run(service.engine, loopback, service, now=T0).sent == 2
    s, d = slack.bodies[0][1], discord.bodies[0][1]
    assert s["text"].startswith("Your papers for 2025-03-31") and s["blocks"][0]["type"] == "header"
    assert all(b["text"]["type"] == "mrkdwn" and b["text"]["text"].startswith("*<http") for b in s["blocks"][1:])
    assert len(d["embeds"]) == 2 and all(e["url"] and e["title"] for e in d["embeds"])
    assert d["allowed_mentions"] == {"parse": []}  # a title with @everyone pings nobody


def test_bad_and_private_urls_are_refused(service, settings, ada):
    for url, words in (
        ("http://127.0.0.1:9/hook", "private or local"),
        ("http://10.1.2.3/hook", "private or local"),
        ("http://[::1]/hook", "private or local"),
        ("http://169.254.169.254/latest/meta-data", "private or local"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://user:pw@example.org/hook", "no user name or password"),
    ):
        with pytest.raises(webhooks.HookError, match=words):
            webhooks.add(service.engine, settings, ada, url, "json", 3)
    with pytest.raises(webhooks.HookError, match="between 1 and 10"):
        webhooks.add(service.engine, settings, ada, "https://example.org/h", "json", 50)
    assert store_hooks.hooks_of(service.engine, ada.id) == []


def test_another_users_hook_is_404(client, other, loopback, receiver):
    r = receiver([])
    register(client, "ada")
    post(client, "/settings/taste/hooks", {"url": r.url(), "shape": "json", "top_n": "3"}, "/settings/taste")
    engine = make_engine(loopback.db_url)
    hook_id = store_hooks.hooks_of(engine, 1)[0].id
    register(other, "bob")
    for action in ("delete", "enable"):
        assert post(other, f"/settings/taste/hooks/{hook_id}/{action}", page="/settings/taste").status_code == 404
    assert len(store_hooks.hooks_of(engine, 1)) == 1


def test_addresses_inside_ipv6_and_odd_urls_are_judged_by_what_they_reach(service, settings, ada):
    import ipaddress

    for text in ("::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "fe80::1", "::1"):
        assert not webhooks.public(ipaddress.ip_address(text)), text
    assert webhooks.public(ipaddress.ip_address("2606:4700::1111")) and webhooks.public(ipaddress.ip_address("1.1.1.1"))
    for url, words in (
        ("http://localhost:8080/hook", "private or local"),
        ("http://example.org:99999/hook", "port in that URL"),
        ("http://example.org:abc/hook", "port in that URL"),
        ("http://example.org:0/hook", "port in that URL"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://0.0.0.0:8080/hook", "unspecified"),
        ("http://no-such-host.invalid/hook", "no such host"),
    ):
        with pytest.raises(webhooks.HookError, match=words):
            webhooks.add(service.engine, settings, ada, url, "json", 3)


def test_multicast_and_port_0_are_refused_even_where_private_addresses_are_allowed():
    for url in (
        "http://224.0.0.1/hook",
        "http://239.255.255.250:1900/",
        "http://255.255.255.255/x",
        "http://[::ffff:224.0.0.1]/",
    ):
        with pytest.raises(webhooks.HookError, match="multicast, broadcast or unspecified"):
            webhooks.check_url(url, True)
    with pytest.raises(webhooks.HookError, match="port in that URL"):
        webhooks.check_url("http://127.0.0.1:0/hook", True)


def test_the_post_goes_to_the_address_that_was_checked(loopback, receiver):
    """The name is resolved once: the request is sent to that address with the name in the Host header."""
    r = receiver([200])
    target = webhooks.check_url(f"http://localhost:{r.server.server_port}/x?k=1", True)
    url, headers, extensions = target.request()
    assert url.startswith(f"http://{'[::1]' if target.ip.version == 6 else '127.0.0.1'}:")
    assert url.endswith("/x?k=1") and headers == {"Host": f"localhost:{r.server.server_port}"} and extensions == {}


def test_a_receiver_that_drips_its_answer_is_cut_off(loopback):
    """httpx's timeout is per read: a byte every 0.3 s would hold the POST forever; the delivery's own
    deadline (twice the timeout) ends it."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def drip():
        conn, _ = server.accept()
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
            try:
                conn.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.3)

    threading.Thread(target=drip, daemon=True).start()
    target = webhooks.check_url(f"http://127.0.0.1:{server.getsockname()[1]}/", True)
    start = time.monotonic()
    with httpx.Client(timeout=0.5) as sender, pytest.raises(httpx.TimeoutException, match="."):
        webhooks.post_within(sender, target, {"a": 1}, 1.0)
    assert time.monotonic() - start < 2.0
    server.close()


def test_two_schedulers_send_a_day_once_and_a_stale_claim_changes_nothing(service, loopback, ada, receiver):
    r = receiver([200, 200])
    hook = webhooks.add(service.engine, loopback, ada, r.url(), "json", 2)
    store_hooks.plan_day(service.engine, date(2025, 3, 31), T0)
    first = store_hooks.take(service.engine, hook.id, date(2025, 3, 31), T0, 60)
    assert first == 1 and store_hooks.take(service.engine, hook.id, date(2025, 3, 31), T0, 60) is None
    later = T0 + timedelta(seconds=61)  # the first claimer died: the row is taken again, as attempt 2
    assert store_hooks.take(service.engine, hook.id, date(2025, 3, 31), later, 60) == 2
    assert not store_hooks.finish(service.engine, hook.id, date(2025, 3, 31), T0, status="sent")  # too late
    assert store_hooks.finish(service.engine, hook.id, date(2025, 3, 31), later, status="sent")
    assert webhooks.run(service.engine, loopback, service, now=later + timedelta(hours=1)).sent == 0
    assert r.bodies == []
