"""Serve at once (issue #10, item 1): `paperfeed serve` on a store that is not indexed yet answers the lists
immediately, indexes in a background process with progress in its log, searches by keywords meanwhile
(and says so), and ends with full search."""

import time

import pytest

from paperfeed.store import init_db, make_engine
from paperfeed.store.importer import Importer
from tests.conftest import SAMPLE, new_store
from tests.support.serving import get, start, stop

pytestmark = pytest.mark.process  # starts, kills or floods paperfeed processes: make test, not test-fast


def test_serve_answers_at_once_and_indexes_in_the_background(tmp_path, sample_papers, model_cache, postgres):
    data = tmp_path / "data"
    engine = make_engine(new_store(postgres, data))
    init_db(engine)
    # Imported, not indexed: 100 of the sample's papers, two chunks to embed (the whole sample took 20-35 s
    # of the suite for the same checks, 200 papers 10 s of a core a store).
    papers = sample_papers[:100]
    Importer(engine).run(papers, "arxiv-snapshot", str(SAMPLE))
    engine.dispose()
    started = time.monotonic()
    proc, url = start(data, model_cache, index_check_interval=0.5, index_chunk=50)
    try:
        assert get(url + "/").status_code == 200
        served_s = time.monotonic() - started
        first = get(url + "/healthz").json()
        assert first["status"] == "degraded" and not first["index_fresh"]
        seen_keyword_only = False
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            page = get(url + "/search", params={"q": "image segmentation"}, timeout=30)
            assert page.status_code in (200, 503), page.status_code
            seen_keyword_only |= "search by meaning is still being built" in page.text
            if get(url + "/healthz").json()["status"] == "ok":
                break
            time.sleep(0.3)
        health = get(url + "/healthz").json()
        assert health["status"] == "ok" and health["indexed"] == len(papers), health
        done = get(url + "/search", params={"q": "image segmentation"})
        assert done.status_code == 200 and "still being built" not in done.text and 'class="paper"' in done.text
    finally:
        log = stop(proc)
    assert served_s < 30, served_s  # the lists do not wait for the index
    assert seen_keyword_only, "search never answered by keywords while the meanings were embedded"
    assert "indexing in the background" in log and "indexing: 100 of 100 papers" in log
