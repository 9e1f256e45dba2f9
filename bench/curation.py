"""For you on the community-curation protocol, as published (issue #20;
../shared/eval/recommend/reference_baselines.py): "featured on Hugging Face Daily Papers" is one user's taste.

For each of the corpus's last six months M: the likes are the papers listed before M and featured before M
(strict labels: what the user could have known on the first of the month); every listing day of M is ranked
whole; relevant = featured (at any date), graded log2(1 + upvotes) + 1; nDCG@20, precision@10 and MRR per
day, averaged over the month's days with at least one featured paper.

Rankers, in one run on the same papers (those `paperfeed ingest` stored in bench/.work/full):
- the reference script itself, run from ../shared with --strict-train-labels (its figures printed beside
  ours: our baselines must agree within +-0.02 a month);
- our implementations of the same baselines (random, category prior, zotero-arxiv-daily, arxiv-sanity-lite's
  SVM, logistic regression on tf-idf: the reference's negatives and settings);
- `ours`: what ships (rank/model.py through the same functions For you calls), with its parts alone beside it
  (words only; words and fields without the embedding term) and the embedding weight's measurement.
Intervals: 95 % bootstrap over days (2,000 resamples; for the 6-month mean, days resampled within each
month); `ours` against the best baseline as the paired difference on the same days.

`--validation` runs the same on the six months before them (2025-06..11), where weights and features are
chosen, and prints the tables without writing them.

A second check runs the last month through the product as a user would: a copy of bench/.work/full, the
likes imported with `paperfeed import-library --ids`, each day ranked by `paperfeed recommend --json`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, WORK, machine, python, table, write_section  # noqa: E402
from paperfeed.models import author_key  # noqa: E402
from paperfeed.rank import model, terms  # noqa: E402
from paperfeed.rank import recommend as rec  # noqa: E402
from paperfeed.search.service import SearchService  # noqa: E402
from paperfeed.store import make_engine  # noqa: E402
from paperfeed.store.taste import Fields  # noqa: E402

FULL = WORK / "full"
REFERENCE = SHARED / "eval" / "recommend" / "reference_baselines.py"
N_NEG = 20_000  # the reference's negatives for its baselines
SEEDS = [0, 1, 2, 3, 4]
BOOT = 2000
EMBED_LIKES = [0.0, 10.0, 20.0, 40.0]  # the embedding weight is k / likes (rank.recommend.embed_weight)
FIXED_WEIGHTS = [0.25, 1.0]  # fixed weights, measured for comparison
BASELINES = ["random", "category prior", "zotero-arxiv-daily", "arxiv-sanity-lite SVM", "logistic regression"]
REF_NAMES = {
    "random": "random",
    "category prior": "category_prior",
    "zotero-arxiv-daily": "zotero_tfidf",
    "arxiv-sanity-lite SVM": "svm_tfidf",
    "logistic regression": "logreg_tfidf",
}


class Corpus:
    def __init__(self):
        from sqlalchemy import select

        from paperfeed.store.schema import papers

        self.engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
        cols = papers.c
        query = select(
            cols.id, cols.title, cols.abstract, cols.authors, cols.categories, cols.listed_date, cols.comments
        )
        with self.engine.connect() as conn:
            rows = sorted(conn.execute(query), key=lambda r: r.id)
        self.ids = [r.id for r in rows]
        # As store.taste.paper_fields reads them: the baselines read `text` (title and abstract, as their authors
        # publish them), ours `words` (with the comments).
        self.fields = [
            Fields(f"{r.title}\n{r.abstract}", list(r.authors), list(r.categories), r.listed_date, r.comments or "")
            for r in rows
        ]
        self.row = {pid: i for i, pid in enumerate(self.ids)}
        self.search = SearchService(self.engine, FULL)
        found, vecs = self.search.vectors(self.ids)
        assert found == self.ids, "every stored paper must be embedded (run bench/speed.py to build the index)"
        self.vecs = vecs
        self._words = None
        self._plain = None
        self._keys = None
        self._counts: dict[date, Counter] = {}

    def keys(self) -> list[set[str]]:
        if self._keys is None:
            self._keys = [{author_key(a) for a in f.authors} for f in self.fields]
        return self._keys

    def author_papers(self, before: date) -> Counter:
        """Each author's papers listed before `before`: what the store held of them (store.taste.author_papers)."""
        if before not in self._counts:  # once per month: every ranker and user of the month shares it
            pairs = zip(self.fields, self.keys(), strict=True)
            self._counts[before] = Counter(k for f, ks in pairs if f.listed and f.listed < before for k in ks)
        return self._counts[before]

    def graph(self, likes: list[int], start: date) -> model.Graph:
        """The co-author graph For you fits with when it first ranks a day of the month (rank/fitting.py): the
        papers listed before it, read for the liked authors as store.taste.teams_with reads them."""
        liked = set().union(*(self.keys()[i] for i in likes))
        until = start - timedelta(days=1)
        teams = (ks for f, ks in zip(self.fields, self.keys(), strict=True) if f.listed and f.listed <= until)
        return model.Graph(model.Coauthors.of((ks for ks in teams if not ks.isdisjoint(liked)), liked), until)

    def words(self, vocabulary: terms.Terms):
        """Every paper's tf-idf on the corpus vocabulary, once."""
        if self._words is None:
            self._words = vocabulary.transform([f.words for f in self.fields])
        return self._words

    def plain_words(self, vocabulary: terms.Terms):
        """The same of the title and abstract alone (an ablation: what the comments add)."""
        if self._plain is None:
            self._plain = vocabulary.transform([f.text for f in self.fields])
        return self._plain


