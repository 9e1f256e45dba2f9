"""Scoring a search: the two legs fused into one ranking (a convex combination of normalised scores, or RRF),
and whether the best results are really about the query (absolute evidence, not the normalised scores)."""

from __future__ import annotations

from dataclasses import dataclass, field

from paperfeed.search.lexical import WORD, query_stems, stem
from paperfeed.search.query import FUSIONS, ParsedQuery  # noqa: F401 (the fusions fuse() knows)

RRF_K = 60
# Hybrid: a convex combination of per-query max-normalised scores, dense weight ALPHA.
# Chosen by measurement (docs/benchmarks.md) with BM25 on one title+abstract field: 0.5 is best on SciFact
# (nDCG@10 0.734 vs 0.725 at 0.7) and better in-domain (topic MRR@10 0.884 vs 0.765); RRF is lower on both.
ALPHA = 0.5


@dataclass
class Hit:
    id: str
    score: float
    lexical: float | None = None  # BM25 score, when the lexical leg found it
    dense: float | None = None  # cosine similarity, when the dense leg found it
    paper: dict = field(default_factory=dict)


@dataclass
class Results:
    query: ParsedQuery
    hits: list[Hit]
    total: int  # candidates found (an upper bound for paging)
    notes: list[str] = field(default_factory=list)
    # False when no result is really about the query (see `good_match`): the page says so plainly instead
    # of "About 100 results" for gibberish, whose best hit always scores 1.0 after normalisation.
    good_match: bool = True

    @property
    def match(self) -> str:
        """What the search page says, for scripts and agents: "good" (the best results are about the query),
        "weak" (results, but none really about it: the page's "No good match"), "none" (no result)."""
        if not self.hits:
            return "none"
        return "good" if self.good_match else "weak"

    @property
    def match_note(self) -> str:
        return MATCH_NOTES[self.match]


MATCH_NOTES = {
    "good": "",
    "weak": "No good match: no paper here is close in meaning, and none has most of its words; these are only the "
    "closest. Scores are relative to this query's results (the best is 1.0 whatever it is worth).",
    "none": "No results.",
}


# "No good match", by absolute evidence rather than per-query normalised scores (measured on the full
# corpus: clean topical queries have a best cosine of 0.52-0.72, gibberish and off-topic ones 0.18-0.42).
GOOD_COSINE = 0.45
# ... or most of the query's words (stemmed, stop words aside) in one of the top papers.
GOOD_COVERAGE = 0.67


def good_match(q: ParsedQuery, top: list[Hit], attach) -> bool:
    """Whether the best results are about the query: a close meaning (cosine) or most of its words present.
    Filters alone (no words) always match."""
    if not q.has_text:
        return True
    if any(h.dense is not None and h.dense >= GOOD_COSINE for h in top):
        return True
    wanted = query_stems(q.terms + [w for p in q.phrases for w in p.split()])
    if not wanted:
        return True
    attach([h for h in top if not h.paper])
    best = max((coverage(h.paper, wanted) for h in top if h.paper), default=0.0)
    return best >= GOOD_COVERAGE


def coverage(paper: dict, wanted: set[str]) -> float:
    present = {stem(w) for w in WORD.findall(f"{paper.get('title', '')} {paper.get('abstract', '')}")}
    return len(wanted & present) / len(wanted)


def fuse(
    lexical: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    fusion: str = "convex",
    alpha: float = ALPHA,
    more_dense: dict[str, float] | None = None,
) -> list[Hit]:
    """Merge the two legs' ranked lists into one. `more_dense`: cosines of papers outside the dense
    list (used by the convex combination only; RRF reads ranks)."""
    hits: dict[str, Hit] = {}
    for pid, s in lexical:
        hits.setdefault(pid, Hit(pid, 0.0)).lexical = s
    for pid, s in dense:
        hits.setdefault(pid, Hit(pid, 0.0)).dense = s
    if fusion == "rrf":
        for leg in (lexical, dense):
            for rank, (pid, _s) in enumerate(leg, 1):
                hits[pid].score += 1.0 / (RRF_K + rank)
    else:
        top_lex = max((s for _, s in lexical), default=0.0) or 1.0
        top_dense = max((s for _, s in dense), default=0.0) or 1.0
        weight_dense = alpha if lexical else 1.0
        weight_lex = 1.0 - alpha if dense else 1.0
        for h in hits.values():
            cos = h.dense if h.dense is not None else (more_dense or {}).get(h.id, 0.0)
            h.score = weight_dense * cos / top_dense + weight_lex * (h.lexical or 0.0) / top_lex
    return sorted(hits.values(), key=lambda h: (-h.score, h.id))
