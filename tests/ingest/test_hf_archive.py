"""The Hugging Face Daily Papers archive (JSON lines, ../shared/corpus/hf-daily-archive's shape): signals for
stored papers, idempotent, bad lines named, papers the store lacks counted and never created."""

import gzip
import json

from sqlalchemy import func, select

from paperfeed.ingest import arxiv_snapshot, hf_archive
from paperfeed.models import Rejected, Signals
from paperfeed.store.importer import Importer
from paperfeed.store.listing import load_papers
from paperfeed.store.schema import external_signals, papers
from tests.conftest import ARCHIVE, SAMPLE


def rows() -> list[dict]:
    return [json.loads(line) for line in ARCHIVE.read_text().splitlines()]


def test_reads_every_line_as_signals():
    items = list(hf_archive.read(ARCHIVE))
    assert len(items) == 35 and all(isinstance(i, Signals) for i in items)
    first, raw = items[0], rows()[0]
    assert first.paper_id == raw["arxiv_id"] and first.source == "hf-daily"
    assert first.values["upvotes"] == raw["upvotes"] and first.values["featured_on"] == raw["date"]
    with_repo = next(i for i, r in zip(items, rows(), strict=True) if r["github_repo"])
    assert with_repo.values["github_repo"].startswith("https://github.com/")


def test_import_attaches_to_stored_papers_only_and_is_idempotent(engine):
    Importer(engine).run(arxiv_snapshot.read(SAMPLE), "arxiv-snapshot", str(SAMPLE))
    with engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(papers))
    first = Importer(engine).run(hf_archive.read(ARCHIVE), "hf-archive", str(ARCHIVE))
    assert (first.updated, first.unmatched, first.rejected) == (25, 10, 0)
    assert "not in the store 10" in first.summary()
    again = Importer(engine).run(hf_archive.read(ARCHIVE), "hf-archive", str(ARCHIVE))
    assert (again.updated, again.unchanged, again.unmatched) == (0, 25, 10)
    raw = rows()[0]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(papers)) == before  # no paper made from a signal
        card = load_papers(conn, [raw["arxiv_id"]], None)[0]
        names = set(conn.scalars(select(external_signals.c.name).where(external_signals.c.paper_id == raw["arxiv_id"])))
    assert card["hf"]["upvotes"] == raw["upvotes"] and card["external"] == raw["upvotes"]
    assert {"upvotes", "comments", "featured_on"} <= names


def test_a_later_reading_wins(engine, tmp_path):
    Importer(engine).run(arxiv_snapshot.read(SAMPLE), "arxiv-snapshot", str(SAMPLE))
    raw = rows()[0]
    later = tmp_path / "later.jsonl.gz"
    with gzip.open(later, "wt") as f:
        f.write(json.dumps(raw) + "\n" + json.dumps({**raw, "upvotes": raw["upvotes"] + 5}) + "\n")
    counts = Importer(engine).run(hf_archive.read(later), "hf-archive", str(later))
    assert counts.updated == 2
    with engine.connect() as conn:
        assert load_papers(conn, [raw["arxiv_id"]], None)[0]["hf"]["upvotes"] == raw["upvotes"] + 5


def test_bad_lines_are_named_and_the_rest_imported(tmp_path):
    raw = rows()[0]
    bad = [
        {**raw, "arxiv_id": "not-an-id"},
        {**raw, "upvotes": -3},
        {**raw, "upvotes": "many"},
        {**raw, "github_repo": "javascript:alert(1)"},
        {**raw, "date": "2025-13-40"},
        {**raw, "submitted_by": ["a", "list"]},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(raw), *map(json.dumps, bad), "{not json", json.dumps(raw)]) + "\n")
    items = list(hf_archive.read(path))
    reasons = [str(i) for i in items if isinstance(i, Rejected)]
    assert [isinstance(i, Signals) for i in items] == [True] + [False] * 7 + [True]
    assert reasons[0].startswith("mixed.jsonl:2: missing or invalid arxiv_id 'not-an-id'")
    assert "upvotes is not a count: -3" in reasons[1] and "upvotes is not a count: 'many'" in reasons[2]
    assert "github_repo is not a web link: 'javascript:alert(1)'" in reasons[3]
    assert reasons[4].startswith("mixed.jsonl:6:") and reasons[6].startswith("mixed.jsonl:8: invalid JSON")


def test_a_truncated_archive_keeps_its_complete_lines(tmp_path):
    data = gzip.compress(ARCHIVE.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    items = list(hf_archive.read(cut))
    assert isinstance(items[-1], Rejected) and "truncated or corrupt after line" in items[-1].reason
    assert 5 < len(items) - 1 < 35 and all(isinstance(i, Signals) for i in items[:-1])
