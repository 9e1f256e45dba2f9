"""The outbox: compose each due digest once, send each message at most once per attempt, retry what failed
for a passing reason, record what failed for good.

- Composing inserts one row per (user, period); the unique key makes a second composer (another process,
  a rerun) skip it.
- Sending claims a row (pending -> sending) with one conditional UPDATE, so two senders never take the
  same row; it is marked sent in its own transaction right after the server's 250.
- A row left "sending" by a process that died (same host, pid gone) or whose claim is older than the
  lease goes back to pending and is sent again, with the same Message-ID. The only case that can deliver
  twice is a crash between the server's 250 and that commit (a few microseconds per message); one that
  can never deliver is impossible: an unacknowledged message is always retried.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from jinja2 import TemplateError
from sqlalchemy import Engine

from paperfeed.clock import utcnow
from paperfeed.config import Settings, secret_key
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.compose import Composer
from paperfeed.digest.smtp import Mailer, PermanentError, TransientError
from paperfeed.search.service import SearchService
from paperfeed.store import lease, taste
from paperfeed.store import outbox as store
from paperfeed.store.accounts import User

log = logging.getLogger("paperfeed.digest")
BATCH = 200


class ComposeError(Exception):
    """One user's digest could not be composed; the message says why (shown to that user)."""


@dataclass
class Report:
    composed: int = 0
    empty: int = 0
    sent: int = 0
    not_composed: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    pending: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"composed {self.composed} (empty, not sent: {self.empty}; could not compose: {self.not_composed};"
            f" deferred to the next run: {self.deferred}), "
            f"sent {self.sent}, retries {self.retried}, "
            f"failed {self.failed} (address refused: {self.bounced}), still pending {self.pending}"
        )
        return "; ".join([text, *self.notes])


# -- composing --------------------------------------------------------------------------------------
CHUNK = 200  # users composed per read of their settings and per outbox transaction


@dataclass
class Pending:
    """What composing one user's digest needs, read for a whole chunk of users at once."""

    sub: subs.Subscription
    user: User
    searches: list[dict]
    last: tuple[list[str], date | None] | None  # the previous digest's paper ids and covered_until


def load_chunk(engine: Engine, user_ids: list[int], now: datetime) -> list[tuple[Pending, subs.Period]]:
    """Subscriptions of these users whose current period has no outbox row yet, with what composing needs."""
    found = store.subscriptions_of(engine, user_ids)
    # The latest period whose delivery time has passed: a new subscriber's first digest comes at the
    # next run after verifying; a server that was down sends one catch-up digest, not one per day missed.
    periods = {uid: subs.period_for(sub, now) for uid, sub in found.items()}
    done, people, saved, last = store.chunk_state(engine, user_ids, {p.key for p in periods.values()})
    return [
        (Pending(found[uid], people[uid], saved.get(uid, []), last.get(uid)), periods[uid])
        for uid in user_ids
        if uid in found and uid in people and (uid, periods[uid].key) not in done
    ]


def compose_due(engine: Engine, composer: Composer, now: datetime, report: Report) -> None:
    """An outbox row for every active, verified subscription whose current period has none yet."""
    ids = store.due_user_ids(engine)
    for i in range(0, len(ids), CHUNK):
        rows = []
        for pending, period in load_chunk(engine, ids[i : i + CHUNK], now):
            try:
                digest, msg = build(composer, pending, period, now)
            except ComposeError as exc:
                # Something in this user's settings: their digest is marked failed with the reason (shown on
                # their settings page); everyone else's goes on.
                report.not_composed += 1
                log.warning("digest %s for user %s not composed: %s", period.key, pending.sub.user_id, exc)
                why = f"could not compose: {exc}"[:500]
                last = pending.last or ([], None)  # the next digest continues from the last one that was made
                uid, to = pending.sub.user_id, pending.sub.email
                rows.append(store.new_row(uid, period.key, "digest", "failed", to, "", *last, why))
                continue
            except Exception as exc:
                # Not the user's doing (an index being rebuilt, a busy database): no row, so the next run
                # composes this digest again; the others go on.
                report.deferred += 1
                log.warning("digest %s for user %s deferred to the next run: %s", period.key, pending.sub.user_id, exc)
                continue
            if msg is None:
                report.empty += 1
            else:
                report.composed += 1
            rows.append(
                store.new_row(
                    pending.sub.user_id,
                    period.key,
                    "digest",
                    "pending" if msg else "empty",
                    pending.sub.email,
                    msg or "",
                    digest.paper_ids,
                    digest.covered_until,
                )
            )
        store.insert_many(engine, rows)
        # Shown in a digest: For you leaves these out from the next day on.
        shown = [(r["user_id"], pid) for r in rows if r["status"] == "pending" for pid in r["paper_ids"]]
        taste.mark_seen_many(engine, shown, "digest", at=now)


