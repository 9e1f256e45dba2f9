"""Recommendation quality: the shipped For-you model (rank/model.py, as rank/foryou.py calls it) against the
published recipes at full strength, on the same data, in one run (issues #11, #20).

Protocols:
- Topic lists: each Hugging Face search-result page (../shared/seeds, or `--pages DIR`) is one user's interest.
  Its papers join the 67,802-paper corpus (embedded like the index embeds). For each page, 20 repetitions
  (fixed seeds): 5 random papers of the page are the likes; in a second variant 10 random corpus papers are
  also "not interested"; everything else is ranked; the page's other papers are relevant.
  nDCG@20, recall@50, MRR. The page's papers have only a title and an abstract, so `ours` reads the words
  alone here (given the other fields, it would learn "no authors listed" as the mark of a liked paper).
- Community curation: bench/curation.py (the protocol as published, every listing day, with the reference
  script run beside it).
- Author continuity: an author (`--authors`, 300 drawn with a fixed seed from those with at least 8 papers in
  the corpus; a name is the exact string arXiv lists, so namesakes count as one) is one user: their papers
  listed before their last three months (before the date of their last paper less 91 days) are the likes,
  newest first; an author with fewer than 3 such papers is skipped and the next one drawn. Each later listing
  day that has one of their papers is ranked: all that day's papers, relevant = theirs (binary). One model per
  author scores all their days. Only title and abstract are features here, never names or categories (or the
  protocol would measure name matching): `ours` runs on the words alone. nDCG@20 and MRR, means over
  author-days; written to its own section (recommend-authors).
Baselines in the same run, as their projects publish them: random; zotero-arxiv-daily (recency-weighted mean
similarity on embeddings); Scholar Inbox's logistic regression on tf-idf with 20,000 random corpus negatives
(C = 1, balanced); arxiv-sanity-lite's tf-idf + linear SVM against every other paper (C = 0.01, balanced);
and Scholar Inbox's recipe on MiniLM embeddings (300 random negatives), which is also `ours`' embedding term.
`ours` adds its embedding term with weight k / (number of likes), measured for each k of EMBED_LIKES; the
shipped k (rank.recommend.EMBED_LIKES) is marked.
Intervals: 95 % bootstrap, resampling the independent units (topic pages, whose repetitions share the page;
authors, whose days share their likes); `ours` against the best baseline as the relative difference of the
means on the same units, called "inside the noise" when its interval holds zero.
The speed measurements the issue asks for are bench/recommend_speed.py's.

`--only` picks protocols (topics, authors; both by default).
Needs bench/.work/full (bench/speed.py builds it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, WORK, machine, table, write_section  # noqa: E402
from paperfeed.ingest import hf_page  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.rank import model, terms  # noqa: E402
from paperfeed.rank import recommend as rec  # noqa: E402
from paperfeed.search.encoder import get_encoder  # noqa: E402
from paperfeed.search.indexer import paper_text  # noqa: E402
from paperfeed.search.service import SearchService  # noqa: E402
from paperfeed.store import make_engine, taste  # noqa: E402
from paperfeed.store.taste import Fields  # noqa: E402

FULL = WORK / "full"
REPS = 20
# arxiv-sanity-lite's SVM refits on the whole corpus's tf-idf (about 3 s here): fewer repetitions for it.
SVM_REPS = 5
N_LIKES, N_DISLIKES, N_RANDOM, N_LOGREG_NEG = 5, 10, 300, 20_000
EMBED_LIKES = [0.0, 10.0, 20.0, 40.0]
BASELINES = ["random", "zotero", "logreg tf-idf", "svm", "logreg MiniLM"]
PROTOCOLS = ["topics", "authors"]
# Author continuity: who counts, how many likes at least, how long "their last months" are, the draw's seed.
MIN_PAPERS, MIN_AUTHOR_LIKES, RECENT_DAYS, AUTHOR_SEED = 8, 3, 91, 11
TOPIC_HEADER = ["variant", "ranker", "nDCG@20 [95 % interval]", "recall@50", "MRR"]


def ours_name(k: float) -> str:
    return f"ours, embedding weight {k:g}/likes" + (" (ships)" if k == rec.EMBED_LIKES else "")


RANKERS = BASELINES + [ours_name(k) for k in EMBED_LIKES]


class Corpus:
    def __init__(self):
        self.engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
        search = SearchService(self.engine, FULL)
        snap = search.snapshot()
        rows = np.flatnonzero(snap.alive)
        self.ids = [snap.paper_of[r] for r in rows]
        self.vecs = np.asarray(snap.matrix[rows], dtype=np.float32)
        found = taste.paper_fields(self.engine, self.ids)
        self.fields = [found[i] for i in self.ids]
        # Title and abstract for every ranker, ours too: the author-continuity protocol stays text-only and the
        # topic pages carry no comments (For you also reads the comments: bench/curation.py measures that).
        self.texts = [f.text for f in self.fields]
        self.listed = [f.listed for f in self.fields]
        self.authors = [f.authors for f in self.fields]
        self.vocabulary = terms.corpus_terms(self.engine, FULL / "index")
        row = {pid: i for i, pid in enumerate(self.ids)}
        self.pool = [row[pid] for pid in self.vocabulary.negatives if pid in row]

    def tfidf(self, extra: list[str]):
        """tf-idf of the corpus and `extra` texts (arxiv-sanity-lite's settings, words in at least 5 papers)."""
        return rec.tfidf(self.texts + extra, min_df=5)

    @cached_property
    def matrix(self):
        """The tf-idf of the corpus alone, computed once for the protocols that share it."""
        return self.tfidf([])

    @cached_property
    def words(self):
        """The corpus on the shipped vocabulary (rank/terms.py)."""
        return self.vocabulary.transform(self.texts)


@dataclass
class Space:
    """What the rankers read, by row: embeddings, arxiv-sanity-lite's tf-idf, the shipped vocabulary's tf-idf,
    the fields; and the shipped model's negatives (the vocabulary's draw, as rows)."""

    vecs: np.ndarray
    x: object
    words: object
    fields: list
    pool: list[int]
    n_corpus: int  # rows past this are a topic page's papers: never drawn as random negatives


def all_scores(
    space: Space,
    likes: list[int],
    dislikes: list[int],
    cand: np.ndarray,
    seed: int,
    ages=None,
    text_only: bool = False,
    skip_svm: bool = False,
    ranks_days: bool = False,
) -> dict:
    """Every ranker's scores of `cand`; `ours` as (model scores, embedding scores) to be z-scored and added
    over each ranked day, as For you does."""
    rng = np.random.default_rng(seed)
    ages = np.zeros(len(likes)) if ages is None else ages
    d = space.vecs[dislikes] if dislikes else np.zeros((0, space.vecs.shape[1]), np.float32)
    randoms = space.vecs[np.array(space.pool)[rng.choice(len(space.pool), N_RANDOM, replace=False)]]
    out = {"random": rng.random(len(cand)), "zotero": rec.zotero(space.vecs[likes], space.vecs[cand])}
    out["logreg MiniLM"] = rec.logreg(space.vecs[likes], np.vstack([d, randoms]), space.vecs[cand])
    out["logreg tf-idf"] = logreg_tfidf(space.x, space.n_corpus, likes, dislikes, cand, rng)
    if not skip_svm:
        out["svm"] = rec.svm_scores(space.x, likes, cand)
    fields = (
        (lambda rows: [Fields(space.fields[i].text, [], [], space.fields[i].listed) for i in rows])
        if text_only
        else (lambda rows: [space.fields[i] for i in rows])
    )
    # As For you draws them: never the likes, the marks, or (when days are ranked) the papers being ranked.
    skip = set(likes) | set(dislikes) | (set(cand.tolist()) if ranks_days else set())
    negs = [i for i in space.pool if i not in skip]
    examples = [model.Example(f, 0.5 ** (a / model.HALF_LIFE_DAYS)) for f, a in zip(fields(likes), ages, strict=True)]
    fitted = model.fit(
        examples,
        space.words[likes],
        fields(negs),
        space.words[negs],
        fields(dislikes),
        space.words[dislikes] if dislikes else space.words[:0],
    )
    raw = fitted.scores(space.words[cand], fields(list(cand)))
    emb = rec.ours(space.vecs[likes], ages, d, randoms, space.vecs[cand])
    for k in EMBED_LIKES:
        out[ours_name(k)] = (raw, emb, k / len(likes))
    return out


def logreg_tfidf(x, n_corpus: int, likes: list[int], dislikes: list[int], cand: np.ndarray, rng) -> np.ndarray:
    """Scholar Inbox's model family as the reference runs it: tf-idf, the likes against 20,000 random other
    papers (and the "not interested" marks), C = 1, balanced."""
    from scipy.sparse import vstack
    from sklearn.linear_model import LogisticRegression

    skip = set(likes) | set(dislikes)
    others = [i for i in rng.choice(n_corpus, min(N_LOGREG_NEG + len(skip), n_corpus), replace=False) if i not in skip][
        :N_LOGREG_NEG
    ]
    m = vstack([x[likes], x[list(dislikes) + others]]).tocsr()
    y = np.r_[np.ones(len(likes)), np.zeros(len(dislikes) + len(others))]
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(m, y).decision_function(x[cand])


def day_part(s, idx) -> np.ndarray:
    """One ranked day's scores: `ours` z-scored over the day (and its embedding term added), as For you does."""
    if isinstance(s, tuple):
        raw, emb, w = s
        return rec.zscore(raw[idx]) + w * rec.zscore(emb[idx])
    return s[idx]


def metrics(order: list[int], gains: dict[int, float]) -> tuple[float, float, float]:
    ranked = [str(i) for i in order]
    g = {str(k): v for k, v in gains.items()}
    ndcg = rec.ndcg(ranked, g, 20)
    recall = sum(1 for i in order[:50] if i in gains) / len(gains)
    first = next((n for n, i in enumerate(order[:1000], 1) if i in gains), None)
    return ndcg, recall, 1.0 / first if first else 0.0


def topic_lists(corpus: Corpus, pages_dir: Path, encoder) -> dict:
    """(variant, ranker) -> {(page, repetition): (nDCG@20, recall@50, MRR)}."""
    pages = {f.name: [p for p in hf_page.read(f) if isinstance(p, Paper)] for f in sorted(pages_dir.glob("*.txt"))}
    page_papers = [p for ps in pages.values() for p in ps]
    page_texts = [f"{p.title}\n{p.abstract}" for p in page_papers]
    page_vecs = encoder.encode([paper_text(p.title, p.abstract) for p in page_papers])
    from scipy.sparse import vstack

    space = Space(
        np.vstack([corpus.vecs, page_vecs]).astype(np.float32),
        corpus.tfidf(page_texts),
        vstack([corpus.words, corpus.vocabulary.transform(page_texts)]).tocsr(),
        corpus.fields + [Fields(t, [], [], None) for t in page_texts],
        corpus.pool,
        len(corpus.ids),
    )
    n0 = len(corpus.ids)
    results = {(v, r): {} for v in ("likes", "likes + not interested") for r in RANKERS}
    offset = n0
    for name, ps in pages.items():
        rows = list(range(offset, offset + len(ps)))
        offset += len(ps)
        for rep in range(REPS):
            rng = random.Random(f"{name}-{rep}")
            likes = rng.sample(rows, N_LIKES)
            dislikes = rng.sample(range(n0), N_DISLIKES)
            for variant in ("likes", "likes + not interested"):
                d = dislikes if variant != "likes" else []
                skip = set(likes) | set(d)
                cand = np.array([i for i in range(len(space.fields)) if i not in skip])
                gains = {i: 1.0 for i in rows if i not in skip}
                # The page's papers carry no authors or categories: the other fields would tell them apart.
                scores = all_scores(space, likes, d, cand, rep, text_only=True, skip_svm=rep >= SVM_REPS)
                for ranker, sc in scores.items():
                    s = day_part(sc, np.arange(len(cand)))
                    order = [int(cand[i]) for i in np.argsort(-s)[:1000]]
                    results[(variant, ranker)][(name, rep)] = metrics(order, gains)
        print("topic page", name, flush=True)
    return results


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


def one_author(
    corpus: Corpus, space: Space, days: dict, seed: int, likes: list[int], later: list[int], cutoff: date
) -> dict:
    """nDCG@20 and MRR of each ranker on each of the author's later days, one fit per ranker."""
    mine = set(later)
    tests = [np.array(days[d]) for d in sorted({corpus.listed[i] for i in later})]
    cand_rows = np.concatenate(tests)
    ages = np.array([(cutoff - corpus.listed[i]).days for i in likes], dtype=float)
    bounds = np.cumsum([0] + [len(t) for t in tests])
    out = {}
    for ranker, s in all_scores(space, likes, [], cand_rows, seed, ages, text_only=True, ranks_days=True).items():
        out[ranker] = [
            day_metrics(t, {i: 1.0 for i in t if i in mine}, day_part(s, np.arange(bounds[k], bounds[k + 1])))
            for k, t in enumerate(tests)
        ]
    return out


def continuity(corpus: Corpus, n: int) -> tuple[dict, dict]:
    """Per ranker {(author, day): (nDCG@20, MRR)}; and what was drawn (authors, skipped, median likes)."""
    drawn, skipped = draw_authors(corpus, n)
    days = by_day(corpus)
    space = Space(corpus.vecs, corpus.matrix, corpus.words, corpus.fields, corpus.pool, len(corpus.ids))
    per = {r: {} for r in RANKERS}
    for k, split in enumerate(drawn):
        for ranker, ms in one_author(corpus, space, days, k, *split).items():
            per[ranker].update({(k, d): m for d, m in enumerate(ms)})
        if k % 25 == 24:
            print("author continuity", k + 1, "of", len(drawn), flush=True)
    likes = statistics.median(len(likes) for likes, _, _ in drawn)
    return per, {"authors": len(drawn), "skipped": skipped, "likes": likes}


# -- intervals ------------------------------------------------------------------------------------
# 95 % bootstrap intervals that resample the independent units: topic pages (their repetitions share the
# page) and authors (their days share the author's likes), 2,000 resamples.
BOOT = 2000


def boot_mean(values: dict, col: int = 0, base: dict | None = None) -> tuple[float, float]:
    """The 95 % interval of the mean of `values[unit][col]` (with `base`: of the relative difference of the two
    means on their common units), resampling units' clusters (a unit's first part)."""
    units = sorted(set(values) & set(base)) if base is not None else sorted(values)
    clusters = sorted({u[0] for u in units})
    at = {c: i for i, c in enumerate(clusters)}
    idx = np.array([at[u[0]] for u in units])
    a = np.bincount(idx, weights=[values[u][col] for u in units], minlength=len(clusters))
    b = np.bincount(idx, weights=[base[u][col] for u in units], minlength=len(clusters)) if base else None
    n = np.bincount(idx, minlength=len(clusters)).astype(float)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(BOOT):
        pick = np.bincount(rng.integers(0, len(clusters), len(clusters)), minlength=len(clusters))
        mean = (pick @ a) / (pick @ n)
        out.append(mean / ((pick @ b) / (pick @ n)) - 1 if b is not None else mean)
    return float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))


