"""What a digest contains and how the message is built, checked on messages a real SMTP server received."""

import re
from datetime import date, datetime, timedelta

from markupsafe import escape
from sqlalchemy import select

from paperfeed.digest import outbox
from paperfeed.digest import subscriptions as subs
from paperfeed.store import accounts, groups, marks
from paperfeed.store.schema import outbox as box
from paperfeed.tex import unicode_text
from tests.digest.conftest import NOW, subscriber


def only(sink):
    assert len(sink.messages) == 1, [m["To"] for m in sink.messages]
    return sink.messages[0]


def test_one_multipart_message_with_headers_and_both_parts(mail_engine, mail_settings, sink, service):
    subscriber(mail_engine, "ada", trending_n=5, categories=["cs.RO"])
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.composed, report.sent, report.failed) == (1, 1, 0)
    msg = only(sink)
    assert msg["To"] == "ada@example.org" and msg["From"] == "paperfeed <digest@paperfeed.test>"
    assert "paperfeed daily digest, Mon, Mar 31, 2025" in msg["Subject"]
    assert msg["Date"] and msg["Message-ID"].endswith("@paperfeed.test>")
    assert msg["List-Unsubscribe"].startswith("<http://paperfeed.test/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "== Trending ==" in text and "== New in cs.RO ==" in text
    assert "Unsubscribe: http://paperfeed.test/unsubscribe/" in text
    # Mail-client friendly: tables and inline styles, nothing external, no scripts.
    assert "<table" in html and 'style="' in html and "<script" not in html.lower()
    assert "<img" not in html and "<link" not in html and "@import" not in html


def test_sections_hold_the_right_papers_each_once(mail_engine, mail_settings, sink, service, sample_papers):
    by_id = {p.id: p for p in sample_papers}
    sub = subscriber(mail_engine, "ada", trending_n=5, categories=["cs.RO", "cs.CL"])
    subs.add_search(mail_engine, sub.user_id, "Robots", "robot manipulation")
    author = next(p.authors[0] for p in sample_papers if p.listed_date == date(2025, 3, 31))
    subs.save(mail_engine, subs.Subscription(**{**sub.__dict__, "authors": [author]}))
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    html = only(sink).get_body(("html",)).get_content()
    ids = [i.split('"')[0] for i in html.split('href="http://paperfeed.test/papers/')[1:]]
    assert len(ids) == len(set(ids)), "a paper appears in two sections"
    assert all(by_id[i].listed_date == date(2025, 3, 31) for i in ids)  # only the new listing day
    with mail_engine.connect() as conn:
        stored = conn.execute(select(box.c.paper_ids)).scalar()
    assert stored == ids
    text = only(sink).get_body(("plain",)).get_content()
    for title in (
        "== Trending ==",
        "== New in cs.RO, cs.CL ==",
        "== Saved search: Robots ==",
        "== Followed authors ==",
    ):
        assert title in text or title == "== Followed authors ==" and author in text


def test_the_next_digest_repeats_nothing_and_catches_up(mail_engine, mail_settings, sink, service, sample_papers):
    subscriber(mail_engine, "ada", trending_n=50)
    first = NOW - timedelta(days=4)  # Thursday 2025-03-27
    outbox.run(mail_engine, mail_settings, service, now=first)
    # Friday's digest is skipped (the server was down); Monday's covers Friday and Monday.
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert len(sink.messages) == 2
    with mail_engine.connect() as conn:
        rows = conn.execute(select(box.c.period, box.c.paper_ids, box.c.covered_until).order_by(box.c.id)).all()
    assert [r.period for r in rows] == ["daily:2025-03-27", "daily:2025-03-31"]
    assert not set(rows[0].paper_ids) & set(rows[1].paper_ids)
    listed = {p.id: p.listed_date for p in sample_papers}
    assert {listed[i] for i in rows[1].paper_ids} <= {date(2025, 3, 28), date(2025, 3, 31)}
    assert rows[1].covered_until == date(2025, 3, 31)
    # Running again in the same period composes nothing new.
    again = outbox.run(mail_engine, mail_settings, service, now=NOW + timedelta(hours=3))
    assert (again.composed, again.sent) == (0, 0) and len(sink.messages) == 2


def test_empty_digest_is_not_sent_unless_asked(mail_engine, mail_settings, sink, service):
    subscriber(mail_engine, "ada", trending_n=0, categories=["q-bio.NC"])
    subscriber(mail_engine, "bob", trending_n=0, categories=["q-bio.NC"], send_empty=True)
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.empty, report.sent) == (1, 1)
    msg = only(sink)
    assert msg["To"] == "bob@example.org" and "Nothing new" in msg.get_body(("plain",)).get_content()


