"""A paper's fields as evidence for one user's For-you model (rank/model.py): the size of its author list,
what its authors say given the user's likes (author_evidence, coauthor_evidence), and a day's papers laid out
once for every user (Layout)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from paperfeed.models import author_key
from paperfeed.store.taste import Fields

SIZE_BINS = (1, 2, 4, 7, 11, 21, 51)  # author-list sizes: 1, 2-3, 4-6, 7-10, 11-20, 21-50, 51 and more
AUTHOR_FEATURES = (
    "most-liked author",
    "liked papers by its authors",
    "share of liked authors",
    "a liked author",
    "liked share of an author's papers",
    "that share squared",
)
COAUTHOR_FEATURES = ("liked co-authors of its authors", "share of its authors with one", "an author with one")
MAX_TEAM = 50  # larger author lists add no co-authors (a 500-author paper would make everyone a collaborator)


@dataclass
class Layout:
    """A set of papers' fields as the scores read them, the same for every user: category names (columns),
    each paper's categories (1 / sqrt(how many it lists)) and primary category as sparse rows, its size bin
    (-1: no authors known) and its authors' normalised names."""

    names: list[str]
    cats: object
    primary: object
    bins: np.ndarray
    keys: list[set[str]]
    # The authors flat, for author_features: each distinct name's number, and per (paper, author) entry, in
    # paper order, the name's number and the paper's row.
    author_ids: dict[str, int] = field(default_factory=dict)
    entry_author: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entry_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # each paper's number of distinct authors

    @classmethod
    def of(cls, fields: list[Fields], keys: list[set[str]] | None = None) -> Layout:
        import scipy.sparse as sp  # loaded on first use, not by every server and command that imports this

        names = sorted({c for f in fields for c in f.categories})
        col = {c: i for i, c in enumerate(names)}
        rows, cols, vals, prow, pcol = [], [], [], [], []
        for r, f in enumerate(fields):
            for c in f.categories:
                rows.append(r), cols.append(col[c]), vals.append(1 / math.sqrt(len(f.categories)))
            if f.categories:
                prow.append(r), pcol.append(col[f.categories[0]])
        shape = (len(fields), len(names))
        cats = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
        primary = sp.csr_matrix((np.ones(len(prow)), (prow, pcol)), shape=shape, dtype=np.float64)
        bins = np.array([size_bin(len(f.authors)) if f.authors else -1 for f in fields], dtype=np.int64)
        keys = keys if keys is not None else [{author_key(a) for a in f.authors} for f in fields]
        ids: dict[str, int] = {}
        entry_author = [ids.setdefault(k, len(ids)) for ks in keys for k in sorted(ks)]
        entry_row = [r for r, ks in enumerate(keys) for _ in ks]
        flat = (np.array(entry_author, dtype=np.int64), np.array(entry_row, dtype=np.int64))
        sizes = np.array([len(ks) for ks in keys], dtype=np.float64)
        return cls(names, cats, primary, bins, keys, ids, *flat, sizes)

    def author_features(self, liked: Counter, papers: Counter) -> np.ndarray:
        """Each paper's author evidence (author_evidence's features) against one user's liked authors and their
        stored papers, for every paper at once: (papers, features), zeros where no author of it was liked."""
        n = len(self.keys)
        out = np.zeros((n, len(AUTHOR_FEATURES)))
        count = np.zeros(len(self.author_ids))
        share = np.zeros(len(self.author_ids))
        known = np.zeros(len(self.author_ids), dtype=bool)
        for name, liked_papers in liked.items():
            at = self.author_ids.get(name)
            if at is not None:
                count[at], known[at] = liked_papers, True
                share[at] = liked_share(liked_papers, papers.get(name, 0), False, False)
        hit = known[self.entry_author]
        if not hit.any():
            return out
        rows, counts = self.entry_row[hit], count[self.entry_author[hit]]
        most, best = np.zeros(n), np.zeros(n)
        np.maximum.at(most, rows, counts)
        np.maximum.at(best, rows, share[self.entry_author[hit]])
        total = np.bincount(rows, weights=counts, minlength=n)
        named = np.bincount(rows, minlength=n)
        sizes = self.sizes
        lifted = named > 0
        b = best[lifted]
        out[lifted] = np.column_stack(
            [np.log1p(most[lifted]), np.log1p(total[lifted]), named[lifted] / sizes[lifted], np.ones(len(b)), b, b * b]
        )
        return out

    def coauthor_features(self, counts: Counter) -> np.ndarray:
        """Each paper's co-author evidence for every paper at once, these papers being outside the graph the
        counts were made over (Coauthors.counts): what ranks a day."""
        n = len(self.keys)
        out = np.zeros((n, len(COAUTHOR_FEATURES)))
        near = np.zeros(len(self.author_ids))
        if len(counts) <= len(self.author_ids):  # walk the smaller: a new user's few names, or the day's
            for name, count in counts.items():
                if (at := self.author_ids.get(name)) is not None:
                    near[at] = count
        else:
            for name, at in self.author_ids.items():
                near[at] = counts.get(name, 0)
        if not near.any():
            return out
        rows, per = self.entry_row, near[self.entry_author]
        sizes = self.sizes
        per[sizes[rows] > MAX_TEAM] = 0.0
        most = np.zeros(n)
        np.maximum.at(most, rows, per)
        some = np.bincount(rows, weights=per > 0, minlength=n)
        lifted = most > 0
        out[lifted] = np.column_stack([np.log1p(most[lifted]), some[lifted] / sizes[lifted], np.ones(lifted.sum())])
        return out


