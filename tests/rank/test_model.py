"""The per-user For-you model on hand-made papers: words, authors, categories; likes weighed by when the user
came to them; stored and read back whole."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np

from paperfeed.rank import model
from paperfeed.rank import recommend as rec
from paperfeed.store.taste import Fields

SPEECH = "speech recognition acoustic encoder word error rate audio transcription"
ROBOTS = "robot grasping manipulation policy gripper arm tactile control"
OTHER = [
    "galaxy cluster redshift survey dark matter halo",
    "protein folding structure prediction residue contact",
    "graph coloring approximation algorithm vertex bound",
    "option pricing volatility stochastic market model",
    "quantum error correction surface code qubit logical",
    "soil moisture satellite remote sensing drought",
]


def paper(text: str, authors=("A. Nobody",), cats=("cs.XX",), listed=date(2025, 1, 1)) -> Fields:
    return Fields(text, list(authors), list(cats), listed)


def vocabulary(texts: list[str]):
    vec = rec.tfidf_vectorizer(min_df=1, max_df=1.0)
    vec.fit(texts)
    return vec


def fit(likes: list[Fields], negatives: list[Fields], weights=None):
    vec = vocabulary([f.text for f in likes + negatives] + [SPEECH, ROBOTS])
    examples = [model.Example(f, w) for f, w in zip(likes, weights or [1.0] * len(likes), strict=True)]
    words = lambda fs: vec.transform([f.text for f in fs])  # noqa: E731
    fitted = model.fit(examples, words(likes), negatives, words(negatives), [], vec.transform([""])[:0])
    fitted.names = vec.get_feature_names_out()
    return fitted, words


def many_negatives(n: int = 120) -> list[Fields]:
    return [paper(f"{OTHER[i % len(OTHER)]} variant{i}", authors=(f"Person {i}",)) for i in range(n)]


def test_a_liked_topic_ranks_above_an_unrelated_one():
    likes = [paper(f"{SPEECH} study{i}") for i in range(4)]
    fitted, words = fit(likes, many_negatives())
    cands = [paper(OTHER[0]), paper(SPEECH + " new"), paper(OTHER[3])]
    scores = fitted.scores(words(cands), cands)
    assert int(np.argmax(scores)) == 1
    named = fitted.words_for(words(cands)[1], fitted.names)
    assert named and all(set(w.split()) <= set(SPEECH.split()) for w in named)
    assert len({t for w in named for t in w.split()}) == sum(len(w.split()) for w in named)  # no word twice
    assert fitted.words_for(words(cands)[0], fitted.names) == []


def test_a_paper_by_an_author_the_user_keeps_liking_ranks_higher_on_the_same_words():
    fav = "Éric Dupont"
    likes = [paper(f"{OTHER[i % 6]} liked{i}", authors=(fav, f"Co {i}")) for i in range(6)]
    fitted, words = fit(likes, many_negatives())
    same = OTHER[2] + " fresh"
    by_fav, by_other = paper(same, authors=("eric  DUPONT", "X")), paper(same, authors=("Someone Else", "Y"))
    scores = fitted.scores(words([by_fav, by_other]), [by_fav, by_other])
    assert scores[0] > scores[1]
    assert fitted.author_for(by_fav) == "eric  DUPONT" and fitted.author_for(by_other) == ""


def test_a_liked_papers_own_like_is_left_out_of_its_author_evidence():
    liked = Counter({"ada lovelace": 1})
    assert model.author_evidence(["Ada Lovelace"], liked, own=True) == (0.0,) * len(model.AUTHOR_FEATURES)
    assert model.author_evidence(["Ada Lovelace"], liked, own=False)[3] == 1.0


def test_an_author_whose_papers_the_user_mostly_liked_lifts_a_paper_more_than_a_prolific_one():
    liked, papers = Counter({"ada l": 8, "bob b": 8}), Counter({"ada l": 10, "bob b": 200})
    share = model.AUTHOR_FEATURES.index("liked share of an author's papers")
    assert model.author_evidence(["Ada L"], liked, False, None, papers)[share] == 8 / 11
    assert model.author_evidence(["Bob B"], liked, False, None, papers)[share] == 8 / 201
    # A training paper is left out of its own author's counts: a liked one of the likes, a stored one of the papers.
    assert model.author_evidence(["Ada L"], liked, True, None, papers, stored=True)[share] == 7 / 10

    # Fitted: the same likes by each (8 papers), but Bob wrote many papers the user passed over.
    likes = [paper(f"{OTHER[i % 6]} a{i}", authors=("Ada L",)) for i in range(8)]
    likes += [paper(f"{OTHER[i % 6]} b{i}", authors=("Bob B",)) for i in range(8)]
    negatives = many_negatives() + [paper(f"{OTHER[i % 6]} n{i}", authors=("Bob B",)) for i in range(60)]
    fitted, words = fit(likes, negatives)
    assert fitted.author_papers == Counter({"ada l": 8, "bob b": 68})
    same = SPEECH + " fresh"
    cands = [paper(same, authors=("Ada L",)), paper(same, authors=("Bob B",))]
    scores = fitted.scores(words(cands), cands)
    assert scores[0] > scores[1]


def test_names_are_compared_without_accents_case_or_punctuation():
    assert model.author_key("Éric  Dupont") == model.author_key("eric dupont") == "eric dupont"
    assert model.author_key("J. Smith") != model.author_key("John Smith")  # initials are not guessed


def test_the_weight_of_a_like_halves_each_half_life_from_when_the_user_came_to_it():
    today = date(2026, 1, 1)
    assert model.like_weight(1.0, today, today) == 1.0
    old = date.fromordinal(today.toordinal() - int(model.HALF_LIFE_DAYS))
    assert abs(model.like_weight(1.0, old, today) - 0.5) < 1e-9
    assert model.like_weight(0.3, None, today) == 0.3  # unknown: no decay


def test_two_interests_are_both_served():
    likes = [paper(f"{SPEECH} s{i}") for i in range(4)] + [paper(f"{ROBOTS} r{i}") for i in range(4)]
    fitted, words = fit(likes, many_negatives())
    cands = [paper(o) for o in OTHER] + [paper(SPEECH + " x"), paper(ROBOTS + " y")]
    top2 = set(np.argsort(-fitted.scores(words(cands), cands))[:2])
    assert top2 == {len(OTHER), len(OTHER) + 1}


def test_scores_field_by_field_equal_the_feature_matrix_product():
    likes = [paper(f"{SPEECH} {i}", authors=("Ada L", f"B {i}"), cats=("eess.AS", "cs.CL")) for i in range(5)]
    fitted, words = fit(likes, many_negatives())
    cands = [paper(SPEECH, authors=("Ada L",), cats=("cs.CL",)), paper(OTHER[1], cats=("q-bio.BM",)), paper(ROBOTS)]
    direct = np.asarray(fitted.features(words(cands), cands) @ fitted.coef).ravel() + fitted.intercept
    assert np.allclose(fitted.scores(words(cands), cands), direct, atol=1e-5)


def test_a_model_is_stored_and_read_back_whole():
    likes = [paper(f"{SPEECH} {i}", authors=("Ada L",), cats=("cs.CL",)) for i in range(3)]
    fitted, words = fit(likes, many_negatives(30))
    back = model.Model.from_bytes(fitted.to_bytes())
    cands = [paper(SPEECH, authors=("Ada L",)), paper(OTHER[0])]
    assert np.allclose(back.scores(words(cands), cands), fitted.scores(words(cands), cands))
    assert back.liked_authors == fitted.liked_authors and back.categories == fitted.categories
    assert back.author_papers == fitted.author_papers == Counter({"ada l": 3})
    fitted.coauthors, fitted.until = Counter({"carol c": 2}), date(2025, 6, 1)
    back = model.Model.from_bytes(fitted.to_bytes())
    assert back.coauthors == Counter({"carol c": 2}) and back.until == date(2025, 6, 1)
    assert back.ranks(date(2025, 6, 2)) and not back.ranks(date(2025, 6, 1))


def test_not_interested_pushes_papers_like_it_down():
    likes = [paper(f"{SPEECH} {ROBOTS} {i}") for i in range(4)]
    vec = vocabulary([f.text for f in likes] + [SPEECH, ROBOTS] + [f.text for f in many_negatives()])
    words = lambda fs: vec.transform([f.text for f in fs])  # noqa: E731
    examples = [model.Example(f, 1.0) for f in likes]
    negs = many_negatives()
    plain = model.fit(examples, words(likes), negs, words(negs), [], words([paper("x")])[:0])
    marked = [paper(SPEECH + " marked")]
    with_mark = model.fit(examples, words(likes), negs, words(negs), marked, words(marked))
    cands = [paper(SPEECH + " new"), paper(ROBOTS + " new")]
    before, after = plain.scores(words(cands), cands), with_mark.scores(words(cands), cands)
    assert after[0] - after[1] < before[0] - before[1]  # speech fell against robots


def test_nothing_to_learn_against_gives_no_model_rather_than_a_crash():
    likes = [model.Example(paper(SPEECH), 1.0)]
    vec = vocabulary([SPEECH, ROBOTS])
    none = vec.transform([""])[:0]
    assert model.fit(likes, vec.transform([SPEECH]), [], none, [], none) is None
    assert model.fit([], none, [paper(ROBOTS)], vec.transform([ROBOTS]), [], none) is None


def test_a_user_refits_at_most_a_few_times_a_minute():
    from paperfeed.rank.fitting import FITS_PER_MINUTE, FitBudget

    budget = FitBudget(FITS_PER_MINUTE)
    assert all(budget.take(("db", 1)) for _ in range(FITS_PER_MINUTE))
    assert not budget.take(("db", 1)) and budget.take(("db", 2)) and budget.take(("other db", 1))


def test_a_stored_model_of_another_layout_is_refused():
    likes = [paper(f"{SPEECH} {i}") for i in range(3)]
    fitted, _ = fit(likes, many_negatives(30))
    fitted.coef = fitted.coef[:-1]
    try:
        model.Model.from_bytes(fitted.to_bytes())
    except ValueError as exc:
        assert "weights" in str(exc)
    else:
        raise AssertionError("a model with a weight missing was read back")


# -- co-authors ----------------------------------------------------------------------------------------
def keys(*names: str) -> set[str]:
    return {model.author_key(n) for n in names}


def test_an_author_who_wrote_with_liked_authors_lifts_a_paper_of_the_same_words():
    """Carol wrote with Ada and Bob (both liked) before; a new paper of hers, without them, ranks above the same
    words by a stranger. In training, the likes' students carry the signal; the random papers do not."""
    graph_papers = [paper(OTHER[0], authors=(f"Student {i}", "Ada L", "Bob B")) for i in range(6)]
    graph_papers.append(paper(OTHER[1], authors=("Carol C", "Ada L", "Bob B")))
    likes = [paper(f"{SPEECH} {i}", authors=(f"Student {i}",)) for i in range(6)]
    likes += [paper(f"{SPEECH} by ada {i}", authors=("Ada L", "Bob B")) for i in range(2)]
    negatives = many_negatives()
    liked = set().union(*(keys(*f.authors) for f in likes))
    teams = [keys(*f.authors) for f in graph_papers + likes + negatives]
    graph = model.Graph(model.Coauthors.of(teams, liked), date(2025, 6, 1))
    vec = vocabulary([f.text for f in likes + negatives] + [SPEECH, ROBOTS])
    words = lambda fs: vec.transform([f.text for f in fs])  # noqa: E731
    examples = [model.Example(f, 1.0) for f in likes]
    fitted = model.fit(examples, words(likes), negatives, words(negatives), [], vec.transform([""])[:0], None, graph)
    cands = [paper(SPEECH, authors=("Carol C",), listed=date(2025, 7, 1)), paper(SPEECH, authors=("Zed Z",))]
    carol, stranger = fitted.scores(words(cands), cands)
    assert fitted.coauthors[model.author_key("Carol C")] == 2 and carol > stranger
    assert fitted.coauthor_for(cands[0]) == "Carol C" and fitted.coauthor_for(cands[1]) == ""  # the reason
    without = model.fit(examples, words(likes), negatives, words(negatives), [], vec.transform([""])[:0])
    assert np.allclose(*without.scores(words(cands), cands))  # no graph: no co-author evidence


