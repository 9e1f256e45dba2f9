"""Sync, then index, then mail: a digest due at 07:00 after a sync at 01:30 carries the new day's papers."""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller

from paperfeed.digest import outbox
from paperfeed.digest import subscriptions as subs
from paperfeed.store import accounts
from tests.conftest import free_port
from tests.sync.conftest import walk


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=default))
        return "250 OK"


def test_the_morning_digest_has_the_papers_synced_that_night(engine, sync_settings, upstream, sample_papers):
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        settings = sync_settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "base_url": "http://paperfeed.test"}
        )
        walk(engine, settings, upstream, date(2025, 3, 24), date(2025, 3, 24))  # Monday's listing is in
        user = accounts.create_user(engine, "ada", "long enough password", "ada@example.org")
        subs.save(engine, subs.Subscription(user_id=user.id, email="ada@example.org", hour=7, categories=["cs.CV"]))
        subs.mark_verified(engine, user.id, "ada@example.org")
        outbox.run(engine, settings, now=datetime(2025, 3, 24, 7, 0))  # Monday's digest
        walk(engine, settings, upstream, date(2025, 3, 25), date(2025, 3, 25))  # the 01:30 sync brings Tuesday
        outbox.run(engine, settings, now=datetime(2025, 3, 25, 7, 0))
    finally:
        smtp.stop()
    tuesday = [p for p in sample_papers if p.listed_date == date(2025, 3, 25) and "cs.CV" in p.categories]
    assert len(inbox.messages) == 2
    text = inbox.messages[1].get_body(("plain",)).get_content()
    shown = [p for p in tuesday if p.title[:60] in " ".join(text.split())]
    assert shown, text[:1500]  # Tuesday's cs.CV papers, synced at 01:30, are in the 07:00 mail
