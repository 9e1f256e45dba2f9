"""The corpus's vocabulary for For you: one tf-idf (words and their idf) fitted on a sample of the stored
papers and kept with the search index (index/terms.npz), so every user's model and every day's papers are
weighed on the same scale; with it, the draw of random older papers every user's model learns against
(model.NEGATIVES papers listed at least model.RECENT_DAYS before the newest day when it was fitted), so a
stored model stays valid from day to day. A day's own vocabulary measured worse (issue #20: its rare words
are the day's topics, not the user's, and the likes' words that the day lacks were lost).

Fitted on up to SAMPLE papers (about 30 s for 20,000 on one core) when missing, unreadable, or when the store
has grown or shrunk by more than a quarter since; new papers are transformed with it. Refitting changes the
`key`, which every stored user model carries, so models fitted on the old words are refitted on first use.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from time import monotonic

import numpy as np
from sqlalchemy import Engine

from paperfeed.rank import model
from paperfeed.rank import recommend as rec
from paperfeed.store import taste as store_taste
from paperfeed.store.queries import count_papers, latest_day

SAMPLE = 20_000
SEED = 0
DRIFT = 0.25  # refit when the store's size has moved this far from the size it was fitted on
FILE = "terms.npz"
# What the words were counted in (store.taste.Fields.words). A vocabulary saved before the comments were read
# (no `reads`) is fitted again, and so is every user model on it (its key changes).
READS = "title abstract comments"


@dataclass
class Terms:
    vectorizer: object  # a fitted TfidfVectorizer
    words: np.ndarray  # the feature names, by column
    fitted_on: int  # papers in the store when fitted
    key: str  # changes whenever the vocabulary or the negatives do
    negatives: list[str] = field(default_factory=list)  # ids of the random older papers models learn against

    def transform(self, texts: list[str]):
        if not texts:  # sklearn refuses an empty list
            import scipy.sparse as sp

            return sp.csr_matrix((0, len(self.words)), dtype=np.float64)
        return self.vectorizer.transform(texts)


_lock = threading.Lock()
_loaded: dict[Path, tuple[float, Terms]] = {}
# The store's size is compared with the vocabulary's at most every CHECK_EVERY seconds: counting the papers
# cost more than the rest of a user's For-you ranking's reads, and a drift of a quarter takes days, not seconds.
CHECK_EVERY = 30.0
_checked: dict[Path, float] = {}  # when the size was last compared, by vocabulary file
_wordless: dict[Path, int] = {}  # stores found without words, by their size then: not fitted again until it moves


def corpus_terms(engine: Engine, index_root: Path) -> Terms | None:
    """The current vocabulary, fitted first if needed; None when the store has no words at all."""
    path = index_root / FILE
    with _lock:
        terms = _read(path)
        if terms is not None and monotonic() - _checked.get(path, -CHECK_EVERY) < CHECK_EVERY:
            return terms
        stored = count_papers(engine)
        _checked[path] = monotonic()
        if terms is None or _drifted(terms.fitted_on, stored):
            if _wordless.get(path) == stored:
                return None
            terms = fit(engine, stored)
            if terms is None:
                _wordless[path] = stored
                return None
            save(terms, path)
            _loaded[path] = (path.stat().st_mtime, terms)
        return terms


def _drifted(fitted_on: int, stored: int) -> bool:
    return abs(stored - fitted_on) > DRIFT * max(fitted_on, 1)


def fit(engine: Engine, stored: int) -> Terms | None:
    ids = store_taste.sample_paper_ids(engine, SAMPLE, SEED)
    vectorizer = fit_words([f.words for f in store_taste.paper_fields(engine, ids).values()])
    if vectorizer is None:
        return None
    with engine.connect() as conn:
        newest = latest_day(conn)
    before = newest - timedelta(days=model.RECENT_DAYS) if newest else None
    negatives = store_taste.sample_paper_ids(engine, model.NEGATIVES, model.SEED, before=before)
    return _terms(vectorizer, stored, negatives)


def fit_words(texts: list[str]):
    """The tf-idf fitted on `texts`; None when they hold no words at all."""
    small = len(texts) < 2000
    vectorizer = rec.tfidf_vectorizer(
        min_df=1 if len(texts) < 50 else 2 if small else 5, max_df=1.0 if len(texts) < 50 else 0.1
    )
    try:
        return vectorizer.fit(texts)
    except ValueError:
        return None


def _terms(vectorizer, fitted_on: int, negatives: list[str]) -> Terms:
    words = vectorizer.get_feature_names_out()
    digest = hashlib.sha256(
        "\n".join(words).encode() + vectorizer.idf_.astype(np.float32).tobytes() + "\n".join(negatives).encode()
    ).hexdigest()
    return Terms(vectorizer, words, fitted_on, digest[:16], negatives)


def save(terms: Terms, path: Path) -> None:
    """Written whole, then moved into place: a reader sees the old vocabulary or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            words=terms.words.astype(str),
            idf=terms.vectorizer.idf_,
            fitted_on=terms.fitted_on,
            negatives=np.array(terms.negatives, dtype=str),
            reads=READS,
        )
    os.replace(tmp, path)


def _read(path: Path) -> Terms | None:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        with np.load(path, allow_pickle=False) as data:
            words, idf, fitted_on = data["words"], data["idf"], int(data["fitted_on"])
            negatives = data["negatives"].tolist()
            if str(data["reads"]) != READS:  # fitted on other fields of the papers: fitted again
                return None
        vectorizer = rec.tfidf_vectorizer()
        vectorizer.set_params(vocabulary={w: i for i, w in enumerate(words.tolist())})
        vectorizer.idf_ = idf
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # damaged or from an older layout: fitted again
        return None
    terms = _terms(vectorizer, fitted_on, negatives)
    _loaded[path] = (mtime, terms)
    return terms
