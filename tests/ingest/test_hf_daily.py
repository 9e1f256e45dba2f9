from datetime import date

import httpx
import pytest

from paperfeed.ingest import hf_daily
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.store import queries as q
from paperfeed.store.importer import Importer
from tests.conftest import FIXTURES

DAILY = FIXTURES / "hf-daily" / "daily_papers_2024-10-25.json"


def test_daily_papers_with_upvotes_as_external_signals(engine):
    items = list(hf_daily.read(DAILY))
    assert len(items) == 29 and all(isinstance(i, Paper) for i in items)
    p = items[0]
    assert p.id == "2410.17243"
    assert p.title == "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    assert p.authors[:2] == ["Zesen Cheng", "Hang Zhang"]
    assert p.signals == {"upvotes": 64, "comments": 3, "submitted_on": "2024-10-25", "submitted_by": "ClownRat"}
    assert p.listed_date == date(2024, 10, 25)
    assert p.published.date() == date(2024, 10, 22)
    Importer(engine).run(items, "hf-daily", str(DAILY))
    with engine.connect() as conn:
        stored = q.get_paper(conn, "2410.17243")
    signals = {s["name"]: s["value_num"] if s["value_num"] is not None else s["value_text"] for s in stored["signals"]}
    assert signals == {"upvotes": 64.0, "comments": 3.0, "submitted_on": "2024-10-25", "submitted_by": "ClownRat"}
    assert {s["source"] for s in stored["signals"]} == {"hf-daily"}


def test_truncated_response_keeps_complete_records(tmp_path):
    data = DAILY.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) // 2])
    items = list(hf_daily.read(cut))
    papers = [i for i in items if isinstance(i, Paper)]
    assert 5 < len(papers) < 29
    assert isinstance(items[-1], Rejected)
    assert items[-1].source_ref.startswith("cut.json:")
    assert f"record {len(papers)}: invalid JSON" in items[-1].reason


def test_record_without_summary_is_rejected(tmp_path):
    import json

    records = json.loads(DAILY.read_text())
    del records[3]["paper"]["summary"]
    records[5]["paper"]["id"] = "not-an-id"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    rejected = [i for i in hf_daily.read(path) if isinstance(i, Rejected)]
    assert [str(r) for r in rejected] == [
        f"bad.json#record3 ({records[3]['paper']['id']}): missing abstract (summary)",
        "bad.json#record5: missing or invalid paper id 'not-an-id'",
    ]


def test_not_an_array_is_a_source_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"error": "rate limited"}')
    with pytest.raises(SourceError, match="not a JSON array"):
        list(hf_daily.read(path))


def test_live_endpoint_for_a_date():
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if len(seen) == 1:
            return httpx.Response(502)
        return httpx.Response(200, content=DAILY.read_bytes())

    client = httpx.Client(transport=httpx.MockTransport(answer))
    items = list(hf_daily.fetch("https://huggingface.co/api/daily_papers", date(2024, 10, 25), client=client))
    assert len(items) == 29
    assert seen[-1] == "https://huggingface.co/api/daily_papers?date=2024-10-25"


def test_code_project_page_and_ai_fields_where_hf_gives_them(tmp_path):
    """The recorded 2024 answer predates these fields; a copy of its first record carries them as today's API
    does (githubRepo, githubStars, projectPage, ai_summary, ai_keywords), one with a `javascript:` link."""
    import json

    items = json.loads(DAILY.read_text())
    first = items[0]
    first["paper"].update(
        githubRepo="https://github.com/DAMO-NLP-SG/Inf-CLIP",
        githubStars=250,
        ai_summary="Tiles the loss.",
        ai_keywords=["contrastive loss", " tiling "],
    )
    first["paper"]["projectPage"] = "javascript:alert(1)"
    path = tmp_path / "today.json"
    path.write_text(json.dumps([first]))
    (paper,) = hf_daily.read(path)
    assert paper.signals["github_repo"] == "https://github.com/DAMO-NLP-SG/Inf-CLIP"
    assert paper.signals["github_stars"] == 250 and paper.signals["ai_keywords"] == "contrastive loss, tiling"
    assert paper.signals["ai_summary"] == "Tiles the loss." and "project_page" not in paper.signals
