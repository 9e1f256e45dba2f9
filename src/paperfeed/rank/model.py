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
- the size of its author list (binned: a single author, a small group, a large collaboration);
- its authors' co-authors, as evidence from this user's likes: for each of its authors, how many liked authors
  they have written with (a student of a liked lab, a liked author's new collaborator): the most of its
  authors, the share of its authors with any, and whether any. Counted over the stored papers of at most
  MAX_TEAM authors listed before the first day the model ranks (evidence.Coauthors, store.taste.teams_with),
  so a paper ranked is never among them; a paper learned from counts only its other papers' co-authors.
The model is the user's own, so a field that says nothing about them gets no weight. The probe behind this
(issue #20): the words alone measured 0.52 nDCG@20 on the validation months, with the other fields 0.66; the
liked share of an author's papers added 0.009 on the six validation months 2025-06..11 (better in four); the
co-author evidence 0.011 there (better in all six; 0.005 with a graph ending 30 days before the month).

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

from paperfeed.models import author_key
from paperfeed.rank.evidence import (  # noqa: F401  (AUTHOR_FEATURES, Layout, ... are read as model.X)
    AUTHOR_FEATURES,
    COAUTHOR_FEATURES,
    MAX_TEAM,
    SIZE_BINS,
    Coauthors,
    Layout,
    author_evidence,
    coauthor_evidence,
    liked_share,
    size_bin,
)
from paperfeed.store.taste import Fields

VERSION = 3  # the feature layout and fitting: part of every stored model's key, so a change refits them all
NEGATIVES = 20_000  # 10,000 measured 1.7 % lower on the validation months (fit 1.4 s against 2.6 s)
SEED = 0  # the draw of negatives: the same for every user, so it is read and transformed once
RECENT_DAYS = 30
MIN_POOL = 500  # fewer older papers than this: a small store, whose model is fitted per ranking instead
C = 0.3  # regularisation, chosen on the validation months 2025-09..11 (0.1 and 1 measured worse)
HALF_LIFE_DAYS = 365.0  # 90 and 180 measured no better; a long one still lets last year's taste fade
DISLIKE_WEIGHT = 3.0


@dataclass
class Example:
    fields: Fields
    weight: float  # > 0: a like of this strength; the label comes from the list it is in


@dataclass
class Model:
    coef: np.ndarray  # float32: [words | categories | primary category | size bins | author | co-author features]
    intercept: float
    categories: list[str]
    liked_authors: Counter  # normalised name -> liked papers by them
    n_words: int
    author_papers: Counter = field(default_factory=Counter)  # liked author -> their stored papers when fitted
    coauthors: Counter = field(default_factory=Counter)  # author -> liked authors they wrote with (Coauthors.counts)
    until: date | None = None  # the last listing day of the co-author graph's papers (None: no graph)

    def ranks(self, first_day: date | None) -> bool:
        """Whether it may rank papers listed from `first_day` on: none of them was in its co-author graph."""
        return self.until is None or first_day is None or self.until < first_day

    # -- features ----------------------------------------------------------------------------------
    def features(self, words, fields: list[Fields], own: list[bool] | None = None, stored: bool = False, graph=None):
        """The feature matrix of these papers: `words` their tf-idf rows; `own[i]`: paper i is itself one of
        the likes (its own like is left out of its author counts); `stored`: they are among the papers counted
        in author_papers (the training papers; left out of them too); `graph` (Graph): they are learned from,
        and those in the co-author graph count only their other papers' co-authors."""
        import scipy.sparse as sp  # loaded on first use, not by every server and command that imports this

        meta = meta_matrix(fields, self, own, stored, graph)
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
        at = n + 2 * nc + len(SIZE_BINS) + 1
        size_w = self.coef[n + 2 * nc : at]
        out += np.where(lay.bins >= 0, size_w[np.maximum(lay.bins, 0)], 0.0)
        author_w = self.coef[at : at + len(AUTHOR_FEATURES)].astype(np.float64)
        coauthor_w = self.coef[at + len(AUTHOR_FEATURES) :].astype(np.float64)
        out += lay.author_features(self.liked_authors, self.author_papers) @ author_w
        return out + lay.coauthor_features(self.coauthors) @ coauthor_w

    def words_for(self, words_row, vocabulary: np.ndarray, n: int = 3) -> list[str]:
        """The words of one paper that lifted it most (their weight times their tf-idf), best first; a word
        already named inside a phrase is not named again ("diffusion", not also "diffusion model")."""
        import scipy.sparse as sp

        return self.words_of(sp.csr_matrix(words_row), vocabulary, n)[0]

    def words_of(self, words, vocabulary: np.ndarray, n: int = 3) -> list[list[str]]:
        """words_for of each row of a tf-idf matrix, read in one pass (not a sparse slice per paper)."""
        import scipy.sparse as sp

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

    def coauthor_for(self, fields: Fields) -> str:
        """The author of this paper who has written with the most liked authors, when that lifted it at all."""
        keys = {author_key(a) for a in fields.authors}
        evidence = coauthor_evidence(keys, self.coauthors)
        at = len(self.coef) - len(COAUTHOR_FEATURES)
        if not evidence[-1] or float(np.dot(self.coef[at:], evidence)) <= 0:
            return ""
        return max(fields.authors, key=lambda a: self.coauthors.get(author_key(a), 0))

    # -- storage -----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        names = list(self.liked_authors)
        near = list(self.coauthors)
        np.savez_compressed(
            buf,
            coef=self.coef.astype(np.float32),
            intercept=np.float64(self.intercept),
            categories=np.array(self.categories, dtype=str),
            authors=np.array(names, dtype=str),
            counts=np.array([self.liked_authors[a] for a in names], dtype=np.int32),
            papers=np.array([self.author_papers.get(a, 0) for a in names], dtype=np.int32),
            # One UTF-8 buffer, not an array of strings: tens of thousands of names read back in milliseconds.
            near=np.frombuffer("\n".join(near).encode(), dtype=np.uint8),
            near_counts=np.array([self.coauthors[a] for a in near], dtype=np.int32),
            until=np.int64(self.until.toordinal() if self.until else 0),
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
            text = d["near"].tobytes().decode()
            near = Counter(dict(zip(text.split("\n") if text else [], d["near_counts"].tolist(), strict=True)))
            until = int(d["until"])
            found = cls(d["coef"], float(d["intercept"]), d["categories"].tolist(), authors, int(d["n_words"]), papers)
        found.coauthors, found.until = near, date.fromordinal(until) if until else None
        fixed = len(SIZE_BINS) + 1 + len(AUTHOR_FEATURES) + len(COAUTHOR_FEATURES)
        expected = found.n_words + 2 * len(found.categories) + fixed
        if found.coef.shape != (expected,):
            raise ValueError(f"a stored model of {found.coef.shape} weights, not {expected}")
        return found


@dataclass
class Graph:
    """The co-author graph a model is fitted with (evidence.Coauthors) and the last listing day of its papers."""

    coauthors: Coauthors
    until: date

    def holds(self, f: Fields, keys: set[str]) -> bool:
        return f.listed is not None and f.listed <= self.until and 1 < len(keys) <= MAX_TEAM


def meta_matrix(fields: list[Fields], m: Model, own: list[bool] | None, stored: bool, graph: Graph | None = None):
    import scipy.sparse as sp

    categories = m.categories
    col = {c: i for i, c in enumerate(categories)}
    nc = len(categories)
    size_at, author_at = 2 * nc, 2 * nc + len(SIZE_BINS) + 1
    coauthor_at = author_at + len(AUTHOR_FEATURES)
    rows, cols, vals = [], [], []
    for r, f in enumerate(fields):
        for c in f.categories:
            if c in col:  # 1 / sqrt(how many it lists), as Layout weighs them
                rows.append(r), cols.append(col[c]), vals.append(1 / math.sqrt(len(f.categories)))
        if f.categories and f.categories[0] in col:
            rows.append(r), cols.append(nc + col[f.categories[0]]), vals.append(1.0)
        if f.authors:  # none known (an imported entry kept by its title): its words alone, not "no authors"
            rows.append(r), cols.append(size_at + size_bin(len(f.authors))), vals.append(1.0)
        keys = {author_key(a) for a in f.authors}
        evidence = author_evidence(f.authors, m.liked_authors, own[r] if own else False, keys, m.author_papers, stored)
        for k, v in enumerate(evidence):
            if v:
                rows.append(r), cols.append(author_at + k), vals.append(v)
        if graph is None:
            near = m.coauthors
        else:
            near = graph.coauthors.within(keys, graph.holds(f, keys), m.liked_authors, bool(own and own[r]))
        for k, v in enumerate(coauthor_evidence(keys, near)):
            if v:
                rows.append(r), cols.append(coauthor_at + k), vals.append(v)
    shape = (len(fields), coauthor_at + len(COAUTHOR_FEATURES))
    return sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)


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
    graph: Graph | None = None,
) -> Model | None:
    """The user's model: `likes` (with their tf-idf rows) against the random `negatives` and the `dislikes`;
    None without both (a tiny store can leave no negatives). `author_papers`: the stored papers of each liked
    author (store.taste.author_papers), the training papers among them; without it, the training papers'.
    `graph`: who the liked authors wrote with (evidence.Coauthors over the stored papers up to a day, none of
    those to be ranked); without it, no co-author evidence."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    if not likes or not (negatives or dislikes):
        return None
    liked = Counter(k for e in likes for k in {author_key(a) for a in e.fields.authors})
    categories = sorted({c for e in likes for c in e.fields.categories} | {c for f in negatives for c in f.categories})
    if author_papers is None:  # counted among the training papers themselves (a small store, the tests)
        training = [e.fields for e in likes] + negatives + dislikes
        author_papers = Counter(k for f in training for k in {author_key(a) for a in f.authors} if k in liked)
    papers = Counter({k: n for k, n in author_papers.items() if k in liked})
    near = graph.coauthors.counts() if graph else Counter()
    model = Model(np.zeros(0, np.float32), 0.0, categories, liked, like_words.shape[1], papers, near)
    model.until = graph.until if graph else None
    x = sp.vstack(
        [
            model.features(like_words, [e.fields for e in likes], [True] * len(likes), True, graph),
            model.features(negative_words, negatives, stored=True, graph=graph),
            model.features(dislike_words, dislikes, stored=True, graph=graph),
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
