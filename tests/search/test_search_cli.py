import json

from typer.testing import CliRunner

from paperfeed.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_ingest_indexes_and_the_cli_searches(settings, monkeypatch):
    monkeypatch.setenv("PAPERFEED_INDEX_AFTER_INGEST", "true")
    from paperfeed.config import get_settings

    get_settings.cache_clear()
    result = invoke("ingest", "hf-daily", FIXTURES / "hf-daily" / "daily_papers_2024-10-25.json")
    assert result.exit_code == 0, result.output
    assert "index: added 29, updated 0, removed 0 (embedded 29, vectors reused 0)" in result.output

    found = invoke("search", "memory barrier contrastive loss batch size", "--json", "--limit", "3")
    assert found.exit_code == 0, found.output
    rows = [json.loads(line) for line in found.output.splitlines()]
    assert rows[0]["id"] == "2410.17243" and rows[0]["title"].startswith("Breaking the Memory Barrier")
    assert len(rows) == 3 and rows[0]["score"] >= rows[1]["score"]

    text = invoke("search", "memory barrier contrastive loss", "--limit", "1")
    assert "Breaking the Memory Barrier" in text.output and "2410.17243" in text.output

    similar = invoke("similar", "2410.17243", "--json", "--limit", "5")
    ids = [json.loads(line)["id"] for line in similar.output.splitlines()]
    assert len(ids) == 5 and "2410.17243" not in ids

    assert invoke("similar", "1234.56789").exit_code == 1
    bad = invoke("search", "foo:bar")
    assert bad.exit_code == 2 and "unknown qualifier foo:" in bad.output

    rebuilt = invoke("index", "--rebuild")
    assert "added 29, updated 0, removed 0 (embedded 0, vectors reused 29)" in rebuilt.output
    after = invoke("search", "memory barrier contrastive loss batch size", "--json", "--limit", "3")
    assert after.output == found.output
