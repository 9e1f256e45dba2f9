"""The store is the only door to the main database: outside src/paperfeed/store/, no module runs a statement
on it, builds one, or reads the table definitions. (search/vectors.py runs SQL on the vector index's own
SQLite file, which is not the main store.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "paperfeed"
OWN_DATABASE = {"search/vectors.py"}  # the vector index's own SQLite file
TYPE_NAMES = {"Engine", "Connection"}  # what others may name from sqlalchemy: the handles they pass along
RUNS_SQL = {"execute", "exec_driver_sql", "executemany", "scalar", "scalars"}


def outside_store() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "store"]


def problems(source: str, rel: str) -> list[str]:
    tree = ast.parse(source, rel)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.startswith("sqlalchemy") and not (node.module == "sqlalchemy" and names <= TYPE_NAMES):
                found.append(f"{rel}:{node.lineno} imports {sorted(names)} from {node.module}")
            if node.module == "paperfeed.store.schema" or (node.module == "paperfeed.store" and "schema" in names):
                found.append(f"{rel}:{node.lineno} reads the store's table definitions")
        if isinstance(node, ast.Import) and any(a.name.startswith("sqlalchemy") for a in node.names):
            found.append(f"{rel}:{node.lineno} imports sqlalchemy")
        if rel in OWN_DATABASE:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL:
            found.append(f"{rel}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_no_sql_outside_the_store():
    assert len(outside_store()) > 50
    found = [line for p in outside_store() for line in problems(p.read_text(), p.relative_to(SRC).as_posix())]
    assert not found, "\n".join(found)


def test_the_check_sees_what_it_forbids():
    """The check itself: a statement run outside store/ is reported (the check cannot pass vacuously)."""
    planted = "from sqlalchemy import select\nfrom paperfeed.store.schema import papers\n\n"
    planted += "def f(conn):\n    return conn.execute(select(papers)).scalar()\n"
    assert len(problems(planted, "web/planted.py")) == 4
    assert len(problems(planted, "search/vectors.py")) == 2  # its own database: only the imports count