def size_bin(n: int) -> int:
    return sum(n >= b for b in SIZE_BINS)


def author_evidence(
    authors: list[str],
    liked: Counter,
    own: bool,
    keys: set[str] | None = None,
    papers: Counter | None = None,
    stored: bool = False,
) -> tuple[float, ...]:
    """A paper's author features (AUTHOR_FEATURES). `own`: it is one of the likes; `stored`: it is counted in
    `papers` (each liked author's stored papers)."""
    keys = {author_key(a) for a in authors} if keys is None else keys
    found = [(liked[k], (papers or {}).get(k, 0)) for k in keys if liked.get(k, 0) - own > 0]
    if not found:
        return (0.0,) * len(AUTHOR_FEATURES)
    counts = [n - own for n, _ in found]
    best = max(liked_share(n, total, own, stored) for n, total in found)
    return math.log1p(max(counts)), math.log1p(sum(counts)), len(counts) / len(keys), 1.0, best, best * best


def coauthor_evidence(keys: set[str], per_author: dict[str, int]) -> tuple[float, ...]:
    """A paper's co-author features (COAUTHOR_FEATURES) from the liked co-authors of each of its authors
    (`keys`: their models.author_key); none for a paper of more than MAX_TEAM authors."""
    counts = [per_author.get(k, 0) for k in keys] if len(keys) <= MAX_TEAM else []
    if not any(counts):
        return (0.0,) * len(COAUTHOR_FEATURES)
    return math.log1p(max(counts)), sum(c > 0 for c in counts) / len(keys), 1.0


@dataclass
class Coauthors:
    """Who wrote with the liked authors, over a graph of papers (those of at most MAX_TEAM authors): for each
    author, each liked author they share a paper with and how many papers. The graph is the stored papers up
    to a day, never the papers being ranked, so a paper ranked counts every liked co-author of its authors
    (counts); a paper of the graph, being learned from, counts only those of its other papers, and a like
    only the authors of the other likes (within), or it would be its own evidence."""

    shared: dict[str, Counter] = field(default_factory=dict)

    @classmethod
    def of(cls, teams: Iterable[set[str]], liked: set[str]) -> Coauthors:
        """`teams`: each paper's author keys (store.taste.teams_with); `liked`: the liked authors' keys."""
        shared: dict[str, Counter] = {}
        for keys in teams:
            if 1 < len(keys) <= MAX_TEAM and (found := keys & liked):
                for k in keys:
                    shared.setdefault(k, Counter()).update(found - {k})
        return cls({k: v for k, v in shared.items() if v})

    def counts(self) -> Counter:
        return Counter({k: len(v) for k, v in self.shared.items()})

    def within(self, keys: set[str], in_graph: bool, liked: Counter, own: bool) -> dict[str, int]:
        """Per author of one paper learned from: its liked co-authors, less those it shares only this paper
        with (`in_graph`) and, for a like (`own`), those liked for this paper alone."""
        out = {}
        for a in keys:
            with_a = self.shared.get(a)
            if not with_a:
                continue
            n = len(with_a) - sum(
                1
                for b in keys
                if b != a and b in with_a and ((in_graph and with_a[b] <= 1) or (own and liked.get(b, 0) <= 1))
            )
            if n > 0:
                out[a] = n
        return out


def liked_share(liked: int, papers: int, own: bool, stored: bool) -> float:
    """The share of an author's papers the user liked, this paper left out when counted: liked / (papers + 1),
    where the 1 keeps an author of one liked paper below one of ten."""
    papers = max(papers, liked)  # an author's likes are among their papers, even where the count missed some
    return (liked - own) / (papers - stored + 1)
