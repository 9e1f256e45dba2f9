"""A large library file is read in a process of its own; the file must reach it whole even when that
process is slow to start (a loaded machine), and the deadline still ends a reader that never finishes."""

from __future__ import annotations

import stat
import sys
import time

import pytest

from paperfeed.ingest import library_file


def entries(n: int) -> str:
    return "\n".join(f"@article{{k{i},\n title = {{Title number {i}}},\n author = {{A. B{i}}}\n}}" for i in range(n))


def slow_python(tmp_path, seconds: float):
    """A Python that waits `seconds` before starting, as a child does on two busy cores."""
    path = tmp_path / "slow-python"
    path.write_text(f'#!/bin/sh\nsleep {seconds}\nexec "{sys.executable}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_reader_that_starts_slowly_still_gets_the_whole_file(tmp_path, monkeypatch):
    text = entries(6_000)  # about 400 KB: more than a pipe holds, so the writer must wait for the reader
    assert len(text) > 4 * library_file.INLINE_CHARS
    monkeypatch.setattr(library_file.sys, "executable", slow_python(tmp_path, 1.0))
    parsed = library_file.read("bibtex", text, seconds=30)
    assert len(parsed.entries) == 6_000 and parsed.entries[-1].title == "Title number 5999"


def test_a_reader_past_its_deadline_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(library_file.sys, "executable", slow_python(tmp_path, 4))
    started = time.monotonic()
    with pytest.raises(library_file.TooSlow, match="too slow to import"):
        library_file.read("bibtex", entries(2_000), seconds=1.0)
    assert time.monotonic() - started < 5
    assert not library_file._running
