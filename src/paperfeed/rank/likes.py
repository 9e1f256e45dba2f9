"""A user's positive signals as one matrix: liked, saved and imported papers and those opened, each with its
embedding (zeros for a paper not indexed yet), age, strength and the day the user came to it (their words and
fields are read where the model is fitted, rank/fitting.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine

from paperfeed.rank import recommend as rec
from paperfeed.search.service import SearchService
from paperfeed.store import queries

if TYPE_CHECKING:
    from paperfeed.rank.foryou import Profile

OPENED_STRENGTH = 0.3  # a paper opened says less than one upvoted or saved


@dataclass
class Likes:
    keys: list[tuple[str | None, str]]  # (paper id, "") or (None, imported title)
    vectors: np.ndarray
    ages: np.ndarray
    strength: np.ndarray
    came: list[datetime | None] = field(default_factory=list)  # when the user came to it (None: its listing)


def like_matrix(engine: Engine, search: SearchService, profile: Profile, now: datetime) -> Likes | None:
    """Every positive signal: likes, matched and unmatched imports, opened papers. A stored paper not in the
    search index yet counts by its words and fields (its embedding is zeros, which the embedding term and the
    reasons pass over): For you does not wait for the vectors."""
    when = dict(profile.imported.matched) | dict(profile.likes)  # a like is newer news than an import
    strength = dict.fromkeys(profile.opened, OPENED_STRENGTH) | dict.fromkeys(when, 1.0)
    opened_at = dict.fromkeys(profile.opened, now)
    found, found_vecs = search.vectors(list(strength))
    dim = found_vecs.shape[1] if found else search_dim(search)
    stored = queries.stored_ids(engine, list(strength))
    ids = [pid for pid in strength if pid in stored]
    vecs = with_zeros(ids, found, found_vecs, dim)
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
    # An imported paper came to the user when it was listed, not when the file was imported (None: the
    # model reads its listing date); an upvote, save or opening when it was made.
    liked_at = dict(profile.likes)
    added = profile.imported.added
    came = [liked_at.get(pid) or added.get(pid) or (None if pid in when else opened_at[pid]) for pid in ids]
    came += [None] * len(imported)
    return Likes(keys, vectors.astype(np.float32), rec.age_days(times, now), np.array(weights), came)


def with_zeros(ids: list[str], found: list[str], vecs: np.ndarray, dim: int) -> np.ndarray:
    """The embeddings of `ids` in order, zeros for those not in the index."""
    out = np.zeros((len(ids), dim), dtype=np.float32)
    at = {pid: i for i, pid in enumerate(found)}
    for i, pid in enumerate(ids):
        if pid in at:
            out[i] = vecs[at[pid]]
    return out


def search_dim(search: SearchService) -> int:
    snap = search.snapshot()
    return int(snap.matrix.shape[1]) if snap is not None else 0
