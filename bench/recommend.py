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
- Author continuity: an author (`--authors`, 300 drawn with a fixed seed from those with at least 8 papers in
  the corpus; a name is the exact string arXiv lists, so namesakes count as one) is one user: their papers
  listed before their last three months (before the date of their last paper less 91 days) are the likes,
  newest first; an author with fewer than 3 such papers is skipped and the next one drawn. Each later listing
  day that has one of their papers is ranked: all that day's papers, relevant = theirs (binary). One model per
  author scores all their days. Only title and abstract (embeddings, tf-idf) are features, never names.
  Negatives as in the other protocols: 300 random corpus papers (logreg, ours); every other corpus paper,
  the ranked days' papers included, for arxiv-sanity-lite's SVM. `ours` decays each like by its age at the
  cutoff. nDCG@20 and MRR, means over author-days; written to its own section (recommend-authors).
Baselines in the same run: random; zotero-arxiv-daily's recency-weighted mean similarity; Scholar Inbox's
logistic regression on embeddings with random negatives; arxiv-sanity-lite's tf-idf + linear SVM (their recipes
as published: see the docstring of rank/recommend.py).
The speed measurements the issue asks for are bench/recommend_speed.py's.

`--only` picks protocols (topics, curation, authors; all by default). The recommend section needs both topics
and curation: with only one of them its table is printed, not written.
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
from datetime import date, timedelta
from functools import cached_property
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
PROTOCOLS = ["topics", "curation", "authors"]
# Author continuity: who counts, how many likes at least, how long "their last months" are, the draw's seed.
MIN_PAPERS, MIN_AUTHOR_LIKES, RECENT_DAYS, AUTHOR_SEED = 8, 3, 91, 11
TOPIC_HEADER = ["variant", "ranker", "nDCG@20", "recall@50", "MRR"]
CURATION_HEADER = ["month", "ranker", "days", "nDCG@20", "precision@10", "MRR"]


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
                for r in conn.execute(
                    select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.listed_date, papers.c.authors)
                )
            }
        self.texts = [f"{meta[i].title} {meta[i].abstract}" for i in self.ids]
        self.listed = [meta[i].listed_date for i in self.ids]
        self.authors = [meta[i].authors for i in self.ids]

    def tfidf(self, extra: list[str]):
        """tf-idf of the corpus and `extra` texts (arxiv-sanity-lite's settings, words in at least 5 papers)."""
        return rec.tfidf(self.texts + extra, min_df=5)

    @cached_property
    def matrix(self):
        """The tf-idf of the corpus alone, computed once for the protocols that share it."""
        return self.tfidf([])


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
    ages=None,
    texts: list[str] | None = None,
) -> np.ndarray:
    """`texts`: the corpus's texts by row, when the candidates are a day's papers: `ours` then fits its
    tf-idf on the candidates, as the app does; without them (the topic lists rank the whole corpus) the
    corpus's tf-idf `x` is the candidates' own."""
    if name == "random":
        return rng.random(len(cands))
    if name == "zotero":
        return rec.zotero(likes, cands)
    randoms = corpus_vecs[rng.choice(len(corpus_vecs), N_RANDOM, replace=False)]
    if name == "logreg":
        return rec.logreg(likes, randoms, cands)
    if name == "ours":
        text = day_text(texts, like_rows, cand_rows) if texts else rec.svm_scores(x, like_rows, cand_rows)
        return rec.ours(likes, np.zeros(len(likes)) if ages is None else ages, dislikes, randoms, cands, text=text)
    return rec.svm_scores(x, like_rows, cand_rows)  # svm, as arxiv-sanity-lite trains it


def day_text(texts: list[str], like_rows, cand_rows) -> np.ndarray | None:
    """The app's text half of `ours`: arxiv-sanity-lite's SVM on the candidates' own tf-idf."""
    day = rec.day_tfidf([texts[i] for i in cand_rows])
    if day is None:
        return None
    vectorizer, matrix = day
    return rec.svm_text(vectorizer.transform([texts[i] for i in like_rows]), matrix)


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
    x = corpus.matrix
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
                    texts=corpus.texts,
                )
                order = [int(cand_rows[i]) for i in np.argsort(-s)]
                ndcg, _, mrr = metrics(order, gains)
                p10 = sum(1 for i in order[:10] if i in gains) / 10
                per[ranker].append((ndcg, p10, mrr))
        for ranker, ms in per.items():
            rows.append([month, ranker, len(ms), *(f"{statistics.mean(m[i] for m in ms):.4f}" for i in range(3))])
        print("community month", month, flush=True)
    return rows


