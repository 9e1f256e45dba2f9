"""Hugging Face's own client (huggingface_hub's HfApi and its `hf papers` CLI) against `paperfeed serve`: researchers'
scripts, agents and HF's tooling read a self-hosted paperfeed unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from huggingface_hub import HfApi

from paperfeed.ingest import hf_archive
from paperfeed.store import make_engine
from paperfeed.store.importer import Importer
from tests.conftest import ARCHIVE, new_store, served

# In one worker, as the one server the module starts is shared by its tests.
pytestmark = pytest.mark.xdist_group("hf-client")

# paperfeed's encoder sets HF_HUB_OFFLINE (no model download, ever); the client here talks to a loopback
# paperfeed, so "offline" is lifted for it alone, and telemetry and update checks stay off.
CLIENT_ENV = {
    "HF_HUB_OFFLINE": "0",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_TOKEN": "",
}


@pytest.fixture(autouse=True)
def hub_client_online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def server(tmp_path_factory, indexed_dir, model_cache, postgres):
    """`paperfeed serve` on a copy of the indexed sample with the HF archive's signals for it."""
    data = tmp_path_factory.mktemp("hf-client") / "data"
    shutil.copytree(indexed_dir, data)
    engine = make_engine(new_store(postgres, data, sample=True))
    Importer(engine).run(hf_archive.read(ARCHIVE), "hf-archive", str(ARCHIVE))
    engine.dispose()
    with served(data, model_cache) as url:
        yield url


@pytest.fixture(scope="module")
def featured(sample_papers):
    """An archive line for a sample paper, with a submitter and a repository."""
    listed = {p.id: p for p in sample_papers}
    rows = [json.loads(line) for line in ARCHIVE.read_text().splitlines()]
    row = next(r for r in rows if r["arxiv_id"] in listed and r["github_repo"] and r["submitted_by"])
    return row, listed[row["arxiv_id"]]


def test_list_daily_papers_has_upvotes_dates_and_submitter(server, featured):
    row, paper = featured
    api = HfApi(endpoint=server)
    day = list(api.list_daily_papers(date=str(paper.listed_date), limit=100))
    assert len(day) > 5 and all(p.published_at and p.submitted_at and p.title for p in day)
    mine = next(p for p in day if p.id == row["arxiv_id"])
    assert mine.upvotes == row["upvotes"] and mine.comments == row["num_comments"]
    assert mine.submitted_by.name == row["submitted_by"] and mine.github_repo == row["github_repo"]
    assert mine.submitted_at.date() == paper.listed_date
    # Trending (HF's upvotes first), then the other sorts, periods, paging and the submitter filter.
    assert day[0].upvotes == max(p.upvotes or 0 for p in day)
    new = list(api.list_daily_papers(date=str(paper.listed_date), sort="publishedAt", limit=100))
    assert {p.id for p in new} == {p.id for p in day}
    week = list(
        api.list_daily_papers(
            week=f"{paper.listed_date.isocalendar()[0]}-W{paper.listed_date.isocalendar()[1]:02d}", limit=100
        )
    )
    month = list(api.list_daily_papers(month=paper.listed_date.strftime("%Y-%m"), limit=100))
    assert len(day) <= len(week) <= len(month) == 100
    second = list(api.list_daily_papers(month=paper.listed_date.strftime("%Y-%m"), limit=10, p=1))
    assert [p.id for p in second] == [p.id for p in month[10:20]]
    theirs = list(api.list_daily_papers(month=paper.listed_date.strftime("%Y-%m"), submitter=row["submitted_by"]))
    assert row["arxiv_id"] in {p.id for p in theirs} and all(p.submitted_by.name == row["submitted_by"] for p in theirs)


def test_paper_info_search_and_read(server, featured):
    row, paper = featured
    api = HfApi(endpoint=server)
    info = api.paper_info(row["arxiv_id"])
    assert info.title == paper.title and info.upvotes == row["upvotes"] and info.github_repo == row["github_repo"]
    assert [a.name for a in info.authors] == paper.authors
    found = list(api.list_papers(query=paper.title, limit=5))  # HF's shape: a list, not {"results": …}
    assert found and found[0].id == paper.id
    text = api.read_paper(paper.id)
    assert text.startswith(f"# {paper.title}") and "## Abstract" in text and paper.abstract[:80] in text


def test_the_hf_papers_cli(server, featured):
    row, paper = featured
    env = {**os.environ, "HF_ENDPOINT": server, **CLIENT_ENV}
    hf = shutil.which("hf", path=os.path.dirname(sys.executable))

    def run(*args):
        done = subprocess.run([hf, "papers", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert row["arxiv_id"] in run("ls", "--date", str(paper.listed_date), "--limit", "100")
    assert paper.id in run("search", paper.title)
    assert paper.title[:30] in run("info", paper.id)
    assert "## Abstract" in run("read", paper.id)
