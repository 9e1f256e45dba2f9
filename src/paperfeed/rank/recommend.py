"""Personal recommendations: rank candidate papers by one user's taste, with a reason for each.

The taste is what the user liked (upvotes, library saves; older likes count less) and what they marked "not
interested". The rankers, all over the same paper embeddings the search uses (all-MiniLM-L6-v2), except the
tf-idf one:
- `zotero`: zotero-arxiv-daily's recipe (TideDra/zotero-arxiv-daily, README "How it works"): the mean cosine
  similarity to the library, newer library items weighted more (weight 1 / (1 + log10(rank))).
- `logreg`: Scholar Inbox's recipe (Flicke et al., 2025, "Scholar Inbox: Personalized Paper Recommendations
  for Scientists"): a logistic regression on embeddings, liked papers against random corpus papers.
- `svm`: arxiv-sanity-lite's recipe (karpathy/arxiv-sanity-lite, serve.py): tf-idf of title and abstract, a
  linear SVM of the liked papers against every other paper (C = 0.01, balanced).
- `ours`: both kinds of evidence, each as a z-score over the candidates, added: (1) the logistic regression
  on embeddings with time-decayed likes and "not interested" as strong negatives; (2) arxiv-sanity-lite's
  tf-idf SVM, fitted on the candidates themselves (the likes against the day's other papers), so it needs
  no corpus-wide model and costs ~15 ms a user for a day of 2,000 papers.
Which one ships is decided by bench/recommend.py (docs/benchmarks.md, "recommend"): embeddings alone lead on
the topic lists, the tf-idf SVM on author continuity and community curation; the sum stays within a few
per cent of the best on each (see there by how much), where either alone falls 20-30 % behind on some.
(Adding the similarity to the closest liked paper measured 9-18 % worse, so its weight is 0; it names the
reason.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

HALF_LIFE_DAYS = 180.0  # a like loses half its weight in this time (ours)
DISLIKE_WEIGHT = 3.0  # a "not interested" counts as much as this many random negatives (ours)
NEAREST_WEIGHT = 0.0  # the closest liked paper measured worse as a score term (bench/recommend.py); kept for reasons
# The embedding model's z-score is added to the per-user model's with weight EMBED_LIKES / (number of likes):
# with 5 likes the words and fields say little and the embeddings lead (topic lists), with thousands the
# per-user model does (community curation, where any fixed weight above 0 measured worse). Chosen on the
# topic lists among 0, 10, 20 and 40 (bench/recommend.py); author continuity checks it.
EMBED_LIKES = 20.0


def embed_weight(n_likes: int) -> float:
    return EMBED_LIKES / max(n_likes, 1)


TEXT_WEIGHT = 0.5  # the tf-idf SVM's z-score beside the embedding model's: 0.3, 0.5 and 1 measured, 0.5 the most even
SHIPPED = "ours"


@dataclass(slots=True)  # a day's ranking holds thousands: slots make them quicker to build and smaller
class Pick:
    id: str
    score: float
    because: str | None = None  # the liked paper this one is closest to (an id, or None for an imported entry)
    because_title: str = ""  # its title
    mentions: tuple[str, ...] | list[str] = ()  # the user's boost phrases it mentions
    interest: str = ""  # cold start: the sign-up keyword or category it matches
    words: tuple[str, ...] | list[str] = ()  # the words of it that the user's model weighs most
    author: str = ""  # its author the user liked most, when that lifted it
    followed: str = ""  # its author the user follows (lifted like a boost phrase)
    margin: float | None = None  # the user's model's own score: near 0 it cannot tell (active learning asks)
    coauthor: str = ""  # its author who wrote with the most liked authors, when that lifted it (and no liked one did)

    def packed(self) -> tuple:
        """Its fields as one plain tuple of strings and numbers, which the garbage collector stops tracking (a
        cache of rankings kept as Pick objects, thousands per ranking, cost a quarter of each new ranking in
        collections); Pick(*row) makes it again."""
        head = (self.id, self.score, self.because, self.because_title, tuple(self.mentions), self.interest)
        return (*head, tuple(self.words), self.author, self.followed, self.margin, self.coauthor)


def reason_text(
    liked_title: str,
    interest: str,
    mentions: list[str],
    words: list[str] | None = None,
    author: str = "",
    followed: str = "",
    coauthor: str = "",
) -> str:
    """The one sentence that says why a paper is recommended (CLI, API, feeds)."""
    if liked_title:
        why = f"because you liked: {liked_title}"
    elif interest:
        why = f"matches your interest: {interest}"
    elif followed:
        why = f"by {followed}, whom you follow"
        followed = ""
    else:
        why = "close to what you liked"
    if followed:
        why += f" · by {followed}, whom you follow"
    if author:
        why += f" · by {author}, whose papers you liked"
    if coauthor:
        why += f" · by {coauthor}, who has written with authors you liked"
    if words:
        why += f" · words you read about: {', '.join(words)}"
    return why + (f" · mentions {', '.join(mentions)}" if mentions else "")


def reason_of(r: dict) -> str:
    """reason_text of a pick's reason as the pages hold it (web.present.with_reasons)."""
    args = (r["title"], r["interest"], r["mentions"], r["words"], r["author"], r["followed"], r.get("coauthor", ""))
    return reason_text(*args)


def decay(ages_days: np.ndarray) -> np.ndarray:
    return 0.5 ** (np.maximum(ages_days, 0.0) / HALF_LIFE_DAYS)