def mean_of(values: dict, col: int = 0) -> float:
    return statistics.mean(m[col] for m in values.values())


def with_interval(values: dict, col: int = 0) -> str:
    lo, hi = boot_mean(values, col)
    return f"{mean_of(values, col):.4f} [{lo:.4f}, {hi:.4f}]"


def versus(protocol: str, by_ranker: dict[str, dict]) -> list:
    """A summary row: the shipped `ours` against the best baseline (random aside) by nDCG@20, the relative
    difference on the same units with its interval, and whether that is outside the noise."""
    base, name = max((mean_of(v), k) for k, v in by_ranker.items() if k in BASELINES and k != "random")
    mine = by_ranker[ours_name(rec.EMBED_LIKES)]
    ours = mean_of(mine)
    lo, hi = boot_mean(mine, 0, by_ranker[name])
    verdict = "ours better" if lo > 0 else "ours worse" if hi < 0 else "inside the noise"
    relative = f"{(ours / base - 1) * 100:+.1f} % [{lo * 100:+.1f}, {hi * 100:+.1f}]"
    return [protocol, f"{ours:.4f}", f"{name} {base:.4f}", relative, verdict]


VERSUS_HEADER = ["protocol", "ours nDCG@20", "best baseline nDCG@20", "ours vs best [95 % interval]", "verdict"]


