from datetime import date

import pytest

from paperfeed.search.query import MAX_QUERY_CHARS, QueryError, parse


def test_words_phrases_and_qualifiers():
    q = parse('diffusion "state space models" author:"Yann LeCun" cat:cs.LG since:2026-01-01 until:2026-02-01')
    assert q.terms == ["diffusion"]
    assert q.phrases == ["state space models"]
    assert q.authors == ["Yann LeCun"]
    assert q.categories == ["cs.LG"]
    assert (q.since, q.until) == (date(2026, 1, 1), date(2026, 2, 1))
    assert q.text == "diffusion state space models"


def test_colons_inside_titles_are_words_not_qualifiers():
    assert parse("Mixture-of-Experts: a survey").terms == ["Mixture", "of", "Experts", "a", "survey"]
    assert parse("see https://arxiv.org/abs/2503.11731").terms[:2] == ["see", "https"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo:bar transformers", "unknown qualifier foo:"),
        ("since:yesterday", "since: needs a date as YYYY-MM-DD"),
        ("author: diffusion", "author: needs a value"),
        ("since:2026-03-01 until:2026-01-01", "is after"),
    ],
)
def test_bad_qualifiers_say_what_to_change(text, message):
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_unbalanced_quote_control_characters_and_long_text():
    q = parse('"graph neural\x00 networks\x1b[31m')
    assert q.terms == ["graph", "neural", "networks", "31m"]
    assert "an unmatched quote was ignored" in q.notes
    long = parse("word " * 2000)
    assert len(long.text) <= MAX_QUERY_CHARS and long.notes == [
        f"the query was cut to its first {len(long.text)} characters"
    ]
    assert parse("").text == "" and not parse("   ").has_text


def test_upper_case_operator_words_are_plain_words(service):
    for text in ("OR 1 1 DROP TABLE papers", "NOT AND OR", "graph IN networks", "author:OR"):
        service.search(text, limit=5)  # no syntax error from the BM25 parser
    assert service.search("Graph NEURAL networks", limit=3, mode="lexical").hits
