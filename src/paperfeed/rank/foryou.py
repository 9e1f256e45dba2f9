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
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, time

import numpy as np
from sqlalchemy import Engine, select

from paperfeed.rank import recommend as rec
from paperfeed.search.service import SearchService
from paperfeed.store import taste as store_taste
from paperfeed.store.importer import utcnow
from paperfeed.store.schema import papers

RANDOM_NEGATIVES = 300
OPENED_STRENGTH = 0.3  # a paper opened says less than one upvoted or saved
BOOST = 1.0  # scores are z-scores over the day: a boost phrase lifts a paper by one standard deviation
CATEGORY_BONUS = 0.2  # cold start: a paper in a chosen category, on top of its closeness to the keywords
CACHE_SIZE = 2048  # rankings kept, and at most CACHE_PICKS papers in them all (a pick is ~0.3 kB: ~100 MB)
CACHE_PICKS = 300_000


@dataclass
class Profile:
    likes: list[tuple[str, datetime]]
    opened: list[str]
    dislikes: list[str]
    imported: store_taste.Imported
    rules: list[store_taste.Rule]
    categories: list[str]

    def fingerprint(self) -> str:
        parts = (self.likes, self.opened, self.dislikes, self.imported.matched, self.imported.titles)
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


@dataclass
class Candidates:
    ids: list[str]
    vectors: np.ndarray
    texts: list[str]
    categories: list[list[str]]
    _tfidf: tuple | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tfidf(self):
        """(vectorizer, matrix) of these papers' own tf-idf, made once on first use (about 1 s for 2,000
        papers) and shared by every user ranking them; None without words."""
        with self._lock:
            if self._tfidf is None:
                self._tfidf = (rec.day_tfidf(self.texts),)
            return self._tfidf[0]


class _Cache:
    """Least recently used, bounded by entries and by their total cost (a ranking costs one per paper)."""

    def __init__(self, size: int, max_cost: int | None = None, cost=lambda value: 1):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.max_cost, self.cost, self.total = max_cost or size, cost, 0

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            if key in self.items:
                self.total -= self.cost(self.items.pop(key))
            self.items[key] = value
            self.total += self.cost(value)
            while len(self.items) > self.size or (self.total > self.max_cost and len(self.items) > 1):
                self.total -= self.cost(self.items.popitem(last=False)[1])

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.total = 0


RANKINGS = _Cache(CACHE_SIZE, max_cost=CACHE_PICKS, cost=lambda ranking: len(ranking.picks) + 1)
CANDIDATES = _Cache(8)
PHRASE_VECTORS = _Cache(4096)


# -- loading -----------------------------------------------------------------------------------------
def load_profile(engine: Engine, user_id: int) -> Profile:
    with engine.connect() as conn:
        return Profile(
            store_taste.likes(conn, user_id),
            store_taste.opened(conn, user_id),
            store_taste.dislikes(conn, user_id),
            store_taste.imported(conn, user_id),
            store_taste.rules(conn, user_id),
            store_taste.categories(conn, user_id),
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


def paper_rows(engine: Engine, ids: list[str]) -> dict:
    """id -> (id, title, abstract, categories) of the stored ones of `ids` (in chunks: SQLite caps parameters)."""
    rows = {}
    query = select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.categories)
    with engine.connect() as conn:
        for start in range(0, len(ids), 5000):
            rows.update({r.id: r for r in conn.execute(query.where(papers.c.id.in_(ids[start : start + 5000])))})
    return rows


def _read_candidates(engine: Engine, search: SearchService, ids: list[str]) -> Candidates:
    found, vectors = search.vectors(ids)
    meta = paper_rows(engine, found)
    keep = [i for i, pid in enumerate(found) if pid in meta]
    kept = [found[i] for i in keep]
    texts = [f"{meta[pid].title}\n{meta[pid].abstract}" for pid in kept]
    return Candidates(kept, vectors[keep], texts, [list(meta[pid].categories or []) for pid in kept])


# -- ranking -----------------------------------------------------------------------------------------
def for_you(
    engine: Engine,
    search: SearchService,
    user_id: int,
    candidates: list[str],
    now: datetime | None = None,
    show_seen: bool = False,
) -> Ranking:
    """The candidates best first, without those the user liked or marked, filtered by their rules and (unless
    `show_seen`) by what they have seen."""
    now = now or utcnow()
    profile = load_profile(engine, user_id)
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
    if found is None:
        # Ages from the start of the day, as the key: a ranking recomputed later the same day (a rule added,
        # another process) gives the same order, not one whose near ties moved with the seconds between.
        found = rank(engine, search, user_id, profile, cands, datetime.combine(now.date(), time()))
        RANKINGS.put(key, found)
    return found


def without_seen(engine: Engine, user_id: int, ranking: Ranking, now: datetime) -> Ranking:
    with engine.connect() as conn:
        seen = store_taste.seen(conn, user_id, before=datetime.combine(now.date(), time()))
    picks = [p for p in ranking.picks if p.id not in seen]
    return replace(ranking, picks=picks, seen_out=len(ranking.picks) - len(picks))


