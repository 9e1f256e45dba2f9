"""Bad input, everywhere the same (issue #10, item 5): every importer answers an unreadable file in one line
naming it and the reason, exit 2; a truncated page says where it was cut; a run that rejects every record
exits non-zero. Through the real command, as a user runs it."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures"
SOURCES = {
    "arxiv-snapshot": ".jsonl",
    "arxiv-api": ".xml",
    "arxiv-oai": ".xml",
    "hf-daily": ".json",
    "hf-page": ".txt",
    "hf-archive": ".jsonl",
}


def ingest(settings, source: str, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_INDEX_AFTER_INGEST": "false"}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", "ingest", source, str(path)], env=env, capture_output=True, text=True
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_binary_file_is_one_line_and_exit_2(settings, tmp_path, source):
    path = tmp_path / f"garbage{SOURCES[source]}"
    path.write_bytes(bytes(range(256)) * 40)
    done = ingest(settings, source, path)
    assert done.returncode == 2
    assert lines(done.stderr) == [f"error: {path}: a binary file, not text (JSON, XML or a page's text)"]


def test_a_gzip_file_that_is_not_gzip(settings, tmp_path):
    path = tmp_path / "listing.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    done = ingest(settings, "arxiv-snapshot", path)
    assert done.returncode == 2 and len(lines(done.stderr)) == 1 and "cannot be read" in done.stderr


@pytest.mark.parametrize("source", ["arxiv-api", "arxiv-oai"])
def test_text_that_is_not_xml_is_one_line_and_exit_2(settings, tmp_path, source):
    path = tmp_path / "page.xml"
    path.write_text("Service temporarily unavailable\n")
    done = ingest(settings, source, path)
    assert done.returncode == 2
    assert lines(done.stderr) == ["error: page.xml: not readable as XML (syntax error: line 1, column 0)"]


def test_a_truncated_page_says_where_it_was_cut(settings, tmp_path):
    data = (FIXTURES / "arxiv-api" / "cs-listing_arxiv_raw_100.xml").read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: len(data) // 3])
    done = ingest(settings, "arxiv-api", path)
    assert done.returncode == 0  # the whole records before the cut are imported
    [rejected] = [line for line in lines(done.stderr) if line.startswith("rejected")]
    assert "malformed or truncated XML" in rejected and "records after line" in rejected
    assert "new " in done.stdout


def test_a_run_that_rejects_every_record_exits_1(settings, tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"id": "2501.00001", "title": ""}\n{"oops"\n')
    done = ingest(settings, "arxiv-snapshot", path)
    assert done.returncode == 1
    assert lines(done.stderr)[-1] == "error: every record (2) was rejected; nothing was imported"
