import math

import pytest

from paperfeed.search.evaluate import beir_corpus, beir_qrels, beir_queries, evaluate, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_by_hand():
    qrels = {"a": 2, "b": 1, "c": 0}
    # ranked: x(0) a(2) b(1) -> DCG = 0/log2(2) + 2/log2(3) + 1/log2(4); ideal: 2/log2(2) + 1/log2(3)
    got = ndcg_at_k(["x", "a", "b"], qrels, 10)
    assert got == pytest.approx((2 / math.log2(3) + 1 / 2) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], qrels, 10) == 0.0
    # cut at k: the relevant document at rank 2 does not count for k=1
    assert ndcg_at_k(["x", "a"], qrels, 1) == 0.0


def test_recall_and_mrr_by_hand():
    qrels = {"a": 1, "b": 1, "c": 1, "d": 0}
    assert recall_at_k(["a", "x", "b"], qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "x", "b"], qrels, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(["d", "x", "c"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["d", "x", "c"], qrels, 2) == 0.0


def test_evaluate_averages_judged_queries_only():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    run = {"q1": ["a"], "q2": ["x", "b"]}
    s = evaluate(run, qrels)
    assert s.queries == 2
    assert s.mrr10 == pytest.approx((1 + 0.5) / 2)
    assert s.ndcg10 == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert s.recall10 == s.recall100 == 1.0
    with pytest.raises(ValueError, match="no query has a relevant document"):
        evaluate(run, {"q": {"a": 0}})


def test_reads_the_beir_layout(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "body"}\n{"_id": 2, "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "what"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    docs = list(beir_corpus(tmp_path))
    assert [(d.id, d.title, d.text) for d in docs] == [("d1", "T", "body"), ("2", "", "x")]
    assert beir_queries(tmp_path) == {"q1": "what"}
    assert beir_qrels(tmp_path) == {"q1": {"d1": 1}}
