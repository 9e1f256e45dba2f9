"""Backup while the store is being written, restore into a fresh data folder: the same papers, a consistent
moment of the votes, working search; a damaged or foreign backup restores nothing."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import get_settings
from paperfeed.store import accounts, make_engine, marks
from paperfeed.store.backup import read_manifest
from paperfeed.store.schema import upvotes
from tests.conftest import new_store


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def restore_into(folder, monkeypatch, postgres) -> None:
    """Point paperfeed at a new data folder and, on PostgreSQL, a new empty database."""
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(folder))
    if postgres is not None:
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", new_store(postgres, folder))
    get_settings.cache_clear()


def test_backup_during_writes_restores_to_the_same_export(
    data_dir, settings, sample_papers, tmp_path, monkeypatch, postgres
):
    engine = make_engine(settings.db_url)
    voters = [accounts.create_user(engine, f"voter{i}", "correct horse battery") for i in range(4)]
    stop = threading.Event()

    def vote():  # a server taking upvotes while the backup runs
        n = 0
        while not stop.is_set():
            user = voters[n % len(voters)]
            marks.set_upvote(engine, user, sample_papers[n % len(sample_papers)].id, True)
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

    restore_into(tmp_path / "restored", monkeypatch, postgres)
    restored = run("restore", str(tmp_path / "bk"))
    assert restored.exit_code == 0, restored.output
    assert run("export").output == before  # every paper, byte for byte
    copy = make_engine(get_settings().db_url)
    with copy.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(upvotes)) == manifest.upvotes  # one moment's votes
    assert sample_papers[0].title[:30] in run("search", sample_papers[0].title).output
    again = run("restore", str(tmp_path / "bk"))
    assert again.exit_code == 2 and ("exists" in again.output or "holds tables" in again.output)  # no overwrite
    assert run("restore", "--force", str(tmp_path / "bk")).exit_code == 0


def test_a_damaged_or_foreign_backup_restores_nothing(data_dir, settings, tmp_path, monkeypatch, postgres):
    assert run("backup", str(tmp_path / "bk")).exit_code == 0
    store_file = "paperfeed.pgdump" if postgres else "paperfeed.db"
    with open(tmp_path / "bk" / store_file, "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 64)
    (tmp_path / "empty").mkdir()
    restore_into(tmp_path / "restored", monkeypatch, postgres)
    damaged = run("restore", str(tmp_path / "bk"))
    assert damaged.exit_code == 2 and "damaged" in damaged.output
    foreign = run("restore", str(tmp_path / "empty"))
    assert foreign.exit_code == 2 and "not a paperfeed backup" in foreign.output
    with make_engine(get_settings().db_url).connect() as conn:
        assert not conn.dialect.has_table(conn, "papers")  # nothing restored
    again = run("backup", str(tmp_path / "bk"))
    assert again.exit_code == 2 and "not empty" in again.output, again.output  # not into a folder with files
