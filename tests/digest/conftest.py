"""A real SMTP server on loopback (aiosmtpd) with scriptable faults, and subscribed users on the indexed sample."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from fastapi.testclient import TestClient

from paperfeed.config import get_settings
from paperfeed.digest import subscriptions as subs
from paperfeed.store import accounts, make_engine
from paperfeed.web.app import create_app
from tests.conftest import free_port

NOW = datetime(2025, 3, 31, 10, 0)  # the sample's last listing day, after an 08:00 UTC delivery time


@pytest.fixture(autouse=True)
def replayed_clock(monkeypatch):
    """The digests here are for NOW (a day of the sample); their unsubscribe links are a day old."""
    monkeypatch.setattr(subs, "clock", lambda: (NOW + timedelta(days=1)).replace(tzinfo=UTC).timestamp())


class Sink:
    """Collects messages. Faults: `refuse` (address -> 5xx at RCPT), `temp_fail` (how many DATA answers are
    451 before accepting), `drop_after` (accept this many messages, then drop the next connection mid-DATA),
    `on_data` (called with the message before it is accepted)."""

    def __init__(self):
        self.messages = []
        self.refuse: dict[str, str] = {}
        self.temp_fail = 0
        self.drop_after: int | None = None
        self.on_data = None
        self.lock = threading.Lock()
        self.attempts = 0
        self.attempted_at: list[float] = []  # time.monotonic() of each DATA

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session, envelope):
        with self.lock:
            self.attempts += 1
            self.attempted_at.append(time.monotonic())
            if self.temp_fail > 0:
                self.temp_fail -= 1
                return "451 4.3.0 Temporary failure, try again later"
            if self.drop_after is not None and len(self.messages) >= self.drop_after:
                self.drop_after = None
                server.transport.close()  # the connection drops before the 250: not accepted
                return "421 closing"
        msg = message_from_bytes(envelope.original_content, policy=default)
        if self.on_data:
            self.on_data(msg)
        with self.lock:
            self.messages.append(msg)
        return "250 2.0.0 OK queued"

    def by_user(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for m in self.messages:
            out.setdefault(str(m["To"]), []).append(m)
        return out


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def mail_settings(settings, data_dir, sink, monkeypatch):
    """Settings pointing at the sink, with quick retries."""
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_timeout": 5.0,
        "digest_retry_base_seconds": 0.05,
        "digest_run_max_wait": 10.0,
        "digest_rate_per_minute": 0,
        "base_url": "http://paperfeed.test",
        "mail_from": "paperfeed <digest@paperfeed.test>",
    }
    for k, v in values.items():
        monkeypatch.setenv(f"PAPERFEED_{k.upper()}", str(v))
    get_settings.cache_clear()  # the CLI reads the environment again
    return settings.model_copy(update=values)


@pytest.fixture
def mail_engine(mail_settings):
    engine = make_engine(mail_settings.db_url)
    yield engine
    engine.dispose()


def subscriber(engine, name: str, verified: bool = True, **options) -> subs.Subscription:
    user = accounts.create_user(engine, name, "long enough password", f"{name}@example.org")
    sub, _ = subs.save(engine, subs.Subscription(user_id=user.id, email=f"{name}@example.org", **options))
    if verified:
        subs.mark_verified(engine, user.id, sub.email)
    return subs.get(engine, user.id)


@pytest.fixture
def web(mail_settings):
    with TestClient(create_app(mail_settings)) as c:
        yield c
