"""In-domain quality on the real arXiv corpus, built reproducibly by this script (no hand labels).

(a) Topic search: 300 papers drawn with a fixed seed; each query is the first sentence of the paper's
    abstract with the title's words removed (cut to 30 words); the target is that paper, among all
    67,802. Reports MRR@10 and recall@10 (= hit rate) per ranker.
(b) Similar papers: each page in ../shared/seeds is one query's result list from Hugging Face's own
    search; those papers are imported (hf-page) into a copy of the full store and indexed, so the whole
    corpus stands as distractors. For each page paper: how many of its top-10 similar papers come from
    its own page.

Needs bench/.work/full: the full corpus imported and indexed (bench/speed.py builds it if missing).
"""

from __future__ import annotations

import random
import re
import shutil
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, WORK, machine, table, write_section  # noqa: E402
from paperfeed.ingest import hf_page  # noqa: E402
from paperfeed.models import Paper, normalize_title  # noqa: E402
from paperfeed.search.encoder import get_encoder  # noqa: E402
from paperfeed.search.evaluate import evaluate  # noqa: E402
from paperfeed.search.indexer import sync  # noqa: E402
from paperfeed.search.service import ALPHA, SearchService  # noqa: E402
from paperfeed.store import make_engine  # noqa: E402
from paperfeed.store.importer import Importer  # noqa: E402
from paperfeed.store.schema import papers  # noqa: E402

FULL = WORK / "full"
SAMPLE = 300
SEED = 20261125
RANKERS = [
    ("BM25", {"mode": "lexical"}),
    ("dense", {"mode": "dense"}),
    ("hybrid RRF", {"mode": "hybrid", "fusion": "rrf"}),
    (f"hybrid convex α={ALPHA} (default)", {"mode": "hybrid"}),
]


def topic_query(title: str, abstract: str) -> str:
    first = re.split(r"(?<=[.!?])\s+", abstract.strip(), maxsplit=1)[0]
    title_words = {w.lower() for w in re.findall(r"\w+", title)}
    kept = [w for w in re.findall(r"[\w\-]+", first) if w.lower() not in title_words]
    return " ".join(kept[:30])


