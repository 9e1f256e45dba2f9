from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import delete

from paperfeed.search.indexer import sync
from paperfeed.search.query import QueryError
from paperfeed.search.service import fuse
from paperfeed.store.importer import Importer
from paperfeed.store.schema import papers

# Papers of the sample, each with a query a researcher might type for it.
KNOWN = {
    "2503.11731": "gaussian splatting sensor simulation for autonomous driving validation",
    "2503.14554": "synchronous versus asynchronous reinforcement learning on a real robot",
}


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
@pytest.mark.parametrize("paper_id", list(KNOWN))
def test_a_known_query_returns_the_known_paper_first(service, mode, paper_id):
    results = service.search(KNOWN[paper_id], limit=5, mode=mode)
    assert results.hits[0].id == paper_id
    assert results.hits[0].paper["title"]
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)


def test_every_title_finds_its_paper_first(service, sample_papers):
    misses = [p.id for p in sample_papers[:60] if service.search(p.title, limit=1).hits[0].id != p.id]
    assert misses == []


@pytest.mark.parametrize("mode", ["lexical", "dense"])
def test_filters_apply_before_the_cut(service, mode, sample_papers):
    # The best matches for this query are cs.CV papers; the filtered page must be exactly the cs.CL
    # papers of the whole ranking, not what is left of its first page.
    everything = service.search("image generation with diffusion", limit=len(sample_papers), mode=mode).hits
    ids = [h.id for h in everything]
    if mode == "dense":
        # The whole ranking exactly (every paper scored, as the filtered search does), not the HNSW graph's
        # approximation of it: near-equal cosines may swap places between the two.
        snap = service.snapshot()
        vec = service.encoder.encode(["image generation with diffusion"])[0]
        ids = [pid for pid, _ in service.nearest(vec, snap, len(sample_papers), mask=snap.alive.copy())]
    cats = {p.id: p.categories for p in sample_papers}
    expected = [i for i in ids if "cs.CL" in cats[i]][:10]
    assert len(expected) == 10 and "cs.CL" not in cats[ids[0]]
    filtered = service.search("image generation with diffusion cat:cs.CL", limit=10, mode=mode).hits
    assert [h.id for h in filtered] == expected


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_date_and_category_filters(service, mode):
    results = service.search("image generation with diffusion cat:cs.CL", limit=10, mode=mode)
    assert len(results.hits) == 10
    assert all("cs.CL" in h.paper["categories"] for h in results.hits)

    late = service.search("image generation", limit=10, mode=mode, since=date(2025, 3, 28))
    assert late.hits and all(h.paper["listed_date"] >= date(2025, 3, 28) for h in late.hits)
    early = service.search("image generation until:2025-03-18", limit=10, mode=mode)
    assert early.hits and all(h.paper["listed_date"] <= date(2025, 3, 18) for h in early.hits)


def test_author_and_phrase_filters(service, sample_papers):
    author = sample_papers[0].authors[0]
    hits = service.search(f'author:"{author}"', limit=50).hits
    assert sample_papers[0].id in [h.id for h in hits]
    assert all(any(set(author.lower().split()) <= set(a.lower().split()) for a in h.paper["authors"]) for h in hits)

    hits = service.search('"gaussian splatting" rendering', limit=20).hits
    assert hits
    # Phrases match stemmed words in order: "Gaussian splats" matches "gaussian splatting".
    assert all("gaussian splat" in (h.paper["title"] + " " + h.paper["abstract"]).lower() for h in hits)


def test_filters_alone_list_newest_first(service):
    hits = service.search("cat:cs.RO", limit=30).hits
    assert len(hits) == 15 and all("cs.RO" in h.paper["categories"] for h in hits)  # all 15 of the sample
    days = [h.paper["listed_date"] for h in hits]
    assert days == sorted(days, reverse=True)


def test_sort_by_date(service):
    hits = service.search("language model reasoning", limit=20, sort="date").hits
    days = [h.paper["listed_date"] for h in hits]
    assert len(hits) == 20 and days == sorted(days, reverse=True)


@pytest.mark.parametrize(
    "text",
    ['"unbalanced quote about diffusion', "the of and a", "diffusion " * 2000, "robot\x00\x07 learning\u200b"],
)
def test_odd_queries_give_sensible_results(service, text):
    results = service.search(text, limit=5)
    assert len(results.hits) == 5


@pytest.mark.parametrize("text", ["foo:bar diffusion", "since:tomorrow"])
def test_bad_queries_raise_a_clear_error(service, text):
    with pytest.raises(QueryError, match="foo:|since"):
        service.search(text)


def test_empty_query_returns_help_not_everything(service):
    results = service.search("  ")
    assert results.hits == [] and results.notes