def authors_report(corpus: Corpus, n: int, loaded_s: float) -> str:
    start = time.perf_counter()
    per, drawn = continuity(corpus, n)
    summary = versus(f"author continuity ({drawn['authors']} authors)", per)
    rows = [[r, len(ms), with_interval(ms), f"{mean_of(ms, 1):.4f}"] for r, ms in per.items()]
    return (
        f"{machine()}. The rankers of the recommend section on the author-continuity protocol (bench/recommend.py\n"
        f"docstring): {drawn['authors']} authors with at least {MIN_PAPERS} papers, drawn with seed {AUTHOR_SEED}; "
        f"{drawn['skipped']} drawn on the way were skipped (under {MIN_AUTHOR_LIKES} papers before their last "
        f"{RECENT_DAYS} days). Median {drawn['likes']:g} likes per author. One fit per author and ranker scores all "
        f"their later days. Run in {time.perf_counter() - start:.0f} s (the corpus loaded in {loaded_s:.0f} s).\n\n"
        + table(VERSUS_HEADER, [summary])
        + "\n\n**Author continuity** (means over author-days, intervals over authors; relevant = the author's "
        "papers that day)\n\n" + table(["ranker", "author-days", "nDCG@20 [95 % interval]", "MRR"], rows) + "\n"
    )