def by_author(corpus: Corpus) -> dict[str, list[int]]:
    rows = defaultdict(list)
    for i, (names, day) in enumerate(zip(corpus.authors, corpus.listed, strict=True)):
        for name in set(names) if day else ():
            rows[name].append(i)
    return rows


def by_day(corpus: Corpus) -> dict[date, list[int]]:
    rows = defaultdict(list)
    for i, day in enumerate(corpus.listed):
        rows[day].append(i)
    return rows


def author_split(corpus: Corpus, rows: list[int]) -> tuple[list[int], list[int], date] | None:
    """Likes (before the cutoff, newest first), later papers and the cutoff; None with too few likes."""
    cutoff = max(corpus.listed[i] for i in rows) - timedelta(days=RECENT_DAYS)
    likes = sorted((i for i in rows if corpus.listed[i] < cutoff), key=lambda i: corpus.listed[i], reverse=True)
    later = [i for i in rows if corpus.listed[i] >= cutoff]
    return (likes, later, cutoff) if len(likes) >= MIN_AUTHOR_LIKES and later else None


def draw_authors(corpus: Corpus, n: int) -> tuple[list[tuple], int]:
    """n authors with at least MIN_PAPERS papers in a seeded order, and how many were skipped on the way."""
    rows = by_author(corpus)
    names = sorted(name for name, r in rows.items() if len(r) >= MIN_PAPERS)
    random.Random(AUTHOR_SEED).shuffle(names)
    drawn, skipped = [], 0
    for name in names:
        if len(drawn) == n:
            break
        split = author_split(corpus, rows[name])
        drawn += [split] if split else []
        skipped += 0 if split else 1
    return drawn, skipped


def day_metrics(cand_rows: np.ndarray, gains: dict[int, float], s: np.ndarray) -> tuple[float, float]:
    order = [int(cand_rows[i]) for i in np.argsort(-s)]
    ndcg, _, mrr = metrics(order, gains)
    return ndcg, mrr


def one_author(corpus: Corpus, days: dict, seed: int, likes: list[int], later: list[int], cutoff: date) -> dict:
    """nDCG@20 and MRR of each ranker on each of the author's later days, one fit per ranker."""
    mine = set(later)
    tests = [np.array(days[d]) for d in sorted({corpus.listed[i] for i in later})]
    cand_rows = np.concatenate(tests)
    ages = np.array([(cutoff - corpus.listed[i]).days for i in likes], dtype=float)
    no_dislikes = np.zeros((0, corpus.vecs.shape[1]), np.float32)
    splits = np.cumsum([len(t) for t in tests])[:-1]
    out = {}
    for ranker in RANKERS:
        rng = np.random.default_rng(seed)
        args = (corpus.vecs, corpus.matrix, likes, cand_rows, ages, corpus.texts)
        s = scores_for(ranker, corpus.vecs[likes], no_dislikes, corpus.vecs[cand_rows], rng, *args)
        parts = zip(tests, np.split(s, splits), strict=True)
        out[ranker] = [day_metrics(t, {i: 1.0 for i in t if i in mine}, part) for t, part in parts]
    return out


def continuity(corpus: Corpus, n: int) -> tuple[list[list], dict]:
    """Per ranker: author-days, mean nDCG@20, mean MRR; and what was drawn (authors, skipped, median likes)."""
    drawn, skipped = draw_authors(corpus, n)
    days = by_day(corpus)
    per = {r: [] for r in RANKERS}
    for k, split in enumerate(drawn):
        for ranker, ms in one_author(corpus, days, k, *split).items():
            per[ranker] += ms
        if k % 25 == 24:
            print("author continuity", k + 1, "of", len(drawn), flush=True)
    rows = [[r, len(ms), *(f"{statistics.mean(m[i] for m in ms):.4f}" for i in range(2))] for r, ms in per.items()]
    likes = statistics.median(len(likes) for likes, _, _ in drawn)
    return rows, {"authors": len(drawn), "skipped": skipped, "likes": likes}


