"""One user's For-you model: a logistic regression over every field a paper carries, fitted with the user's
likes against thousands of random older papers of the corpus, and kept until their taste changes.

Features of a paper (bench/recommend.py measures each; docs/benchmarks.md, "recommend"):
- its words: tf-idf of title and abstract on the corpus's vocabulary (rank/terms.py);
- its authors, as evidence from this user's own likes: how many liked papers its most-liked author wrote,
  how many liked papers its authors wrote in all, the share of its authors the user has liked before, and
  whether any, and the share of a liked author's stored papers the user liked (the best of its authors, and
  its square: an author the user liked 8 papers of 10 by says more than one liked 8 of 200 by); names compared
  as author pages are (models.author_key); for a liked paper its own like is left out, or every liked paper
  would look like one by a liked author;
- its categories (each listed one, and the primary one apart);
- the size of its author list (binned: a single author, a small group, a large collaboration).
The model is the user's own, so a field that says nothing about them gets no weight. The probe behind this
(issue #20): the words alone measured 0.52 nDCG@20 on the validation months, with the other fields 0.66; the
liked share of an author's papers added 0.009 on the six validation months 2025-06..11 (better in four).

Negatives: NEGATIVES random papers listed at least RECENT_DAYS before the newest stored day (never the papers
being ranked, which are the newest; never the user's likes), and "not interested" marks, weighted
DISLIKE_WEIGHT. Each like is weighted by its strength and a long decay (HALF_LIFE_DAYS) from when the user came
to the paper: an upvote or save when made, an imported paper when it was listed (never when imported).
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import scipy.sparse as sp

from paperfeed.models import author_key
from paperfeed.store.taste import Fields

VERSION = 2  # the feature layout and fitting: part of every stored model's key, so a change refits them all
NEGATIVES = 20_000  # 10,000 measured 1.7 % lower on the validation months (fit 1.4 s against 2.6 s)
SEED = 0  # the draw of negatives: the same for every user, so it is read and transformed once
RECENT_DAYS = 30
MIN_POOL = 500  # fewer older papers than this: a small store, whose model is fitted per ranking instead
C = 0.3  # regularisation, chosen on the validation months 2025-09..11 (0.1 and 1 measured worse)
HALF_LIFE_DAYS = 365.0  # 90 and 180 measured no better; a long one still lets last year's taste fade
DISLIKE_WEIGHT = 3.0
SIZE_BINS = (1, 2, 4, 7, 11, 21, 51)  # author-list sizes: 1, 2-3, 4-6, 7-10, 11-20, 21-50, 51 and more
AUTHOR_FEATURES = (
    "most-liked author",
    "liked papers by its authors",
    "share of liked authors",
    "a liked author",
    "liked share of an author's papers",
    "that share squared",
)


@dataclass
class Example:
    fields: Fields
    weight: float  # > 0: a like of this strength; the label comes from the list it is in


@dataclass
class Model:
    coef: np.ndarray  # float32, over [words | categories | primary category | size bins | author features]
    intercept: float
    categories: list[str]
    liked_authors: Counter  # normalised name -> liked papers by them
    n_words: int
    author_papers: Counter = field(default_factory=Counter)  # liked author -> their stored papers when fitted

    # -- features ----------------------------------------------------------------------------------
    def features(self, words, fields: list[Fields], own: list[bool] | None = None, stored: bool = False):
        """The feature matrix of these papers: `words` their tf-idf rows; `own[i]`: paper i is itself one of
        the likes (its own like is left out of its author counts); `stored`: they are among the papers counted
        in author_papers (the training papers; left out of them too)."""
        meta = meta_matrix(fields, self, own, stored)
        return sp.hstack([words, meta], format="csr", dtype=np.float32)

    def scores(self, words, fields: list[Fields], keys: list[set[str]] | None = None, layout=None) -> np.ndarray:
        """The model's score of each paper: `words` their tf-idf rows; `keys` their authors' normalised names and
        `layout` their Layout, when made already (a day's papers are read once for every user). The same as
        features() @ coef, summed field by field: a few ms a user for a day of 2,000 papers."""
        lay = layout or Layout.of(fields, keys)
        n, nc = self.n_words, len(self.categories)
        out = np.asarray(words @ self.coef[:n], dtype=np.float64) + self.intercept
        col = {c: i for i, c in enumerate(self.categories)}
        at = np.array([col.get(c, -1) for c in lay.names], dtype=np.int64)
        known = at >= 0
        cat_w = np.where(known, self.coef[n + np.maximum(at, 0)], 0.0)
        primary_w = np.where(known, self.coef[n + nc + np.maximum(at, 0)], 0.0)
        out += lay.cats @ cat_w + lay.primary @ primary_w
        size_w = self.coef[n + 2 * nc : n + 2 * nc + len(SIZE_BINS) + 1]
        out += np.where(lay.bins >= 0, size_w[np.maximum(lay.bins, 0)], 0.0)
        author_w = self.coef[n + 2 * nc + len(SIZE_BINS) + 1 :].astype(np.float64)
        return out + lay.author_features(self.liked_authors, self.author_papers) @ author_w

    def words_for(self, words_row, vocabulary: np.ndarray, n: int = 3) -> list[str]:
        """The words of one paper that lifted it most (their weight times their tf-idf), best first; a word
        already named inside a phrase is not named again ("diffusion", not also "diffusion model")."""
        return self.words_of(sp.csr_matrix(words_row), vocabulary, n)[0]

    def words_of(self, words, vocabulary: np.ndarray, n: int = 3) -> list[list[str]]:
        """words_for of each row of a tf-idf matrix, read in one pass (not a sparse slice per paper)."""
        words = sp.csr_matrix(words)
        lift_all = words.data * self.coef[words.indices]
        out = []
        for r in range(words.shape[0]):
            start, end = words.indptr[r], words.indptr[r + 1]
            lift, cols = lift_all[start:end], words.indices[start:end]
            named, used = [], set()
            for i in np.argsort(-lift):
                if lift[i] <= 0 or len(named) == n:
                    break
                term = str(vocabulary[cols[i]])
                if used.isdisjoint(term.split()):
                    named.append(term)
                    used.update(term.split())
            out.append(named)
        return out

    def author_for(self, fields: Fields, keys: set[str] | None = None) -> str:
        """The author of this paper the user has liked most, when their authors lifted it at all."""
        at = self.n_words + 2 * len(self.categories) + len(SIZE_BINS) + 1
        evidence = author_evidence(fields.authors, self.liked_authors, False, keys, self.author_papers)
        if not evidence[3]:
            return ""
        if float(np.dot(self.coef[at : at + len(AUTHOR_FEATURES)], evidence)) <= 0:
            return ""
        best = max(fields.authors, key=lambda a: self.liked_authors.get(author_key(a), 0), default="")
        return best if self.liked_authors.get(author_key(best), 0) else ""

    # -- storage -----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        names = list(self.liked_authors)
        np.savez_compressed(
            buf,
            coef=self.coef.astype(np.float32),
            intercept=np.float64(self.intercept),
            categories=np.array(self.categories, dtype=str),
            authors=np.array(names, dtype=str),
            counts=np.array([self.liked_authors[a] for a in names], dtype=np.int32),
            papers=np.array([self.author_papers.get(a, 0) for a in names], dtype=np.int32),
            n_words=np.int64(self.n_words),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Model:
        """A stored model; ValueError when its layout is not this version's."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as d:
            names = d["authors"].tolist()
            authors = Counter(dict(zip(names, d["counts"].tolist(), strict=True)))
            papers = Counter(dict(zip(names, d["papers"].tolist(), strict=True)))
            found = cls(d["coef"], float(d["intercept"]), d["categories"].tolist(), authors, int(d["n_words"]), papers)
        expected = found.n_words + 2 * len(found.categories) + len(SIZE_BINS) + 1 + len(AUTHOR_FEATURES)
        if found.coef.shape != (expected,):
            raise ValueError(f"a stored model of {found.coef.shape} weights, not {expected}")
        return found


@dataclass
class Layout:
    """A set of papers' fields as the scores read them, the same for every user: category names (columns),
    each paper's categories (1 / sqrt(how many it lists)) and primary category as sparse rows, its size bin
    (-1: no authors known) and its authors' normalised names."""

    names: list[str]
    cats: object
    primary: object
    bins: np.ndarray
    keys: list[set[str]]
    # The authors flat, for author_features: each distinct name's number, and per (paper, author) entry, in
    # paper order, the name's number and the paper's row.
    author_ids: dict[str, int] = field(default_factory=dict)
    entry_author: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entry_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, fields: list[Fields], keys: list[set[str]] | None = None) -> Layout:
        names = sorted({c for f in fields for c in f.categories})
        col = {c: i for i, c in enumerate(names)}
        rows, cols, vals, prow, pcol = [], [], [], [], []
        for r, f in enumerate(fields):
            for c in f.categories:
                rows.append(r), cols.append(col[c]), vals.append(1 / math.sqrt(len(f.categories)))
            if f.categories:
                prow.append(r), pcol.append(col[f.categories[0]])
        shape = (len(fields), len(names))
        cats = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
        primary = sp.csr_matrix((np.ones(len(prow)), (prow, pcol)), shape=shape, dtype=np.float64)
        bins = np.array([size_bin(len(f.authors)) if f.authors else -1 for f in fields], dtype=np.int64)
        keys = keys if keys is not None else [{author_key(a) for a in f.authors} for f in fields]
        ids: dict[str, int] = {}
        entry_author = [ids.setdefault(k, len(ids)) for ks in keys for k in sorted(ks)]
        entry_row = [r for r, ks in enumerate(keys) for _ in ks]
        flat = (np.array(entry_author, dtype=np.int64), np.array(entry_row, dtype=np.int64))
        return cls(names, cats, primary, bins, keys, ids, *flat)

    def author_features(self, liked: Counter, papers: Counter) -> np.ndarray:
        """Each paper's author evidence (author_evidence's features) against one user's liked authors and their
        stored papers, for every paper at once: (papers, features), zeros where no author of it was liked."""
        n = len(self.keys)
        out = np.zeros((n, len(AUTHOR_FEATURES)))
        count = np.zeros(len(self.author_ids))
        share = np.zeros(len(self.author_ids))
        known = np.zeros(len(self.author_ids), dtype=bool)
        for name, liked_papers in liked.items():
            at = self.author_ids.get(name)
            if at is not None:
                count[at], known[at] = liked_papers, True
                share[at] = liked_share(liked_papers, papers.get(name, 0), False, False)
        hit = known[self.entry_author]
        if not hit.any():
            return out
        rows, counts = self.entry_row[hit], count[self.entry_author[hit]]
        most, best = np.zeros(n), np.zeros(n)
        np.maximum.at(most, rows, counts)
        np.maximum.at(best, rows, share[self.entry_author[hit]])
        total = np.bincount(rows, weights=counts, minlength=n)
        named = np.bincount(rows, minlength=n)
        sizes = np.array([len(ks) for ks in self.keys], dtype=np.float64)
        lifted = named > 0
        b = best[lifted]
        out[lifted] = np.column_stack(
            [np.log1p(most[lifted]), np.log1p(total[lifted]), named[lifted] / sizes[lifted], np.ones(len(b)), b, b * b]
        )
        return out


