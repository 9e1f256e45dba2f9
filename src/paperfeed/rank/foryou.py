"""A user's "For you" ranking of a list of candidate papers: their taste from the store, embeddings from the
search index, the shipped ranker of rank/recommend.py, keyword rules, and a reason on every pick.

Signals: upvotes and library saves are likes (older ones count less); an imported profile (BibTeX, arXiv ids,
one's own papers) counts as likes from the day it was imported, unmatched entries through their own
embedding; a paper opened is a weak like; "not interested" is a strong negative. Before the first like, the
keywords and categories chosen at sign-up rank the day (the cold start). Keyword rules: "never" removes the
papers that mention a phrase, "must" keeps only those that mention one, "boost" lifts them and says so.

A ranking is computed once per (user, taste, candidates, index generation, day) and cached in the process;
any change of the user's signals changes the taste's fingerprint and so recomputes it. Seen papers (opened,
or shown in a digest, feed or hook on an earlier day) are filtered after the cache, unless asked for.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, time

import numpy as np
from sqlalchemy import Engine

from paperfeed.clock import utcnow
from paperfeed.models import author_key
from paperfeed.rank import model, terms
from paperfeed.rank import recommend as rec
from paperfeed.rank.fitting import embedding_model, taste_model
from paperfeed.rank.likes import Likes, like_matrix, search_dim, with_zeros  # noqa: F401
from paperfeed.rank.lru import LRU
from paperfeed.search.service import SearchService
from paperfeed.store import authors
from paperfeed.store import taste as store_taste

BOOST = 1.0  # scores are z-scores over the day: a boost phrase lifts a paper by one standard deviation
CATEGORY_BONUS = 0.2  # cold start: a paper in a chosen category, on top of its closeness to the keywords
CACHE_SIZE = 2048  # rankings kept, and at most CACHE_PICKS papers in them all (a pick is ~0.3 kB: ~100 MB)
CACHE_PICKS = 300_000
ASK = 3  # papers in the "Is this relevant to you?" card
EXPLAINED = 50  # picks whose words and author are named (the first pages; the rest are seldom read)


@dataclass
class Profile:
    likes: list[tuple[str, datetime]]
    opened: list[str]
    dislikes: list[str]
    imported: store_taste.Imported
    rules: list[store_taste.Rule]
    categories: list[str]
    interest: str = ""  # a library tag: the likes are the papers saved under it (a per-interest view)
    follows: list[str] = field(default_factory=list)  # keys of the authors the user follows

    def fingerprint(self) -> str:
        parts = (self.likes, self.opened, self.dislikes, self.imported.matched, self.imported.titles, self.interest)
        parts += (self.follows,)
        return hashlib.sha256(repr((parts, self.rules, self.categories)).encode()).hexdigest()

    def phrases(self, kind: str) -> list[str]:
        return [r.phrase for r in self.rules if r.kind == kind]


@dataclass
class Ranking:
    picks: list[rec.Pick] = field(default_factory=list)
    needs_signal: bool = False  # nothing liked, imported or chosen at sign-up yet
    indexing: bool = False  # the user's likes are not in the search index yet (it is still being built)
    cold: bool = False  # ranked by the sign-up keywords and categories only
    ruled_out: int = 0  # left out by the user's "must" and "never" rules
    seen_out: int = 0  # left out because already seen
    unsure: list[str] = field(default_factory=list)  # the papers the model is least sure about: ask the user


@dataclass
class Candidates:
    ids: list[str]
    vectors: np.ndarray
    texts: list[str]  # title and abstract, where a rule's words are looked for (the model also reads comments)
    categories: list[list[str]]
    fields: list[store_taste.Fields] = field(default_factory=list)
    _words: tuple | None = None
    _layout: model.Layout | None = None
    _idset: frozenset | None = None
    _row_of: dict | None = None
    _negatives: tuple | None = None
    _first: tuple | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)  # negatives() reads idset() inside it

    def idset(self) -> frozenset[str]:
        with self._lock:
            if self._idset is None:
                self._idset = frozenset(self.ids)
            return self._idset

    def row_of(self) -> dict[str, int]:
        with self._lock:
            if self._row_of is None:
                self._row_of = {pid: i for i, pid in enumerate(self.ids)}
            return self._row_of

    def negatives(self, vocabulary: terms.Terms, make) -> tuple[list[str], str]:
        """The model's negatives for these candidates and their pool key, made once (`make()`) per vocabulary:
        every user ranking the same day draws the same ones."""
        with self._lock:
            if self._negatives is None or self._negatives[0] != vocabulary.key:
                ids = make()
                self._negatives = (vocabulary.key, ids, model.pool_key(vocabulary.key, ids))
            return self._negatives[1], self._negatives[2]

    def first_day(self):
        """The earliest listing day among these papers (None if none is listed): where a model's co-author graph
        must end before (rank/fitting.py). Read once for every user ranking them."""
        with self._lock:
            if self._first is None:
                self._first = (min((f.listed for f in self.fields if f.listed), default=None),)
            return self._first[0]

    def layout(self) -> model.Layout:
        """These papers' fields as every user's model reads them, made once."""
        with self._lock:
            if self._layout is None:
                self._layout = model.Layout.of(self.fields)
            return self._layout

    def words(self, vocabulary: terms.Terms):
        """These papers' tf-idf on the corpus vocabulary, made once per vocabulary (about 0.5 s for 2,000
        papers) and shared by every user ranking them."""
        with self._lock:
            if self._words is None or self._words[0] != vocabulary.key:
                self._words = (vocabulary.key, vocabulary.transform([f.words for f in self.fields]))
            return self._words[1]


# (the ranking without its picks, its picks packed as plain tuples: Pick.packed)
RANKINGS = LRU(CACHE_SIZE, max_cost=CACHE_PICKS, cost=lambda kept: len(kept[1]) + 1)
CANDIDATES = LRU(8)
PHRASE_VECTORS = LRU(4096)


# -- loading -----------------------------------------------------------------------------------------
def load_profile(engine: Engine, user_id: int, interest: str = "") -> Profile:
    """The user's taste; with `interest` (a library tag) only the papers saved under it are its likes, as
    arxiv-sanity-lite fits one model per tag (their rules and "not interested" marks still apply)."""
    with engine.connect() as conn:
        if interest:
            return Profile(
                store_taste.tagged(conn, user_id, interest),
                [],
                store_taste.dislikes(conn, user_id),
                store_taste.Imported([], [], []),
                store_taste.rules(conn, user_id),
                [],
                interest,
            )
        answered = store_taste.answers(conn, user_id)
        liked = {pid: when for pid, yes, when in answered if yes} | dict(store_taste.likes(conn, user_id))
        return Profile(
            sorted(liked.items(), key=lambda kv: (kv[1], kv[0]), reverse=True),
            store_taste.opened(conn, user_id),
            store_taste.dislikes(conn, user_id) + [pid for pid, yes, _ in answered if not yes],
            store_taste.imported(conn, user_id),
            store_taste.rules(conn, user_id),
            store_taste.categories(conn, user_id),
            follows=authors.followed_keys(conn, user_id),
        )


def load_candidates(engine: Engine, search: SearchService, ids: list[str]) -> Candidates:
    """The indexed ones of `ids`, with their embeddings, text and categories (cached: a day's papers are the
    same for every user)."""
    snap = search.snapshot()
    key = (hashlib.sha256("\n".join(ids).encode()).hexdigest(), snap.generation if snap else None)
    found = CANDIDATES.get(key)
    if found is None:
        found = _read_candidates(engine, search, ids)
        CANDIDATES.put(key, found)
    return found


def _read_candidates(engine: Engine, search: SearchService, ids: list[str]) -> Candidates:
    """The stored ones of `ids`, in order; those not in the search index yet are ranked by their words and
    fields (zero embeddings), not left out."""
    found, vectors = search.vectors(ids)
    meta = store_taste.paper_fields(engine, ids)
    kept = [pid for pid in ids if pid in meta]
    dim = vectors.shape[1] if found else search_dim(search)
    fields = [meta[pid] for pid in kept]
    vecs = with_zeros(kept, found, vectors, dim)
    return Candidates(kept, vecs, [f.text for f in fields], [f.categories for f in fields], fields)


# -- ranking -----------------------------------------------------------------------------------------
def for_you(
    engine: Engine,
    search: SearchService,
    user_id: int,
    candidates: list[str],
    now: datetime | None = None,
    show_seen: bool = False,
    interest: str = "",
) -> Ranking:
    """The candidates best first, without those the user liked or marked, filtered by their rules and (unless
    `show_seen`) by what they have seen; with `interest`, ranked by the papers saved under that tag only."""
    now = now or utcnow()
    profile = load_profile(engine, user_id, interest)
    cands = load_candidates(engine, search, candidates)
    ranking = cached_rank(engine, search, user_id, profile, cands, now)
    return ranking if show_seen else without_seen(engine, user_id, ranking, now)


def cached_rank(
    engine: Engine, search: SearchService, user_id: int, profile: Profile, cands: Candidates, now: datetime
) -> Ranking:
    snap = search.snapshot()
    digest = hashlib.sha256("\n".join(cands.ids).encode()).hexdigest()
    key = (user_id, profile.fingerprint(), digest, snap.generation if snap else None, now.date())
    found = RANKINGS.get(key)
    if found is not None:
        kept, rows = found
        return replace(kept, picks=[rec.Pick(*row) for row in rows])
    # Ages from the start of the day, as the key: a ranking recomputed later the same day (a rule added,
    # another process) gives the same order, not one whose near ties moved with the seconds between.
    ranking = rank(engine, search, user_id, profile, cands, datetime.combine(now.date(), time()))
    RANKINGS.put(key, (replace(ranking, picks=[]), [p.packed() for p in ranking.picks]))
    return ranking


def without_seen(engine: Engine, user_id: int, ranking: Ranking, now: datetime) -> Ranking:
    with engine.connect() as conn:
        seen = store_taste.seen(conn, user_id, before=datetime.combine(now.date(), time()))
    picks = [p for p in ranking.picks if p.id not in seen]
    unsure = [pid for pid in ranking.unsure if pid not in seen]
    return replace(ranking, picks=picks, seen_out=len(ranking.picks) - len(picks), unsure=unsure)


def rank(
    engine: Engine, search: SearchService, user_id: int, profile: Profile, cands: Candidates, now: datetime
) -> Ranking:
    rows, ruled_out = allowed_rows(profile, cands)
    likes = like_matrix(engine, search, profile, now)
    if likes is not None:
        picks = by_likes(engine, search, user_id, profile, likes, cands, rows, now)
        return Ranking(boosted(profile, cands, picks), ruled_out=ruled_out, unsure=least_sure(picks))
    if not profile.interest and (profile.categories or profile.phrases("boost") or profile.follows):
        picks = cold_start(search, profile, cands, rows)
        return Ranking(boosted(profile, cands, picks), cold=True, ruled_out=ruled_out)
    building = bool(profile.likes or profile.imported.matched) and search.indexed_count() < stored_papers(engine)
    return Ranking(needs_signal=not building, indexing=building)


def stored_papers(engine: Engine) -> int:
    from paperfeed.store.queries import count_papers

    return count_papers(engine)


def allowed_rows(profile: Profile, cands: Candidates) -> tuple[list[int], int]:
    """Rows of the candidates the user did not like or mark already, and that pass the keyword rules."""
    done = {pid for pid, _ in profile.likes} | set(profile.dislikes) | {pid for pid, _ in profile.imported.matched}
    rows = [i for i, pid in enumerate(cands.ids) if pid not in done]
    never, must = patterns(profile.phrases("never")), patterns(profile.phrases("must"))
    if not never and not must:
        return rows, 0
    kept = [i for i in rows if not mentioned(never, cands.texts[i]) and (not must or mentioned(must, cands.texts[i]))]
    return kept, len(rows) - len(kept)


def patterns(phrases: list[str]) -> list[tuple[str, re.Pattern]]:
    # Whole words and phrases, any case: "GAN" does not match "organ", "graph neural" matches "Graph  Neural".
    return [(p, re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, p.split())) + r"(?!\w)", re.I)) for p in phrases]


def mentioned(pats: list[tuple[str, re.Pattern]], text: str) -> tuple[str, ...]:
    return tuple(phrase for phrase, pat in pats if pat.search(text))


def by_likes(
    engine: Engine,
    search: SearchService,
    user_id: int,
    profile: Profile,
    likes: Likes,
    cands: Candidates,
    rows: list[int],
    now: datetime,
) -> list[rec.Pick]:
    if not rows:
        return []
    # Every candidate is scored and then the user's rows taken: the day's matrices are shared by every user,
    # and slicing them per user cost more than scoring them whole.
    take = np.asarray(rows)
    vocabulary = terms.corpus_terms(engine, search.root)
    fitted = taste_model(engine, search, user_id, profile, likes, cands, vocabulary, now) if vocabulary else None
    embedded = cands.vectors.shape[1] > 0 and bool(likes.vectors.any())
    if fitted is None:  # no words anywhere, or nothing to learn against: the embeddings alone
        scores = embedding_scores(engine, search, user_id, profile, likes, cands.vectors, take) if embedded else None
        scores = np.zeros(len(rows)) if scores is None else scores
    else:
        raw = fitted.scores(cands.words(vocabulary), [], layout=cands.layout())[take]
        scores = rec.zscore(raw)
        weight = rec.embed_weight(len(likes.keys))
        if weight and embedded:
            scores = scores + weight * embedding_scores(engine, search, user_id, profile, likes, cands.vectors, take)
    every = rec.reasons(likes.vectors, likes.keys, cands.vectors)
    margins = raw.tolist() if fitted is not None else [None] * len(rows)
    ids = cands.ids
    picks = [
        rec.Pick(ids[r], s, every[r][0], every[r][1], margin=m)
        for r, s, m in zip(rows, scores.tolist(), margins, strict=True)
    ]
    if fitted is not None:
        explain(fitted, vocabulary, cands, rows, picks)
    return picks


def least_sure(picks: list[rec.Pick], n: int = ASK) -> list[str]:
    """The papers whose score is nearest the model's boundary: an answer about them teaches it the most
    (uncertainty sampling, as Scholar Inbox asks its users)."""
    scored = [p for p in picks if p.margin is not None]
    if len(scored) > 4 * n:  # the nearest few by one partial sort, not a sort of the whole day
        near = np.argpartition(np.abs([p.margin for p in scored]), 4 * n)[: 4 * n]
        scored = [scored[i] for i in near]
    return [p.id for p in sorted(scored, key=lambda p: (abs(p.margin), p.id))[:n]]


def explain(fitted: model.Model, vocabulary: terms.Terms, cands: Candidates, rows: list[int], picks) -> None:
    """The words and the author (a liked one, or one who wrote with liked ones) that lifted each of the best
    picks (the rest are seldom read: not computed)."""
    keys = cands.layout().keys
    order = np.argsort([-p.score for p in picks])[:EXPLAINED]
    named = fitted.words_of(cands.words(vocabulary)[[rows[i] for i in order]], vocabulary.words)
    for i, words in zip(order, named, strict=True):
        picks[i].words = words
        picks[i].author = fitted.author_for(cands.fields[rows[i]], keys[rows[i]])
        picks[i].coauthor = "" if picks[i].author else fitted.coauthor_for(cands.fields[rows[i]])


def embedding_scores(
    engine: Engine, search: SearchService, user_id: int, profile: Profile, likes: Likes, vecs, rows
) -> np.ndarray:
    """Scholar Inbox's logistic regression on the embeddings: the likes (decayed) against random papers and
    the "not interested" marks, fitted once per change of taste (rank/fitting.py); `vecs[rows]`' scores,
    z-scored among themselves."""
    coef, intercept = embedding_model(search, engine, user_id, profile, likes)
    return rec.zscore((vecs @ coef)[rows] + intercept)


def cold_start(search: SearchService, profile: Profile, cands: Candidates, rows: list[int]) -> list[rec.Pick]:
    """Closeness to the sign-up keywords, plus a bonus for the chosen categories; ties keep the given order."""
    phrases = profile.phrases("boost")
    chosen = set(profile.categories)
    near = phrase_vectors(search, phrases)
    picks = []
    for r in rows:
        sims = cands.vectors[r] @ near.T if len(phrases) and cands.vectors.shape[1] == near.shape[1] else np.zeros(0)
        in_cat = next((c for c in cands.categories[r] if c in chosen), "")
        score = (float(sims.max()) if len(sims) else 0.0) + (CATEGORY_BONUS if in_cat else 0.0)
        interest = phrases[int(sims.argmax())] if len(sims) else in_cat
        picks.append(rec.Pick(cands.ids[r], score, interest=interest))
    return picks


def phrase_vectors(search: SearchService, phrases: list[str]) -> np.ndarray:
    vecs = []
    for phrase in phrases:
        vec = PHRASE_VECTORS.get(phrase)
        if vec is None:
            vec = search.encoder.encode([phrase])[0]
            PHRASE_VECTORS.put(phrase, vec)
        vecs.append(vec)
    return np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, 0), dtype=np.float32)


def boosted(profile: Profile, cands: Candidates, picks: list[rec.Pick]) -> list[rec.Pick]:
    """Boost phrases lift the papers that mention them, and followed authors their papers, each as much (and
    the card says which); best first, stable."""
    boosts = patterns(profile.phrases("boost"))
    follows = set(profile.follows)
    if boosts or follows:
        row_of = cands.row_of()
        for pick in picks:
            row = row_of[pick.id]
            pick.mentions = mentioned(boosts, cands.texts[row]) if boosts else ()
            by = cands.fields[row].authors if follows else []
            pick.followed = next((a for a in by if author_key(a) in follows), "")
            pick.score += (BOOST if pick.mentions else 0.0) + (BOOST if pick.followed else 0.0)
    return sorted(picks, key=lambda p: -p.score)
