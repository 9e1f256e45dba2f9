"""The rankers on small hand-made cases: embeddings on a few axes stand for topics."""

from __future__ import annotations

import numpy as np

from paperfeed.rank import recommend as rec


def unit(*xs) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def topic(axis: int, jitter: float, rng) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[axis] = 1.0
    v += rng.normal(0, jitter, 8).astype(np.float32)
    return v / np.linalg.norm(v)


def world(rng, n=200) -> np.ndarray:
    return np.stack([topic(int(rng.integers(0, 8)), 0.3, rng) for _ in range(n)])


def test_a_liked_topic_ranks_above_an_unrelated_one():
    rng = np.random.default_rng(0)
    likes = np.stack([topic(0, 0.1, rng) for _ in range(3)])
    cands = np.stack([topic(0, 0.1, rng), topic(5, 0.1, rng)])
    for scores in (
        rec.zotero(likes, cands),
        rec.logreg(likes, world(rng), cands),
        rec.ours(likes, np.zeros(3), np.zeros((0, 8), np.float32), world(rng), cands),
    ):
        assert scores[0] > scores[1]


def test_not_interested_pushes_its_neighbours_down():
    rng = np.random.default_rng(1)
    likes = np.stack([topic(0, 0.1, rng), topic(1, 0.1, rng)])
    # Scores are z-scores over the candidates: enough of them (topics 0, 1 and others) to see one group move.
    cands = np.stack([topic(t, 0.1, rng) for t in [0] * 4 + [1] * 4 + [5, 6, 7, 2]])
    randoms = world(rng)
    before = rec.ours(likes, np.zeros(2), np.zeros((0, 8), np.float32), randoms, cands)
    disliked = np.stack([topic(1, 0.05, rng) for _ in range(4)])
    after = rec.ours(likes, np.zeros(2), disliked, randoms, cands)
    gap = lambda s: s[4:8].mean() - s[:4].mean()  # noqa: E731
    assert gap(after) < gap(before)  # topic 1 fell relative to topic 0


def test_old_likes_count_less():
    rng = np.random.default_rng(2)
    likes = np.stack([topic(0, 0.05, rng), topic(3, 0.05, rng)])
    cands = np.stack([topic(0, 0.05, rng), topic(3, 0.05, rng)])
    randoms = world(rng)
    fresh_old = rec.ours(likes, np.array([1.0, 720.0]), np.zeros((0, 8), np.float32), randoms, cands)
    assert fresh_old[0] > fresh_old[1]  # the like of yesterday outweighs one of two years ago
    assert rec.decay(np.array([0.0, 180.0]))[1] == 0.5


def test_reasons_name_the_closest_like_and_ndcg_is_standard():
    likes = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    assert rec.reasons(likes, ["a", "b"], np.stack([unit(0.1, 1, 0), unit(1, 0.2, 0)])) == ["b", "a"]
    assert rec.ndcg(["x", "y"], {"x": 1.0}, 10) == 1.0
    assert round(rec.ndcg(["y", "x"], {"x": 1.0}, 10), 4) == round(1 / np.log2(3), 4)


def test_svm_tfidf_prefers_the_liked_words():
    likes = ["graph neural networks for molecules", "message passing on molecular graphs"]
    others = ["protein folding with transformers", "image segmentation benchmark", "speech recognition"] * 20
    cands = ["a molecular graph network", "a new image benchmark"]
    scores = rec.svm_tfidf(likes, others, cands)
    assert scores[0] > scores[1]


def test_the_text_half_lifts_papers_that_share_the_likes_words():
    """Same embeddings for two candidates; the tf-idf SVM of the day breaks the tie towards the liked words."""
    rng = np.random.default_rng(3)
    likes = np.stack([topic(0, 0.1, rng)])
    same = topic(0, 0.1, rng)
    cands = np.stack([same, same] + [topic(t, 0.1, rng) for t in (2, 3, 4, 5)])
    texts = ["spiking neuromorphic chips", "image segmentation benchmark"] + ["protein folding"] * 2 + ["speech"] * 2
    vectorizer, matrix = rec.day_tfidf(texts)
    text = rec.svm_text(vectorizer.transform(["neuromorphic spiking hardware"]), matrix)
    scores = rec.ours(likes, np.zeros(1), np.zeros((0, 8), np.float32), world(rng), cands, text=text)
    assert scores[0] > scores[1]