def topic_queries(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(papers.select().order_by(papers.c.id)).mappings().all()
    chosen = random.Random(SEED).sample(list(rows), SAMPLE)
    return {p["id"]: topic_query(p["title"], p["abstract"]) for p in chosen}


# Everyday queries with nothing to find in a corpus of computer-science papers.
OFF_TOPIC = [
    "chocolate cake recipe",
    "football world cup results",
    "how to fix a leaking tap",
    "best hiking boots",
    "taylor swift concert tickets",
    "mortgage interest rates",
    "cheap flights to lisbon",
    "how to grow tomatoes",
    "used car prices",
    "wedding dress shopping",
    "knitting patterns for beginners",
    "dog grooming near me",
]


def no_match_rates(service: SearchService, engine) -> list[list]:
    """How often the shipped search says "no good match": for real topic queries (should be never), for
    seeded gibberish and for everyday off-topic queries (should be always)."""
    rng = random.Random(SEED)
    gibberish = [
        " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))) for _ in range(3))
        for _ in range(100)
    ]
    out = []
    for label, queries in (
        ("topic queries (each has its paper)", list(topic_queries(engine).values())),
        ("gibberish (3 random-letter words)", gibberish),
        ("everyday off-topic queries", OFF_TOPIC),
    ):
        flagged = sum(not service.search(q, limit=10, plain=True).good_match for q in queries)
        out.append([label, len(queries), f"{flagged} ({flagged / len(queries):.0%})"])
        print("no match", out[-1], flush=True)
    return out


def misspell(query: str, rng: random.Random) -> str:
    """1 to 3 words of 4+ letters with one typo each: two neighbouring letters swapped, or one dropped."""
    words = query.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for i in rng.sample(long, min(len(long), rng.randint(1, 3))):
        w, j = words[i], rng.randrange(len(words[i]) - 1)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
    return " ".join(words)


def misspelled_search(service: SearchService, engine) -> list[list]:
    """The topic queries with seeded typos: how much of the clean MRR@10 the shipped search keeps, with its
    spelling correction and without."""
    queries = topic_queries(engine)
    rng = random.Random(SEED)
    typo = {pid: misspell(q, rng) for pid, q in queries.items()}
    qrels = {pid: {pid: 1} for pid in queries}
    out = []
    for label, texts, spell in (
        ("clean", queries, True),
        ("misspelled, corrected", typo, True),
        ("misspelled, no correction", typo, False),
    ):
        run = {
            pid: [h.id for h in service.search(q, limit=100, plain=True, spell=spell).hits] for pid, q in texts.items()
        }
        out.append([label, f"{evaluate(run, qrels).mrr10:.4f}"])
        print("misspelled", out[-1], flush=True)
    clean = float(out[0][1])
    for row in out:
        row.append(f"{float(row[1]) / clean:.0%}")
    return out


def topic_search(service: SearchService, engine) -> list[list]:
    queries = topic_queries(engine)
    qrels = {pid: {pid: 1} for pid in queries}
    out = []
    for label, kwargs in RANKERS:
        run = {
            pid: [h.id for h in service.search(q, limit=100, plain=True, **kwargs).hits] for pid, q in queries.items()
        }
        s = evaluate(run, qrels)
        out.append([label, f"{s.mrr10:.4f}", f"{s.recall10:.4f}", f"{s.recall100:.4f}"])
        print("topic", out[-1], flush=True)
    return out


def seed_pages() -> dict[str, list[Paper]]:
    pages = {}
    for f in sorted((SHARED / "seeds").glob("*.txt")):
        pages[f.name] = [p for p in hf_page.read(f) if isinstance(p, Paper)]
    return pages


def similar_papers(data: Path, encoder) -> tuple[list[list], int]:
    engine = make_engine(f"sqlite:///{data / 'paperfeed.db'}")
    pages = seed_pages()
    Importer(engine).run([p for ps in pages.values() for p in ps], "hf-page", "seeds")
    sync(engine, data, encoder)
    with engine.connect() as conn:
        by_title = {
            norm: pid for pid, norm in conn.execute(papers.select().with_only_columns(papers.c.id, papers.c.title_norm))
        }
    page_of = {by_title[normalize_title(p.title)]: name for name, ps in pages.items() for p in ps}
    service = SearchService(engine, data, encoder=encoder)
    texts = {by_title[normalize_title(p.title)]: f"{p.title}. {p.abstract}" for ps in pages.values() for p in ps}
    out = []
    for label, kwargs in RANKERS:
        shares = []
        for pid, text in texts.items():
            if kwargs["mode"] == "dense":
                ids = [h.id for h in service.similar(pid, 10)]
            else:
                ids = [h.id for h in service.search(text, limit=11, plain=True, **kwargs).hits if h.id != pid][:10]
            shares.append(sum(page_of.get(i) == page_of[pid] for i in ids) / 10)
        out.append([label, f"{sum(shares) / len(shares):.3f}"])
        print("similar", out[-1], flush=True)
    engine.dispose()
    return out, len(texts)


def main() -> None:
    if not (FULL / "index" / "vectors" / "state.sqlite").exists():
        raise SystemExit("bench/.work/full is not indexed yet: run bench/speed.py first")
    encoder = get_encoder(WORK / "models")
    engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
    service = SearchService(engine, FULL, encoder=encoder)
    topic = topic_search(service, engine)
    no_match = no_match_rates(service, engine)
    typos = misspelled_search(service, engine)
    engine.dispose()
    copy = WORK / "full-with-seeds"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(FULL, copy)
    similar, n_seed = similar_papers(copy, encoder)
    shutil.rmtree(copy, ignore_errors=True)
    body = "\n".join(
        [
            "## In-domain quality: the real arXiv corpus (67,802 papers)",
            "",
            f"Machine: {machine()}. Built by `bench/indomain.py` from the corpus and the seed pages, no hand labels.",
            "",
            f"**Topic search.** {SAMPLE} papers drawn with seed {SEED}; each query is the first sentence of the"
            " abstract with the title's words removed (at most 30 words); the one relevant document is the"
            " paper itself, among all 67,802.",
            "",
            table(["ranker", "MRR@10", "recall@10", "recall@100"], topic),
            "",
            '**No good match.** How often the shipped search (hybrid) answers "no good match" instead of a'
            " result count (best cosine below 0.45 and no top-3 paper holding two thirds of the query's words):",
            "",
            table(["queries", "n", "judged no good match"], no_match),
            "",
            "**Misspelled queries.** The same topic queries with seeded typos (1-3 words of 4+ letters each get"
            " two neighbouring letters swapped or one dropped); MRR@10 of the shipped hybrid search, and the share"
            " of the clean figure kept (target ≥ 80 %):",
            "",
            table(["queries", "MRR@10", "of clean"], typos),
            "",
            f"**Similar papers.** The {n_seed} papers of the three Hugging Face search-result pages in"
            " `shared/seeds` are added to the corpus; for each, the share of its top-10 most similar papers that"
            " come from its own page (a page is one query's result list on huggingface.co). The dense ranker is"
            " `paperfeed similar` (vector neighbours); the others search with the paper's title and abstract.",
            "",
            table(["ranker", "top-10 from the same page"], similar),
        ]
    )
    write_section("indomain", body)
    print(body)


if __name__ == "__main__":
    main()