def size_bin(n: int) -> int:
    return sum(n >= b for b in SIZE_BINS)


def meta_matrix(fields: list[Fields], m: Model, own: list[bool] | None, stored: bool):
    categories = m.categories
    col = {c: i for i, c in enumerate(categories)}
    nc = len(categories)
    size_at, author_at = 2 * nc, 2 * nc + len(SIZE_BINS) + 1
    rows, cols, vals = [], [], []
    for r, f in enumerate(fields):
        for c in f.categories:
            if c in col:  # 1 / sqrt(how many it lists), as Layout weighs them
                rows.append(r), cols.append(col[c]), vals.append(1 / math.sqrt(len(f.categories)))
        if f.categories and f.categories[0] in col:
            rows.append(r), cols.append(nc + col[f.categories[0]]), vals.append(1.0)
        if f.authors:  # none known (an imported entry kept by its title): its words alone, not "no authors"
            rows.append(r), cols.append(size_at + size_bin(len(f.authors))), vals.append(1.0)
        evidence = author_evidence(f.authors, m.liked_authors, own[r] if own else False, None, m.author_papers, stored)
        for k, v in enumerate(evidence):
            if v:
                rows.append(r), cols.append(author_at + k), vals.append(v)
    shape = (len(fields), author_at + len(AUTHOR_FEATURES))
    return sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)


