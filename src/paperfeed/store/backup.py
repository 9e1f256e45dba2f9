"""Backup and restore of the store: a consistent online copy of the SQLite file while the server runs
(SQLite's backup API, in one step under one read transaction, so writers carry on and the copy is one
moment's state), the secret key, and a manifest with counts and checksums to check a restore against.

PostgreSQL stores are backed up with `pg_dump` (the manifest says so); this module handles the embedded
default. The search indexes are derived data: `paperfeed backup` copies them too when no indexer is writing
(search/indexer.py copy_indexes), else a restore rebuilds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from paperfeed.store.db import init_db, make_engine
from paperfeed.store.importer import utcnow
from paperfeed.store.schema import papers, upvotes, users

DB_NAME = "paperfeed.db"
MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with a one-line reason (nothing was changed)."""


@dataclass
class Manifest:
    created_at: str
    papers: int
    users: int
    upvotes: int
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> checksum
    indexes: bool = False  # the search indexes were copied too

    def line(self) -> str:
        extra = "with" if self.indexes else "without"
        return f"{self.papers} papers, {self.users} users, {self.upvotes} upvotes, {extra} search indexes"


def sqlite_path(engine: Engine) -> Path:
    if engine.dialect.name != "sqlite":
        raise BackupError("this store is PostgreSQL: back it up with pg_dump (see docs/deploy.md)")
    return Path(engine.url.database)


def backup(engine: Engine, data_dir: Path, dest: Path) -> Manifest:
    """Copy the store into the empty (or new) folder `dest`; returns the manifest written there."""
    source = sqlite_path(engine)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    copy_database(source, dest / DB_NAME)
    if (data_dir / "secret.key").exists():
        shutil.copy2(data_dir / "secret.key", dest / "secret.key")
    manifest = describe(dest)
    write_manifest(dest, manifest)
    return manifest


def copy_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: one consistent moment, writers are not blocked (WAL)
    finally:
        dst.close()
        src.close()


def describe(folder: Path) -> Manifest:
    engine = make_engine(f"sqlite:///{folder / DB_NAME}")
    try:
        with engine.connect() as conn:
            counts = [conn.scalar(select(func.count()).select_from(t)) for t in (papers, users, upvotes)]
    finally:
        engine.dispose()
    sums = {f.name: sha256(f) for f in sorted(folder.iterdir()) if f.is_file() and f.name != MANIFEST}
    return Manifest(utcnow().isoformat(), *counts, sha256=sums)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")


def read_manifest(folder: Path) -> Manifest:
    try:
        return Manifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{folder} is not a paperfeed backup (no readable {MANIFEST})") from exc


def check(folder: Path) -> Manifest:
    """The backup's manifest, after checking every file against its checksum."""
    manifest = read_manifest(folder)
    for name, expected in manifest.sha256.items():
        if not (folder / name).exists() or sha256(folder / name) != expected:
            raise BackupError(f"{name} in {folder} is missing or damaged (its checksum differs)")
    return manifest


def restore(src: Path, data_dir: Path, force: bool = False) -> Manifest:
    """Put a checked backup in place as data_dir's store (migrated to this version's schema)."""
    manifest = check(src)
    target = data_dir / DB_NAME
    if target.exists() and not force:
        raise BackupError(f"{target} exists: restore into an empty data folder, or pass --force to replace it")
    data_dir.mkdir(parents=True, exist_ok=True)
    staged = data_dir / (DB_NAME + ".restoring")
    shutil.copy2(src / DB_NAME, staged)
    for suffix in ("-wal", "-shm"):  # the old file's journal must not be applied to the restored one
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    if (src / "secret.key").exists():
        shutil.copy2(src / "secret.key", data_dir / "secret.key")
    engine = make_engine(f"sqlite:///{target}")
    try:
        init_db(engine)
    finally:
        engine.dispose()
    return manifest