def build(composer: Composer, pending: Pending, period: subs.Period, now: datetime):
    """(digest, message) for this period, continuing from the user's previous digest; message None when
    the digest is empty and empty digests are not sent. ComposeError for anything in this user's settings
    or data that stops it (a saved search that no longer parses, a value that cannot be a header)."""
    last = pending.last
    try:
        digest = composer.digest(
            pending.sub, pending.searches, period, last[1] if last else None, set(last[0]) if last else set()
        )
        if not digest.paper_ids and not (pending.sub.send_empty or composer.settings.digest_send_empty):
            return digest, None
        return digest, composer.message(pending.user, pending.sub, period, digest, now)
    except (ValueError, LookupError, TemplateError) as exc:  # QueryError and SubscriptionError are ValueErrors
        raise ComposeError(str(exc)) from exc


def preview(engine: Engine, settings: Settings, user_id: int, day, search: SearchService | None = None) -> str:
    """The message for the user's period that is due on `day` at the delivery hour: the stored one if it
    was already composed, else exactly what would be composed now. Empty string: nothing would be sent."""
    sub = subs.get(engine, user_id)
    if sub is None:
        raise subs.SubscriptionError("no digest subscription for this user")
    now = subs.due_time(sub, day)
    period = subs.period_for(sub, now)
    stored = store.stored_message(engine, user_id, period.key)
    if stored is not None:
        return stored
    chunk = load_chunk(engine, [user_id], now)
    if not chunk:  # composed by another process meanwhile
        return preview(engine, settings, user_id, day, search)
    pending, period = chunk[0]
    _digest, msg = build(Composer(engine, settings, secret_key(settings), search), pending, period, now)
    return msg or ""


VERIFY_EVERY = 600  # seconds: one confirmation mail per user and address in each such slot
VERIFY_PER_HOUR = 5  # and at most this many per user in an hour, whatever the addresses


def queue_verification(engine: Engine, settings: Settings, user_id: int, search: SearchService | None = None) -> bool:
    """A message with a signed link that confirms the subscription's address; False when one went to this
    address in the last ten minutes, or the user has had VERIFY_PER_HOUR already. Both are decided by the
    insert itself (the outbox's unique key; a count inside the same transaction), so parallel requests
    queue one."""
    sub = subs.get(engine, user_id)
    user = subs.user_of(engine, user_id)
    now = utcnow()
    msg = Composer(engine, settings, secret_key(settings), search).verification(user, sub, now)
    address = hashlib.sha1(sub.email.lower().encode()).hexdigest()[:12]
    row = store.new_row(
        user_id,
        f"verify:{int(now.timestamp()) // VERIFY_EVERY}:{address}",
        "verify",
        "pending",
        sub.email,
        msg,
        [],
        None,
    )
    return store.insert_verification(engine, row, VERIFY_PER_HOUR, now)


# -- sending ----------------------------------------------------------------------------------------
def sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def release_stale(engine: Engine, settings: Settings) -> int:
    """Put rows back to pending whose sender died (this host, pid gone) or whose claim is past the lease."""
    host = socket.gethostname()
    expired = utcnow() - timedelta(seconds=settings.digest_lease_seconds)
    stale = []
    for row_id, claimed_by, claimed_at in store.sending(engine):
        owner_host, _, pid = (claimed_by or "").rpartition(":")
        dead_here = owner_host == host and pid.isdigit() and (int(pid) == os.getpid() or not lease.alive(int(pid)))
        if dead_here or claimed_at is None or claimed_at < expired:
            stale.append((row_id, claimed_by))
    for row_id, claimed_by in stale:
        store.release(engine, row_id, claimed_by)
    return len(stale)


