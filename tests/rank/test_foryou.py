"""The For you service over the indexed sample: a day is ranked once per user and taste (cached), recomputed
when the taste changes; imported entries without a stored paper count by their text; a user's likes that are
not indexed yet say so instead of asking for likes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from paperfeed.rank import foryou, profile
from paperfeed.rank.trending import ranked_ids
from paperfeed.store import accounts, marks, taste

DAY = date(2025, 3, 25)


def day_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return ranked_ids(conn, DAY, DAY)


def test_a_day_is_ranked_once_per_taste(service, sample_papers, monkeypatch):
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    vision = [p.id for p in sample_papers if "cs.CV" in p.categories and p.listed_date != DAY]
    marks.set_upvote(engine, user, vision[0], True)
    calls = []
    real = foryou.rank
    monkeypatch.setattr(foryou, "rank", lambda *a: calls.append(1) or real(*a))
    ids = day_ids(engine)
    first = foryou.for_you(engine, service, user.id, ids)
    again = foryou.for_you(engine, service, user.id, ids)
    # The cache keeps picks packed (Pick.packed): read back, every field is as computed.
    assert len(calls) == 1 and [p.packed() for p in first.picks] == [p.packed() for p in again.picks]
    assert any(p.words for p in again.picks) and all(p.because for p in again.picks[:5])
    marks.set_upvote(engine, user, vision[1], True)  # a new like: a new taste
    foryou.for_you(engine, service, user.id, ids)
    taste.add_rule(engine, user, "never", "benchmark")  # a new rule too
    foryou.for_you(engine, service, user.id, ids)
    assert len(calls) == 3


def test_a_ranking_computed_again_the_same_day_is_the_same(service, sample_papers):
    """Recomputed later the same day (the cache emptied, another process, a rule added and removed), a ranking
    gives the same scores: ages count from the start of the day, as the cache key does."""
    from datetime import datetime, timedelta

    from paperfeed.clock import utcnow

    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    for p in [p for p in sample_papers if "cs.CV" in p.categories and p.listed_date != DAY][:3]:
        marks.set_upvote(engine, user, p.id, True)
    ids = day_ids(engine)
    tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), datetime.min.time())  # the likes a day old
    morning = foryou.for_you(engine, service, user.id, ids, now=tomorrow + timedelta(hours=8))
    foryou.RANKINGS.clear()
    evening = foryou.for_you(engine, service, user.id, ids, now=tomorrow + timedelta(hours=20, minutes=17))
    assert [(p.id, p.score) for p in morning.picks] == [(p.id, p.score) for p in evening.picks]


def test_unmatched_imports_count_by_their_text(service, sample_papers):
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    bib = """@article{mine, title = {Speech recognition with self-supervised acoustic models},
      abstract = {We pretrain acoustic encoders on unlabeled speech audio and fine-tune for automatic speech
      recognition, reducing word error rate on low-resource languages.}, year = 2024}"""
    report = profile.import_entries(engine, service, user.id, "bibtex", bib)
    assert (report.matched, report.unmatched, report.added) == (0, 1, 1)
    ranking = foryou.for_you(engine, service, user.id, day_ids(engine))
    top = ranking.picks[0]
    assert top.because is None and top.because_title.startswith("Speech recognition")
    text = {p.id: (p.title + p.abstract).lower() for p in sample_papers}
    assert sum("speech" in text[p.id] for p in ranking.picks[:3]) >= 2


def test_likes_and_papers_not_indexed_yet_are_ranked_by_their_words(service, sample_papers, monkeypatch):
    """While the search index is still being built (no embeddings at all here), For you ranks by the words
    and fields of the stored papers instead of leaving them out; no card claims a closest liked paper."""
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    robots = [p for p in sample_papers if p.categories[0] == "cs.RO" and p.listed_date != DAY][:4]
    for p in robots:
        marks.set_upvote(engine, user, p.id, True)
    monkeypatch.setattr(service, "vectors", lambda ids: ([], np.zeros((0, 0), dtype=np.float32)))
    monkeypatch.setattr(service, "snapshot", lambda: None)
    ids = day_ids(engine)
    ranking = foryou.for_you(engine, service, user.id, ids)
    assert not ranking.indexing and not ranking.needs_signal and len(ranking.picks) == len(ids)
    cats = {p.id: p.categories for p in sample_papers}
    assert sum("cs.RO" in cats[p.id] for p in ranking.picks[:5]) >= 3
    assert all(p.because is None for p in ranking.picks)


def test_an_import_that_fails_part_way_imports_nothing(service, sample_papers, monkeypatch):
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    matched = "\n".join(
        f"@misc{{k{i}, title = {{{p.title}}}, eprint = {{{p.id}}}}}" for i, p in enumerate(sample_papers[:3])
    )
    unmatched = "@misc{new, title = {A paper this store has never seen}, abstract = {Something else entirely.}}"

    def broken(texts):
        raise RuntimeError("the encoder ran out of memory")

    monkeypatch.setattr(service.encoder, "encode", broken)
    with pytest.raises(RuntimeError, match="ran out of memory"):
        profile.import_entries(engine, service, user.id, "bibtex", matched + "\n" + unmatched)
    with engine.connect() as conn:
        assert taste.imported_count(conn, user.id) == (0, 0)  # the three matched entries did not land alone


def liker(engine, sample_papers):
    """Ada, who upvoted one vision paper listed before DAY; and the other such papers."""
    user = accounts.create_user(engine, "ada", "correct horse battery")
    vision = [p.id for p in sample_papers if "cs.CV" in p.categories and p.listed_date != DAY]
    marks.set_upvote(engine, user, vision[0], True)
    return user, vision


def counted(monkeypatch, module, name: str) -> list:
    """module.name, its calls counted in the list returned."""
    calls, real = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_the_model_is_fitted_once_per_taste_and_stored(service, sample_papers, monkeypatch):
    """A new like refits the model once; a second view (even after the rankings cache is emptied, as in
    another process or on the next day) reads the stored one instead of fitting again."""
    from paperfeed.rank import model

    engine = service.engine
    user, vision = liker(engine, sample_papers)
    fits = counted(monkeypatch, model, "fit")
    ids = day_ids(engine)
    first = foryou.for_you(engine, service, user.id, ids)
    foryou.RANKINGS.clear()
    again = foryou.for_you(engine, service, user.id, ids)
    assert len(fits) == 1 and [p.id for p in first.picks] == [p.id for p in again.picks]
    marks.set_upvote(engine, user, vision[1], True)
    foryou.for_you(engine, service, user.id, ids)
    foryou.RANKINGS.clear()
    foryou.for_you(engine, service, user.id, ids)
    assert len(fits) == 2


def test_an_older_day_gets_a_model_whose_co_author_graph_ends_before_it(service, sample_papers, monkeypatch):
    """The model fitted for a day counts co-authors over the papers listed before it, so it serves that day and
    every later one as stored; a day before that gets a model of its own (stored too), never one that counted
    the papers it ranks."""
    from datetime import timedelta

    from sqlalchemy import text

    from paperfeed.rank import fitting, model

    engine = service.engine
    user, _ = liker(engine, sample_papers)
    fits = counted(monkeypatch, model, "fit")
    until = []
    real = fitting.fit_model
    monkeypatch.setattr(fitting, "fit_model", lambda *a: until.append(a[-1]) or real(*a))
    older = DAY - timedelta(days=4)
    with engine.connect() as conn:
        older_ids = ranked_ids(conn, older, older)
    assert older_ids
    # One draw of negatives for both days, as a large store's (older than both): the same pool, so only the
    # graph's last day tells the two models apart.
    ranked = set(older_ids) | set(day_ids(engine))
    with engine.connect() as conn:
        pool = [pid for pid in conn.scalars(text("SELECT id FROM papers ORDER BY id")) if pid not in ranked]
    monkeypatch.setattr(fitting, "negative_ids", lambda *a: pool)
    foryou.for_you(engine, service, user.id, day_ids(engine))
    foryou.for_you(engine, service, user.id, older_ids)
    assert until == [DAY - timedelta(days=1), older - timedelta(days=1)]
    foryou.RANKINGS.clear()
    foryou.for_you(engine, service, user.id, day_ids(engine))
    foryou.for_you(engine, service, user.id, older_ids)
    assert len(fits) == 2  # both read back


def test_the_embedding_term_is_fitted_once_per_taste_not_per_day(service, sample_papers, monkeypatch):
    """The embedding term's weights are stored too: the next day, or another process, reads them; a paper
    opened (which the embedding term reads, the user's own model does not) refits it once."""
    from datetime import timedelta

    from paperfeed.clock import utcnow
    from paperfeed.rank import recommend

    engine = service.engine
    user, vision = liker(engine, sample_papers)
    fits = counted(monkeypatch, recommend, "ours_fit")
    ids = day_ids(engine)
    today = foryou.for_you(engine, service, user.id, ids)
    foryou.RANKINGS.clear()
    tomorrow = foryou.for_you(engine, service, user.id, ids, now=utcnow() + timedelta(days=1))
    assert len(fits) == 1 and [p.id for p in today.picks] == [p.id for p in tomorrow.picks]
    taste.mark_seen(engine, user.id, [vision[2]], "opened")
    foryou.for_you(engine, service, user.id, ids)
    foryou.RANKINGS.clear()
    foryou.for_you(engine, service, user.id, ids)
    assert len(fits) == 2


def test_neither_the_days_papers_nor_the_likes_are_ever_negatives(service, sample_papers, monkeypatch):
    from paperfeed.rank import model

    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    ids = day_ids(engine)
    liked = [p.id for p in sample_papers if p.listed_date != DAY][:5]
    for pid in liked:
        marks.set_upvote(engine, user, pid, True)
    seen = {}
    real = model.fit

    def spy(likes, like_words, negatives, *rest):
        seen["negatives"] = {f.text for f in negatives}
        seen["likes"] = {f.text for f in (e.fields for e in likes)}
        return real(likes, like_words, negatives, *rest)

    monkeypatch.setattr(model, "fit", spy)
    foryou.for_you(engine, service, user.id, ids)
    text = {p.id: f"{p.title}\n{p.abstract}" for p in sample_papers}
    assert seen["negatives"] and len(seen["likes"]) == 5
    assert not seen["negatives"] & {text[i] for i in ids}  # the day's candidates
    assert not seen["negatives"] & {text[i] for i in liked}  # the likes


def test_an_imported_paper_counts_from_its_listing_date_not_the_import(service, sample_papers):
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    paper = next(p for p in sample_papers if p.listed_date != DAY)
    report = profile.import_entries(engine, service, user.id, "ids", paper.id)
    assert report.matched == 1
    marks.set_upvote(engine, user, sample_papers[-1].id, True)
    prof = foryou.load_profile(engine, user.id)
    likes = foryou.like_matrix(engine, service, prof, foryou.utcnow())
    came = dict(zip([k for k, _ in likes.keys], likes.came, strict=True))
    assert came[paper.id] is None  # the model reads the paper's listing date for it
    assert came[sample_papers[-1].id] is not None  # an upvote counts from when it was made


def test_an_imported_paper_counts_from_the_day_its_file_says_it_joined_the_library(service, sample_papers):
    from datetime import datetime

    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    paper = next(p for p in sample_papers if p.listed_date != DAY)
    bib = f"""@article{{a, title = {{{paper.title}}}, eprint = {{{paper.id}}}, archivePrefix = {{arXiv}},
      timestamp = {{2024.02.03}}}}
    @article{{b, title = {{A paper nobody stored about tensor sketches}},
      date-added = {{2099-01-01 10:00:00 +0000}}}}"""
    report = profile.import_entries(engine, service, user.id, "bibtex", bib)
    assert report.matched == 1
    prof = foryou.load_profile(engine, user.id)
    likes = foryou.like_matrix(engine, service, prof, foryou.utcnow())
    came = dict(zip([k for k, _ in likes.keys], likes.came, strict=True))
    assert came[paper.id] == datetime(2024, 2, 3)  # JabRef's timestamp, not the import time
    assert came[None] is None  # a date ahead is ignored


def test_only_the_newest_few_models_of_a_view_are_kept(service):
    engine = service.engine
    user = accounts.create_user(engine, "ada", "correct horse battery")
    for n in range(taste.MODELS_KEPT + 2):
        taste.save_model(engine, user.id, "", f"key{n}", f"model{n}".encode())
    assert taste.load_model(engine, user.id, "", None) == f"model{taste.MODELS_KEPT + 1}".encode()
    assert taste.load_model(engine, user.id, "", "key0") is None and taste.load_model(engine, user.id, "", "key2")
    taste.save_model(engine, user.id, "", "key2", b"again")  # the same key again: replaced, not doubled
    assert taste.load_model(engine, user.id, "", "key2") == b"again"


def test_the_authors_comments_are_words_for_you_reads(service, sample_papers):
    """A paper's arXiv comments ("code and weights: …") are read with its title and abstract: a day's paper
    that shares only its comments' words with the likes is lifted by them, and its reason names them; a rule's
    words are still looked for in the title and abstract alone."""
    from tests.support.builders import make, run

    engine = service.engine
    toolkit = "Code and weights released in the quokkaflow toolkit."
    # Four likes on unrelated topics whose comments name the same toolkit; two papers of DAY alike but for it.
    liked = [
        make(f"2503.9990{i}", title=f"Topic number {i}", abstract=text, authors=[f"Writer {i}"], comments=toolkit)
        for i, text in enumerate(("Ocean tides.", "Bird songs.", "Volcanic soil.", "Ancient coins."))
    ]
    listed = {"listed_date": DAY, "authors": ["Someone Else"]}
    lifted = make("2503.99910", title="Glacier melt", abstract="We measure ice.", comments=toolkit, **listed)
    plain = make("2503.99911", title="Glacier melt rates", abstract="We measure ice.", **listed)
    run(engine, [*liked, lifted, plain])
    user = accounts.create_user(engine, "ada", "correct horse battery")
    for p in liked:
        marks.set_upvote(engine, user, p.id, True)
    ranking = foryou.for_you(engine, service, user.id, day_ids(engine))
    order = [p.id for p in ranking.picks]
    assert order.index(lifted.id) < order.index(plain.id)
    assert "quokkaflow" in next(p for p in ranking.picks if p.id == lifted.id).words
    taste.add_rule(engine, user, "never", "quokkaflow")  # in no title or abstract: removes nothing
    assert {lifted.id, plain.id} <= {p.id for p in foryou.for_you(engine, service, user.id, day_ids(engine)).picks}


def test_a_vocabulary_saved_before_the_comments_were_read_is_fitted_again(service, monkeypatch):
    from paperfeed.rank import terms

    path = service.root / terms.FILE
    terms.corpus_terms(service.engine, service.root)
    with np.load(path) as saved:  # as paperfeed saved it before it read the comments: no `reads`
        older = {name: saved[name] for name in saved.files if name != "reads"}
    np.savez(path, **older)
    terms._checked.clear()
    fits = counted(monkeypatch, terms, "fit")
    terms.corpus_terms(service.engine, service.root)
    terms.corpus_terms(service.engine, service.root)
    with np.load(path) as saved:
        assert len(fits) == 1 and str(saved["reads"]) == terms.READS