def lists_report(corpus: Corpus, pages: Path, start: float) -> str:
    """The recommend section: topic lists (community curation is bench/curation.py's section)."""
    results = topic_lists(corpus, pages, get_encoder(WORK / "models"))
    by_variant = {}
    for (variant, ranker), units in results.items():
        by_variant.setdefault(variant, {})[ranker] = units
    summary = [versus(f"topic lists, {variant}", by) for variant, by in by_variant.items()]
    topics = [
        [variant, ranker, with_interval(units), f"{mean_of(units, 1):.4f}", f"{mean_of(units, 2):.4f}"]
        for (variant, ranker), units in results.items()
    ]
    return (
        f"{machine()}. `ours` is the shipped For-you model (rank/model.py) with its embedding term at each weight;\n"
        f"the baselines at full strength (bench/recommend.py docstring). {REPS} seeded repetitions per topic page\n"
        f"({pages}; the SVM baseline {SVM_REPS}). Community curation: the recommend-curation section. "
        f"Run in {time.perf_counter() - start:.0f} s.\n\n"
        + table(VERSUS_HEADER, summary)
        + "\n\n**Topic lists** (means over pages and repetitions; intervals resample the pages)\n\n"
        + table(TOPIC_HEADER, topics)
        + "\n\nAuthor continuity: the recommend-authors section. Speed (1,000 users over a day of 2,000\n"
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
    parser.add_argument("--reps", type=int, default=20, help="repetitions per topic page")
    args = parser.parse_args()
    globals()["REPS"] = args.reps
    start = time.perf_counter()
    corpus = Corpus()
    loaded_s = time.perf_counter() - start
    if "topics" in args.only:
        report("recommend", lists_report(corpus, args.pages, start))
    if "authors" in args.only:
        report("recommend-authors", authors_report(corpus, args.authors, loaded_s))


if __name__ == "__main__":
    main()