def author_evidence(
    authors: list[str],
    liked: Counter,
    own: bool,
    keys: set[str] | None = None,
    papers: Counter | None = None,
    stored: bool = False,
) -> tuple[float, ...]:
    """A paper's author features (AUTHOR_FEATURES). `own`: it is one of the likes; `stored`: it is counted in
    `papers` (each liked author's stored papers)."""
    keys = {author_key(a) for a in authors} if keys is None else keys
    found = [(liked[k], (papers or {}).get(k, 0)) for k in keys if liked.get(k, 0) - own > 0]
    if not found:
        return (0.0,) * len(AUTHOR_FEATURES)
    counts = [n - own for n, _ in found]
    best = max(liked_share(n, total, own, stored) for n, total in found)
    return math.log1p(max(counts)), math.log1p(sum(counts)), len(counts) / len(keys), 1.0, best, best * best


def liked_share(liked: int, papers: int, own: bool, stored: bool) -> float:
    """The share of an author's papers the user liked, this paper left out when counted: liked / (papers + 1),
    where the 1 keeps an author of one liked paper below one of ten."""
    papers = max(papers, liked)  # an author's likes are among their papers, even where the count missed some
    return (liked - own) / (papers - stored + 1)


# -- fitting -----------------------------------------------------------------------------------------
def like_weight(strength: float, came: date | datetime | None, today: date) -> float:
    came = came.date() if isinstance(came, datetime) else came
    age = max((today - came).days, 0) if came else 0
    return strength * 0.5 ** (age / HALF_LIFE_DAYS)


