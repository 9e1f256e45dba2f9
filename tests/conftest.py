"""Shared fixtures: a real store per test (a SQLite file, or with `--store postgresql` a database of its own
on a real PostgreSQL that pgserver starts), recorded real responses, the shared corpus."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from paperfeed.config import Settings, get_settings
from paperfeed.ingest import arxiv_snapshot
from paperfeed.rank import terms
from paperfeed.search.encoder import get_encoder
from paperfeed.search.indexer import sync
from paperfeed.search.service import SearchService
from paperfeed.store import init_db, make_engine
from paperfeed.store.importer import Importer
from tests.support.model import export
from tests.support.postgres import Postgres
from tests.support.postgres import start as start_postgres
from tests.support.vectors import RememberingEncoder, remembering_words
from tests.support.xdist_groups import keep_groups_together

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
# No test reaches the real arXiv or Hugging Face, even by accident (a scheduler in a served process): the
# upstream URLs point at a closed local port unless a test points them at its fake server.
for _name, _path in (("ARXIV_OAI_URL", "/oai"), ("ARXIV_API_URL", "/api/query"), ("HF_DAILY_URL", "/api/daily")):
    os.environ.setdefault(f"PAPERFEED_{_name}", f"http://127.0.0.1:9{_path}")
SHARED = REPO.parent / "shared"
SAMPLE = FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz"
ARCHIVE = FIXTURES / "hf-archive" / "sample-2025-03.jsonl"  # HF's signals for the sample's papers


def pytest_addoption(parser):
    parser.addoption(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the store every test runs on (make test runs both; postgresql leaves tests that use no store to sqlite)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(why): a test of SQLite itself (its file, its journal)")
    if not hasattr(config, "workerinput"):  # the run itself, not one of pytest-xdist's workers
        handle, name = tempfile.mkstemp(prefix="paperfeed-sqlite-only-")
        os.close(handle)
        config.sqlite_only_file = name


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: each worker writes what it left out where the run's summary reads it."""
    node.workerinput["sqlite_only_file"] = node.config.sqlite_only_file


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own (tests.support.xdist_groups)
def pytest_collection_modifyitems(config, items):
    """On PostgreSQL the SQLite-only tests are left out, and said so at the end (never skipped silently); so
    are the tests that use no store at all (no `postgres` among their fixtures: parsers, formats, the model's
    arithmetic), which the SQLite pass of `make test` runs and a second pass would only repeat."""
    keep_groups_together(config, items)
    if config.getoption("--store") != "postgresql":
        return
    left = [i for i in items if i.get_closest_marker("sqlite_only")]
    storeless = [i for i in items if "postgres" not in getattr(i, "fixturenames", ()) and i not in left]
    items[:] = [i for i in items if i not in left and i not in storeless]
    target = config.workerinput["sqlite_only_file"] if hasattr(config, "workerinput") else config.sqlite_only_file
    with open(target, "a") as f:
        f.writelines(f"{i.nodeid}\t{i.get_closest_marker('sqlite_only').args[0]}\n" for i in left)
        f.write(f"storeless\t{len(storeless)}\n")
    config.hook.pytest_deselected(items=left + storeless)


def pytest_terminal_summary(terminalreporter, config):
    path = Path(getattr(config, "sqlite_only_file", ""))
    if not path.is_file():
        return
    for line in sorted(set(path.read_text().splitlines())):  # every worker lists the same ones
        nodeid, why = line.split("\t", 1)
        if nodeid == "storeless":
            terminalreporter.write_line(
                f"Not run again on PostgreSQL: {why} tests that use no store (the SQLite pass ran them)"
            )
        else:
            terminalreporter.write_line(f"SQLite only, not run on PostgreSQL: {nodeid} ({why})")
    path.unlink()


