"""Shared fixtures: a real SQLite file per test, recorded real responses, the shared corpus."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from paperfeed.config import Settings, get_settings
from paperfeed.ingest import arxiv_snapshot
from paperfeed.search.encoder import get_encoder
from paperfeed.search.indexer import sync
from paperfeed.search.service import SearchService
from paperfeed.store import init_db, make_engine
from paperfeed.store.importer import Importer

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
# No test reaches the real arXiv or Hugging Face, even by accident (a scheduler in a served process): the
# upstream URLs point at a closed local port unless a test points them at its fake server.
for _name, _path in (("ARXIV_OAI_URL", "/oai"), ("ARXIV_API_URL", "/api/query"), ("HF_DAILY_URL", "/api/daily")):
    os.environ.setdefault(f"PAPERFEED_{_name}", f"http://127.0.0.1:9{_path}")
SHARED = REPO.parent / "shared"
SAMPLE = FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz"


def shared(*parts: str) -> Path:
    """A path under ../shared; a missing one fails loudly rather than skipping."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need the project's shared data beside the repo")
    return path


@contextmanager
def served(data: Path, model_cache: Path) -> Iterator[str]:
    """`paperfeed serve` on the data directory `data`, in its own process; yields its URL once it answers."""
    port = free_port()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data), "PAPERFEED_MODEL_CACHE_DIR": str(model_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/healthz", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("paperfeed serve did not start")
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One exported ONNX model for the whole run (the export takes about ten seconds)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def settings(tmp_path, monkeypatch, model_cache) -> Settings:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERFEED_ARXIV_API_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_MODEL_CACHE_DIR", str(model_cache))
    # Importer and CLI tests check the store; the search tests index on purpose.
    monkeypatch.setenv("PAPERFEED_INDEX_AFTER_INGEST", "false")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.db_url)
    init_db(engine)
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
def indexed_dir(tmp_path_factory, sample_papers, encoder) -> Path:
    data = tmp_path_factory.mktemp("indexed") / "data"
    engine = make_engine(f"sqlite:///{data / 'paperfeed.db'}")
    init_db(engine)
    Importer(engine).run(sample_papers, "arxiv-snapshot", str(SAMPLE))
    report = sync(engine, data, encoder)
    assert (report.added, report.embedded) == (len(sample_papers), len(sample_papers))
    engine.dispose()
    return data


@pytest.fixture
def data_dir(indexed_dir, settings) -> Path:
    """A private copy of the indexed sample, at the path the `settings` fixture points to."""
    shutil.copytree(indexed_dir, settings.data_dir)
    return settings.data_dir


@pytest.fixture
def service(data_dir, settings, encoder):
    engine = make_engine(settings.db_url)
    yield SearchService(engine, data_dir, encoder=encoder)
    engine.dispose()
