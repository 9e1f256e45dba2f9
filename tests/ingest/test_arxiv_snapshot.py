import gzip
import json
from dataclasses import replace

import pytest

from paperfeed.ingest import arxiv_snapshot
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.store.importer import Importer
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz"


def sample_lines() -> list[bytes]:
    return gzip.open(SAMPLE, "rb").read().splitlines(keepends=True)


def test_reads_real_snapshot_records():
    items = list(arxiv_snapshot.read(SAMPLE))
    assert len(items) == len(sample_lines()) == 466
    assert all(isinstance(i, Paper) for i in items)
    first = json.loads(sample_lines()[0])
    paper = items[0]
    assert paper.id == first["id"]
    assert paper.title == " ".join(first["title"].split())
    assert paper.categories == first["categories"].split()
    assert paper.listed_date.isoformat() == first["update_date"]
    assert paper.authors[0] == f"{first['authors_parsed'][0][1]} {first['authors_parsed'][0][0]}".strip()


def test_bad_lines_are_named_and_the_rest_imported(tmp_path, engine):
    lines = sample_lines()[:10]
    bad_json = lines[2][:40] + b"\n"  # a line cut in the middle
    latin1 = json.dumps({**json.loads(lines[4]), "title": "Caf\u00e9"}, ensure_ascii=False).encode("latin-1") + b"\n"
    no_title = json.dumps({**json.loads(lines[6]), "title": ""}).encode() + b"\n"
    mixed = [lines[0], lines[1], bad_json, lines[3], latin1, lines[5], no_title, *lines[7:]]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(mixed))
    items = list(arxiv_snapshot.read(path))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.source_ref for r in rejected] == ["mixed.jsonl:3", "mixed.jsonl:5", "mixed.jsonl:7"]
    assert rejected[0].reason.startswith("invalid JSON")
    assert rejected[1].reason.startswith("not UTF-8: byte b'\\xe9'")
    assert rejected[2].reason == "missing title"
    counts = Importer(engine).run(items, "arxiv-snapshot", str(path))
    assert (counts.new, counts.rejected) == (7, 3)


def test_truncated_gzip_keeps_every_complete_record(tmp_path, engine):
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(arxiv_snapshot.read(path))
    papers = [i for i in items if isinstance(i, Paper)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert 100 < len(papers) < 466
    assert rejected[-1].reason.startswith("file is truncated or corrupt after line")
    assert rejected[-1].source_ref.startswith("cut.jsonl.gz:")
    # Every paper read before the cut is identical to the same line of the intact file.
    intact = {p.id: p for p in arxiv_snapshot.read(SAMPLE)}
    assert all(replace(intact[p.id], source_ref=p.source_ref) == p for p in papers)
    counts = Importer(engine).run(items, "arxiv-snapshot", str(path))
    assert counts.new == len(papers)


def test_unreadable_input_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read"):
        list(arxiv_snapshot.read(tmp_path / "missing.jsonl"))
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_text('{"id": "2501.00001"}\n')
    with pytest.raises(SourceError, match="cannot read"):
        list(arxiv_snapshot.read(not_gzip))
