"""The JSON API through HTTP: shapes, errors with the field named, tokens, upvotes, libraries."""

import json
import re

import pytest

from tests.web.conftest import api_token, post, register


def test_daily_papers_has_hugging_face_shape(client, sample_papers, days):
    answer = client.get("/api/daily_papers", params={"date": str(days[0]), "limit": 100})
    assert answer.status_code == 200
    items = answer.json()
    assert {i["paper"]["id"] for i in items} == {p.id for p in sample_papers if p.listed_date == days[0]}
    first = items[0]
    assert set(first) >= {"paper", "publishedAt", "title", "summary"}
    assert first["title"] == first["paper"]["title"] and first["summary"] == first["paper"]["summary"]
    assert set(first["paper"]) >= {"id", "title", "summary", "authors", "publishedAt", "upvotes", "categories"}
    assert all(set(a) == {"name"} for a in first["paper"]["authors"])
    assert first["paper"]["links"]["page"].endswith(f"/papers/{first['paper']['id']}")
    latest = client.get("/api/daily_papers", params={"limit": 5, "offset": 5}).json()
    assert len(latest) == 5 and all(i["paper"]["listedDate"] == str(days[-1]) for i in latest)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/daily_papers", {"date": "2025-02-30"}, "date"),
        ("/api/daily_papers", {"limit": 1000}, "limit"),
        ("/api/daily_papers", {"sort": "random"}, "sort"),
        ("/api/search", {"q": "x", "mode": "magic"}, "mode"),
        ("/api/search", {"q": "x", "since": "last week"}, "since"),
        ("/api/search", {"q": '"unbalanced'}, None),
        ("/api/search", {"q": "x", "since": "2025-03-30", "until": "2025-03-01"}, "q"),
        ("/api/search", {"q": "x", "category": "cs.LG' OR 1=1 --"}, "category"),
        ("/api/papers/2503.11731/similar", {"limit": 0}, "limit"),
    ],
)
def test_invalid_parameters_are_422_naming_the_field(client, path, params, field):
    answer = client.get(path, params=params)
    if field is None:  # an unbalanced quote is forgiven: results plus a note
        assert answer.status_code == 200 and answer.json()["notes"]
        return
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert any(d["loc"][-1] == field for d in detail), detail
    assert all(d["msg"] for d in detail)


def test_unknown_and_malformed_ids(client):
    missing = client.get("/api/papers/2501.99999")
    assert missing.status_code == 404 and missing.json() == {"detail": "no paper 2501.99999"}
    malformed = client.get("/api/papers/not-an-id!")
    assert malformed.status_code == 422 and "not a paper id" in malformed.json()["detail"]
    assert client.get("/api/papers/2501.99999/similar").status_code == 404
    assert client.get("/api/nothing-here").status_code == 404


def test_paper_by_any_id_form(client, sample_papers):
    pid = sample_papers[3].id
    for form in (pid, f"{pid}v1", f"arXiv:{pid}"):
        answer = client.get(f"/api/papers/{form}")
        assert answer.status_code == 200 and answer.json()["id"] == pid


def test_search_and_similar(client, sample_papers):
    target = sample_papers[10]
    found = client.get("/api/search", params={"q": target.title, "limit": 5}).json()
    assert found["results"][0]["paper"]["id"] == target.id
    assert found["total"] >= 5 and len(found["results"]) == 5
    assert {"score", "lexical", "dense"} <= set(found["results"][0])
    cl = client.get("/api/search", params={"q": "language", "category": "cs.CL", "limit": 50}).json()
    assert cl["results"] and all("cs.CL" in r["paper"]["categories"] for r in cl["results"])
    similar = client.get(f"/api/papers/{target.id}/similar").json()
    assert len(similar) == 10 and target.id not in {s["paper"]["id"] for s in similar}
    assert [s["score"] for s in similar] == sorted((s["score"] for s in similar), reverse=True)
    huge = client.get("/api/search", params={"q": "graph " * 2000})
    assert huge.status_code in (200, 422)
    assert "results" in huge.json() or "detail" in huge.json()


def test_upvote_needs_authentication_and_counts_once(client, sample_papers):
    pid = sample_papers[0].id
    assert client.post(f"/api/papers/{pid}/upvote").status_code == 401
    register(client)
    token = api_token(client)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        answer = client.post(f"/api/papers/{pid}/upvote", headers=headers)
        assert answer.status_code == 200 and answer.json()["upvotes"] == 1
    assert client.get(f"/api/papers/{pid}").json()["upvotes"] == 1
    assert client.delete(f"/api/papers/{pid}/upvote", headers=headers).json()["upvotes"] == 0
    assert client.post("/api/papers/2501.99999/upvote", headers=headers).status_code == 404


def test_browser_session_writes_need_the_csrf_header(client, sample_papers):
    register(client)
    pid = sample_papers[0].id
    assert client.post(f"/api/papers/{pid}/upvote").status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    answer = client.post(f"/api/papers/{pid}/upvote", headers={"X-CSRF-Token": token})
    assert answer.status_code == 200


def test_tokens_are_revocable(client):
    register(client)
    token = api_token(client, name="<b>laptop</b>")
    settings_page = client.get("/settings").text
    assert "&lt;b&gt;laptop&lt;/b&gt;" in settings_page and "<b>laptop" not in settings_page
    assert token not in settings_page  # shown once, stored hashed
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/library", headers=headers).status_code == 200
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", settings_page).group(1)
    post(client, f"/settings/tokens/{token_id}/revoke", page="/settings")
    answer = client.get("/api/library", headers=headers)
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    assert client.get("/api/library", headers={"Authorization": "Bearer pf_api_forged"}).status_code == 401


