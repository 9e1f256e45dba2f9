"""Backup and restore of the store, online, as one consistent moment, with a manifest (counts of that moment,
checksums of the files) to check a restore against.

- SQLite: the backup API copies the file in one step under one read transaction; writers carry on (WAL).
- PostgreSQL: `pg_dump` (custom format) of a snapshot exported from a REPEATABLE READ transaction in which the
  manifest's counts are taken too, so the counts and the dump are the same moment. `pg_restore` puts it into
  the configured database, which must be empty (or `--force`: its tables are dropped first). The PostgreSQL
  client tools come from the system, or from the pgserver package when it is installed.

The secret key is copied with the store; the search indexes are derived data that `paperfeed backup` copies
when no indexer is writing (search/indexer.py copy_indexes), else a restore rebuilds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, func, inspect, select, text

from paperfeed.clock import utcnow
from paperfeed.store.db import init_db, make_engine
from paperfeed.store.schema import papers, upvotes, users

DB_NAME = "paperfeed.db"
PG_DUMP = "paperfeed.pgdump"
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
    store: str = "sqlite"  # sqlite | postgresql

    def line(self) -> str:
        extra = "with" if self.indexes else "without"
        return f"{self.papers} papers, {self.users} users, {self.upvotes} upvotes, {extra} search indexes"


def backup(engine: Engine, data_dir: Path, dest: Path) -> Manifest:
    """Copy the store into the empty (or new) folder `dest`; returns the manifest written there."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "postgresql":
        counts = dump_postgres(engine, dest / PG_DUMP)
    else:
        copy_database(Path(engine.url.database), dest / DB_NAME)
        counts = sqlite_counts(dest / DB_NAME)
    if (data_dir / "secret.key").exists():
        shutil.copy2(data_dir / "secret.key", dest / "secret.key")
    manifest = Manifest(utcnow().isoformat(), *counts, sha256=checksums(dest), store=engine.dialect.name)
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


def counts(conn: Connection) -> list[int]:
    return [conn.scalar(select(func.count()).select_from(t)) for t in (papers, users, upvotes)]


def sqlite_counts(path: Path) -> list[int]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return counts(conn)
    finally:
        engine.dispose()


def dump_postgres(engine: Engine, target: Path) -> list[int]:
    """pg_dump of one snapshot, and the counts of that same snapshot."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
        found = counts(conn)
        args = ["--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={target}"]
        run_tool("pg_dump", [*args, f"--dbname={libpq_url(engine)}"])
    return found


def libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def run_tool(name: str, args: list[str]) -> None:
    done = subprocess.run([pg_tool(name), *args], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{name}: {last}")


def pg_tool(name: str) -> str:
    """The newest of the system's tool and pgserver's (pg_dump refuses a server newer than itself)."""
    found = [p for p in (shutil.which(name), bundled(name)) if p and Path(p).exists()]
    if not found:
        raise BackupError(f"{name} is not installed (PostgreSQL's client tools are needed)")
    return max(found, key=tool_version)


def bundled(name: str) -> str | None:
    try:
        import pgserver
    except ImportError:
        return None
    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def tool_version(path: str) -> tuple[int, ...]:
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    numbers = re.search(r"(\d+)(?:\.(\d+))?", out)
    return tuple(int(n) for n in numbers.groups() if n) if numbers else (0,)


def checksums(folder: Path) -> dict[str, str]:
    return {f.name: sha256(f) for f in sorted(folder.iterdir()) if f.is_file() and f.name != MANIFEST}


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


def restore(src: Path, data_dir: Path, engine: Engine, force: bool = False) -> Manifest:
    """Put a checked backup in place as the configured store (migrated to this version's schema)."""
    manifest = check(src)
    if manifest.store != engine.dialect.name:
        raise BackupError(
            f"this is a backup of a {manifest.store} store; the configured store is {engine.dialect.name}"
        )
    if engine.dialect.name == "postgresql":
        restore_postgres(src / PG_DUMP, engine, force)
    else:
        restore_sqlite(src / DB_NAME, Path(engine.url.database), force)
    if (src / "secret.key").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "secret.key", data_dir / "secret.key")
    init_db(engine)
    return manifest


def restore_sqlite(source: Path, target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise BackupError(f"{target} exists: restore into an empty data folder, or pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copy2(source, staged)
    for suffix in ("-wal", "-shm"):  # the old file's journal must not be applied to the restored one
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(staged, target)


def restore_postgres(dump: Path, engine: Engine, force: bool) -> None:
    tables = inspect(engine).get_table_names()
    if tables and not force:
        raise BackupError(f"the database {engine.url.database} holds tables: restore into an empty one, or --force")
    if tables:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()  # pg_restore works alone in its single transaction
    run_tool("pg_restore", ["--no-owner", "--single-transaction", f"--dbname={libpq_url(engine)}", str(dump)])
