"""Compact id <-> row maps (issue #12, memory) and the keyword index's id key (speed)."""

import numpy as np
import pytest

from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.query import parse
from paperfeed.search.rowmap import RowMap, id_key, id_keys

IDS = ["2503.11731", "t-3f9a0c1d2e4b5a6c", "hep-th/9901001", "2503.00001", "2412.99999"]


def test_the_vectorised_key_is_the_same_hash_as_the_one_by_one():
    encoded = np.array([i.encode() for i in IDS], dtype="S24")
    assert id_keys(encoded).tolist() == [id_key(i) for i in IDS]
    assert len(set(id_keys(encoded).tolist())) == len(IDS)


def test_rows_and_ids_both_ways():
    rows = np.array([7, 2, 9, 0, 4])
    m = RowMap(10, rows, IDS)
    assert len(m) == 5
    assert [m[i] for i in IDS] == rows.tolist()
    assert m.get("2503.99999") is None and "2503.99999" not in m and "2503.11731" in m
    assert [m.paper_of[r] for r in rows] == IDS
    assert m.paper_of[1] is None  # a dead or unused row
    assert m.names([id_key("hep-th/9901001"), id_key("nope"), id_key("2503.00001")]) == [
        "hep-th/9901001",
        None,
        "2503.00001",
    ]
    assert RowMap(0, np.zeros(0, dtype=np.int64), []).names([1, 2]) == [None, None]


def test_keyword_hits_are_named_from_the_key_column_and_the_store_alike(service, sample_papers):
    service.snapshot()
    lexical = service.lexical
    assert lexical.names is not None
    q = parse("gaussian splatting autonomous driving")
    fast = lexical.search(q, 50)
    lexical.names = None  # read each hit's stored document instead
    slow = lexical.search(q, 50)
    assert fast == slow and len(fast) == 50


def test_an_index_of_an_older_schema_is_reported_for_rebuilding(tmp_path):
    import tantivy

    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw")
    tantivy.Index(b.build(), path=str(tmp_path), reuse=True)
    with pytest.raises(ValueError, match="older paperfeed"):
        LexicalIndex(tmp_path)