def test_library_endpoints_and_other_users(client, other, sample_papers):
    a, b = sample_papers[0].id, sample_papers[1].id
    register(client)
    register(other, "bob")
    alice = {"Authorization": f"Bearer {api_token(client)}"}
    bob = {"Authorization": f"Bearer {api_token(other)}"}
    assert client.put(f"/api/library/{a}", json={"tags": ["to-read", "GNN"]}, headers=alice).json() == {
        "id": a,
        "tags": ["to-read", "gnn"],
        "saved": True,
        "note": None,
        "state": None,
    }
    client.put(f"/api/library/{b}", json={"tags": []}, headers=alice)
    mine = client.get("/api/library", headers=alice).json()
    assert {m["paper"]["id"] for m in mine} == {a, b}
    assert [m["paper"]["id"] for m in client.get("/api/library", params={"tag": "gnn"}, headers=alice).json()] == [a]
    # Bob cannot see or remove Alice's papers.
    assert client.get("/api/library", headers=bob).json() == []
    assert client.delete(f"/api/library/{a}", headers=bob).status_code == 404
    assert len(client.get("/api/library", headers=alice).json()) == 2
    bad = client.put(f"/api/library/{a}", json={"tags": ["no spaces allowed"]}, headers=alice)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "tags"]
    assert client.put(f"/api/library/{a}", json={"tags": "x"}, headers=alice).status_code == 422
    assert client.delete(f"/api/library/{a}", headers=alice).json() == {"id": a, "saved": False}
    client.cookies.clear()
    assert client.get("/api/library").status_code == 401


def test_openapi_docs_work_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "https://" not in docs.text  # nothing from a CDN
    assets = re.findall(r'(?:src|href)="(/static/swagger-ui/[^"]+)"', docs.text)
    assert len(assets) >= 2
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    spec = client.get("/openapi.json").json()
    for path in ("/api/daily_papers", "/api/search", "/api/papers/{paper_id}", "/api/library"):
        assert path in spec["paths"], path


def test_daily_papers_carry_hugging_face_fields(client, settings, sample_papers):
    """HF's own field names for what HF told us: githubRepo/githubStars/projectPage/ai_keywords on the paper,
    numComments and submittedBy on the item."""
    import json

    from paperfeed.ingest import hf_archive
    from paperfeed.store import make_engine
    from paperfeed.store.importer import Importer
    from tests.conftest import ARCHIVE

    engine = make_engine(settings.db_url)
    Importer(engine).run(hf_archive.read(ARCHIVE), "hf-archive", str(ARCHIVE))
    engine.dispose()
    listed = {p.id: p.listed_date for p in sample_papers}
    rows = [json.loads(x) for x in ARCHIVE.read_text().splitlines()]
    raw = next(r for r in rows if r["arxiv_id"] in listed and r["github_repo"] and r["submitted_by"])
    items = client.get(f"/api/daily_papers?date={listed[raw['arxiv_id']]}&limit=100").json()
    item = next(i for i in items if i["paper"]["id"] == raw["arxiv_id"])
    assert item["numComments"] == raw["num_comments"] and item["submittedBy"]["name"] == raw["submitted_by"]
    assert item["paper"]["githubRepo"] == raw["github_repo"]
    assert item["paper"].get("githubStars") == raw["github_stars"]  # absent where HF did not know, as HF does
    assert item["paper"]["externalUpvotes"] == raw["upvotes"]


def test_daily_papers_pages_only_so_deep(client):
    """HF's paging (`p`) cannot make one anonymous request load a million papers."""
    deep = client.get("/api/daily_papers?month=2025-03&limit=100&p=200")
    assert deep.status_code == 422 and "at most the first 10,000 papers" in deep.text
    assert client.get("/api/daily_papers?month=2025-03&limit=100&p=1").status_code == 200


def test_search_says_whether_anything_matches_as_the_page_does(client, sample_papers):
    """A script or an agent reading the JSON learns what a person reading the page does: gibberish gets
    results, but "weak" with the page's sentence, never a bare top score of 1.0 that reads as perfect."""
    from typer.testing import CliRunner

    from paperfeed.cli import app as cli

    cases = {sample_papers[3].title: "good", "qwertyuiop asdfgh zxcvbnm": "weak"}
    for query, want in cases.items():
        answer = client.get("/api/search", params={"q": query, "limit": 5}).json()
        assert answer["match"] == want and answer["goodMatch"] == (want == "good")
        assert ("No good match" in answer["matchNote"]) == (want == "weak") and answer["results"]
        page = client.get("/search", params={"q": query}).text
        assert ("No good match" in page) == (want == "weak")
        printed = CliRunner().invoke(cli, ["search", query, "--json", "--limit", "5"])
        records = [json.loads(line) for line in printed.stdout.splitlines()]
        assert records and {r["match"] for r in records} == {want}
        assert [r["id"] for r in records] == [r["paper"]["id"] for r in answer["results"]]
        assert all(r["dense"] is None or -1 <= r["dense"] <= 1 for r in records)  # the leg's own cosine
    none = client.get("/api/search", params={"q": "robot", "since": "2199-01-01"}).json()
    assert none["match"] == "none" and none["results"] == []
