"""A user's "For you" ranking of a list of candidate papers: their taste from the store, embeddings from the
search index, the shipped ranker of rank/recommend.py, and a reason on every pick."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from paperfeed.rank import recommend as rec
from paperfeed.search.service import SearchService
from paperfeed.store import taste as store_taste
from paperfeed.store.importer import utcnow

RANDOM_NEGATIVES = 300
MIN_LIKES = 1


def taste_of(engine: Engine, user_id: int) -> rec.Taste:
    with engine.connect() as conn:
        return rec.Taste(store_taste.likes(conn, user_id), store_taste.dislikes(conn, user_id))


def for_you(
    engine: Engine, search: SearchService, user_id: int, candidates: list[str], now: datetime | None = None
) -> list[rec.Pick] | None:
    """The candidates best first, without those the user already liked or marked; None when the user has not
    liked anything indexed yet (the page then asks for a few likes)."""
    taste = taste_of(engine, user_id)
    like_ids, likes = search.vectors([pid for pid, _ in taste.likes])
    if len(like_ids) < MIN_LIKES:
        return None
    when = dict(taste.likes)
    skip = set(when) | set(taste.dislikes)
    cand_ids, cands = search.vectors([pid for pid in candidates if pid not in skip])
    if not cand_ids:
        return []
    _, dislikes = search.vectors(taste.dislikes)
    randoms = search.random_vectors(RANDOM_NEGATIVES, seed=user_id)
    ages = rec.age_days([when[pid] for pid in like_ids], now or utcnow())
    dislikes = dislikes if len(dislikes) else np.zeros((0, likes.shape[1]), dtype=np.float32)
    scores = rec.ours(likes, ages, dislikes, randoms, cands)
    because = rec.reasons(likes, like_ids, cands)
    picks = [rec.Pick(pid, float(s), b) for pid, s, b in zip(cand_ids, scores, because, strict=True)]
    return sorted(picks, key=lambda p: -p.score)
