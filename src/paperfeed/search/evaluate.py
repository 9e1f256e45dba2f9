"""Retrieval metrics and the BEIR folder layout, for the quality benchmarks.

Metrics follow the usual definitions (as in BEIR / pytrec_eval): graded gains, log2 discount,
ideal DCG from the judged documents; recall over the relevant (gain > 0) documents; MRR of the first
relevant result. A query with no relevant documents is left out of the averages.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([qrels.get(doc, 0) for doc in ranked[:k]]) / ideal


def recall_at_k(ranked: list[str], qrels: dict[str, int], k: int) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranked[:k], 1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


@dataclass
class Scores:
    ndcg10: float
    recall10: float
    recall100: float
    mrr10: float
    queries: int


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
    """Average the four metrics over the judged queries that have at least one relevant document."""
    judged = [q for q, rels in qrels.items() if any(g > 0 for g in rels.values())]
    if not judged:
        raise ValueError("no query has a relevant document")
    n = len(judged)

    def mean(fn, *args) -> float:
        return sum(fn(run.get(q, []), qrels[q], *args) for q in judged) / n

    return Scores(mean(ndcg_at_k, 10), mean(recall_at_k, 10), mean(recall_at_k, 100), mean(mrr_at_k, 10), n)


# -- BEIR layout ------------------------------------------------------------------------------------
@dataclass
class BeirDoc:
    id: str
    title: str
    text: str


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def beir_corpus(folder: Path) -> Iterator[BeirDoc]:
    for rec in read_jsonl(folder / "corpus.jsonl"):
        yield BeirDoc(str(rec["_id"]), rec.get("title") or "", rec.get("text") or "")


def beir_queries(folder: Path) -> dict[str, str]:
    return {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl")}


def beir_qrels(folder: Path, split: str = "test") -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if not row or row[0] in ("query-id", "query_id"):
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def is_beir_folder(folder: Path) -> bool:
    return all((folder / p).exists() for p in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"))