class Pacer:
    """At most `per_minute` sends a minute (0: no limit)."""

    def __init__(self, per_minute: int, sleep=time.sleep, clock=time.monotonic):
        self.gap = 60.0 / per_minute if per_minute > 0 else 0.0
        self.sleep, self.clock = sleep, clock
        self.last: float | None = None

    def wait(self) -> None:
        if self.gap and self.last is not None:
            left = self.last + self.gap - self.clock()
            if left > 0:
                self.sleep(left)
        self.last = self.clock()


def send_due(engine: Engine, settings: Settings, mailer: Mailer, pacer: Pacer, report: Report) -> None:
    me = sender_id()
    sender = parseaddr(settings.mail_from)[1]
    while True:
        ids = store.due_ids(engine, BATCH)
        if not ids:
            return
        progressed = False
        for row_id in ids:
            if not store.claim(engine, row_id, me):
                continue  # another sender has it
            progressed = True
            row = store.row(engine, row_id)
            pacer.wait()
            deliver(engine, settings, mailer, sender, row, report)
        if not progressed:
            return


def deliver(engine: Engine, settings: Settings, mailer: Mailer, sender: str, row, report: Report) -> None:
    try:
        mailer.send(sender, row.to_addr, row.message.encode())
    except PermanentError as exc:
        store.finish(engine, row.id, status="failed", last_error=str(exc), attempts=row.attempts + 1)
        report.failed += 1
        if exc.address_refused:
            subs.mark_bounced(engine, row.user_id, str(exc))
            report.bounced += 1
        log.warning("digest %s for user %s failed for good: %s", row.period, row.user_id, exc)
    except TransientError as exc:
        attempts = row.attempts + 1
        if attempts >= settings.digest_max_attempts:
            store.finish(
                engine, row.id, status="failed", last_error=f"gave up after {attempts} tries: {exc}", attempts=attempts
            )
            report.failed += 1
            return
        delay = settings.digest_retry_base_seconds * 2 ** (attempts - 1)
        store.finish(
            engine,
            row.id,
            status="pending",
            last_error=str(exc),
            attempts=attempts,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )
        report.retried += 1
        log.info("digest %s for user %s: %s; retry in %.0f s", row.period, row.user_id, exc, delay)
    else:
        store.finish(engine, row.id, status="sent", sent_at=utcnow(), attempts=row.attempts + 1, last_error=None)
        report.sent += 1


def run(
    engine: Engine,
    settings: Settings,
    search: SearchService | None = None,
    now: datetime | None = None,
    mailer: Mailer | None = None,
    sleep=time.sleep,
) -> Report:
    """Compose everything due at `now` (UTC) and send it; sending starts while composing goes on (a thread
    that mostly waits on the SMTP server), and retries continue within the run while one is close."""
    report = Report()
    composer = Composer(engine, settings, secret_key(settings), search)
    if not settings.smtp_host and mailer is None:
        compose_due(engine, composer, now or utcnow(), report)
        report.pending = store.pending_state(engine)[0]
        report.notes.append("no SMTP host configured (PAPERFEED_SMTP_HOST): composed, not sent")
        return report
    mailer = mailer or Mailer(settings)
    pacer = Pacer(settings.digest_rate_per_minute, sleep)
    release_stale(engine, settings)
    composing = threading.Event()
    composing.set()
    errors: list[BaseException] = []

    def send_while_composing() -> None:
        try:
            while composing.is_set():
                send_due(engine, settings, mailer, pacer, report)
                time.sleep(0.05)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    sender = threading.Thread(target=send_while_composing, name="digest-sender", daemon=True)
    sender.start()
    try:
        compose_due(engine, composer, now or utcnow(), report)
    finally:
        composing.clear()
        sender.join()
    if errors:
        mailer.close()
        raise errors[0]
    deadline = time.monotonic() + settings.digest_run_max_wait
    try:
        while True:
            send_due(engine, settings, mailer, pacer, report)
            n, earliest = store.pending_state(engine)
            report.pending = n
            if not n or earliest is None:
                break
            wait = max((earliest - utcnow()).total_seconds(), 0.0)
            if time.monotonic() + wait > deadline:
                break
            sleep(wait + 0.01)
            release_stale(engine, settings)
    finally:
        mailer.close()
    return report
