"""Shared fixtures: a real SQLite file per test, recorded real responses, the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.config import Settings, get_settings
from paperfeed.store import init_db, make_engine

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
SHARED = REPO.parent / "shared"


def shared(*parts: str) -> Path:
    """A path under ../shared; a missing one fails loudly rather than skipping."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need the project's shared data beside the repo")
    return path


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
