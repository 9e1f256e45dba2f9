"""Accounts through HTTP: register, log in/out, passwords, deletion, CSRF, rate limits, admin, libraries."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.store import accounts, make_engine
from paperfeed.store.schema import library, sessions, upvotes, users
from paperfeed.web.app import create_app
from tests.web.conftest import PASSWORD, csrf, login, post, register


def test_passwords_are_hashed_as_shipped_with_argon2id_at_its_recommended_cost():
    """No `settings` here: the tests that use it hash at argon2's smallest cost (conftest.cheap_passwords)."""
    stored = accounts.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
    assert accounts._verify(stored, PASSWORD) and not accounts._verify(stored, PASSWORD + "!")


def count(settings, table) -> int:
    engine = make_engine(settings.db_url)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_register_log_out_log_in(client, settings):
    answer = register(client, "alice", email="alice@example.org")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "pf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the next test
    assert "alice" in client.get("/").text and "Log out" in client.get("/").text
    assert post(client, "/logout").status_code == 303
    assert "Log in" in client.get("/").text
    assert count(settings, sessions) == 0
    assert login(client, "alice", "wrong password").status_code == 401
    assert login(client).status_code == 303
    assert "alice" in client.get("/settings").text


def test_secure_cookies_when_configured(settings, data_dir):
    with TestClient(create_app(settings.model_copy(update={"secure_cookies": True}))) as c:
        assert "Secure" in register(c).headers["set-cookie"]


@pytest.mark.parametrize(
    ("name", "password", "email", "message"),
    [
        ("al", PASSWORD, "", "3 to 32"),
        ("<script>x</script>", PASSWORD, "", "3 to 32"),
        ("bob", "short", "", "at least 8"),
        ("bob", "password", "", "choose a harder password"),
        ("bob", " " * 8, "", "choose a harder password"),
        ("bob", "qwertyuiop", "", "choose a harder password"),
        ("bob", PASSWORD, "not-an-email", "not an email address"),
        ("bob", PASSWORD, "a@b.org\r\nBcc: x@y.org", "not an email address"),
    ],
)
def test_register_refuses_bad_input_clearly(client, name, password, email, message):
    answer = register(client, name, password, email)
    assert answer.status_code == 422
    assert message in answer.text
    assert "<script>x" not in answer.text


def test_usernames_are_unique(client, other):
    register(client, "alice")
    answer = register(other, "alice")
    assert answer.status_code == 422 and "taken" in answer.text


def test_usernames_are_one_name_whatever_their_case(client, other):
    register(client, "alice_t")
    assert "taken" in register(other, "ALICE_T").text
    post(client, "/logout")
    assert login(client, "Alice_T").status_code == 303  # the name as typed in any case logs in


def test_first_account_is_admin_and_can_hide_a_paper(client, other, sample_papers):
    register(client, "admin")
    register(other, "bob")
    pid = sample_papers[0].id
    assert post(other, f"/papers/{pid}/hide", {"hidden": "1"}).status_code == 403
    assert post(client, f"/papers/{pid}/hide", {"hidden": "1"}).status_code == 303
    assert other.get(f"/papers/{pid}").status_code == 404
    assert other.get(f"/api/papers/{pid}").status_code == 404
    assert pid not in other.get(f"/papers/date/{sample_papers[0].listed_date}").text
    title = sample_papers[0].title
    assert pid not in other.get("/search", params={"q": title}).text
    assert "Hidden by an admin" in client.get(f"/papers/{pid}").text
    post(client, f"/papers/{pid}/hide", {"hidden": "0"})
    assert other.get(f"/papers/{pid}").status_code == 200