def versus(protocol: str, ndcg: dict[str, float]) -> list:
    """A summary row: `ours` against the best baseline (random aside) by nDCG@20."""
    base, name = max((v, k) for k, v in ndcg.items() if k not in ("ours", "random"))
    return [protocol, f"{ndcg['ours']:.4f}", f"{name} {base:.4f}", f"{(ndcg['ours'] / base - 1) * 100:+.1f} %"]


def authors_report(corpus: Corpus, n: int, loaded_s: float) -> str:
    start = time.perf_counter()
    rows, drawn = continuity(corpus, n)
    summary = versus(f"author continuity ({drawn['authors']} authors)", {r[0]: float(r[2]) for r in rows})
    return (
        f"{machine()}. The rankers of the recommend section on the author-continuity protocol (bench/recommend.py\n"
        f"docstring): {drawn['authors']} authors with at least {MIN_PAPERS} papers, drawn with seed {AUTHOR_SEED}; "
        f"{drawn['skipped']} drawn on the way were skipped (under {MIN_AUTHOR_LIKES} papers before their last "
        f"{RECENT_DAYS} days). Median {drawn['likes']:g} likes per author. One fit per author and ranker scores all "
        f"their later days. Run in {time.perf_counter() - start:.0f} s (the corpus loaded in {loaded_s:.0f} s).\n\n"
        + table(["protocol", "ours nDCG@20", "best baseline nDCG@20", "ours vs best"], [summary])
        + "\n\n**Author continuity** (means over author-days; relevant = the author's papers that day)\n\n"
        + table(["ranker", "author-days", "nDCG@20", "MRR"], rows)
        + "\n"
    )


def lists_report(corpus: Corpus, only: list[str], pages: Path, start: float) -> str | None:
    """The recommend section (topic lists and community curation); None (tables printed) without both."""
    topics = topic_lists(corpus, pages, get_encoder(WORK / "models")) if "topics" in only else None
    curation = community(corpus) if "curation" in only else None
    if topics is None or curation is None:
        print(table(TOPIC_HEADER, topics) if topics else table(CURATION_HEADER, curation))
        print("recommend section not written: it needs both topics and curation")
        return None
    best = {}
    for variant, ranker, ndcg, *_ in topics:
        best.setdefault(variant, {})[ranker] = float(ndcg)
    summary = [versus(f"topic lists, {variant}", by) for variant, by in best.items()]
    cur = defaultdict(list)
    for _month, ranker, _n, ndcg, *_ in curation:
        cur[ranker].append(float(ndcg))
    summary.append(versus("community curation (6 months)", {k: statistics.mean(v) for k, v in cur.items()}))
    return (
        f"{machine()}. Rankers of src/paperfeed/rank/recommend.py; `ours` is what ships. {REPS} seeded repetitions\n"
        f"per topic page ({pages}; the SVM baseline {SVM_REPS}); community curation: the first "
        f"{DAYS_PER_MONTH} listing days of each of the corpus's last 6 months. "
        f"Run in {time.perf_counter() - start:.0f} s.\n\n"
        + table(["protocol", "ours nDCG@20", "best baseline nDCG@20", "ours vs best"], summary)
        + "\n\n**Topic lists** (means over pages and repetitions)\n\n"
        + table(TOPIC_HEADER, topics)
        + "\n\n**Community curation** (featured on HF = liked; per month)\n\n"
        + table(CURATION_HEADER, curation)
        + "\n\nAuthor continuity: the next section (recommend-authors). Speed (1,000 users over a day of 2,000\n"
        "papers; the For you page's p95): the recommend-speed section (bench/recommend_speed.py).\n"
    )


def report(section: str, body: str | None) -> None:
    if body:
        write_section(section, body)
        print(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=Path, default=SHARED / "seeds")
    parser.add_argument("--only", nargs="+", choices=PROTOCOLS, default=PROTOCOLS, help="protocols to run")
    parser.add_argument("--authors", type=int, default=300, help="authors in the author-continuity protocol")
    args = parser.parse_args()
    start = time.perf_counter()
    corpus = Corpus()
    loaded_s = time.perf_counter() - start
    if {"topics", "curation"} & set(args.only):
        report("recommend", lists_report(corpus, args.only, args.pages, start))
    if "authors" in args.only:
        report("recommend-authors", authors_report(corpus, args.authors, loaded_s))


if __name__ == "__main__":
    main()
