"""One user's input never stops anyone else's digest (issue #9, class 1), and hidden papers stay out of every
section; checked on what a real SMTP server received."""

from collections import Counter

from sqlalchemy import insert, select
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.clock import utcnow
from paperfeed.digest import outbox
from paperfeed.search.indexer import sync
from paperfeed.search.service import SearchService
from paperfeed.store import accounts, marks
from paperfeed.store.schema import outbox as box
from paperfeed.store.schema import saved_searches
from tests.digest.conftest import NOW, subscriber
from tests.web.conftest import login


def author_in_window(sample_papers) -> tuple[str, str]:
    """An author (full name) of a paper listed on NOW's day, and that paper's id."""
    paper = next(p for p in sample_papers if p.listed_date == NOW.date() and len(p.authors) > 1)
    return paper.authors[0], paper.id


def test_a_quoted_author_is_followed_not_a_crash(mail_engine, mail_settings, sink, service, sample_papers):
    name, pid = author_in_window(sample_papers)
    # As the docs write search syntax: with quotes. It used to raise "author: needs a value" for everyone.
    subscriber(mail_engine, "ada", trending_n=0, authors=[f'"{name}"', "author:" + name])
    subscriber(mail_engine, "bob", trending_n=3)
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.composed, report.sent, report.not_composed) == (2, 2, 0)
    ada = next(m for m in sink.messages if m["To"] == "ada@example.org")
    assert f"/papers/{pid}" in ada.get_body(("plain",)).get_content()


def test_one_users_broken_search_fails_only_their_digest(mail_engine, mail_settings, sink, service):
    for name in ("ann", "ben", "cyd", "dee"):
        subscriber(mail_engine, name, trending_n=3)
    # A saved search stored before a parser change (or written by hand) that no longer parses.
    with mail_engine.begin() as conn:
        conn.execute(insert(saved_searches).values(user_id=2, title="old", query="foo:bar", created_at=utcnow()))
    result = CliRunner().invoke(cli, ["digest", "run", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "could not compose: 1" in result.output
    assert Counter(str(m["To"]) for m in sink.messages) == Counter(
        {"ann@example.org": 1, "cyd@example.org": 1, "dee@example.org": 1}
    )
    with mail_engine.connect() as conn:
        status, error = conn.execute(select(box.c.status, box.c.last_error).where(box.c.user_id == 2)).one()
    assert status == "failed" and "unknown qualifier foo:" in error
    # The next run sends nothing twice and does not retry the failed period.
    again = CliRunner().invoke(cli, ["digest", "run", "--now", NOW.isoformat()])
    assert again.exit_code == 0 and len(sink.messages) == 3


def test_the_broken_users_preview_and_settings_say_why(web, mail_engine, mail_settings, sink, service):  # noqa: F811
    subscriber(mail_engine, "ada", trending_n=3)
    with mail_engine.begin() as conn:
        conn.execute(insert(saved_searches).values(user_id=1, title="old", query="foo:bar", created_at=utcnow()))
    login(web, "ada", "long enough password")
    preview = web.get("/settings/digest/preview", params={"date": NOW.date().isoformat()})
    assert preview.status_code == 422 and "cannot be composed" in preview.text and "foo:" in preview.text
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert "could not compose" in web.get("/settings/digest").text


def test_hidden_papers_are_in_no_section(mail_engine, mail_settings, sink, service, sample_papers):
    name, pid = author_in_window(sample_papers)
    paper = next(p for p in sample_papers if p.id == pid)
    sub = subscriber(mail_engine, "ada", trending_n=50, authors=[name])
    with mail_engine.begin() as conn:
        conn.execute(
            insert(saved_searches).values(user_id=sub.user_id, title="t", query=paper.title, created_at=utcnow())
        )
    before = outbox.preview(mail_engine, mail_settings, sub.user_id, NOW.date(), service)
    assert f"/papers/{pid}" in before  # in the digest (followed author and saved search) until hidden
    admin = accounts.create_user(mail_engine, "root", "long enough password", admin=True)
    marks.set_hidden(mail_engine, admin, pid, True)
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    (msg,) = sink.messages
    assert pid not in msg.get_body(("plain",)).get_content()
    assert pid not in msg.get_body(("html",)).get_content()


def test_a_passing_failure_defers_that_digest_to_the_next_run(
    mail_engine, mail_settings, sink, service, sample_papers, encoder
):
    name, pid = author_in_window(sample_papers)
    subscriber(mail_engine, "ada", trending_n=0, authors=[name])
    subscriber(mail_engine, "bob", trending_n=3)
    # The keyword index is being rebuilt: author: cannot be answered now (not the user's doing).
    (mail_settings.data_dir / "index" / "lexical" / "meta.json").unlink()
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.sent, report.deferred, report.not_composed) == (1, 1, 0)
    with mail_engine.connect() as conn:
        assert conn.execute(select(box.c.user_id)).scalars().all() == [2]  # no row for ada: she is retried
    sync(mail_engine, mail_settings.data_dir, encoder)  # repaired
    repaired = SearchService(mail_engine, mail_settings.data_dir, encoder=encoder)
    report = outbox.run(mail_engine, mail_settings, repaired, now=NOW)
    assert (report.sent, report.deferred) == (1, 0)
    ada = next(m for m in sink.messages if m["To"] == "ada@example.org")
    assert f"/papers/{pid}" in ada.get_body(("plain",)).get_content()
