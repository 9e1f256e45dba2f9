"""The web app over a private copy of the indexed 466-paper sample (real SQLite file, real indexes)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@pytest.fixture
def app(data_dir, settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def other(app):
    """A second browser: its own cookies."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def days(sample_papers):
    return sorted({p.listed_date for p in sample_papers})


def csrf(client, path: str = "/login") -> str:
    return CSRF.search(client.get(path).text).group(1)


def register(client, name: str = "alice", password: str = PASSWORD, email: str = ""):
    data = {"username": name, "password": password, "password2": password, "email": email}
    return client.post("/register", data={**data, "csrf_token": csrf(client, "/register")}, follow_redirects=False)


def login(client, name: str = "alice", password: str = PASSWORD):
    data = {"username": name, "password": password, "csrf_token": csrf(client)}
    return client.post("/login", data=data, follow_redirects=False)


def post(client, path: str, data: dict | None = None, page: str = "/"):
    """A form POST carrying the CSRF token of `page`, as a browser would send it."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf(client, page)}, follow_redirects=False)


TOKEN = re.compile(r'<code class="token">(pf_\w+_[\w-]+)</code>')


def api_token(client, kind: str = "api", name: str = "script") -> str:
    page = post(client, "/settings/tokens", {"kind": kind, "name": name}, "/settings")
    return TOKEN.search(page.text).group(1)
