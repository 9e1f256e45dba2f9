"""BM25 over title and abstract as one text (plus authors and categories as filters), on tantivy.

Queries are built from the parsed query's plain words only, never from the user's raw text, so
no input can be a tantivy syntax error.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path

import tantivy

from paperfeed.search.query import ParsedQuery, words
from paperfeed.search.rowmap import id_key

EPOCH = date(1970, 1, 1)
NO_DATE = -1


# The analysis tantivy's "en_stem" applies to titles and abstracts, rebuilt here so that other parts (the
# highlighting of matched words) mark exactly what BM25 matched; the query side also drops stop words.
_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)
_QUERY_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stopword("english"))
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)


WORD = re.compile(r"\w+")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """One word as the index stores it ("Transformers" -> "transform")."""
    found = _STEM.analyze(word)
    return found[0] if found else ""


LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Only a word no paper contains is taken for a typo: rarer words are often exactly what the user means (a new
# method's name), and "correcting" words in 1-2 papers cost the in-domain topic search 0.4 % of its MRR.
RARE = 1
MIN_CORRECTION = 10  # ... corrected only to a word in at least this many papers
RATIO = 10  # ... and this many times as many papers as the typed word
# Correcting words in a few papers as well (RARE 4-11, RATIO 30-100) cost the in-domain misspelled set
# 0.3-0.5 % of its MRR@10; suggesting them instead was tried and dropped: the index holds stems, not words,
# so on the 466-paper sample "integer" (1 paper) drew "integrer" (stem "integr", 118 papers), "going" "toing".


TYPO_WEIGHT = {3: 1.0, 2: 0.1, 1: 0.01}  # by edits1's kind: a candidate 10x as common beats a likelier typo


def edits1(word: str) -> dict[str, int]:
    """Every string one typo away, with how likely that typo is (higher: likelier): the user dropped a letter
    or swapped two neighbours (3), typed a wrong letter (2), typed one too many (1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out: dict[str, int] = {}
    for kind, found in (
        (1, {a + b[1:] for a, b in splits if b}),
        (2, {a + c + b[1:] for a, b in splits if b for c in LETTERS}),
        (3, {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}),
        (3, {a + c + b for a, b in splits for c in LETTERS}),
    ):
        out.update(dict.fromkeys(found, kind))
    return out


def query_stems(words: list[str]) -> set[str]:
    """The stems a query's words match in titles and abstracts, stop words left out."""
    return {s for w in words for s in _QUERY_STEM.analyze(w)}


def day_number(d: date | None) -> int:
    return (d - EPOCH).days if d else NO_DATE


def build_schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    # Title and abstract as one field, as BEIR's BM25 baseline indexes them: one length-normalised text
    # measured better than a boosted title field beside the abstract (SciFact nDCG@10 0.687 vs 0.621; a title
    # field boosted on top of this one measured worse too: docs/benchmarks.md).
    b.add_text_field("text", tokenizer_name="en_stem")
    b.add_text_field("authors", tokenizer_name="default")
    b.add_text_field("category", tokenizer_name="raw", index_option="basic")
    b.add_integer_field("listed", indexed=True, fast=True)
    # The id's 64-bit hash as a fast field: a hit's id is then read from a column, not its stored document
    # (which cost most of a hybrid search's time at a million papers: docs/benchmarks.md).
    b.add_unsigned_field("key", fast=True)
    return b.build()


def _no_score(query: tantivy.Query) -> tantivy.Query:
    """A filter: it restricts the matches without adding to their BM25 score."""
    return tantivy.Query.const_score_query(query, 0.0)


class LexicalIndex:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        # Keys of hits -> ids (the search service's row map); None: read ids from the stored documents.
        self.names: Callable[[list[int]], list[str | None]] | None = None
        try:
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        except ValueError as exc:
            if "schema does not match" not in str(exc):
                raise
            raise ValueError("it was written by an older paperfeed (another schema) and must be rebuilt") from exc

    @classmethod
    def recreate(cls, path: Path) -> LexicalIndex:
        shutil.rmtree(path, ignore_errors=True)
        return cls(path)

    # -- writing -------------------------------------------------------------------------------
    def apply(self, upserts: list[dict], deletes: list[str]) -> None:
        """Delete then (re)add; idempotent, so replaying it after a crash is harmless."""
        if not upserts and not deletes:
            return
        writer = self.index.writer(heap_size=128_000_000, num_threads=1)
        for pid in [*deletes, *(p["id"] for p in upserts)]:
            writer.delete_documents_by_term("id", pid)
        for p in upserts:
            doc = tantivy.Document()
            doc.add_text("id", p["id"])
            doc.add_unsigned("key", id_key(p["id"]))
            doc.add_text("text", f"{p['title']}\n{p['abstract']}")
            for name in p["authors"]:
                doc.add_text("authors", name)
            for cat in p["categories"]:
                doc.add_text("category", cat)
            doc.add_integer("listed", day_number(p["listed_date"]))
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    # -- reading -------------------------------------------------------------------------------
    def _text_query(self, text: str, conjunction: bool = False) -> tantivy.Query:
        # Lower case: tantivy's parser reads upper-case AND / OR / NOT / IN as operators; the
        # analyzers lower-case anyway, so this changes no match.
        return self.index.parse_query(text.lower(), ["text"], conjunction_by_default=conjunction)

    def _filters(self, q: ParsedQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        must = tantivy.Occur.Must
        clauses = []
        for phrase in q.phrases:
            clauses.append((must, self._text_query(f'"{phrase}"')))
        for author in q.authors:
            # Every word of the name must be in one of the paper's author names.
            ws = [w.lower() for w in words(author)]
            if ws:
                clauses.append((must, _no_score(self.index.parse_query(" ".join(f"+{w}" for w in ws), ["authors"]))))
        if q.categories:
            cats = [tantivy.Query.term_query(self.schema, "category", c) for c in q.categories]
            either = [(tantivy.Occur.Should, c) for c in cats]
            clauses.append((must, _no_score(tantivy.Query.boolean_query(either))))
        if q.since or q.until:
            clauses.append(
                (
                    must,
                    _no_score(
                        tantivy.Query.range_query(
                            self.schema,
                            "listed",
                            tantivy.FieldType.Integer,
                            day_number(q.since) if q.since else None,
                            day_number(q.until) if q.until else None,
                        )
                    ),
                )
            )
        return clauses

    def search(self, q: ParsedQuery, limit: int) -> list[tuple[str, float]]:
        """(paper id, BM25 score), best first; filters restrict before the top `limit` are cut."""
        clauses = self._filters(q)
        if q.terms:
            # At least one word must match; filters only restrict.
            clauses.append((tantivy.Occur.Must, self._text_query(" ".join(q.terms))))
        if not clauses:
            return []
        return self._run(tantivy.Query.boolean_query(clauses), limit)

    def matching_ids(self, q: ParsedQuery, limit: int) -> list[str] | None:
        """Ids of the papers that pass the filters tantivy knows best (phrases, authors); None if none apply."""
        if not (q.phrases or q.authors):
            return None
        only = ParsedQuery(phrases=q.phrases, authors=q.authors)
        return [pid for pid, _ in self._run(tantivy.Query.boolean_query(self._filters(only)), limit)]

    def _run(self, query: tantivy.Query, limit: int) -> list[tuple[str, float]]:
        searcher = self.index.searcher()
        hits = searcher.search(query, limit, count=False).hits
        names = self.names(searcher.fast_field_values("key", [a for _, a in hits])) if self.names and hits else []
        # A paper not in the map (its keywords are in, its vector not yet) is named by its stored document.
        names = names or [None] * len(hits)
        return [(name or searcher.doc(addr)["id"][0], score) for (score, addr), name in zip(hits, names, strict=True)]

    def correct(self, words: list[str]) -> list[str]:
        """The words with each one that no paper contains replaced by the likeliest word one typo away
        (stemmed as the index stems it); words the index knows, numbers and short words stay as they are."""
        searcher = self.index.searcher()

        def known(word: str) -> int:
            s = stem(word)
            return searcher.doc_freq("text", s) if s else 0

        out = []
        for word in words:
            w = word.lower()
            seen = known(w)
            if len(w) < 4 or not w.isalpha() or seen >= RARE or not query_stems([w]):
                out.append(word)
                continue
            # The likeliest word one typo away: how common it is, weighed by how common that typo is (so
            # "atention" becomes "attention", a dropped letter, not "agention", whose stem "agent" is common).
            _score, freq, _short, best = max(
                ((f * TYPO_WEIGHT[kind], f, -len(c), c) for c, kind in edits1(w).items() if (f := known(c))),
                default=(0, 0, 0, w),
            )
            out.append(best if freq >= max(RATIO * seen, MIN_CORRECTION) else word)
        return out

    def count(self) -> int:
        return self.index.searcher().num_docs
