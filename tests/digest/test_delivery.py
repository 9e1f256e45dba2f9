"""Delivery faults against a real SMTP server: retries, drops, refusals, SIGKILL, two senders at once."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from paperfeed.digest import outbox
from paperfeed.digest import subscriptions as subs
from paperfeed.store.schema import outbox as box
from tests.digest.conftest import NOW, subscriber


def users(engine, n: int) -> list[str]:
    names = [f"user{i:02d}" for i in range(n)]
    for name in names:
        subscriber(engine, name, trending_n=3)
    return [f"{n}@example.org" for n in names]


def delivered(sink) -> Counter:
    return Counter(str(m["To"]) for m in sink.messages)


def statuses(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(s for (s,) in conn.execute(select(box.c.status)))


def test_451_then_accepted_is_sent_once_after_a_retry(mail_engine, mail_settings, sink, service):
    users(mail_engine, 1)
    sink.temp_fail = 1
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.sent, report.retried, report.failed) == (1, 1, 0)
    assert sink.attempts == 2 and len(sink.messages) == 1
    with mail_engine.connect() as conn:
        row = conn.execute(select(box.c.status, box.c.attempts, box.c.last_error)).one()
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None


def test_retries_back_off_exponentially_and_give_up(mail_engine, mail_settings, sink, service):
    users(mail_engine, 1)
    sink.temp_fail = 100
    settings = mail_settings.model_copy(update={"digest_max_attempts": 4, "digest_retry_base_seconds": 0.02})
    report = outbox.run(mail_engine, settings, service, now=NOW)
    assert report.failed == 1 and sink.attempts == 4 and not sink.messages
    # Measured at the SMTP server, not through `sleep`: the first retry may come from the sender thread that runs
    # while composing goes on, which polls rather than sleeping until the retry is due.
    at = sink.attempted_at
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert [g >= 0.9 * base for g, base in zip(gaps, (0.02, 0.04, 0.08), strict=True)] == [True] * 3, gaps
    with mail_engine.connect() as conn:
        assert "gave up after 4 tries" in conn.execute(select(box.c.last_error)).scalar()


def test_connection_dropped_mid_batch_every_digest_once(mail_engine, mail_settings, sink, service):
    addresses = users(mail_engine, 6)
    sink.drop_after = 3
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert report.sent == 6 and report.retried >= 1
    assert delivered(sink) == Counter(addresses)
    outbox.run(mail_engine, mail_settings, service, now=NOW)  # the next run sends nothing again
    assert delivered(sink) == Counter(addresses)


def test_550_for_one_address_marks_that_user_and_sends_the_rest(mail_engine, mail_settings, sink, service):
    addresses = users(mail_engine, 4)
    sink.refuse["user02@example.org"] = "550 5.1.1 <user02@example.org>: Recipient address rejected"
    report = outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert (report.sent, report.failed, report.bounced) == (3, 1, 1)
    assert delivered(sink) == Counter(a for a in addresses if a != "user02@example.org")
    bounced = [u for u in (subs.get(mail_engine, i) for i in range(1, 5)) if u.bounced_at]
    assert [b.email for b in bounced] == ["user02@example.org"] and "550" in bounced[0].bounce_reason
    # No more digests to that address until it is changed.
    again = outbox.run(mail_engine, mail_settings, service, now=NOW.replace(day=31, hour=23))
    assert again.composed == 0


def test_no_smtp_host_composes_and_waits(mail_engine, mail_settings, sink, service):
    users(mail_engine, 2)
    report = outbox.run(mail_engine, mail_settings.model_copy(update={"smtp_host": ""}), service, now=NOW)
    assert report.composed == 2 and report.sent == 0 and "no SMTP host" in str(report)
    assert statuses(mail_engine) == Counter({"pending": 2})
    outbox.run(mail_engine, mail_settings, service, now=NOW)
    assert len(sink.messages) == 2


def test_pacer_spaces_sends_to_the_rate_limit():
    now = [0.0]
    slept = []
    pacer = outbox.Pacer(120, sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)), clock=lambda: now[0])
    for _ in range(4):
        pacer.wait()
    assert slept == [0.5, 0.5, 0.5]  # 120 a minute: one every half second
    assert outbox.Pacer(0).gap == 0


def digest_run(env_extra=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "digest", "run", "--now", NOW.isoformat()],
        env={**os.environ, **(env_extra or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.process
def test_sigkill_mid_batch_then_rerun_sends_each_once(mail_engine, mail_settings, sink):
    addresses = users(mail_engine, 8)
    proc_box = {}
    killed = threading.Event()

    def kill_on_fourth(msg):
        # The 4th message has arrived but is not yet acknowledged: kill the sender now. By SMTP's rules the
        # message is not accepted (no 250 was sent), so the sink does not keep it.
        if len(sink.messages) == 3 and not killed.is_set():
            killed.set()
            os.kill(proc_box["p"].pid, signal.SIGKILL)
            proc_box["p"].wait()
            raise ConnectionError("sender died before the 250")

    sink.on_data = kill_on_fourth
    proc_box["p"] = digest_run()
    proc_box["p"].wait(timeout=120)
    assert killed.is_set() and proc_box["p"].returncode == -signal.SIGKILL
    assert len(sink.messages) == 3
    assert statuses(mail_engine)["sending"] == 1  # the claim the dead process held
    sink.on_data = None
    rerun = digest_run()
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert delivered(sink) == Counter(addresses)  # every user exactly once
    assert statuses(mail_engine) == Counter({"sent": 8})


@pytest.mark.process
def test_two_runs_at_once_send_each_digest_once(mail_engine, mail_settings, sink):
    addresses = users(mail_engine, 12)
    sink.on_data = lambda msg: time.sleep(0.05)  # a slow server, so both senders are busy at once
    runs = [digest_run(), digest_run()]
    for r in runs:
        _, err = r.communicate(timeout=180)
        assert r.returncode == 0, err
    assert delivered(sink) == Counter(addresses)
    assert statuses(mail_engine) == Counter({"sent": 12})


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "a@b.org\r\nBcc: x@y.org", "<a@b.org>", ""])
def test_invalid_address_is_refused_at_subscription(mail_engine, bad):
    from paperfeed.store import accounts

    user = accounts.create_user(mail_engine, "ada", "long enough password")
    with pytest.raises(subs.SubscriptionError, match="not an email address"):
        subs.save(mail_engine, subs.Subscription(user_id=user.id, email=bad))
    assert subs.get(mail_engine, user.id) is None


@pytest.mark.process
def test_serve_with_scheduler_sends_in_process(mail_engine, mail_settings, sink):
    from tests.conftest import free_port

    subscriber(mail_engine, "ada", send_empty=True)  # real "now": nothing is new, and ada asked anyway
    env = {**os.environ, "PAPERFEED_SCHEDULER_INTERVAL": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--with-scheduler", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not sink.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1.5)  # a few more scheduler turns: still one message
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert delivered(sink) == Counter(["ada@example.org"]), err[-2000:]
    assert "Nothing new" in sink.messages[0].get_body(("plain",)).get_content()


def test_smtp_login_with_a_password_file_that_is_never_logged(
    mail_engine, mail_settings, sink, service, tmp_path, caplog
):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import free_port

    secret = "s3cret-pass-word"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"mailer" and auth_data.password == secret.encode())

    # Plain SMTP on loopback, so AUTH without TLS is allowed here (in production: starttls or ssl).
    controller = Controller(
        sink, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        users(mail_engine, 1)
        (tmp_path / "pw").write_text(secret + "\n")
        settings = mail_settings.model_copy(
            update={"smtp_port": controller.port, "smtp_username": "mailer", "smtp_password_file": tmp_path / "pw"}
        )
        wrong = settings.model_copy(
            update={
                "smtp_password_file": None,
                "smtp_password": "wrong-pass-word",
                "smtp_timeout": 1.0,
                "digest_max_attempts": 1,
            }
        )
        with caplog.at_level("DEBUG", logger="paperfeed"):
            refused = outbox.run(mail_engine, wrong, service, now=NOW)
            assert refused.sent == 0 and refused.failed == 1 and not sink.messages
            with mail_engine.begin() as conn:  # the admin fixes the password file and requeues the row
                error = conn.execute(select(box.c.last_error)).scalar()
                conn.execute(box.update().values(status="pending", attempts=0))
            accepted = outbox.run(mail_engine, settings, service, now=NOW)
        assert accepted.sent == 1 and len(sink.messages) == 1
        logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("paperfeed"))
        assert "wrong-pass-word" not in error and "wrong-pass-word" not in logged and secret not in logged
    finally:
        controller.stop()


@pytest.mark.process
def test_two_nodes_with_schedulers_send_each_digest_once(mail_engine, mail_settings, sink, tmp_path):
    """Two `serve --with-scheduler` nodes, each with its own data directory, on one store: the "digest" lease
    lets one run at a time, and each user gets one message for the period."""
    from tests.conftest import store_url
    from tests.support.serving import start, stop

    addresses = [f"{n}@example.org" for n in ("ada", "bob", "cyd", "dia", "eddy", "flo")]
    for a in addresses:
        subscriber(mail_engine, a.split("@")[0], send_empty=True)
    other = tmp_path / "other-node"
    shutil.copytree(mail_settings.data_dir / "index", other / "index")
    store = store_url(mail_settings.data_dir)
    nodes = [
        start(d, mail_settings.model_cache, args=("--with-scheduler",), database_url=store, scheduler_interval=0.3)
        for d in (mail_settings.data_dir, other)
    ]
    try:
        deadline = time.monotonic() + 90
        while len(sink.messages) < len(addresses) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # several more turns of both schedulers: still one message each
    finally:
        logs = [stop(proc) for proc, _ in nodes]
    assert delivered(sink) == Counter(addresses), logs
    assert statuses(mail_engine) == Counter({"sent": len(addresses)})


def test_one_scheduler_at_a_time_takes_the_digest_turn(mail_engine, mail_settings):
    from paperfeed.digest.scheduler import Scheduler
    from paperfeed.store import lease

    first, second = Scheduler(mail_engine, mail_settings), Scheduler(mail_engine, mail_settings)
    assert first.me != second.me  # two schedulers in one process are two holders too
    assert first.take_turn() and not second.take_turn()
    lease.release(mail_engine, "digest", first.me)  # what the end of its run does
    assert second.take_turn() and not first.take_turn()


def test_digests_go_out_while_a_sync_holds_its_lease(mail_engine, mail_settings, sink):
    """A sync stuck on a hostile upstream (its lease held for an hour) must not stop anyone's mail: the digest
    scheduler runs on what is stored."""
    from datetime import timedelta

    from paperfeed.clock import utcnow
    from paperfeed.digest.scheduler import Scheduler
    from paperfeed.store import lease

    subscriber(mail_engine, "ada", send_empty=True)
    assert lease.acquire(mail_engine, "sync", "other-host:1:1:1", 3600, utcnow())
    job = Scheduler(mail_engine, mail_settings.model_copy(update={"scheduler_interval": 0.2}))
    job.start()
    try:
        deadline = time.monotonic() + 30
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        job.stop()
        job.join(timeout=20)
    assert delivered(sink) == Counter(["ada@example.org"])
    assert lease.held(mail_engine, "sync", utcnow() + timedelta(minutes=30))  # the sync still holds its lease
