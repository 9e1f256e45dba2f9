"""Backup while the store is being written, restore into a fresh data folder: the same papers, a consistent
moment of the votes, working search; a damaged or foreign backup restores nothing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import get_settings
from paperfeed.store import accounts, make_engine
from paperfeed.store.backup import read_manifest
from paperfeed.store.schema import upvotes


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.sqlite_only("backup copies the SQLite file; a PostgreSQL store is backed up with pg_dump")
def test_backup_during_writes_restores_to_the_same_export(data_dir, settings, sample_papers, tmp_path, monkeypatch):
    engine = make_engine(settings.db_url)
    voters = [accounts.create_user(engine, f"voter{i}", "correct horse battery") for i in range(4)]
    stop = threading.Event()

    def vote():  # a server taking upvotes while the backup runs
        n = 0
        while not stop.is_set():
            user = voters[n % len(voters)]
            accounts.set_upvote(engine, user, sample_papers[n % len(sample_papers)].id, True)
            n += 1

    writer = threading.Thread(target=vote)
    writer.start()
    try:
        done = run("backup", str(tmp_path / "bk"))
    finally:
        stop.set()
        writer.join()
    assert done.exit_code == 0, done.output
    assert "backed up to" in done.output and "with search indexes" in done.output
    before = run("export").output
    manifest = read_manifest(tmp_path / "bk")
    assert manifest.papers == len(sample_papers) and manifest.users == 4

    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "restored"))
    get_settings.cache_clear()
    restored = run("restore", str(tmp_path / "bk"))
    assert restored.exit_code == 0, restored.output
    assert run("export").output == before  # every paper, byte for byte
    copy = make_engine(get_settings().db_url)
    with copy.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(upvotes)) == manifest.upvotes  # one moment's votes
    assert sample_papers[0].title[:30] in run("search", sample_papers[0].title).output
    again = run("restore", str(tmp_path / "bk"))
    assert again.exit_code == 2 and "exists" in again.output  # no silent overwrite


@pytest.mark.sqlite_only("backup copies the SQLite file; a PostgreSQL store is backed up with pg_dump")
def test_a_damaged_or_foreign_backup_restores_nothing(data_dir, settings, tmp_path, monkeypatch):
    assert run("backup", str(tmp_path / "bk")).exit_code == 0
    with open(tmp_path / "bk" / "paperfeed.db", "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 64)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "restored"))
    get_settings.cache_clear()
    damaged = run("restore", str(tmp_path / "bk"))
    assert damaged.exit_code == 2 and "damaged" in damaged.output
    foreign = run("restore", str(tmp_path / "empty"))
    assert foreign.exit_code == 2 and "not a paperfeed backup" in foreign.output
    assert not (tmp_path / "restored" / "paperfeed.db").exists()
    again = run("backup", str(tmp_path / "bk"))
    assert again.exit_code == 2 and "not empty" in again.output, again.output  # not into a folder with files
