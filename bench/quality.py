"""Retrieval quality on any folder in the BEIR layout: BM25 alone, dense alone, and the hybrids.

    python bench/quality.py [DIR ...]     (default: every BEIR folder under ../shared/eval)

Each folder's documents go through the real product path: imported into a paperfeed store, indexed
by `paperfeed index`'s code (so the embeddings are the shipped int8 encoder's), and searched through
SearchService with the query as plain text. The index is kept under bench/.work/beir/NAME, so a rerun
only re-scores. Metrics are paperfeed.search.evaluate's (tested against hand-computed cases).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, WORK, machine, table, write_section  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.search.encoder import get_encoder  # noqa: E402
from paperfeed.search.evaluate import (  # noqa: E402
    beir_corpus,
    beir_qrels,
    beir_queries,
    evaluate,
    is_beir_folder,
)
from paperfeed.search.indexer import sync  # noqa: E402
from paperfeed.search.service import ALPHA, SearchService  # noqa: E402
from paperfeed.store import init_db, make_engine  # noqa: E402
from paperfeed.store.importer import Importer  # noqa: E402

DEPTH = 100
# (label, search keyword arguments); the shipped default is marked in the report.
RANKERS = [
    ("BM25 (tantivy)", {"mode": "lexical"}),
    ("dense (MiniLM int8)", {"mode": "dense"}),
    ("hybrid RRF (k=60)", {"mode": "hybrid", "fusion": "rrf"}),
    *[(f"hybrid convex α={a}", {"mode": "hybrid", "fusion": "convex", "alpha": a}) for a in (0.3, 0.5, 0.7, 0.8, 0.9)],
]


def doc_id(name: str, raw: str) -> str:
    return f"{name}:{raw}"


def build(folder: Path, data: Path):
    engine = make_engine(f"sqlite:///{data / 'paperfeed.db'}")
    init_db(engine)
    papers = (
        Paper(
            id=doc_id(folder.name, d.id),
            title=d.title,
            abstract=d.text,
            source="beir",
            source_ref=f"{folder.name}/corpus.jsonl:{i}",
        )
        for i, d in enumerate(beir_corpus(folder), 1)
    )
    counts = Importer(engine).run(papers, "beir", str(folder))
    encoder = get_encoder(WORK / "models")
    start = time.perf_counter()
    report = sync(engine, data, encoder)
    return engine, encoder, counts, report, time.perf_counter() - start


def run_folder(folder: Path) -> tuple[str, list[list]]:
    data = WORK / "beir" / folder.name
    engine, encoder, counts, report, seconds = build(folder, data)
    service = SearchService(engine, data, encoder=encoder)
    queries = beir_queries(folder)
    qrels = {
        doc_id(folder.name, q): {doc_id(folder.name, d): g for d, g in rels.items()}
        for q, rels in beir_qrels(folder).items()
        if q in queries
    }
    prefix = doc_id(folder.name, "")
    rows = []
    for label, kwargs in RANKERS:
        run = {}
        start = time.perf_counter()
        for qid in qrels:
            hits = service.search(queries[qid.removeprefix(prefix)], limit=DEPTH, plain=True, **kwargs).hits
            run[qid] = [h.id for h in hits]
        per_query_ms = (time.perf_counter() - start) / len(qrels) * 1000
        s = evaluate(run, qrels)
        shipped = kwargs.get("fusion") == "convex" and kwargs.get("alpha") == ALPHA
        rows.append(
            [
                f"**{label}** (default)" if shipped else label,
                f"{s.ndcg10:.4f}",
                f"{s.recall10:.4f}",
                f"{s.recall100:.4f}",
                f"{s.mrr10:.4f}",
                f"{per_query_ms:.1f}",
            ]
        )
        print(folder.name, rows[-1], flush=True)
    note = (
        f"{folder.name}: {counts.new + counts.unchanged + counts.updated:,} documents,"
        f" {len(qrels)} judged test queries;"
        f" indexing this run: {report.summary()} in {seconds:.0f} s."
    )
    return note, rows


def main(folders: list[Path]) -> None:
    folders = folders or sorted(p for p in (SHARED / "eval").iterdir() if is_beir_folder(p))
    parts = [
        "## Search quality on public benchmarks (BEIR layout)",
        "",
        f"Machine: {machine()}. `python bench/quality.py DIR` runs unchanged on any BEIR folder; it evaluated"
        f" every folder under `../shared/eval/`. Each ranker retrieves {DEPTH} documents per query through"
        " `SearchService.search` (queries as plain text); ms/query includes query encoding.",
        "",
    ]
    for folder in folders:
        note, rows = run_folder(folder)
        parts += [
            f"### {folder.name}",
            "",
            note,
            "",
            table(["ranker", "nDCG@10", "recall@10", "recall@100", "MRR@10", "ms/query"], rows),
            "",
        ]
    write_section("quality", "\n".join(parts))


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