def rank(
    engine: Engine, search: SearchService, user_id: int, profile: Profile, cands: Candidates, now: datetime
) -> Ranking:
    rows, ruled_out = allowed_rows(profile, cands)
    likes = like_matrix(engine, search, profile, now)
    if likes is not None:
        picks = by_likes(search, user_id, profile, likes, cands, rows)
        return Ranking(boosted(profile, cands, picks), ruled_out=ruled_out)
    if profile.categories or profile.phrases("boost"):
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
    kept = [i for i in rows if not mentioned(never, cands.texts[i]) and (not must or mentioned(must, cands.texts[i]))]
    return kept, len(rows) - len(kept)


def patterns(phrases: list[str]) -> list[tuple[str, re.Pattern]]:
    # Whole words and phrases, any case: "GAN" does not match "organ", "graph neural" matches "Graph  Neural".
    return [(p, re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, p.split())) + r"(?!\w)", re.I)) for p in phrases]


def mentioned(pats: list[tuple[str, re.Pattern]], text: str) -> list[str]:
    return [phrase for phrase, pat in pats if pat.search(text)]


@dataclass
class Likes:
    keys: list[tuple[str | None, str]]  # (paper id, "") or (None, imported title)
    vectors: np.ndarray
    ages: np.ndarray
    strength: np.ndarray
    texts: list[str] = field(default_factory=list)  # title and abstract (an imported entry: its title)


def like_matrix(engine: Engine, search: SearchService, profile: Profile, now: datetime) -> Likes | None:
    """Every positive signal with an embedding: likes, matched and unmatched imports, opened papers."""
    when = dict(profile.imported.matched) | dict(profile.likes)  # a like is newer news than an import
    strength = dict.fromkeys(profile.opened, OPENED_STRENGTH) | dict.fromkeys(when, 1.0)
    opened_at = dict.fromkeys(profile.opened, now)
    ids, vecs = search.vectors(list(strength))
    dim = vecs.shape[1] if ids else search_dim(search)
    imported = [
        (title, np.frombuffer(v, dtype=np.float32), at)
        for title, v, at in zip(profile.imported.titles, profile.imported.vectors, profile.imported.times, strict=True)
        if dim and len(v) == dim * 4  # an entry embedded by another model is left out, not a crash
    ]
    if not ids and not imported:
        return None
    vectors = np.vstack([vecs.reshape(len(ids), dim), *[v[None, :] for _, v, _ in imported]])
    keys = [(pid, "") for pid in ids] + [(None, title) for title, _, _ in imported]
    times = [when.get(pid) or opened_at[pid] for pid in ids] + [at for _, _, at in imported]
    weights = [strength[pid] for pid in ids] + [1.0] * len(imported)
    texts = paper_texts(engine, ids) + [title for title, _, _ in imported]
    return Likes(keys, vectors.astype(np.float32), rec.age_days(times, now), np.array(weights), texts)


def paper_texts(engine: Engine, ids: list[str]) -> list[str]:
    found = paper_rows(engine, ids)
    return [f"{found[pid].title}\n{found[pid].abstract}" if pid in found else "" for pid in ids]


def search_dim(search: SearchService) -> int:
    snap = search.snapshot()
    return int(snap.matrix.shape[1]) if snap is not None else 0


def by_likes(
    search: SearchService, user_id: int, profile: Profile, likes: Likes, cands: Candidates, rows: list[int]
) -> list[rec.Pick]:
    if not rows:
        return []
    vecs = cands.vectors[rows]
    _, dislikes = search.vectors(profile.dislikes)
    dislikes = dislikes if len(dislikes) else np.zeros((0, vecs.shape[1]), dtype=np.float32)
    randoms = search.random_vectors(RANDOM_NEGATIVES, seed=user_id)
    scores = rec.ours(
        likes.vectors, likes.ages, dislikes, randoms, vecs, likes.strength, text_scores(likes, cands, rows)
    )
    because = rec.reasons(likes.vectors, likes.keys, vecs)
    return [
        rec.Pick(cands.ids[r], float(s), because=b[0], because_title=b[1])
        for r, s, b in zip(rows, scores, because, strict=True)
    ]


def text_scores(likes: Likes, cands: Candidates, rows: list[int]) -> np.ndarray | None:
    """arxiv-sanity-lite's SVM on the day's own tf-idf: the likes against the papers being ranked."""
    day = cands.tfidf()
    if day is None:
        return None
    vectorizer, matrix = day
    return rec.svm_text(vectorizer.transform(likes.texts), matrix[rows])


def cold_start(search: SearchService, profile: Profile, cands: Candidates, rows: list[int]) -> list[rec.Pick]:
    """Closeness to the sign-up keywords, plus a bonus for the chosen categories; ties keep the given order."""
    phrases = profile.phrases("boost")
    chosen = set(profile.categories)
    near = phrase_vectors(search, phrases)
    picks = []
    for r in rows:
        sims = cands.vectors[r] @ near.T if len(phrases) else np.zeros(0)
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
    """Boost phrases lift the papers that mention them (and the card says which); best first, stable."""
    boosts = patterns(profile.phrases("boost"))
    row_of = {pid: i for i, pid in enumerate(cands.ids)}
    for pick in picks:
        pick.mentions = mentioned(boosts, cands.texts[row_of[pick.id]])
        pick.score += BOOST if pick.mentions else 0.0
    return sorted(picks, key=lambda p: -p.score)
