"""The MCP server (web/agents.py) through the official SDK's own client, over both transports: `paperfeed mcp`
as a subprocess on stdio, and streamable HTTP at /mcp on a real `paperfeed serve`."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

import anyio
import httpx2
import pytest

from paperfeed.store import accounts, make_engine
from paperfeed.store import queries as q
from tests.conftest import new_store, served, store_env

if TYPE_CHECKING:
    from mcp import Client

# In one worker, as the one server the module starts is shared by its tests.
pytestmark = pytest.mark.xdist_group("agents")

TOOLS = {
    "search_papers",
    "daily_papers",
    "get_paper",
    "similar_papers",
    "recommend",
    "library_list",
    "library_add",
    "upvote",
}
GIBBERISH = "qwertyuiop asdfgh zxcvbnm"


@pytest.fixture(scope="module")
def store(tmp_path_factory, indexed_dir, postgres):
    """A copy of the indexed sample, with a user and an API token for her."""
    data = tmp_path_factory.mktemp("agents") / "data"
    shutil.copytree(indexed_dir, data)
    engine = make_engine(new_store(postgres, data, sample=True))
    ada = accounts.create_user(engine, "ada", "correct horse battery")
    token = accounts.create_token(engine, ada, "api", "assistant")
    with engine.connect() as conn:
        day = q.latest_day(conn)
    engine.dispose()
    return data, token, day


# The first For you of a process imports scikit-learn and fits the user's model: 7.6 s on an idle machine here,
# and past the 10-s query limit once when both passes of `make test` and a browser shared the two cores. These
# tests are about the tools, not that limit (tests/web/test_hardening.py checks the answer past it).
SLOW_MACHINE = {"query_timeout": 60}


@pytest.fixture(scope="module")
def http_url(store, model_cache):
    with served(store[0], model_cache, **SLOW_MACHINE) as url:
        yield url + "/mcp"


# The SDK is imported where a client is made: at the top it cost 0.6 s of every test process's collection.
def stdio(store, model_cache, token: str = "") -> Client:
    from mcp import Client, StdioServerParameters

    data = store[0]
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data), "PAPERFEED_MODEL_CACHE_DIR": str(model_cache)}
    env |= store_env(data) | {"PAPERFEED_TOKEN": token, "PAPERFEED_QUERY_TIMEOUT": str(SLOW_MACHINE["query_timeout"])}
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "paperfeed", "mcp"], env=env))


def http(url: str, token: str = "") -> Client:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


async def session(client: Client, store) -> dict:
    """One assistant's session: every tool once, with the answers worth checking."""
    _, _, day = store
    out = {}
    async with client:
        out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
        found = await client.call_tool("search_papers", {"query": "large language models", "limit": 5})
        out["search"] = found.structured_content
        out["gibberish"] = (await client.call_tool("search_papers", {"query": GIBBERISH})).structured_content
        out["day"] = (await client.call_tool("daily_papers", {"date": str(day), "limit": 5})).structured_content
        first = out["day"]["papers"][0]["id"]
        out["paper"] = await client.call_tool("get_paper", {"paper_id": first})
        out["resource"] = await client.read_resource(f"paper://{first}")
        out["similar"] = (await client.call_tool("similar_papers", {"paper_id": first, "limit": 3})).structured_content
        out["unknown"] = await client.call_tool("get_paper", {"paper_id": "2501.99999"})
        out["invalid"] = await client.call_tool("daily_papers", {"limit": 5000})
        out["saved"] = await client.call_tool("library_add", {"paper_id": first, "tags": ["agents"]})
        out["library"] = await client.call_tool("library_list", {"tag": "agents"})
        out["upvote"] = await client.call_tool("upvote", {"paper_id": first})
        out["recommend"] = await client.call_tool("recommend", {"date": str(day), "limit": 3})
        out["after_errors"] = (await client.call_tool("daily_papers", {"limit": 1})).structured_content
    out["first"] = first
    return out


def check_reads(out: dict, store) -> None:
    assert set(out["tools"]) == TOOLS
    assert all(t.description and t.input_schema["type"] == "object" for t in out["tools"].values())
    assert out["tools"]["search_papers"].annotations.read_only_hint is True
    assert out["tools"]["upvote"].annotations.read_only_hint is False
    assert out["search"]["match"] == "good" and len(out["search"]["results"]) == 5
    assert {"id", "title", "authors", "url", "score", "lexical", "dense"} <= set(out["search"]["results"][0])
    # The page's verdict, not a bare 1.0: gibberish is "weak" or "none", with the page's sentence.
    assert out["gibberish"]["match"] in ("weak", "none") and out["gibberish"]["matchNote"]
    assert out["day"]["period"] == str(store[2]) and out["day"]["total"] >= len(out["day"]["papers"]) == 5
    text = out["paper"].content[0].text
    assert not out["paper"].is_error and text.startswith("# ") and "## Abstract" in text and "```bibtex" in text
    assert out["resource"].contents[0].text == text
    assert out["similar"]["of"] == out["first"] and len(out["similar"]["results"]) == 3
    assert out["first"] not in {r["id"] for r in out["similar"]["results"]}
    # Errors are MCP tool errors the model can read, and the server goes on answering.
    assert out["unknown"].is_error and "no paper 2501.99999" in out["unknown"].content[0].text
    assert out["invalid"].is_error and "limit" in out["invalid"].content[0].text
    assert len(out["after_errors"]["papers"]) == 1