def test_weekly_digest_on_its_weekday_in_the_users_time_zone(mail_engine, mail_settings, sink, service):
    # Monday 08:00 in Tokyo is Sunday 23:00 UTC: at NOW (Monday 10:00 UTC) the week 2025-W14 is due.
    sub = subscriber(mail_engine, "ada", frequency="weekly", weekday=0, hour=8, timezone="Asia/Tokyo")
    period = subs.period_for(sub, NOW)
    assert period.key == "weekly:2025-W14" and period.due_at == datetime(2025, 3, 30, 23, 0)
    assert subs.period_for(sub, datetime(2025, 3, 30, 22, 59)).key == "weekly:2025-W13"
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert "weekly digest" in only(sink)["Subject"]


def test_header_injection_through_names_and_titles_is_impossible(mail_engine, mail_settings, sink, service):
    sub = subscriber(mail_engine, "ada", trending_n=1)
    subs.add_search(mail_engine, sub.user_id, "Evil\r\nBcc: victim@example.org\r\n", "robot")
    subs.save(mail_engine, subs.Subscription(**{**sub.__dict__, "authors": ["X\r\nBcc: victim@example.org"]}))
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    msg = only(sink)
    assert msg["Bcc"] is None and "victim" not in str(msg["To"])
    assert all("victim" not in str(v) for _, v in msg.items())
    assert "Saved search: Evil Bcc: victim@example.org" in msg.get_body(("plain",)).get_content()


def test_preview_is_exactly_what_is_sent(mail_engine, mail_settings, sink, service):
    sub = subscriber(mail_engine, "ada", trending_n=5, categories=["cs.CV"])
    before = outbox.preview(mail_engine, mail_settings, sub.user_id, date(2025, 3, 31), service)
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    sent = only(sink)
    from email import message_from_string
    from email.policy import default

    shown = message_from_string(before, policy=default)
    assert shown.get_body(("html",)).get_content() == sent.get_body(("html",)).get_content()
    assert shown.get_body(("plain",)).get_content() == sent.get_body(("plain",)).get_content()
    assert shown["Subject"] == sent["Subject"]
    # After sending, the preview shows the stored message.
    assert outbox.preview(mail_engine, mail_settings, sub.user_id, date(2025, 3, 31), service) == before


def test_a_recommended_section_leads_once_the_user_likes_papers(
    mail_engine, mail_settings, sink, service, sample_papers
):
    """Ada upvoted robotics papers: her digest opens with "Recommended for you", in her For you order; without
    likes there is no such section (the tests above)."""
    from paperfeed.rank.foryou import for_you
    from paperfeed.rank.trending import ranked_ids
    from paperfeed.store import accounts

    subscriber(mail_engine, "ada", trending_n=5)
    user = accounts.list_users(mail_engine)[0]
    liked = [p for p in sample_papers if "cs.RO" in p.categories and p.listed_date < date(2025, 3, 31)][:3]
    for p in liked:
        marks.set_upvote(mail_engine, user, p.id, True)
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    text = " ".join(only(sink).get_body(("plain",)).get_content().split())
    assert text.index("== Recommended for you ==") < text.index("== Trending ==")
    section = text.split("== Recommended for you ==")[1].split("==")[0]
    with mail_engine.connect() as conn:
        day = ranked_ids(conn, date(2025, 3, 31), date(2025, 3, 31))
    titles = {p.id: " ".join(p.title.split()) for p in sample_papers}
    # Shown in the digest, so For you leaves them out from the next day on; show_seen brings them back.
    ranking = for_you(mail_engine, service, user.id, day, show_seen=True)
    top = [titles[p.id][:40] for p in ranking.picks[:3]]
    assert set(top) & {titles[p.id][:40] for p in for_you(mail_engine, service, user.id, day).picks} == set()
    assert [t in section for t in top] == [True, True, True]
    assert sorted(top, key=section.index) == top  # in her For you order


