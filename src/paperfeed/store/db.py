"""Engine creation, schema migration, and the small helpers every store module shares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Table, create_engine, event, literal_column, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. A start on a store already there reads its version and skips alembic, whose import
# and scripts cost every command about 0.3 s; tests/store/test_importer.py checks it is alembic's head.
HEAD = "0014"


def make_engine(url: str, pool_size: int | None = None) -> Engine:
    """An engine; for SQLite a file with WAL, foreign keys and a busy timeout. `pool_size`: that many
    connections and no more (a pool of its own for one job), else SQLAlchemy's default pool."""
    pool = {"pool_size": pool_size, "max_overflow": 0} if pool_size else {}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) == ":memory:":
            pool = {}  # one connection per thread (SQLAlchemy's pool for it): nothing to size
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web server read while an import writes; NORMAL is durable for every
    # committed transaction except on power loss, which WAL still keeps consistent.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # configparser reads "%" as interpolation: a socket path in the URL (host=%2Ftmp%2F...) must be escaped.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def init_db(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (safe to run every start)."""
    if version(engine) == HEAD:
        return
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def version(engine: Engine) -> str | None:
    """The store's migration, or None for a store with none yet (a new file or database)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no such table: the migrations make it
        return None


def insert_ignore(conn: Connection, table: Table, rows: dict | list[dict]) -> int:
    """INSERT that skips rows whose key is already there, in one statement: two identical writes at
    once (a double click, two processes) both succeed and leave one row. Returns the rows inserted."""
    query = _dialect_insert(conn, table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return conn.execute(query, rows).rowcount
    # psycopg's rowcount is not to be trusted here (-1 for a batch): count the rows the INSERT returns instead.
    return len(conn.execute(query.returning(literal_column("1")), rows).all())


def insert_under_cap(conn: Connection, table: Table, row: dict, mine, cap: int) -> bool:
    """INSERT row only while fewer than `cap` rows match `mine`, counted in the same statement (a separate
    count then insert lets two requests at once both pass). Rows already there (same key) are kept. Returns
    whether a row was inserted."""
    return insert_under_caps(conn, table, row, [(mine, cap)], literal_column("1")) is not None


def insert_under_caps(conn: Connection, table: Table, row: dict, caps: list[tuple], returning):
    """INSERT row only while, for each (condition, cap), fewer than `cap` rows match the condition, all
    counted in the INSERT itself; the inserted row's `returning` column, or None when a cap was reached (or
    the row's key was there already)."""
    from sqlalchemy import and_, func, literal, select

    values = select(*(literal(v, table.c[k].type).label(k) for k, v in row.items()))
    room = [select(func.count()).select_from(table).where(mine).scalar_subquery() < cap for mine, cap in caps]
    query = _dialect_insert(conn, table).from_select(list(row), values.where(and_(*room)))
    # RETURNING rather than rowcount, which psycopg leaves at -1 for INSERT ... SELECT.
    found = conn.execute(query.on_conflict_do_nothing().returning(returning)).first()
    return None if found is None else found[0]


GROUP_LOCK = 0x67727570 << 20  # advisory lock keys of one group's membership, one per group (PostgreSQL)


def group_lock(conn: Connection, group_id: int) -> None:
    """On PostgreSQL, changes to one group's members wait for each other until the transaction ends (counted in
    one statement alone, two owners leaving at once could each see the other and leave no owner)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import func, select

        conn.execute(select(func.pg_advisory_xact_lock(GROUP_LOCK + group_id)))


def upsert(conn: Connection, table: Table, row: dict, key: list[str]) -> None:
    """INSERT row, or UPDATE the one with the same `key` columns, in one statement (no check-then-write)."""
    query = _dialect_insert(conn, table).values(row)
    conn.execute(query.on_conflict_do_update(index_elements=key, set_={k: v for k, v in row.items() if k not in key}))


def _dialect_insert(conn: Connection, table: Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


CHUNK = 500  # ids per IN (...) clause


def chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_in(conn: Connection, table: Table, column, keys: list[str]) -> list:
    """The rows of `table` whose `column` is one of `keys`, as mappings (an IN clause per CHUNK keys)."""
    rows = []
    for chunk in chunks(keys):
        rows.extend(conn.execute(select(table).where(column.in_(chunk))).mappings())
    return rows