def fit(
    likes: list[Example],
    like_words,
    negatives: list[Fields],
    negative_words,
    dislikes: list[Fields],
    dislike_words,
    author_papers: Counter | None = None,
) -> Model | None:
    """The user's model: `likes` (with their tf-idf rows) against the random `negatives` and the `dislikes`;
    None without both (a tiny store can leave no negatives). `author_papers`: the stored papers of each liked
    author (store.taste.author_papers), the training papers among them; without it, the training papers'."""
    from sklearn.linear_model import LogisticRegression

    if not likes or not (negatives or dislikes):
        return None
    liked = Counter(k for e in likes for k in {author_key(a) for a in e.fields.authors})
    categories = sorted({c for e in likes for c in e.fields.categories} | {c for f in negatives for c in f.categories})
    if author_papers is None:  # counted among the training papers themselves (a small store, the tests)
        training = [e.fields for e in likes] + negatives + dislikes
        author_papers = Counter(k for f in training for k in {author_key(a) for a in f.authors} if k in liked)
    papers = Counter({k: n for k, n in author_papers.items() if k in liked})
    model = Model(np.zeros(0, np.float32), 0.0, categories, liked, like_words.shape[1], papers)
    x = sp.vstack(
        [
            model.features(like_words, [e.fields for e in likes], own=[True] * len(likes), stored=True),
            model.features(negative_words, negatives, stored=True),
            model.features(dislike_words, dislikes, stored=True),
        ]
    ).tocsr()
    y = np.r_[np.ones(len(likes)), np.zeros(len(negatives) + len(dislikes))]
    w_like = np.array([e.weight for e in likes])
    w_like = w_like * len(likes) / w_like.sum()  # their mean is 1: decay shifts weight among likes, not away
    weights = np.r_[w_like, np.ones(len(negatives)), np.full(len(dislikes), DISLIKE_WEIGHT)]
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    clf.fit(x, y, sample_weight=weights)
    model.coef, model.intercept = clf.coef_[0].astype(np.float32), float(clf.intercept_[0])
    return model


@dataclass
class Pool:
    """The random older papers every user's model learns against, read once per vocabulary and store size."""

    ids: list[str]
    fields: list[Fields]
    words: object  # their tf-idf rows
    key: str


_pool_lock = threading.Lock()
_pools: dict[str, Pool] = {}


def pool_key(terms_key: str, ids: list[str]) -> str:
    return hashlib.sha256((terms_key + "\n" + "\n".join(ids)).encode()).hexdigest()[:16]


def cached_pool(key: str, make) -> Pool:
    with _pool_lock:
        found = _pools.get(key)
        if found is None:
            _pools.clear()  # one pool at a time: a new vocabulary or store size replaces the old
            found = _pools[key] = make()
        return found