def test_a_paper_learned_from_is_not_its_own_co_author_evidence():
    """Ada and Bob share one paper of the graph, P, a like: for P, Bob is no co-author of Ada's (they share
    nothing else) and Bob's only like is P itself; a later paper of Ada's counts Bob."""
    p = paper(SPEECH, authors=("Ada L", "Bob B"))
    liked = Counter({"ada l": 2, "bob b": 1})
    g = model.Coauthors.of([keys("Ada L", "Bob B"), keys("Ada L", "Cy C")], {"ada l", "bob b"})
    assert g.counts() == Counter({"ada l": 1, "bob b": 1, "cy c": 1})
    assert g.within(keys("Ada L", "Bob B"), in_graph=True, liked=liked, own=True) == {}
    assert g.within(keys("Ada L", "Dee D"), in_graph=False, liked=liked, own=False) == {"ada l": 1}
    # In the graph but not a like (a random paper): only the pairs it alone makes are taken out; Cy wrote
    # with Ada on this paper alone, Ada with Bob on another.
    assert g.within(keys("Cy C", "Ada L"), in_graph=True, liked=liked, own=False) == {"ada l": 1}
    assert model.Graph(g, date(2025, 6, 1)).holds(p, keys("Ada L", "Bob B"))
    assert not model.Graph(g, date(2024, 12, 31)).holds(p, keys("Ada L", "Bob B"))  # listed after the graph


