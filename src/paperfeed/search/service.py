"""The one search API the CLI and the web app share: hybrid search, filters, similar papers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.encoder import Encoder, get_encoder
from paperfeed.search.fusion import ALPHA, FUSIONS, Hit, Results, fuse, good_match  # noqa: F401 (named here too)
from paperfeed.search.indexer import index_dir
from paperfeed.search.lexical import LexicalIndex, day_number
from paperfeed.search.query import MODES, ParsedQuery, QueryError, check_options, parse, with_filters  # noqa: F401
from paperfeed.search.state import IndexState, Snapshot
from paperfeed.store import queries
from paperfeed.store.listing import with_code
from paperfeed.store.queries import resolve_id, with_links

DEPTH = 100  # candidates each leg contributes to the fusion
CODE_DEPTH = 5
EXACT_LIMIT = 20_000  # filtered dense search scores every allowed paper exactly up to this many
# A phrase or author: filter restricts the dense leg to at most this many of its best BM25 matches
# (fetching every match of a common phrase from a million papers would cost seconds).
PHRASE_LIMIT = 5_000
LEGS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="search-leg")  # keyword legs of hybrid searches


class Unavailable(RuntimeError):
    """Search cannot answer this query while an index is damaged (the message says which)."""


class SearchService:
    """Search over the two indexes. A damaged index is noticed (checks at open and on every change of
    generation), reported by `health`, and searched around: pages and keyword search work without the
    vectors, search by meaning without the keyword index, until `paperfeed index` (or the server's
    index keeper) rebuilds what is damaged."""

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, workers: int | None = None) -> SearchService:
        """The service over the configured data directory, its encoder loaded on first use (a command or page
        that never embeds a query never loads the model)."""
        return cls(
            engine,
            settings.data_dir,
            encoder_factory=lambda: get_encoder(settings.model_cache, settings.encoder, workers),
        )

    def __init__(self, engine: Engine, data_dir: Path, encoder: Encoder | None = None, encoder_factory=None):
        self.engine = engine
        self.root = index_dir(data_dir)
        self.state = IndexState(engine, self.root)
        self._encoder = encoder
        self._encoder_factory = encoder_factory

    # -- state ---------------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    @property
    def lexical(self) -> LexicalIndex | None:
        return self.state.lexical

    @property
    def damage(self) -> dict[str, str]:
        return self.state.damage

    def snapshot(self) -> Snapshot | None:
        return self.state.snapshot()

    def check(self) -> None:
        self.state.check()

    def indexed_count(self) -> int:
        return self.state.indexed_count()

    def health(self, papers: int) -> dict:
        return self.state.health(papers)

    # -- search --------------------------------------------------------------------------------
    def search(
        self,
        text: str,
        limit: int = 20,
        offset: int = 0,
        sort: str = "relevance",
        mode: str = "hybrid",
        fusion: str = "convex",
        since: date | None = None,
        until: date | None = None,
        categories: list[str] | None = None,
        authors: list[str] | None = None,
        has_code: bool = False,
        alpha: float = ALPHA,
        plain: bool = False,
        spell: bool = True,
    ) -> Results:
        check_options(mode, fusion, sort)
        q = with_filters(parse(text, plain), since, until, categories, authors, has_code)
        if not q.has_text and not q.has_filters:
            return Results(q, [], 0, [*q.notes, "type some words, a phrase in quotes, author: or cat:"])
        # has:code keeps about one paper in six: look deeper so a page still fills.
        depth = max(DEPTH, offset + limit) * (CODE_DEPTH if q.has_code else 1)
        snap = self.snapshot()  # first: it opens (and checks) the keyword index the spelling reads
        if spell and q.terms:
            self._spell(q)
        if snap is None:
            return self._without_vectors(q, limit, offset, sort, depth)
        mode = self._usable_mode(q, snap, mode)
        ranked = self._code_only(q, self._ranked(q, snap, mode, depth, fusion, alpha))
        if sort == "date":
            ranked.sort(key=lambda h: -snap.listed[snap.row_of[h.id]] if h.id in snap.row_of else 0)
        page = ranked[offset : offset + limit]
        self._attach(page)
        hits = [h for h in page if h.paper]
        return Results(q, hits, len(ranked), q.notes, good_match(q, ranked[:3], self._attach))

    def _usable_mode(self, q: ParsedQuery, snap: Snapshot, mode: str) -> str:
        """The mode asked for, or the one the indexes can answer now (the query's notes say why)."""
        behind = self.state.vectors_behind(snap)
        if behind and mode == "hybrid":
            q.notes.append(f"search by meaning is still being built ({behind}); these results match keywords")
            mode = "lexical"
        if "lexical" in self.damage:
            if q.phrases or q.authors:
                raise Unavailable('"phrases" and author: need the keyword index, which is being rebuilt')
            if mode != "dense":
                q.notes.append("the keyword index is being rebuilt: these results match by meaning only")
            mode = "dense"
        return mode

    def _ranked(self, q: ParsedQuery, snap: Snapshot, mode: str, depth: int, fusion: str, alpha: float) -> list[Hit]:
        if not q.terms and not q.phrases:
            return self._filters_only(q, snap, depth)
        # The two legs at once: tantivy and the encoder/graph release the GIL, so on an idle server a hybrid
        # query takes as long as its slower leg, not both (measured at 1M papers: docs/benchmarks.md).
        lexical = LEGS.submit(self.lexical.search, q, depth) if mode != "dense" else None
        qvec = self.encoder.encode([q.text])[0] if mode != "lexical" and q.text else None
        dense = self._dense(q, snap, depth, qvec) if qvec is not None else []
        lex = lexical.result() if lexical else []
        return fuse(lex, dense, fusion, alpha, self._cosines(snap, lex, dense, qvec))

    def _spell(self, q: ParsedQuery) -> None:
        """Words no paper contains, one typo away from words many do, are searched as those words (keywords
        and meaning alike), and the page says so."""
        if not self.state.keywords_ok():
            return
        fixed = self.lexical.correct(q.terms)
        if fixed == q.terms:
            return
        q.corrections = [(a, b) for a, b in zip(q.terms, fixed, strict=True) if a != b]
        q.terms = fixed
        q.text = " ".join([*q.terms, *q.phrases])
        changed = [f"{a} → {b}" for a, b in q.corrections]
        q.notes.append(f"Showing results for: {q.text} (corrected {', '.join(changed)})")

    def _without_vectors(self, q: ParsedQuery, limit: int, offset: int, sort: str, depth: int) -> Results:
        """Keyword search alone while the vector index is damaged (filters still apply)."""
        if not self.state.keywords_ok():
            raise Unavailable("search is unavailable while its indexes are rebuilt; try again in a minute")
        q.notes.append("search by meaning is being rebuilt: these results match keywords only")
        ranked = self._code_only(q, [Hit(pid, s, lexical=s) for pid, s in self.lexical.search(q, depth)])
        self._attach(ranked)
        ranked = [h for h in ranked if h.paper]
        if sort == "date" or not q.has_text:
            ranked.sort(key=lambda h: str(h.paper.get("listed_date") or ""), reverse=True)
        return Results(q, ranked[offset : offset + limit], len(ranked), q.notes)

    def _cosines(self, snap: Snapshot, lex: list, dense: list, qvec: np.ndarray | None) -> dict[str, float]:
        """Exact cosines for the lexical leg's papers the dense leg did not return, so the convex
        fusion compares like with like instead of counting a missing score as zero."""
        if not dense or not lex:
            return {}
        have = {pid for pid, _ in dense}
        missing = [pid for pid, _ in lex if pid not in have and pid in snap.row_of]
        if not missing:
            return {}
        rows = np.array([snap.row_of[pid] for pid in missing], dtype=np.int64)
        sims = np.asarray(snap.matrix[rows], dtype=np.float32) @ qvec
        return dict(zip(missing, sims.tolist(), strict=True))

    def _code_only(self, q: ParsedQuery, ranked: list[Hit]) -> list[Hit]:
        """has:code keeps the papers with a code repository (the store knows; the indexes do not)."""
        if not q.has_code:
            return ranked
        with self.engine.connect() as conn:
            keep = with_code(conn, [h.id for h in ranked])
        return [h for h in ranked if h.id in keep]

    def _filters_only(self, q: ParsedQuery, snap: Snapshot, depth: int) -> list[Hit]:
        """No words: every paper that passes the filters, newest first."""
        mask = self._mask(q, snap)
        rows = np.flatnonzero(mask)
        order = rows[np.argsort(-snap.listed[rows], kind="stable")][:depth]
        return [Hit(snap.paper_of[r], float(snap.listed[r])) for r in order]

    def _mask(self, q: ParsedQuery, snap: Snapshot) -> np.ndarray:
        mask = snap.alive.copy()
        if q.since:
            mask &= snap.listed >= day_number(q.since)
        if q.until:
            mask &= (snap.listed <= day_number(q.until)) & (snap.listed >= 0)
        if q.categories:
            in_cat = np.zeros_like(mask)
            in_cat[snap.rows_in(q.categories)] = True
            mask &= in_cat
        # Phrases and authors are the keyword index's to match (search() refuses them while it is damaged).
        ids = self.lexical.matching_ids(q, PHRASE_LIMIT) if self.lexical is not None else None
        if ids is not None:
            match = np.zeros_like(mask)
            match[[snap.row_of[i] for i in ids if i in snap.row_of]] = True
            mask &= match
        return mask

    def _dense(self, q: ParsedQuery, snap: Snapshot, depth: int, vec: np.ndarray) -> list[tuple[str, float]]:
        mask = self._mask(q, snap) if (q.has_filters or q.phrases) else None
        return self.nearest(vec, snap, depth, mask)

    def nearest(
        self, vec: np.ndarray, snap: Snapshot, k: int, mask: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """(paper id, cosine) of the k nearest live papers that pass `mask`, best first."""
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) <= EXACT_LIMIT:
                sims = np.asarray(snap.matrix[allowed], dtype=np.float32) @ vec
                top = np.argsort(-sims, kind="stable")[:k]
                return [(snap.paper_of[allowed[i]], float(sims[i])) for i in top]
        size = len(snap.graph)
        want = k
        while True:
            found = snap.graph.search(vec, min(want, max(size, 1)))
            out = [
                (snap.paper_of[int(key)], 1.0 - float(dist))
                for key, dist in zip(found.keys, found.distances, strict=True)
                if int(key) < len(snap.alive) and snap.alive[int(key)] and (mask is None or mask[int(key)])
            ]
            if len(out) >= k or want >= size:
                return out[:k]
            want *= 4

    # -- similar papers ------------------------------------------------------------------------
    def similar(self, paper_id: str, limit: int = 10) -> list[Hit] | None:
        """The papers nearest to this one, itself excluded; None when it is not indexed."""
        snap = self.snapshot()
        if snap is None:
            return None
        pid = resolve_id(paper_id)
        row = snap.row_of.get(pid)
        if row is None:
            return None
        vec = np.asarray(snap.matrix[row], dtype=np.float32)
        near = [(i, s) for i, s in self.nearest(vec, snap, limit + 1) if i != pid][:limit]
        hits = [Hit(i, s, dense=s) for i, s in near]
        self._attach(hits)
        return hits

    def vectors(self, ids: list[str]) -> tuple[list[str], np.ndarray]:
        """The embeddings of those papers that are indexed (unit length, float32), in the order given."""
        snap = self.snapshot()
        if snap is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        found = [pid for pid in ids if pid in snap.row_of]
        rows = np.array([snap.row_of[pid] for pid in found], dtype=np.int64)
        return found, np.asarray(snap.matrix[rows], dtype=np.float32).reshape(len(found), snap.matrix.shape[1])

    def random_vectors(self, n: int, seed: int) -> np.ndarray:
        """n embeddings of random indexed papers (a fixed draw per seed): the "rest of the world" a taste
        model learns against."""
        snap = self.snapshot()
        if snap is None:
            return np.zeros((0, 0), dtype=np.float32)
        alive = np.flatnonzero(snap.alive)
        pick = np.random.default_rng(seed).choice(alive, size=min(n, len(alive)), replace=False)
        return np.asarray(snap.matrix[np.sort(pick)], dtype=np.float32)

    def similar_to_text(self, text: str, limit: int = 10) -> list[Hit]:
        q = parse(text, plain=True)
        if not q.text:
            raise QueryError("type some words to find papers like them")
        snap = self.snapshot()
        if snap is None:
            raise Unavailable("search by meaning is unavailable while its index is rebuilt")
        vec = self.encoder.encode([q.text])[0]
        hits = [Hit(i, s, dense=s) for i, s in self.nearest(vec, snap, limit)]
        self._attach(hits)
        return hits

    def _attach(self, hits: list[Hit]) -> None:
        if not hits:
            return
        with self.engine.connect() as conn:
            found = {r["id"]: with_links(r) for r in queries.paper_rows(conn, [h.id for h in hits])}
        for h in hits:
            h.paper = found.get(h.id, {})
