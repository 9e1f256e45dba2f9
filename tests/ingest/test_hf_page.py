from datetime import date

from sqlalchemy import select

from paperfeed.ingest import hf_page
from paperfeed.models import Paper, Rejected, title_id
from paperfeed.store.importer import Importer
from paperfeed.store.schema import paper_sources, papers
from tests.conftest import FIXTURES

PAGES = sorted((FIXTURES / "hf-page").glob("*.txt"))


def test_pages_yield_title_abstract_pairs_without_chrome():
    counts = [len(list(hf_page.read(p))) for p in PAGES]
    assert counts == [49, 48, 43]
    first = next(iter(hf_page.read(PAGES[0])))
    assert first.title.startswith("Regularized Mask Tuning: Uncovering Hidden Knowledge")
    assert first.abstract.startswith("Prompt tuning and adapter tuning have shown great potential")
    assert first.id is None and first.source_ref == f"{PAGES[0].name}:11"
    titles = [p.title for page in PAGES for p in hf_page.read(page)]
    assert not any(t in ("Subscribe", "Mar 11", "new") for t in titles)


def test_matching_by_title_and_creating_the_unmatched(engine):
    first = next(iter(hf_page.read(PAGES[0])))
    known = Paper(
        id="2307.15049",
        title=first.title.upper(),
        abstract=first.abstract,
        authors=["Kecheng Zheng"],
        listed_date=date(2023, 7, 27),
        source="arxiv-snapshot",
        source_ref="x.jsonl:1",
    )
    Importer(engine).run([known], "arxiv-snapshot", "x")
    counts = Importer(engine).run(hf_page.read(PAGES[0]), "hf-page", str(PAGES[0]))
    assert (counts.new, counts.updated, counts.rejected) == (48, 1, 0)
    with engine.connect() as conn:
        srcs = conn.execute(select(paper_sources.c.source).where(paper_sources.c.paper_id == "2307.15049")).all()
        assert sorted(s for (s,) in srcs) == ["arxiv-snapshot", "hf-page"]
        # The page's date line ("Mar 11") is not taken as any paper's date.
        second = list(hf_page.read(PAGES[0]))[1]
        row = conn.execute(select(papers).where(papers.c.id == title_id(second.title))).mappings().one()
        assert row["published"] is None and row["listed_date"] is None
    again = Importer(engine).run(hf_page.read(PAGES[0]), "hf-page", str(PAGES[0]))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 49)


def test_broken_page_text(tmp_path):
    lines = PAGES[1].read_text().splitlines()
    # Drop the first abstract (a title with no abstract), re-encode one title as Latin-1.
    del lines[12]
    text = "\n".join(lines).replace("CoLiDE", "CoLiD\u00c9")
    path = tmp_path / "page.txt"
    path.write_bytes(text.encode("utf-8").replace("CoLiD\u00c9".encode(), "CoLiD\u00c9".encode("latin-1")))
    items = list(hf_page.read(path))
    rejected = [str(i) for i in items if isinstance(i, Rejected)]
    assert rejected[0].startswith("page.txt:14: bytes that are not UTF-8")
    assert rejected[1] == (
        "page.txt:11: title 'Smooth Diffusion: Crafting Smooth Latent Spaces in Diffusion' has no abstract after it"
    )
    assert rejected[2] == "page.txt:14: text is not valid UTF-8"
    assert len([i for i in items if isinstance(i, Paper)]) == 46