def check_writes(out: dict) -> None:
    assert not out["saved"].is_error and out["saved"].structured_content["tags"] == ["agents"]
    assert [p["id"] for p in out["library"].structured_content["papers"]] == [out["first"]]
    assert out["upvote"].structured_content["upvoted"] is True
    ranked = out["recommend"].structured_content
    assert not out["recommend"].is_error and ranked["needsLikes"] is False and len(ranked["results"]) == 3
    assert all(r["reason"] for r in ranked["results"])


def check_refused(out: dict) -> None:
    for name in ("saved", "library", "upvote", "recommend"):
        assert out[name].is_error and "needs an API token" in out[name].content[0].text, name


@pytest.mark.process
def test_stdio_with_a_token_reads_and_writes(store, model_cache):
    out = anyio.run(session, stdio(store, model_cache, store[1]), store)
    check_reads(out, store)
    check_writes(out)


@pytest.mark.process
def test_stdio_without_a_token_reads_only(store, model_cache):
    out = anyio.run(session, stdio(store, model_cache), store)
    check_reads(out, store)
    check_refused(out)


def test_http_with_a_token_reads_and_writes(store, http_url):
    out = anyio.run(session, http(http_url, store[1]), store)
    check_reads(out, store)
    check_writes(out)


def test_http_without_a_token_reads_only_and_a_bad_token_is_refused(store, http_url):
    out = anyio.run(session, http(http_url), store)
    check_reads(out, store)
    check_refused(out)

    async def with_bad_token():
        async with http(http_url, "not-a-token") as client:
            return await client.call_tool("daily_papers", {"limit": 1})

    answer = anyio.run(with_bad_token)
    assert answer.is_error and "unknown or revoked API token" in answer.content[0].text


def test_writes_are_limited_per_user(store, http_url):
    async def many():
        async with http(http_url, store[1]) as client:
            day = (await client.call_tool("daily_papers", {"limit": 1})).structured_content
            pid = day["papers"][0]["id"]
            return [await client.call_tool("upvote", {"paper_id": pid, "on": n % 2 == 0}) for n in range(40)]

    answers = anyio.run(many)
    refused = [a for a in answers if a.is_error]
    assert refused and "a minute" in refused[0].content[0].text
    assert sum(not a.is_error for a in answers) <= 30


@pytest.mark.process
def test_a_bad_stdio_token_is_one_line_before_serving(store, model_cache):
    import subprocess

    env = {**os.environ, "PAPERFEED_DATA_DIR": str(store[0]), "PAPERFEED_TOKEN": "nope"} | store_env(store[0])
    proc = subprocess.run([sys.executable, "-m", "paperfeed", "mcp"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown or revoked API token" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_the_apps_shutdown_handlers_still_run(app):
    """The MCP endpoint needs a lifespan, and a lifespan replaces FastAPI's running of shutdown handlers:
    `paperfeed serve` stops its index keeper, sync and library readers in one, so they must still run."""
    from fastapi.testclient import TestClient

    ran = []
    app.router.add_event_handler("startup", lambda: ran.append("startup"))
    app.router.add_event_handler("shutdown", lambda: ran.append("shutdown"))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code in (200, 503)
        assert ran == ["startup"]
    assert ran == ["startup", "shutdown"]


def test_a_hidden_neighbour_is_left_out_of_similar_papers(store, http_url):
    """The index still holds a paper an admin hid: similar_papers leaves it out instead of failing."""
    from paperfeed.store import marks

    async def similar(pid):
        async with http(http_url) as client:
            return await client.call_tool("similar_papers", {"paper_id": pid, "limit": 5})

    async def first_id():
        async with http(http_url) as client:
            return (await client.call_tool("daily_papers", {"limit": 1})).structured_content["papers"][0]["id"]

    pid = anyio.run(first_id)
    before = anyio.run(similar, pid).structured_content["results"]
    engine = make_engine(store_env(store[0]).get("PAPERFEED_DATABASE_URL") or f"sqlite:///{store[0] / 'paperfeed.db'}")
    with engine.connect() as conn:
        admin = accounts.get_user(conn, "ada")
    marks.set_hidden(engine, admin, before[0]["id"], True)
    try:
        after = anyio.run(similar, pid)
        assert not after.is_error, after.content
        assert before[0]["id"] not in {r["id"] for r in after.structured_content["results"]}
    finally:
        marks.set_hidden(engine, admin, before[0]["id"], False)
        engine.dispose()


def test_the_mcp_sdk_is_loaded_on_the_first_mcp_request_not_when_the_app_starts(engine):
    """Most servers are never asked for /mcp: starting the app and serving a page leaves the SDK unloaded (and
    what only For you, sign-ups and feeds use: scipy, zxcvbn, feedgen, 0.2 s of every server's start)."""
    import subprocess

    check = (
        "import sys; from fastapi.testclient import TestClient; from paperfeed.web.app import create_app\n"
        "unused = ('mcp', 'scipy', 'zxcvbn', 'feedgen')\n"
        "with TestClient(create_app()) as c:\n"
        "    page = c.get('/').status_code; before = ','.join(m for m in unused if m in sys.modules) or '-'\n"
        "    asked = c.post('/mcp', json={}, headers={'accept': 'application/json, text/event-stream'}).status_code\n"
        "print(page, before, 'mcp' in sys.modules, asked)"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120, env=os.environ)
    page, before, after, asked = out.stdout.split()
    assert (page, before, after) == ("200", "-", "True"), out.stderr[-2000:]
    assert asked == "400", (asked, out.stderr[-2000:])  # the SDK itself refuses an empty message: built, answering
