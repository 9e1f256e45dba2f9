"""The user's models for For you, each stored per taste and fitted only when what it reads changes, not per day:
- their own model (rank/model.py), under a per-user budget and one fit at a time per process, against
  negatives drawn with the vocabulary;
- the embedding term (Scholar Inbox's logistic regression, rank/recommend.py), stored as its weights."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from datetime import date, datetime, timedelta
from time import monotonic
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine

from paperfeed.models import author_key
from paperfeed.rank import model, terms
from paperfeed.rank import recommend as rec
from paperfeed.search.service import SearchService
from paperfeed.store import taste as store_taste

if TYPE_CHECKING:
    from paperfeed.rank.foryou import Candidates, Profile
    from paperfeed.rank.likes import Likes

FITS_PER_MINUTE = 6  # model fits a user may cause a minute (each 2-3 s of a core on a large store)
EMBED_NEGATIVES = 300  # random indexed papers the embedding term learns against (a fixed draw per user)
EMBED_VERSION = 1  # part of every stored embedding term's key: a change of its fitting refits them all
EMBED_VIEW = "~"  # the embedding term's models are stored under this view (no tag holds a "~")


def taste_model(
    engine: Engine,
    search: SearchService,
    user_id: int,
    profile: Profile,
    likes: Likes,
    cands: Candidates,
    vocabulary: terms.Terms,
    now: datetime,
) -> model.Model | None:
    """The user's model for this taste and vocabulary: the stored one, or fitted now and stored (once per
    change of what the model reads, not per day or per view). A user changing their taste faster than
    FITS_PER_MINUTE times a minute gets their last stored model until the minute is over; one fit runs at a
    time in a process, so no user can keep both cores busy for everyone.

    Its co-author graph ends the day before the first day it ranked, so the model serves every later day as
    it is; a day before that (an older day opened) gets a model of its own, stored under a key of its own."""
    ids, pool_key = cands.negatives(vocabulary, lambda: negative_ids(engine, vocabulary, cands))
    key = hashlib.sha256(f"{model_input(profile)} {pool_key} {model.VERSION}".encode()).hexdigest()[:32]
    first = cands.first_day()
    found = stored_model(engine, user_id, profile.interest, key)
    if found is not None and not found.ranks(first):
        key = hashlib.sha256(f"{key} {first}".encode()).hexdigest()[:32]
        found = stored_model(engine, user_id, profile.interest, key)
    if found is not None and found.ranks(first):
        return found
    if not _fit_budget.take((engine.url.render_as_string(), user_id)):
        stale = stored_model(engine, user_id, profile.interest, None)  # an older taste's, but no fit for now
        usable = stale is not None and stale.n_words == len(vocabulary.words) and stale.ranks(first)
        return stale if usable else None
    with _one_fit:
        pool = model.cached_pool(pool_key, lambda: read_pool(engine, vocabulary, ids, pool_key))
        until = first - timedelta(days=1) if first else None
        fitted = fit_model(engine, profile, likes, pool, vocabulary, now, until)
    if fitted is not None:
        store_taste.save_model(engine, user_id, profile.interest, key, fitted.to_bytes())
    return fitted


def model_input(profile: Profile) -> str:
    """What the fitted model reads of a taste (not the papers opened, the rules or the sign-up topics, which
    act after it or through the cheap embedding term): its key, so reading a paper does not refit it."""
    parts = (profile.likes, [p for p, _ in profile.imported.matched], profile.imported.titles, profile.dislikes)
    return hashlib.sha256(repr((parts, profile.interest)).encode()).hexdigest()


def stored_model(engine: Engine, user_id: int, view: str, key: str | None) -> model.Model | None:
    blob = store_taste.load_model(engine, user_id, view, key)
    if blob is None:
        return None
    try:
        return model.Model.from_bytes(blob)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile):
        return None  # damaged or from an older layout: fitted again


class FitBudget:
    """At most `n` fits per user a minute, in this process."""

    def __init__(self, n: int):
        self.n, self.lock, self.times = n, threading.Lock(), {}

    def take(self, user: tuple) -> bool:
        now = monotonic()
        with self.lock:
            recent = [t for t in self.times.get(user, []) if now - t < 60]
            if len(recent) >= self.n:
                return False
            self.times[user] = [*recent, now]
            if len(self.times) > 10_000:
                self.times = {u: ts for u, ts in self.times.items() if now - ts[-1] < 60}
            return True


_fit_budget = FitBudget(FITS_PER_MINUTE)


_one_fit = threading.Lock()


def fit_model(
    engine: Engine,
    profile: Profile,
    likes: Likes,
    pool: model.Pool,
    vocabulary: terms.Terms,
    now: datetime,
    until: date | None = None,
) -> model.Model | None:
    """The likes (upvotes, saves, answers, imports; papers only opened are left to the embedding term) against
    the pool and the "not interested" marks; co-authors counted over the papers listed up to `until` (None:
    no co-author evidence)."""
    chosen = {pid for pid, _ in profile.likes} | {pid for pid, _ in profile.imported.matched}
    fields = store_taste.paper_fields(engine, list(chosen) + profile.dislikes)
    examples, texts = [], []
    for (pid, title), strength, came in zip(likes.keys, likes.strength, likes.came, strict=True):
        f = fields.get(pid) if pid else store_taste.Fields(title, [], [], None)  # an unmatched import: its title
        if f is None or (pid and pid not in chosen):
            continue
        examples.append(model.Example(f, model.like_weight(float(strength), came or f.listed, now.date())))
        texts.append(f.words)
    skip = chosen | set(profile.dislikes)
    keep = [i for i, pid in enumerate(pool.ids) if pid not in skip]
    disliked = [fields[pid] for pid in profile.dislikes if pid in fields]
    liked_keys = {author_key(a) for e in examples for a in e.fields.authors}
    return model.fit(
        examples,
        vocabulary.transform(texts),
        [pool.fields[i] for i in keep],
        pool.words[keep],
        disliked,
        vocabulary.transform([f.words for f in disliked]),
        store_taste.author_papers(engine, list(liked_keys)),
        model.Graph(model.Coauthors.of(store_taste.teams_with(engine, liked_keys, until), liked_keys), until)
        if until
        else None,
    )


def negative_ids(engine: Engine, vocabulary: terms.Terms, cands: Candidates) -> list[str]:
    """The random older papers drawn with the vocabulary, less any being ranked: the newest days are never
    among them, and an older day ranked gets a model fitted without its own papers. A small store, with fewer
    such papers than model.MIN_POOL, draws from all its papers but the ones being ranked (once per day ranked
    and index generation: Candidates.negatives keeps the draw)."""
    ranked = cands.idset()
    if len(vocabulary.negatives) >= model.MIN_POOL:
        return [pid for pid in vocabulary.negatives if pid not in ranked]
    return [pid for pid in store_taste.sample_paper_ids(engine, model.NEGATIVES, model.SEED) if pid not in ranked]


def read_pool(engine: Engine, vocabulary: terms.Terms, ids: list[str], key: str) -> model.Pool:
    found = store_taste.paper_fields(engine, ids)
    kept = [pid for pid in ids if pid in found]
    fields = [found[pid] for pid in kept]
    return model.Pool(kept, fields, vocabulary.transform([f.words for f in fields]), key)


def embedding_model(search: SearchService, engine: Engine, user_id: int, profile: Profile, likes: Likes):
    """The embedding term's weights (coef, intercept) for this taste: the stored ones, or fitted now and stored.
    Its key is everything it reads: the likes, imports, papers opened and "not interested" marks, and which of
    them are indexed yet, so a new signal (or a like's paper newly embedded) refits it once, and a new day or a
    new index generation does not. As the user's own model, its likes decay as of the day it was fitted."""
    dim = likes.vectors.shape[1]
    found, dislikes = search.vectors(profile.dislikes)
    indexed = np.packbits(likes.vectors.any(axis=1)).tobytes().hex()
    parts = (profile.likes, profile.imported.matched, profile.imported.titles, profile.opened, profile.interest)
    parts += (found, indexed, dim, EMBED_NEGATIVES, EMBED_VERSION)
    key = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    view = EMBED_VIEW + profile.interest[:63]
    blob = store_taste.load_model(engine, user_id, view, key)
    if blob is not None and len(blob) == (dim + 1) * 8:
        weights = np.frombuffer(blob, dtype=np.float64)
        return weights[:-1], float(weights[-1])
    dislikes = dislikes if len(dislikes) else np.zeros((0, dim), dtype=np.float32)
    randoms = search.random_vectors(EMBED_NEGATIVES, seed=user_id)
    coef, intercept = rec.ours_fit(likes.vectors, likes.ages, dislikes, randoms, likes.strength)
    store_taste.save_model(engine, user_id, view, key, np.r_[coef, intercept].astype(np.float64).tobytes())
    return coef, intercept