def hf_labels() -> tuple[dict[str, str], dict[str, float]]:
    """Per arXiv id: the first date HF featured it, and its grade log2(1 + most upvotes) + 1."""
    first, ups = {}, {}
    for f in sorted((SHARED / "corpus" / "hf-daily-archive").glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as lines:
            for line in lines:
                if line.strip():
                    r = json.loads(line)
                    a = r["arxiv_id"]
                    first[a] = min(first.get(a, r["date"]), r["date"])
                    ups[a] = max(ups.get(a, 0), r["upvotes"] or 0)
    return first, {a: math.log2(1 + u) + 1.0 for a, u in ups.items()}


# -- metrics -------------------------------------------------------------------------------------------
def day_scores(scores: np.ndarray, grades: np.ndarray, tiebreak: np.ndarray) -> tuple[float, float, float]:
    order = np.lexsort((tiebreak, -scores))
    g = grades[order]
    k = min(20, len(g))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(grades)[::-1][:k]
    ndcg = float(g[:k] @ disc) / float(ideal @ disc[: len(ideal)])
    hits = np.flatnonzero(g > 0)
    return ndcg, float(np.sum(g[:10] > 0)) / 10, 1.0 / (hits[0] + 1)


def month_days(scores_fn, days: list[np.ndarray], grades: np.ndarray, seeds=SEEDS) -> np.ndarray:
    """(days, 3) metrics, each averaged over the tie-breaking seeds; `scores_fn(day_rows, seed)`."""
    out = []
    for rows in days:
        per = [
            day_scores(scores_fn(rows, s), grades[rows], np.random.default_rng(1000 + s).random(len(rows)))
            for s in seeds
        ]
        out.append(np.mean(per, axis=0))
    return np.array(out)


def boot_mean(per_month: list[np.ndarray], rng) -> tuple[float, float]:
    """95 % interval of the mean of month means, days resampled within each month."""
    means = [np.mean([m[rng.integers(0, len(m), len(m))].mean() for m in per_month]) for _ in range(BOOT)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def boot_one(values: np.ndarray, rng) -> tuple[float, float]:
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(BOOT)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def month_papers(c: Corpus, month: str) -> list[int]:
    """The rows of the month's papers, by listing day then id."""
    rows = (i for i, f in enumerate(c.fields) if f.listed and f.listed.strftime("%Y-%m") == month)
    return sorted(rows, key=lambda i: (c.fields[i].listed, c.ids[i]))


def graded_days(c: Corpus, test: list[int], grade: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    """The papers' grades, and each listing day's positions among them (days with a featured paper only)."""
    grades = np.array([grade.get(c.ids[i], 0.0) for i in test])
    by_day = defaultdict(list)
    for j, i in enumerate(test):
        by_day[c.fields[i].listed].append(j)
    return grades, [np.array(js) for _d, js in sorted(by_day.items()) if np.any(grades[js] > 0)]


# -- one month -----------------------------------------------------------------------------------------
def run_month(c: Corpus, month: str, first: dict, grade: dict, vocabulary: terms.Terms) -> dict:
    start = date.fromisoformat(month + "-01")
    train = [i for i, f in enumerate(c.fields) if f.listed and f.listed < start]
    test = month_papers(c, month)
    is_pos = lambda i: c.ids[i] in first and first[c.ids[i]] < month + "-01"  # noqa: E731
    pos = [i for i in train if is_pos(i)]
    grades, days = graded_days(c, test, grade)
    scores = {}
    t0 = time.perf_counter()
    scores.update(baselines(c, train, pos, test))
    t1 = time.perf_counter()
    shipped = ours(c, pos, test, start, vocabulary)
    t2 = time.perf_counter()
    scores.update(shipped)
    results = {name: month_days(scorer(s, len(test)), days, grades) for name, s in scores.items()}
    print(f"{month}: {len(pos)} likes, {len(days)} days, baselines {t1 - t0:.0f} s, ours {t2 - t1:.0f} s", flush=True)
    return {
        "month": month,
        "likes": len(pos),
        "days": len(days),
        "papers": len(test),
        "results": results,
        "ours_s": t2 - t1,
    }


def scorer(s, n: int):
    """A day's scores from a ranker's month scores: None is the random ranker (its own seed), a tuple ours
    with an embedding weight (z-scores over each day, as For you adds them)."""
    if s is None:
        return lambda rows, seed: np.random.default_rng(seed).random(n)[rows]
    if isinstance(s, tuple):
        mine, emb, w = s
        return lambda rows, _seed: rec.zscore(mine[rows]) + w * rec.zscore(emb[rows])
    return lambda rows, _seed: s[rows]


def baselines(c: Corpus, train: list[int], pos: list[int], test: list[int]) -> dict:
    """The published recipes with the reference's settings: tf-idf fitted on the likes and 20,000 random
    other earlier papers (seed 0), arxiv-sanity-lite's SVM and a logistic regression fitted on them, the
    zotero-arxiv-daily profile of the likes, and the share of the likes in each primary category."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    posset = set(pos)
    neg_all = [i for i in train if i not in posset]
    rng = np.random.default_rng(0)
    neg = [neg_all[j] for j in sorted(rng.choice(len(neg_all), min(N_NEG, len(neg_all)), replace=False))]
    tr = pos + neg
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    # The reference's own tf-idf settings (its make_vectorizer), fitted on the training papers only.
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(
        ngram_range=(1, 2),
        max_features=20000,
        min_df=5,
        max_df=0.1,
        sublinear_tf=True,
        stop_words="english",
        strip_accents="unicode",
        dtype=np.float32,
    )
    xtr = vec.fit_transform([c.fields[i].text for i in tr])
    xte = vec.transform([c.fields[i].text for i in test])
    svm = LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6).fit(xtr, y)
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(xtr, y)
    newest = sorted(range(len(pos)), key=lambda k: (c.fields[pos[k]].listed, c.ids[pos[k]]), reverse=True)
    profile = np.asarray(xtr[newest].T @ (lambda w: w / w.sum())(1 / (1 + np.log10(np.arange(len(pos)) + 1)))).ravel()
    prior = Counter(c.fields[i].categories[0] for i in pos if c.fields[i].categories)
    return {
        "random": None,
        "category prior": np.array([prior.get((c.fields[i].categories or [""])[0], 0) for i in test], float),
        "zotero-arxiv-daily": np.asarray(xte @ profile).ravel(),
        "arxiv-sanity-lite SVM": svm.decision_function(xte),
        "logistic regression": lr.decision_function(xte),
    }


def ours(c: Corpus, pos: list[int], test: list[int], start: date, vocabulary: terms.Terms) -> dict:
    """The shipped model as For you fits it (rank/model.py): the likes weighted by their listing date's
    decay, model.NEGATIVES random papers listed before the month (the product draws them from before its
    newest day less model.RECENT_DAYS), the corpus vocabulary, the co-author graph of the papers before the
    month (as For you fits when it first ranks a day: the graph ends the day before); and its parts."""
    posset = set(pos)
    older = sorted(i for i, f in enumerate(c.fields) if f.listed and f.listed < start and i not in posset)
    pick = np.random.default_rng(model.SEED).choice(len(older), min(model.NEGATIVES, len(older)), replace=False)
    negs = [older[k] for k in sorted(pick)]
    likes = [model.Example(c.fields[i], model.like_weight(1.0, c.fields[i].listed, start)) for i in pos]
    words = c.words(vocabulary)
    negatives = [c.fields[i] for i in negs]
    graph = c.graph(pos, start)
    fitted = model.fit(likes, words[pos], negatives, words[negs], [], words[:0], c.author_papers(start), graph)
    full = fitted.scores(words[test], [c.fields[i] for i in test])
    text_only = words_only(likes, words[pos], words[negs])
    ages = np.array([(start - c.fields[i].listed).days for i in pos], float)
    randoms = c.vecs[np.sort(np.random.default_rng(1).choice(len(c.ids), 300, replace=False))]
    emb = rec.ours(c.vecs[pos], ages, np.zeros((0, c.vecs.shape[1]), np.float32), randoms, c.vecs[test])
    out = {"ours: words only": np.asarray(words[test] @ text_only[0]).ravel() + text_only[1]}
    # The same without the co-author evidence (the shipped ranker of the last stop, weight 0/likes): what it adds.
    alone = model.fit(likes, words[pos], negatives, words[negs], [], words[:0], c.author_papers(start))
    out["ours without co-authors, embedding weight 0/likes"] = alone.scores(words[test], [c.fields[i] for i in test])
    # The same without the comments (title and abstract alone, as before session 16): what they add.
    plain = c.plain_words(vocabulary)
    titled = model.fit(likes, plain[pos], negatives, plain[negs], [], plain[:0], c.author_papers(start), graph)
    out[WITHOUT_COMMENTS] = (titled.scores(plain[test], [c.fields[i] for i in test]), emb, rec.EMBED_LIKES / len(pos))
    for k in EMBED_LIKES:
        out[f"ours, embedding weight {k:g}/likes"] = (full, emb, k / len(pos))
    for w in FIXED_WEIGHTS:
        out[f"ours, fixed embedding weight {w:g}"] = (full, emb, w)
    out["embeddings only (Scholar Inbox on MiniLM)"] = emb
    return out


def words_only(likes: list[model.Example], like_words, negative_words) -> tuple[np.ndarray, float]:
    """The same model on the words alone (an ablation: what the other fields add)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    w = np.array([e.weight for e in likes])
    clf = LogisticRegression(C=model.C, class_weight="balanced", max_iter=2000)
    x = sp.vstack([like_words, negative_words]).tocsr()
    y = np.r_[np.ones(like_words.shape[0]), np.zeros(negative_words.shape[0])]
    clf.fit(x, y, sample_weight=np.r_[w * len(w) / w.sum(), np.ones(negative_words.shape[0])])
    return clf.coef_[0], float(clf.intercept_[0])


# -- active learning ----------------------------------------------------------------------------------
AL_START, AL_BATCH, AL_ROUNDS, AL_REPORT = 10, 10, 16, (0, 1, 2, 4, 8, 16)


def active_learning(c: Corpus, month: str, first: dict, grade: dict, vocabulary: terms.Terms) -> dict:
    """A cold-start user: AL_START random likes (of the month's strict positives), then rounds of AL_BATCH
    questions about the papers of the 30 days before the month, answered by the curation labels (featured
    before the month: yes). Questions chosen as For you asks them (the least sure first, foryou.least_sure)
    or at random; the month's days ranked after each reported round. Returns nDCG@20 by answers."""
    start = date.fromisoformat(month + "-01")
    words = c.words(vocabulary)
    is_pos = lambda i: c.ids[i] in first and first[c.ids[i]] < month + "-01"  # noqa: E731
    train = [i for i, f in enumerate(c.fields) if f.listed and f.listed < start]
    pos = [i for i in train if is_pos(i)]
    asked_from = [i for i in train if c.fields[i].listed >= start - timedelta(days=30)]
    seed_pool = [i for i in pos if c.fields[i].listed < start - timedelta(days=30)]
    seed_likes = [int(i) for i in np.random.default_rng(5).choice(seed_pool, AL_START, replace=False)]
    # The negatives as For you draws them: random older papers, whatever the user would have thought of them.
    older = sorted(set(train) - set(asked_from) - set(seed_likes))
    pick = np.random.default_rng(model.SEED).choice(len(older), min(model.NEGATIVES, len(older)), replace=False)
    negs = [older[k] for k in sorted(pick)]
    test = month_papers(c, month)
    grades, days = graded_days(c, test, grade)
    negatives, author_papers = [c.fields[i] for i in negs], c.author_papers(start)
    out = {}
    for strategy in ("least sure", "random"):
        yes, no, asked = list(seed_likes), [], set()
        rng = np.random.default_rng(9)
        curve = {}
        for r in range(AL_ROUNDS + 1):
            likes = [model.Example(c.fields[i], 1.0) for i in yes]
            disl = [c.fields[i] for i in no]
            nos = words[no] if no else words[:0]
            fitted = model.fit(likes, words[yes], negatives, words[negs], disl, nos, author_papers, c.graph(yes, start))
            if r in AL_REPORT:
                s = fitted.scores(words[test], [c.fields[i] for i in test])
                curve[r * AL_BATCH] = float(month_days(lambda rows, _s, s=s: s[rows], days, grades, [0])[:, 0].mean())
            if r == AL_ROUNDS:
                break
            left = [i for i in asked_from if i not in asked and i not in set(yes)]
            if strategy == "random":
                ask = list(rng.choice(left, AL_BATCH, replace=False))
            else:
                margin = np.abs(fitted.scores(words[left], [c.fields[i] for i in left]))
                ask = [left[k] for k in np.argsort(margin)[:AL_BATCH]]
            for i in ask:
                asked.add(i)
                (yes if is_pos(i) else no).append(i)
        out[strategy] = curve
    print(f"active learning {month}: {out}", flush=True)
    return out


# -- the product, end to end ---------------------------------------------------------------------------
def through_cli(month: str, first: dict, grade: dict) -> dict:
    """The last month as a user gets it: likes imported by id into a copy of the bench store, each listing day
    ranked by `paperfeed recommend --json` (a new process each day, as a script would run it)."""
    work = Path(tempfile.mkdtemp(prefix="curation-cli-", dir=WORK))
    try:
        shutil.copytree(FULL, work / "data", ignore=shutil.ignore_patterns("*.lock", "*-shm", "*-wal"))
        env = {
            **os.environ,
            "PAPERFEED_DATA_DIR": str(work / "data"),
            "PAPERFEED_MODEL_CACHE_DIR": str(WORK / "models"),
        }
        cli = [python(), "-m", "paperfeed"]
        subprocess.run(
            [*cli, "user", "add", "curator"],
            env={**env, "PAPERFEED_NEW_PASSWORD": "curation-bench-pw"},
            check=True,
            capture_output=True,
        )
        engine = make_engine(f"sqlite:///{work / 'data' / 'paperfeed.db'}")
        from sqlalchemy import select

        from paperfeed.store.schema import papers

        with engine.connect() as conn:
            rows = conn.execute(select(papers.c.id, papers.c.listed_date)).all()
        start = month + "-01"
        likes = sorted(pid for pid, d in rows if d and d.isoformat() < start and pid in first and first[pid] < start)
        (work / "likes.txt").write_text("\n".join(likes) + "\n")
        subprocess.run(
            [*cli, "import-library", "--user", "curator", "--ids", str(work / "likes.txt")],
            env=env,
            check=True,
            capture_output=True,
        )
        days = sorted({d for _pid, d in rows if d and d.strftime("%Y-%m") == month})
        per, seconds = [], []
        for d in days:
            t = time.perf_counter()
            got = subprocess.run(
                [*cli, "recommend", "--user", "curator", "--date", d.isoformat(), "--limit", "5000", "--json"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            seconds.append(time.perf_counter() - t)
            ranked = [json.loads(line)["id"] for line in got.stdout.splitlines() if line.strip()]
            day_ids = [pid for pid, dd in rows if dd == d]
            g = np.array([grade.get(pid, 0.0) for pid in day_ids])
            if not np.any(g > 0):
                continue
            place = {pid: k for k, pid in enumerate(ranked)}
            order_score = np.array([-place.get(pid, len(ranked)) for pid in day_ids], float)
            per.append(day_scores(order_score, g, np.random.default_rng(1000).random(len(day_ids))))
        return {"likes": len(likes), "days": np.array(per), "seconds": seconds}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- report --------------------------------------------------------------------------------------------
def reference(months: list[str]) -> dict:
    out = WORK / "reference-baselines.json"
    t = time.perf_counter()
    subprocess.run(
        [python(), str(REFERENCE), "--out", str(out), "--strict-train-labels", "--months", ",".join(months)], check=True
    )
    got = json.loads(out.read_text())
    got["wall"] = time.perf_counter() - t
    return got


def fmt_ci(values: np.ndarray, rng) -> str:
    lo, hi = boot_one(values, rng)
    return f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def al_report(al: dict, months_out: list[dict]) -> str:
    warm = {m["month"]: m["results"]["ours, embedding weight 0/likes"][:, 0].mean() for m in months_out}
    months = list(al)
    w = float(np.mean([warm[m] for m in months]))
    rows = []
    for answers in al[months[0]]["least sure"]:
        sure = float(np.mean([al[m]["least sure"][answers] for m in months]))
        rand = float(np.mean([al[m]["random"][answers] for m in months]))
        rows.append([answers, f"{sure:.3f} ({sure / w:.0%})", f"{rand:.3f} ({rand / w:.0%})"])
    reached = [a for a in al[months[0]]["least sure"] if np.mean([al[m]["least sure"][a] for m in months]) >= w]
    verdict = (
        f"reaches the warm model's nDCG@20 after {reached[0]} answers"
        if reached
        else f"does not reach the warm model's nDCG@20 ({w:.3f}) within {max(al[months[0]]['least sure'])} answers"
    )
    return (
        f"\n\n**Active learning** ({', '.join(months)}): a cold-start user with {AL_START} likes answers "
        f'"Is this relevant to you?" about the papers of the 30 days before the month, {AL_BATCH} at a time, '
        f"answered by the curation labels; the month ranked after each round (mean nDCG@20 of the months; in "
        f"brackets, the share of the warm model's {w:.3f}, which knows all the month's strict likes). Asking "
        f"about the least sure papers (what For you asks) {verdict}.\n\n"
        + table(["answers", "least sure first (ships)", "random questions"], rows)
    )


def cli_paragraph(cli: dict, month: str, rng) -> str:
    d = cli["days"]
    text = ""
    text += (
        f"\n\n**Through the product** ({month}): {cli['likes']} likes imported with "
        f"`paperfeed import-library --ids` into a copy of the bench store, each of {len(cli['seconds'])} "
        f"days ranked by `paperfeed recommend --json --limit 5000` in a new process: nDCG@20 "
        f"{fmt_ci(d[:, 0], rng)}, P@10 {d[:, 1].mean():.3f}, MRR {d[:, 2].mean():.3f}; the first call "
        f"(fits and stores the model) {cli['seconds'][0]:.1f} s, later ones median "
        f"{float(np.median(cli['seconds'][1:])):.1f} s.\n"
    )
    return text


WITHOUT_COAUTHORS = "ours without co-authors, embedding weight 0/likes"
WITHOUT_COMMENTS = f"ours without the comments, embedding weight {rec.EMBED_LIKES:g}/likes"
COMMENTS = "The authors' comments read with the words (session 16)"


def ablation_paragraph(months_out: list[dict], shipped: str, without: str, title: str, rng) -> str:
    """What one part adds: the shipped ranker against the same without it (`without`), paired over days."""
    if without not in months_out[0]["results"]:
        return ""
    diffs = [m["results"][shipped][:, 0] - m["results"][without][:, 0] for m in months_out]
    lo, hi = boot_mean(diffs, rng)
    better = sum(d.mean() > 0 for d in diffs)
    verdict = "better" if lo > 0 else ("worse" if hi < 0 else "within the noise")
    return (
        f"\n\n**{title}**: the shipped ranker against the same without it, paired over the"
        f" same days: {np.mean([d.mean() for d in diffs]):+.3f} nDCG@20 on the 6-month mean, 95 % interval"
        f" [{lo:+.3f}, {hi:+.3f}] ({verdict}); better in {better} of {len(diffs)} months."
    )


def report(months_out: list[dict], ref: dict | None, cli: dict | None, shipped: str, seconds: float) -> str:
    rng = np.random.default_rng(7)
    names = list(months_out[0]["results"])
    ref_by = {m["month"]: m["metrics"] for m in ref["per_month"]} if ref else {}
    rows = []
    for name in names:
        per = [m["results"][name][:, 0] for m in months_out]
        lo, hi = boot_mean(per, rng)
        ref_name = REF_NAMES.get(name)
        ref_mean = (
            np.mean([ref_by[m["month"]][ref_name]["ndcg@20"] for m in months_out]) if ref_name and ref_by else None
        )
        rows.append(
            [
                name + (" (ships)" if name == shipped else ""),
                f"{np.mean([p.mean() for p in per]):.3f}",
                f"[{lo:.3f}, {hi:.3f}]",
                f"{np.mean([m['results'][name][:, 1].mean() for m in months_out]):.3f}",
                f"{np.mean([m['results'][name][:, 2].mean() for m in months_out]):.3f}",
                f"{ref_mean:.3f}" if ref_mean is not None else "",
            ]
        )
    monthly = []
    for m in months_out:
        for name in names:
            r = m["results"][name]
            ref_name = REF_NAMES.get(name)
            refv = ref_by.get(m["month"], {}).get(ref_name, {}).get("ndcg@20") if ref_name else None
            agree = f"{refv:.3f} ({r[:, 0].mean() - refv:+.3f})" if refv is not None else ""
            monthly.append(
                [
                    m["month"],
                    name,
                    len(r),
                    fmt_ci(r[:, 0], rng),
                    f"{r[:, 1].mean():.3f}",
                    f"{r[:, 2].mean():.3f}",
                    agree,
                ]
            )
    versus = []
    for m in months_out:
        best = max(BASELINES[1:], key=lambda b: m["results"][b][:, 0].mean())
        diff = m["results"][shipped][:, 0] - m["results"][best][:, 0]
        lo, hi = boot_one(diff, rng)
        verdict = "ours better" if lo > 0 else ("baseline better" if hi < 0 else "within the noise")
        versus.append(
            [
                m["month"],
                best,
                f"{diff.mean():+.3f}",
                f"[{lo:+.3f}, {hi:+.3f}]",
                f"{(m['results'][shipped][:, 0].mean() / m['results'][best][:, 0].mean() - 1) * 100:+.1f} %",
                verdict,
            ]
        )
    text = (
        f"{machine()}. Community curation as published (bench/curation.py docstring): the last 6 months of the\n"
        f"corpus, **every listing day** with a featured paper, **strict labels** (likes: featured before the month),\n"
        f"relevant = featured, graded by upvotes. Intervals: 95 % bootstrap over days ({BOOT} resamples). The\n"
        f"reference column is ../shared/eval/recommend/reference_baselines.py --strict-train-labels, run in the\n"
        f"same `make bench` ({ref['total_wall_s']:.0f} s)."
        if ref
        else ""
    ) + f" This run: {seconds:.0f} s.\n\n"
    text += "**Mean of the 6 months** (nDCG@20 with its interval; P@10; MRR; the reference script's nDCG@20)\n\n"
    text += table(["ranker", "nDCG@20", "95 % interval", "P@10", "MRR", "reference"], rows)
    if ref_by:
        gaps = {
            b: max(abs(m["results"][b][:, 0].mean() - ref_by[m["month"]][REF_NAMES[b]]["ndcg@20"]) for m in months_out)
            for b in BASELINES
        }
        agree = all(g <= 0.02 for g in gaps.values())
        text += (
            "\n\nOur baselines against the reference script, largest gap in any month: "
            + ", ".join(f"{b} {g:.3f}" for b, g in gaps.items())
            + f" ({'all within' if agree else 'NOT all within'} +-0.02)."
        )
    text += "\n\n**Ours against the best baseline, month by month** (paired over the same days)\n\n"
    text += table(["month", "best baseline", "nDCG@20 difference", "95 % interval", "relative", "verdict"], versus)
    for without, title in ((WITHOUT_COAUTHORS, "The co-author evidence (session 15)"), (WITHOUT_COMMENTS, COMMENTS)):
        text += ablation_paragraph(months_out, shipped, without, title, rng)
    text += "\n\n**Per month** (nDCG@20 [95 % interval]; reference figure and our difference from it)\n\n"
    text += table(["month", "ranker", "days", "nDCG@20", "P@10", "MRR", "reference (ours - ref)"], monthly)
    if cli:
        text += cli_paragraph(cli, months_out[-1]["month"], rng)
    return text


def cli_only(n_months: int) -> None:
    """The end-to-end check alone, its paragraph put in place of the note the full run leaves."""
    from sqlalchemy import select

    from bench.common import REPORT
    from paperfeed.store.schema import papers

    engine = make_engine(f"sqlite:///{FULL / 'paperfeed.db'}")
    with engine.connect() as conn:
        months = sorted({d.strftime("%Y-%m") for d in conn.scalars(select(papers.c.listed_date)) if d})[-n_months:]
    first, grade = hf_labels()
    cli = through_cli(months[-1], first, grade)
    text = cli_paragraph(cli, months[-1], np.random.default_rng(7))
    body = REPORT.read_text()
    start, end = "<!-- bench:recommend-curation -->", "<!-- /bench:recommend-curation -->"
    section = body[body.index(start) + len(start) : body.index(end)]
    section = section.replace("\n\n(The end-to-end check through the CLI is running.)", "")
    # This run's check replaces the one before (the rest of the section stays as the last full run wrote it).
    section = re.sub(r"\n\n\*\*Through the product\*\*.*?(?=\n\n|\s*$)", "", section, flags=re.S)
    write_section("recommend-curation", section.strip() + text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--no-active", action="store_true")
    parser.add_argument("--cli-only", action="store_true", help="only the end-to-end check, added to the section")
    parser.add_argument(
        "--validation", action="store_true", help="the 6 months before instead (choosing weights), printed only"
    )
    args = parser.parse_args()
    if args.cli_only:
        return cli_only(args.months)
    t0 = time.perf_counter()
    c = Corpus()
    first, grade = hf_labels()
    first = {a: d for a, d in first.items() if a in c.row}
    months = sorted({f.listed.strftime("%Y-%m") for f in c.fields if f.listed})[-args.months :]
    vocabulary = terms.corpus_terms(c.engine, FULL / "index")
    if args.validation:  # where weights and features are chosen: the 6 months before, printed, never written
        earlier = sorted(
            {f.listed.strftime("%Y-%m") for f in c.fields if f.listed and f.listed.strftime("%Y-%m") < months[0]}
        )
        out = [run_month(c, m, first, grade, vocabulary) for m in earlier[-args.months :]]
        print(report(out, None, None, f"ours, embedding weight {rec.EMBED_LIKES:g}/likes", time.perf_counter() - t0))
        return
    out = [run_month(c, m, first, grade, vocabulary) for m in months]
    ref = None if args.no_reference else reference(months)
    al = {} if args.no_active else {m: active_learning(c, m, first, grade, vocabulary) for m in months[-3:]}
    shipped = f"ours, embedding weight {rec.EMBED_LIKES:g}/likes"
    partial = report(out, ref, None, shipped, time.perf_counter() - t0) + (al_report(al, out) if al else "")
    write_section("recommend-curation", partial + "\n\n(The end-to-end check through the CLI is running.)")
    cli = None if args.no_cli else through_cli(months[-1], first, grade)
    body = report(out, ref, cli, f"ours, embedding weight {rec.EMBED_LIKES:g}/likes", time.perf_counter() - t0)
    body += al_report(al, out) if al else ""
    write_section("recommend-curation", body)
    print(body)


if __name__ == "__main__":
    main()