def shared(*parts: str) -> Path:
    """A path under ../shared; a missing one fails loudly rather than skipping."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need the project's shared data beside the repo")
    return path


# data folder -> the PostgreSQL database that is its store (tests on PostgreSQL; SQLite keeps its file there)
STORES: dict[str, str] = {}


def store_url(data: Path) -> str:
    return STORES.get(str(Path(data).resolve()), f"sqlite:///{Path(data) / 'paperfeed.db'}")


def store_env(data: Path) -> dict[str, str]:
    """What a `paperfeed` process started on `data` needs to find its store."""
    url = STORES.get(str(Path(data).resolve()))
    return {"PAPERFEED_DATABASE_URL": url} if url else {}


def new_store(postgres, data: Path, sample: bool = False, template: str | None = None) -> str:
    """A store of its own for the data folder `data`: its SQLite file, or a new PostgreSQL database (with
    `sample`, a copy of the indexed sample's, and the folder then also needs a copy of indexed_dir's indexes;
    with `template`, a copy of that database; else empty)."""
    if postgres is None:
        return f"sqlite:///{Path(data) / 'paperfeed.db'}"
    url = postgres.url(postgres.create(template="indexed" if sample else template))
    STORES[str(Path(data).resolve())] = url
    return url


@contextmanager
def served(data: Path, model_cache: Path, **settings) -> Iterator[str]:
    """`paperfeed serve` on the data directory `data`, in its own process; yields its URL once it answers."""
    from tests.support.serving import serving

    with serving(data, model_cache, **settings) as url:
        yield url


@pytest.fixture
def copy(indexed_dir, tmp_path, postgres) -> Path:
    """A private copy of the indexed sample (its files, and a store of its own) for a server to change."""
    data = tmp_path / "data"
    shutil.copytree(indexed_dir, data)
    new_store(postgres, data, sample=True)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One exported ONNX model for the whole run (the export takes ten seconds or more). `make test` names one
    folder for both its runs and all their workers (PAPERFEED_TEST_MODELS, emptied as it starts), so the model
    is exported once, not once per worker and store."""
    shared = os.environ.get("PAPERFEED_TEST_MODELS")
    if not shared:
        return tmp_path_factory.mktemp("models")
    return export(Path(shared))  # or waits for the export `make test` started (tests/support/model.py)


@pytest.fixture(scope="session")
def store_kind(request) -> str:
    return request.config.getoption("--store")


@pytest.fixture(scope="session")
def postgres(store_kind) -> Iterator[Postgres | None]:
    if store_kind != "postgresql":
        yield None
        return
    # Outside pytest's own temporary folders: pytest tidies old ones (chmod, rm) while a later run starts.
    pg = start_postgres()
    yield pg
    pg.close()


