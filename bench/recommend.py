"""Recommendation quality: the rankers of src/paperfeed/rank/recommend.py on the same data, in one run.

Protocols (issue #11):
- Topic lists: each Hugging Face search-result page (../shared/seeds, or `--pages DIR`) is one user's interest.
  Its papers join the 67,802-paper corpus (embedded like the index embeds). For each page, 20 repetitions
  (fixed seeds): 5 random papers of the page are the likes; in a second variant 10 random corpus papers are
  also "not interested"; everything else is ranked; the page's other papers are relevant.
  nDCG@20, recall@50, MRR.
- Community curation: "featured on Hugging Face Daily Papers" (../shared/corpus/hf-daily-archive) is one user's
  likes: trained on the featured papers listed before month M, each later listing day of month M is ranked;
  relevant = that day's featured papers, graded by upvotes for nDCG. The last 6 months of the corpus.
  nDCG@20, precision@10, MRR per month.
Baselines in the same run: random; zotero-arxiv-daily's recency-weighted mean similarity; Scholar Inbox's
logistic regression on embeddings with random negatives; arxiv-sanity-lite's tf-idf + linear SVM (their recipes
as published: see the docstring of rank/recommend.py).
Not run here yet: the author-continuity protocol and the speed measurements the issue asks for.

Needs bench/.work/full (bench/speed.py builds it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, WORK, machine, table, write_section  # noqa: E402
from paperfeed.ingest import hf_page  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.rank import recommend as rec  # noqa: E402
from paperfeed.search.encoder import get_encoder  # noqa: E402
from paperfeed.search.indexer import paper_text  # noqa: E402
from paperfeed.search.service import SearchService  # noqa: E402
from paperfeed.store import make_engine  # noqa: E402

FULL = WORK / "full"
REPS = 20
# arxiv-sanity-lite's SVM refits on the whole corpus's tf-idf (about 3 s here): fewer repetitions for it, and
# the first DAYS_PER_MONTH days of each month for every ranker in the curation protocol.
SVM_REPS, DAYS_PER_MONTH = 5, 5
N_LIKES, N_DISLIKES, N_RANDOM = 5, 10, 300
RANKERS = ["random", "zotero", "logreg", "svm", "ours"]


class Corpus:
    def __init__(self):
        engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
        snap = SearchService(engine, FULL).snapshot()
        rows = np.flatnonzero(snap.alive)
        self.ids = [snap.paper_of[r] for r in rows]
        self.vecs = np.asarray(snap.matrix[rows], dtype=np.float32)
        with engine.connect() as conn:
            from sqlalchemy import select

            from paperfeed.store.schema import papers

            meta = {
                r.id: r
                for r in conn.execute(select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.listed_date))
            }
        self.texts = [f"{meta[i].title} {meta[i].abstract}" for i in self.ids]
        self.listed = [meta[i].listed_date for i in self.ids]

    def tfidf(self, extra: list[str]):
        """tf-idf of the corpus and `extra` texts (arxiv-sanity-lite's settings, words in at least 5 papers)."""
        return rec.tfidf(self.texts + extra, min_df=5)


def scores_for(
    name: str,
    likes: np.ndarray,
    dislikes: np.ndarray,
    cands: np.ndarray,
    rng,
    corpus_vecs,
    x=None,
    like_rows=None,
    cand_rows=None,
) -> np.ndarray:
    if name == "random":
        return rng.random(len(cands))
    if name == "zotero":
        return rec.zotero(likes, cands)
    randoms = corpus_vecs[rng.choice(len(corpus_vecs), N_RANDOM, replace=False)]
    if name == "logreg":
        return rec.logreg(likes, randoms, cands)
    if name == "ours":
        return rec.ours(likes, np.zeros(len(likes)), dislikes, randoms, cands)
    return rec.svm_scores(x, like_rows, cand_rows)  # svm, as arxiv-sanity-lite trains it


def metrics(order: list[int], gains: dict[int, float]) -> tuple[float, float, float]:
    ranked = [str(i) for i in order]
    g = {str(k): v for k, v in gains.items()}
    ndcg = rec.ndcg(ranked, g, 20)
    recall = sum(1 for i in order[:50] if i in gains) / len(gains)
    first = next((n for n, i in enumerate(order[:1000], 1) if i in gains), None)
    return ndcg, recall, 1.0 / first if first else 0.0


def topic_lists(corpus: Corpus, pages_dir: Path, encoder) -> list[list]:
    pages = {f.name: [p for p in hf_page.read(f) if isinstance(p, Paper)] for f in sorted(pages_dir.glob("*.txt"))}
    page_texts = [f"{p.title} {p.abstract}" for ps in pages.values() for p in ps]
    page_vecs = encoder.encode([paper_text(p.title, p.abstract) for ps in pages.values() for p in ps])
    vecs = np.vstack([corpus.vecs, page_vecs]).astype(np.float32)
    x = corpus.tfidf(page_texts)
    n0 = len(corpus.ids)
    results = {(v, r): [] for v in ("likes", "likes + not interested") for r in RANKERS}
    offset = n0
    for name, ps in pages.items():
        rows = list(range(offset, offset + len(ps)))
        offset += len(ps)
        for rep in range(REPS):
            rng = random.Random(f"{name}-{rep}")
            likes = rng.sample(rows, N_LIKES)
            dislikes = rng.sample(range(n0), N_DISLIKES)
            for variant in ("likes", "likes + not interested"):
                skip = set(likes) | (set(dislikes) if variant != "likes" else set())
                cand_rows = np.array([i for i in range(len(vecs)) if i not in skip])
                gains = {i: 1.0 for i in rows if i not in skip}
                for ranker in RANKERS:
                    if ranker == "svm" and rep >= SVM_REPS:
                        continue
                    nrng = np.random.default_rng(rep)
                    d = vecs[dislikes] if variant != "likes" else np.zeros((0, vecs.shape[1]), np.float32)
                    s = scores_for(ranker, vecs[likes], d, vecs[cand_rows], nrng, corpus.vecs, x, likes, cand_rows)
                    order = [int(cand_rows[i]) for i in np.argsort(-s)[:1000]]
                    results[(variant, ranker)].append(metrics(order, gains))
        print("topic page", name, flush=True)
    return [
        [variant, ranker, *(f"{statistics.mean(m[i] for m in ms):.4f}" for i in range(3))]
        for (variant, ranker), ms in results.items()
    ]


def featured() -> dict[str, int]:
    out = {}
    for f in sorted((SHARED / "corpus" / "hf-daily-archive").glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as lines:
            for line in lines:
                r = json.loads(line)
                out[r["arxiv_id"]] = max(out.get(r["arxiv_id"], 0), r["upvotes"] or 0)
    return out


def community(corpus: Corpus) -> list[list]:
    hf = featured()
    index = {pid: i for i, pid in enumerate(corpus.ids)}
    months = sorted({d.strftime("%Y-%m") for d in corpus.listed if d})[-6:]
    x = corpus.tfidf([])
    rows = []
    for month in months:
        first = date.fromisoformat(month + "-01")
        liked = [index[p] for p in hf if p in index and corpus.listed[index[p]] and corpus.listed[index[p]] < first]
        # the 300 most recent featured papers before the month, newest first (as a library sorted by date)
        liked = sorted(liked, key=lambda i: corpus.listed[i], reverse=True)[:300]
        days = defaultdict(list)
        for i, d in enumerate(corpus.listed):
            if d and d.strftime("%Y-%m") == month:
                days[d].append(i)
        per = {r: [] for r in RANKERS}
        scored = [(d, c) for d, c in sorted(days.items()) if any(corpus.ids[i] in hf for i in c)]
        for day, cand in scored[:DAYS_PER_MONTH]:
            gains = {i: float(hf[corpus.ids[i]]) + 1.0 for i in cand if corpus.ids[i] in hf}
            cand_rows = np.array(cand)
            for ranker in RANKERS:
                rng = np.random.default_rng(day.toordinal())
                s = scores_for(
                    ranker,
                    corpus.vecs[liked],
                    np.zeros((0, corpus.vecs.shape[1]), np.float32),
                    corpus.vecs[cand_rows],
                    rng,
                    corpus.vecs,
                    x,
                    liked,
                    cand_rows,
                )
                order = [int(cand_rows[i]) for i in np.argsort(-s)]
                ndcg, _, mrr = metrics(order, gains)
                p10 = sum(1 for i in order[:10] if i in gains) / 10
                per[ranker].append((ndcg, p10, mrr))
        for ranker, ms in per.items():
            rows.append([month, ranker, len(ms), *(f"{statistics.mean(m[i] for m in ms):.4f}" for i in range(3))])
        print("community month", month, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=Path, default=SHARED / "seeds")
    args = parser.parse_args()
    start = time.perf_counter()
    corpus = Corpus()
    topics = topic_lists(corpus, args.pages, get_encoder(WORK / "models"))
    curation = community(corpus)
    best = {}
    for variant, ranker, ndcg, *_ in topics:
        best.setdefault(variant, {})[ranker] = float(ndcg)
    summary = []
    for variant, by in best.items():
        baseline = max((v, k) for k, v in by.items() if k not in ("ours", "random"))
        summary.append(
            [
                f"topic lists, {variant}",
                f"{by['ours']:.4f}",
                f"{baseline[1]} {baseline[0]:.4f}",
                f"{(by['ours'] / baseline[0] - 1) * 100:+.1f} %",
            ]
        )
    cur = defaultdict(list)
    for _month, ranker, _n, ndcg, *_ in curation:
        cur[ranker].append(float(ndcg))
    mean = {k: statistics.mean(v) for k, v in cur.items()}
    base = max((v, k) for k, v in mean.items() if k not in ("ours", "random"))
    summary.append(
        [
            "community curation (6 months)",
            f"{mean['ours']:.4f}",
            f"{base[1]} {base[0]:.4f}",
            f"{(mean['ours'] / base[0] - 1) * 100:+.1f} %",
        ]
    )
    body = (
        f"{machine()}. Rankers of src/paperfeed/rank/recommend.py; `ours` is what ships. {REPS} seeded repetitions\n"
        f"per topic page ({args.pages}; the SVM baseline {SVM_REPS}); community curation: the first "
        f"{DAYS_PER_MONTH} listing days of each of the corpus's last 6 months. "
        f"Run in {time.perf_counter() - start:.0f} s.\n\n"
        + table(["protocol", "ours nDCG@20", "best baseline nDCG@20", "ours vs best"], summary)
        + "\n\n**Topic lists** (means over pages and repetitions)\n\n"
        + table(["variant", "ranker", "nDCG@20", "recall@50", "MRR"], topics)
        + "\n\n**Community curation** (featured on HF = liked; per month)\n\n"
        + table(["month", "ranker", "days", "nDCG@20", "precision@10", "MRR"], curation)
        + "\n\nNot measured yet: the author-continuity protocol, and the speed targets (1,000 users over a day of\n"
        "2,000 papers; the For you page's p95).\n"
    )
    write_section("recommend", body)
    print(body)


if __name__ == "__main__":
    main()