def test_change_password_ends_other_sessions(client, other):
    register(client)
    login(other)
    assert "alice" in other.get("/settings").text
    answer = post(client, "/settings/password", {"current": "wrong", "new": "another long one"}, "/settings")
    assert answer.status_code == 422 and "current password is wrong" in answer.text
    answer = post(client, "/settings/password", {"current": PASSWORD, "new": "another long one"}, "/settings")
    assert answer.status_code == 200 and "Password changed" in answer.text
    assert other.get("/settings", follow_redirects=False).status_code == 303  # logged out
    assert "alice" in client.get("/settings").text  # this session stays
    assert login(other, "alice", PASSWORD).status_code == 401
    assert login(other, "alice", "another long one").status_code == 303


def test_delete_account_removes_its_data(client, settings, sample_papers):
    register(client)
    pid = sample_papers[0].id
    post(client, f"/papers/{pid}/upvote")
    post(client, f"/papers/{pid}/save", {"tags": "x"})
    assert (count(settings, upvotes), count(settings, library)) == (1, 1)
    assert post(client, "/settings/delete", {"password": "nope"}, "/settings").status_code == 422
    assert post(client, "/settings/delete", {"password": PASSWORD}, "/settings").status_code == 303
    assert [count(settings, t) for t in (users, sessions, upvotes, library)] == [0, 0, 0, 0]
    assert login(client).status_code == 401


STATE_CHANGING = [
    ("/register", {"username": "carol", "password": PASSWORD, "password2": PASSWORD}),
    ("/login", {"username": "alice", "password": PASSWORD}),
    ("/logout", {}),
    ("/papers/2503.11731/upvote", {}),
    ("/papers/2503.11731/save", {"tags": "x"}),
    ("/papers/2503.11731/hide", {"hidden": "1"}),
    ("/submit", {"paper": "1605.08386"}),
    ("/settings/password", {"current": PASSWORD, "new": "new password 123"}),
    ("/settings/delete", {"password": PASSWORD}),
    ("/settings/tokens", {"kind": "api", "name": "x"}),
    ("/settings/tokens/1/revoke", {}),
]


@pytest.mark.parametrize(("path", "data"), STATE_CHANGING)
def test_every_form_needs_its_csrf_token(client, settings, path, data):
    register(client)
    before = [count(settings, t) for t in (users, sessions, upvotes, library)]
    for token in (None, "forged"):
        form = dict(data) if token is None else {**data, "csrf_token": token}
        answer = client.post(path, data=form, follow_redirects=False)
        assert answer.status_code == 403, (path, token)
    assert [count(settings, t) for t in (users, sessions, upvotes, library)] == before
    assert "alice" in client.get("/settings").text  # still logged in, nothing changed


def test_a_token_from_another_session_is_refused(client, other):
    register(client)
    stolen = csrf(other)  # the attacker's own page's token, bound to their cookie
    answer = client.post("/papers/2503.11731/upvote", data={"csrf_token": stolen}, follow_redirects=False)
    assert answer.status_code == 403


def test_login_throttles_the_guesser_not_the_account(settings, data_dir):
    tight = settings.model_copy(update={"login_failures_per_account": 3, "login_failures_per_ip": 5})
    app = create_app(tight)
    with TestClient(app, client=("10.0.0.1", 1)) as attacker, TestClient(app, client=("10.0.0.2", 1)) as alice:
        register(alice, "alice")
        post(alice, "/logout")
        for _ in range(3):
            assert login(attacker, "alice", "wrong password").status_code == 401
        # The guesser waits now, even with the right password...
        blocked = login(attacker)
        assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= 2
        # ...but the account is not locked: its owner logs in from their own address.
        assert login(alice).status_code == 303
        # Other accounts from the guesser's address: the per-address limit ends the spree.
        for name in ("nobody", "nobody2"):
            assert login(attacker, name, "x").status_code == 401
        assert login(attacker, "someone-else", "x").status_code == 429