def zotero(likes: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """Mean cosine to the likes (ordered newest first), weighted 1 / (1 + log10(rank))."""
    weights = 1.0 / (1.0 + np.log10(np.arange(1, len(likes) + 1)))
    return (cands @ likes.T) @ weights / weights.sum()


def logreg(likes: np.ndarray, negatives: np.ndarray, cands: np.ndarray, weights=None) -> np.ndarray:
    coef, intercept = logreg_fit(likes, negatives, weights)
    return cands @ coef + intercept


def logreg_fit(likes: np.ndarray, negatives: np.ndarray, weights=None) -> tuple[np.ndarray, float]:
    """Scholar Inbox's logistic regression, as its weights (a paper's score is its embedding @ coef +
    intercept, the same as scikit-learn's decision_function)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([likes, negatives])
    y = np.r_[np.ones(len(likes)), np.zeros(len(negatives))]
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit(x, y, sample_weight=weights)
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


def ours(
    likes: np.ndarray,
    ages_days: np.ndarray,
    dislikes: np.ndarray,
    randoms: np.ndarray,
    cands: np.ndarray,
    strength: np.ndarray | None = None,
    text: np.ndarray | None = None,
) -> np.ndarray:
    """z-scores over the candidates (about -3..3). `strength`: per like, how much it says (1 for an upvote or
    save, less for a paper only opened). `text`: the tf-idf SVM's scores of the same candidates, if any."""
    coef, intercept = ours_fit(likes, ages_days, dislikes, randoms, strength)
    model = zscore(cands @ coef + intercept)
    if text is not None and len(text):
        model = model + TEXT_WEIGHT * zscore(text)
    return model + NEAREST_WEIGHT * (cands @ likes.T).max(axis=1)


def ours_fit(
    likes: np.ndarray,
    ages_days: np.ndarray,
    dislikes: np.ndarray,
    randoms: np.ndarray,
    strength: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The embedding term of `ours` as its weights: the likes (decayed, by strength) against the random papers
    and the "not interested" marks (each DISLIKE_WEIGHT)."""
    negatives = np.vstack([dislikes, randoms]) if len(dislikes) else randoms
    liked = decay(ages_days) * (1.0 if strength is None else strength)
    weights = np.r_[liked, np.full(len(dislikes), DISLIKE_WEIGHT), np.ones(len(randoms))]
    return logreg_fit(likes, negatives, weights * len(weights) / weights.sum())


def zscore(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def tfidf(texts: list[str], min_df: int = 1):
    """arxiv-sanity-lite's tf-idf of title and abstract: word 1-2-grams, 20,000 features, rare words only."""
    return tfidf_vectorizer(min_df).fit_transform(texts)


def tfidf_vectorizer(min_df: int = 1, max_df: float = 0.1):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        sublinear_tf=True,
        max_df=max_df,
        min_df=min_df,
    )


def day_tfidf(texts: list[str]):
    """(vectorizer, matrix) of a set of candidates: the vocabulary and idf of the day itself. A handful of
    papers keeps every word (the 10 % ceiling would leave none); None when there are no words at all."""
    small = len(texts) < 50
    vectorizer = tfidf_vectorizer(min_df=1 if small else 2, max_df=1.0 if small else 0.1)
    try:
        return vectorizer, vectorizer.fit_transform(texts)
    except ValueError:  # an empty vocabulary: nothing for the SVM to learn from
        return None


def svm_text(like_matrix, cand_matrix) -> np.ndarray:
    """arxiv-sanity-lite's SVM over the candidates' own tf-idf: the likes against every candidate."""
    from scipy.sparse import vstack

    matrix = vstack([like_matrix, cand_matrix]).tocsr()
    n = like_matrix.shape[0]
    return svm_scores(matrix, np.arange(n), np.arange(n, matrix.shape[0]))


def svm_scores(matrix, like_rows, cand_rows) -> np.ndarray:
    """arxiv-sanity-lite's SVM: the liked rows against every other row of the matrix (C = 0.01, balanced)."""
    from sklearn.svm import LinearSVC

    y = np.zeros(matrix.shape[0])
    y[like_rows] = 1
    # A fixed seed for liblinear's shuffle: the same taste and day give the same order on every view (unseeded,
    # near ties swapped between two computations of one ranking, and a boost seemed to move other papers).
    clf = LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6, random_state=0)
    clf.fit(matrix, y)
    return clf.decision_function(matrix[cand_rows])


def svm_tfidf(like_texts: list[str], other_texts: list[str], cand_texts: list[str]) -> np.ndarray:
    """arxiv-sanity-lite: tf-idf over likes, the rest and the candidates; SVM of likes vs everything else."""
    matrix = tfidf(like_texts + other_texts + cand_texts)
    first = len(like_texts) + len(other_texts)
    return svm_scores(matrix, np.arange(len(like_texts)), np.arange(first, matrix.shape[0]))


def reasons(likes: np.ndarray, like_ids: list, cands: np.ndarray) -> list:
    """For each candidate, the liked paper it is closest to ((None, "") where nothing is close: a paper or
    likes not embedded yet)."""
    if not likes.shape[1] or not len(likes):
        return [(None, "")] * len(cands)
    sims = cands @ likes.T
    best = sims.argmax(axis=1)
    close = sims[np.arange(len(best)), best] > 0
    return [like_ids[i] if ok else (None, "") for i, ok in zip(best.tolist(), close.tolist(), strict=True)]


def age_days(when: list[datetime], now: datetime) -> np.ndarray:
    return np.array([max((now - w).total_seconds() / 86400, 0.0) for w in when])


def random_rows(n_total: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(n_total, size=min(n, n_total), replace=False)


def ndcg(ranked: list[str], gains: dict[str, float], k: int) -> float:
    dcg = sum(gains.get(pid, 0.0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(gains.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0