@pytest.fixture
def settings(tmp_path, monkeypatch, model_cache, postgres, migrated, remembering, request) -> Settings:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    remember_in_process(monkeypatch, model_cache, remembering)
    cheap_passwords(monkeypatch)
    if postgres is not None:
        # A test of the indexed sample (data_dir) gets its copy at once, not an empty store made twice.
        sample = "data_dir" in request.fixturenames
        if sample:
            request.getfixturevalue("indexed_dir")
        url = new_store(postgres, tmp_path / "data", sample=sample, template=migrated)
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
        request.addfinalizer(lambda: postgres.drop(make_url(url).database))
    monkeypatch.setenv("PAPERFEED_ARXIV_API_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_MODEL_CACHE_DIR", str(model_cache))
    # Importer and CLI tests check the store; the search tests index on purpose.
    monkeypatch.setenv("PAPERFEED_INDEX_AFTER_INGEST", "false")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory, postgres) -> Path | str:
    """An empty store at the newest migration, made once by running the migrations: a SQLite file, or a
    PostgreSQL template database. Each test's fresh store starts as a copy of it (the migrations take about
    0.1 s a store on SQLite; a copy about 5 ms)."""
    if postgres is not None:
        url = postgres.url(postgres.create("migrated"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('migrated') / 'paperfeed.db'}"
    engine = make_engine(url)
    init_db(engine)
    if postgres is None:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy is the one file, complete
    engine.dispose()
    return "migrated" if postgres is not None else Path(engine.url.database)


@pytest.fixture
def engine(settings, migrated, postgres):
    path = Path(make_url(settings.db_url).database)
    if postgres is None and not path.exists():  # on PostgreSQL, `settings` made it from the template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(migrated, path)
    engine = make_engine(settings.db_url)
    init_db(engine)  # at the newest already: checks it, as every start does
    yield engine
    engine.dispose()


# A real index over the 466-paper arXiv sample, built once per run and copied for tests that change it.
@pytest.fixture(scope="session")
def sample_papers():
    return list(arxiv_snapshot.read(SAMPLE))


@pytest.fixture(scope="session")
def encoder(model_cache):
    return get_encoder(model_cache, "onnx")


@pytest.fixture(scope="session")
def remembering(encoder, model_cache) -> RememberingEncoder:
    return RememberingEncoder(encoder, model_cache / "sample-vectors.npz")


REMEMBERED_WORDS = remembering_words(terms.fit_words)


def remember_in_process(monkeypatch, model_cache: Path, remembering: RememberingEncoder) -> None:
    """The app and the CLI run in the test's process get the remembering encoder: `paperfeed index` after a
    damaged index, or an import through the web, embedded the sample's papers again (about 12 s of a core
    each). A chosen number of ONNX sessions gets the model itself (test_cli checks that choice reaches it), as
    do the processes a test starts. For you's vocabulary is remembered too (tests.support.vectors)."""
    from paperfeed.search import encoder as encoder_module
    from paperfeed.search import service as service_module

    def get(cache_dir, kind="onnx", workers=None):
        if kind == "onnx" and Path(cache_dir) == model_cache and workers is None:
            return remembering
        return get_encoder(cache_dir, kind, workers)

    monkeypatch.setattr(encoder_module, "get_encoder", get)
    monkeypatch.setattr(service_module, "get_encoder", get)
    monkeypatch.setattr(terms, "fit_words", REMEMBERED_WORDS)


def cheap_passwords(monkeypatch) -> None:
    """The app and store run in the test's process hash passwords with argon2-cffi's profile for tests (the
    same argon2id, at its smallest cost): each hash and check took 0.1 s of a core, a few hundred per pass.
    Processes a test starts hash as shipped, and tests/web/test_accounts.py checks what ships."""
    from argon2 import PasswordHasher, profiles

    from paperfeed.store import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def indexed_url(tmp_path_factory, postgres) -> str:
    """The store of the indexed sample: a SQLite file beside its indexes, or a PostgreSQL template database."""
    if postgres is not None:
        return postgres.url(postgres.create("indexed"))
    return f"sqlite:///{tmp_path_factory.mktemp('indexed') / 'data' / 'paperfeed.db'}"


@pytest.fixture(scope="session")
def indexed_dir(indexed_url, sample_papers, remembering, tmp_path_factory) -> Path:
    engine = make_engine(indexed_url)
    sqlite = indexed_url.startswith("sqlite")
    data = Path(engine.url.database).parent if sqlite else tmp_path_factory.mktemp("indexed-pg") / "data"
    init_db(engine)
    Importer(engine).run(sample_papers, "arxiv-snapshot", str(SAMPLE))
    report = sync(engine, data, remembering)
    assert (report.added, report.embedded) == (len(sample_papers), len(sample_papers))
    engine.dispose()
    return data


@pytest.fixture
def data_dir(indexed_dir, settings) -> Path:
    """A private copy of the indexed sample, at the path the `settings` fixture points to (on PostgreSQL,
    `settings` made the test's database from the indexed template)."""
    shutil.copytree(indexed_dir, settings.data_dir)
    return settings.data_dir


@pytest.fixture
def service(data_dir, settings, encoder):
    engine = make_engine(settings.db_url)
    yield SearchService(engine, data_dir, encoder=encoder)
    engine.dispose()