def test_a_new_version_replaces_the_old_one(service, settings, sample_papers, encoder, data_dir):
    old = replace(sample_papers[5], version=1)  # the sample's listing records carry no version
    newer = replace(old, version=2, abstract=old.abstract + " Zorblaxian appendix added.")
    engine = service.engine
    Importer(engine).run([old], "arxiv-snapshot", "v1")
    Importer(engine).run([newer], "arxiv-snapshot", "v2")
    report = sync(engine, data_dir, encoder)
    assert (report.added, report.updated, report.embedded) == (0, 1, 1)
    assert service.indexed_count() == len(sample_papers)
    ids = [h.id for h in service.search(old.title, limit=20).hits]
    assert ids.count(old.id) == 1
    assert [h.id for h in service.search("zorblaxian", mode="lexical").hits] == [old.id]


def test_a_metadata_change_keeps_the_vector(service, sample_papers, encoder, data_dir):
    paper = replace(sample_papers[7], version=1)
    Importer(service.engine).run([paper], "arxiv-snapshot", "v1")
    Importer(service.engine).run([replace(paper, version=2, categories=["cs.DL"])], "arxiv-snapshot", "v2")
    report = sync(service.engine, data_dir, encoder)
    assert (report.updated, report.embedded, report.reused) == (1, 0, 1)
    assert paper.id in [h.id for h in service.search(f"{paper.title} cat:cs.DL", limit=5).hits]


def test_a_deleted_paper_leaves_both_indexes(service, sample_papers, encoder, data_dir):
    gone = sample_papers[3]
    with service.engine.begin() as conn:
        conn.execute(delete(papers).where(papers.c.id == gone.id))
    report = sync(service.engine, data_dir, encoder)
    assert report.removed == 1
    for mode in ("lexical", "dense"):
        assert gone.id not in [h.id for h in service.search(gone.title, limit=50, mode=mode).hits]
    assert service.similar(gone.id) is None
    assert service.lexical.count() == len(sample_papers) - 1


def test_similar_papers(service, sample_papers):
    target = sample_papers[0]
    hits = service.similar(f"arXiv:{target.id}v3", limit=10)
    assert len(hits) == 10 and target.id not in [h.id for h in hits]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] < 1
    assert service.similar("2503.99999") is None
    text_hits = service.similar_to_text(target.title, limit=3)
    assert text_hits[0].id == target.id


def test_fusion_orders_by_both_legs():
    lexical = [("a", 10.0), ("b", 5.0)]
    dense = [("b", 0.9), ("c", 0.8)]
    assert [h.id for h in fuse(lexical, dense, "rrf")] == ["b", "a", "c"]
    convex = fuse(lexical, dense, "convex", alpha=0.5)
    assert [h.id for h in convex] == ["b", "a", "c"]
    assert convex[0].score == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    # a paper the dense leg did not return is scored by its real cosine, not zero
    with_cos = fuse(lexical, dense, "convex", alpha=0.5, more_dense={"a": 0.9})
    assert with_cos[0].id == "a"


def test_typos_are_searched_as_the_common_word_one_typo_away(service):
    clean = service.search("image segmentation", limit=10)
    typo = service.search("imgae segmentaton", limit=10)
    assert [h.id for h in typo.hits] == [h.id for h in clean.hits]
    assert "Showing results for: image segmentation (corrected imgae → image, segmentaton → segmentation)" in typo.notes
    assert not any("Showing results" in n for n in clean.notes)  # known words are never "corrected"
    off = service.search("imgae segmentaton", limit=10, spell=False)
    assert [h.id for h in off.hits] != [h.id for h in clean.hits]
    junk = service.search("zycidpyo umzgdpa", limit=10)
    assert not any("Showing results" in n for n in junk.notes)  # nothing one typo away: left as typed


def test_the_first_search_of_a_fresh_service_corrects_too(data_dir, settings, encoder):
    from paperfeed.search.service import SearchService
    from paperfeed.store import make_engine

    fresh = SearchService(make_engine(settings.db_url), data_dir, encoder=encoder)
    assert any(n.startswith("Showing results for: image") for n in fresh.search("imgae", limit=5).notes)


def test_a_correction_prefers_the_likelier_typo_and_the_real_word(tmp_path):
    """A dropped or swapped letter is likelier than a wrong one: "atention" is "attention" even where the stem
    of a wrong-letter neighbour ("agention" -> "agent") is more common; of two spellings with the same stem,
    the shorter, real word is shown ("vidoe" -> "video", not "videoe")."""
    from paperfeed.search.lexical import LexicalIndex

    texts = ["agent planning"] * 30 + ["attention heads"] * 20 + ["video models"] * 15
    docs = [
        {"id": f"p{i}", "title": t, "abstract": "", "authors": [], "categories": [], "listed_date": None}
        for i, t in enumerate(texts)
    ]
    lexical = LexicalIndex(tmp_path / "lexical")
    lexical.apply(docs, [])
    assert lexical.correct(["atention", "vidoe", "modles", "agnet"]) == ["attention", "video", "models", "agent"]


def test_the_graph_is_searched_wider_as_it_grows(service):
    from paperfeed.search.vectors import search_breadth

    assert [search_breadth(n) for n in (466, 67_802, 1_000_000, 10_000_000)] == [64, 256, 983, 1024]
    snap = service.snapshot()
    assert snap.graph.expansion_search == search_breadth(len(snap.row_of)) == 64