def test_a_large_collaboration_makes_no_co_authors():
    crowd = [f"Member {i}" for i in range(model.MAX_TEAM + 1)]
    g = model.Coauthors.of([keys(*crowd, "Ada L")], {"ada l"})
    assert g.counts() == Counter()
    near = {model.author_key(n): 3 for n in crowd}
    assert model.coauthor_evidence(keys(*crowd), near) == (0.0,) * len(model.COAUTHOR_FEATURES)


def test_co_author_evidence_for_a_day_at_once_equals_paper_by_paper():
    counts = Counter({"carol c": 3, "dan d": 1, "ada l": 2})
    day = [
        paper(SPEECH, authors=("Carol C", "Zed Z")),
        paper(ROBOTS, authors=("Dan D",)),
        paper(OTHER[0], authors=("Zed Z",)),
        paper(OTHER[1], authors=()),
        paper(OTHER[2], authors=[f"M {i}" for i in range(model.MAX_TEAM)] + ["Carol C"]),
    ]
    at_once = model.Layout.of(day).coauthor_features(counts)
    one_by_one = [model.coauthor_evidence(keys(*f.authors), counts) for f in day]
    assert np.allclose(at_once, one_by_one)
    assert at_once[0].tolist() == [np.log1p(3), 0.5, 1.0] and not at_once[2:].any()