def test_a_day_a_sync_is_still_adding_to_waits_for_the_next_digest(
    mail_engine, mail_settings, sink, service, sample_papers
):
    """Digests never wait for a sync, and never send part of a day: while a sync holds its lease the newest
    stored day may still be growing, so the digest covers up to the day before; the next one sends the rest."""
    from paperfeed.clock import utcnow
    from paperfeed.store import lease

    subscriber(mail_engine, "ada", trending_n=50)
    assert lease.acquire(mail_engine, "sync", "other-host:1:1:1", 3600, utcnow())
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    lease.release(mail_engine, "sync", "other-host:1:1:1")
    outbox.run(mail_engine, mail_settings, service, now=NOW + timedelta(days=1))
    with mail_engine.connect() as conn:
        rows = conn.execute(select(box.c.paper_ids, box.c.covered_until).order_by(box.c.id)).all()
    listed = {p.id: p.listed_date for p in sample_papers}
    assert rows[0].covered_until == date(2025, 3, 28) and date(2025, 3, 31) not in {
        listed[i] for i in rows[0].paper_ids
    }
    assert rows[1].covered_until == date(2025, 3, 31) and {listed[i] for i in rows[1].paper_ids} == {date(2025, 3, 31)}
    assert len(sink.messages) == 1  # nothing of the growing day went out early; the whole day went out next


def test_tex_reads_as_unicode_in_both_parts(mail_engine, mail_settings, sink, service, sample_papers):
    """Mail clients run no script: a formula in a title or abstract is written out ($\\alpha$ -> α)."""
    day = [p for p in sample_papers if p.listed_date == date(2025, 3, 31)]
    with_tex = [p for p in day if re.search(r"\$[^$]*\\[A-Za-z]+[^$]*\$", p.title + p.abstract)]
    categories = sorted({p.categories[0] for p in with_tex})[:5]
    assert with_tex and categories
    subscriber(mail_engine, "ada", trending_n=0, categories=categories)
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    text = only(sink).get_body(("plain",)).get_content()
    html = only(sink).get_body(("html",)).get_content()
    shown = [p for p in with_tex if f"/papers/{p.id}" in text]
    assert shown, "no paper with TeX in the digest"
    for p in shown:
        assert unicode_text(p.title) in text and escape(unicode_text(p.title)) in html
    # No formula is left as TeX in either part.
    for part in (text, html):
        assert not re.search(r"\$[^$\s]*\\[A-Za-z]+", part), re.search(r".{40}\$[^$\s]*\\[A-Za-z]+.{40}", part)


def test_replies_and_mentions_come_in_the_digest_until_read(mail_engine, mail_settings, sink, service, sample_papers):
    from paperfeed.store import discussions

    sub = subscriber(mail_engine, "ada", trending_n=1)
    bob = accounts.create_user(mail_engine, "bob", "long enough password")
    older = min(sample_papers, key=lambda p: p.listed_date)  # a discussion may be about any paper
    discussions.post(mail_engine, bob, older.id, "What do you think, @ada?", None, discussions.Limits())
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    text = only(sink).get_body(("plain",)).get_content()
    section = text.split("== Replies and mentions ==")[1].split("==")[0]
    assert f"/papers/{older.id}" in section
    # Read on the site: the next digest does not repeat it.
    discussions.mark_read(mail_engine, sub.user_id)
    sink.messages.clear()
    outbox.run(mail_engine, mail_settings, service, now=NOW + timedelta(days=1))
    assert all("Replies and mentions" not in m.get_body(("plain",)).get_content() for m in sink.messages)


def test_a_digest_shows_what_the_others_in_your_group_picked(mail_engine, mail_settings, sink, service, sample_papers):
    subscriber(mail_engine, "ada", trending_n=0)
    with mail_engine.connect() as conn:
        ada = accounts.get_user(conn, "ada")
    bob = accounts.create_user(mail_engine, "bob", "long enough password")
    subscriber(mail_engine, "eve", trending_n=1)  # not a member: her digest says nothing of the group
    with mail_engine.connect() as conn:
        eve = accounts.get_user(conn, "eve")
    lab = groups.create(mail_engine, bob, "Robot lab")
    groups.join(mail_engine, ada, groups.invite(mail_engine, bob, lab))
    theirs, mine, outside = (p.id for p in sorted(sample_papers, key=lambda p: p.id)[:3])
    marks.set_upvote(mail_engine, bob, theirs, True)
    marks.set_upvote(mail_engine, ada, mine, True)  # her own pick is not news to her
    marks.set_upvote(mail_engine, eve, outside, True)  # not a member
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    to = {m["To"]: m.get_body(("plain",)).get_content() for m in sink.messages}
    # Eve's digest has its sections (For you, or Trending when For you did not already show its paper), no group.
    assert "Robot lab" not in to["eve@example.org"]
    assert "== Recommended for you ==" in to["eve@example.org"]
    text = to["ada@example.org"]
    section = text.split("== Picked in Robot lab ==")[1].split("==")[0]
    titles = {p.id: unicode_text(" ".join(p.title.split()))[:40] for p in sample_papers}
    assert titles[theirs] in " ".join(section.split())
    assert titles[mine] not in text and titles[outside] not in text
