"""A real index over the 466-paper arXiv sample, built once per run and copied for tests that change it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from paperfeed.ingest import arxiv_snapshot
from paperfeed.search.encoder import get_encoder
from paperfeed.search.indexer import sync
from paperfeed.search.service import SearchService
from paperfeed.store import init_db, make_engine
from paperfeed.store.importer import Importer
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz"


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