def test_upvote_once_per_user(client, other, sample_papers):
    pid = sample_papers[5].id
    register(client)
    register(other, "bob")
    for _ in range(3):
        post(client, f"/papers/{pid}/upvote", {"action": "up"})
    page = client.get(f"/papers/{pid}")
    assert 'aria-pressed="true"' in page.text and '<span class="count">1</span>' in page.text
    post(other, f"/papers/{pid}/upvote")
    assert '<span class="count">2</span>' in other.get(f"/papers/{pid}").text
    post(client, f"/papers/{pid}/upvote", {"action": "remove"})
    assert '<span class="count">1</span>' in client.get(f"/papers/{pid}").text


def test_anonymous_upvote_asks_to_log_in(client, sample_papers):
    pid = sample_papers[0].id
    answer = post(client, f"/papers/{pid}/upvote")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_library_with_tags_is_private(client, other, sample_papers):
    a, b = sample_papers[1].id, sample_papers[2].id
    register(client)
    register(other, "bob")
    post(client, f"/papers/{a}/save", {"tags": "to-read, Diffusion"})
    post(client, f"/papers/{b}/save", {"tags": "to-read"})
    lib = client.get("/library")
    assert a in lib.text and b in lib.text and "to-read (2)" in lib.text and "diffusion (1)" in lib.text
    tagged = client.get("/library/diffusion")
    assert a in tagged.text and f'id="p-{b}"' not in tagged.text
    # Bob sees none of it, and Alice's tag is not found in his library.
    assert a not in other.get("/library").text
    assert other.get("/library/diffusion").status_code == 404
    bad = post(client, f"/papers/{a}/save", {"tags": "<script>alert(1)</script>"})
    assert bad.status_code == 422 and "<script>alert" not in bad.text
    post(client, f"/papers/{a}/save", {"action": "remove"})
    assert f'id="p-{a}"' not in client.get("/library").text


def test_pages_that_need_an_account_redirect_to_login(client):
    pages = ("/library", "/settings", "/submit", "/settings/digest", "/settings/digest/preview", "/settings/taste")
    pages += ("/authors", "/notifications", "/groups", "/library/robotics", "/admin/sources", "/admin/comments")
    pages += ("/admin/claims",)
    for path in pages:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


def test_login_never_redirects_off_site(client):
    register(client)
    post(client, "/logout")
    data = {"username": "alice", "password": PASSWORD, "next": "//evil.example/x", "csrf_token": csrf(client)}
    answer = client.post("/login", data=data, follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_a_user_cannot_revoke_another_users_token(client, other):
    register(client)
    register(other, "bob")
    post(client, "/settings/tokens", {"kind": "api", "name": "alice's"}, "/settings")
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", client.get("/settings").text).group(1)
    assert post(other, f"/settings/tokens/{token_id}/revoke", page="/settings").status_code == 404
    assert "alice&#39;s" in client.get("/settings").text


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "Daily Papers — Monday, Mar 31, 2025 · paperfeed"),
        ("/papers/week/2025-W12", "Weekly Papers — Week of Mar 17, 2025 · paperfeed"),
        ("/trending", "Trending papers · paperfeed"),
        ("/search", "Search · paperfeed"),
        ("/search?q=graph", "graph — Search · paperfeed"),
        ("/papers/2503.11731", "Industrial-Grade Sensor Simulation via Gaussian Splatting"),
        ("/login", "Log in · paperfeed"),
        ("/register", "Sign up · paperfeed"),
        ("/settings", "Settings · paperfeed"),
        ("/library", "Library · paperfeed"),
        ("/submit", "Submit a paper · paperfeed"),
        ("/papers/2501.99999", "Not found · paperfeed"),
    ],
)
def test_every_page_has_a_sensible_title(client, path, title):
    register(client)
    assert f"<title>{title}" in client.get(path).text


def test_sql_and_html_in_login_fields_are_just_wrong_credentials(client):
    register(client)
    post(client, "/logout")
    for name, password in (("alice' OR '1'='1' --", "x"), ("alice", "' OR '1'='1"), ("<script>alert(1)</script>", "x")):
        answer = login(client, name, password)
        assert answer.status_code == 401 and "<script>alert(1)" not in answer.text
    assert login(client).status_code == 303  # the account is untouched
