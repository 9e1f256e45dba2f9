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

import contextlib
import hashlib
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from jinja2 import TemplateError
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.config import Settings, secret_key
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.compose import Composer
from paperfeed.search.service import SearchService
from paperfeed.store import lease, taste
from paperfeed.store.accounts import User, user_from_row
from paperfeed.store.importer import utcnow
from paperfeed.store.schema import outbox, saved_searches, subscriptions, users

log = logging.getLogger("paperfeed.digest")
BATCH = 200


class TransientError(Exception):
    """Worth trying again later: 4xx, a dropped connection, a timeout."""


class ComposeError(Exception):
    """One user's digest could not be composed; the message says why (shown to that user)."""


class PermanentError(Exception):
    """The server refused for good (5xx)."""

    def __init__(self, message: str, address_refused: bool):
        super().__init__(message)
        self.address_refused = address_refused


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


# -- SMTP -------------------------------------------------------------------------------------------
class Mailer:
    """One SMTP connection, opened on first use and reopened after a failure."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.conn: smtplib.SMTP | None = None

    def _password(self) -> str:
        if self.settings.smtp_password_file:
            return self.settings.smtp_password_file.read_text().strip()
        return self.settings.smtp_password

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            conn = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context)
        else:
            conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                conn.starttls(context=context)
        if s.smtp_username:
            conn.login(s.smtp_username, self._password())
        return conn

    def send(self, sender: str, to: str, data: bytes) -> None:
        try:
            if self.conn is None:
                self.conn = self._open()
            self.conn.sendmail(sender, [to], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if code >= 500:
                raise PermanentError(f"{code} {_text(text)}", address_refused=True) from exc
            raise TransientError(f"{code} {_text(text)}") from exc
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentError(f"{exc.smtp_code} {_text(exc.smtp_error)}", address_refused=False) from exc
            raise TransientError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise TransientError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.conn.quit()
            self.conn = None


def _text(raw) -> str:
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))[:300]


# -- composing --------------------------------------------------------------------------------------
def due_subscriptions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(subscriptions.c.user_id)
                .where(
                    subscriptions.c.active.is_(True),
                    subscriptions.c.verified_at.is_not(None),
                    subscriptions.c.bounced_at.is_(None),
                )
                .order_by(subscriptions.c.user_id)
            ).scalars()
        )


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
    with engine.connect() as conn:
        rows = conn.execute(select(subscriptions).where(subscriptions.c.user_id.in_(user_ids))).mappings().all()
        found = {
            r["user_id"]: subs.Subscription(**{k: r[k] for k in subs.Subscription.__dataclass_fields__}) for r in rows
        }
        # The latest period whose delivery time has passed: a new subscriber's first digest comes at the
        # next run after verifying; a server that was down sends one catch-up digest, not one per day missed.
        periods = {uid: subs.period_for(sub, now) for uid, sub in found.items()}
        keys = {p.key for p in periods.values()}
        query = select(outbox.c.user_id, outbox.c.period).where(
            outbox.c.user_id.in_(user_ids), outbox.c.period.in_(keys)
        )
        done = {(uid, key) for uid, key in conn.execute(query)}
        people = {r.id: user_from_row(r) for r in conn.execute(select(users).where(users.c.id.in_(user_ids)))}
        saved: dict[int, list[dict]] = {}
        for r in conn.execute(
            select(saved_searches).where(saved_searches.c.user_id.in_(user_ids)).order_by(saved_searches.c.id)
        ).mappings():
            saved.setdefault(r["user_id"], []).append(dict(r))
        latest = select(func.max(outbox.c.id)).where(outbox.c.user_id.in_(user_ids), outbox.c.kind == "digest")
        last = {
            r.user_id: (r.paper_ids, r.covered_until)
            for r in conn.execute(
                select(outbox.c.user_id, outbox.c.paper_ids, outbox.c.covered_until).where(
                    outbox.c.id.in_(latest.group_by(outbox.c.user_id))
                )
            )
        }
    return [
        (Pending(found[uid], people[uid], saved.get(uid, []), last.get(uid)), periods[uid])
        for uid in user_ids
        if uid in found and uid in people and (uid, periods[uid].key) not in done
    ]


def compose_due(engine: Engine, composer: Composer, now: datetime, report: Report) -> None:
    """An outbox row for every active, verified subscription whose current period has none yet."""
    ids = due_subscriptions(engine)
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
                rows.append(_row(uid, period.key, "digest", "failed", to, "", *last, why))
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
                _row(
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
        _insert_many(engine, rows)
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
    with engine.connect() as conn:
        stored = conn.execute(
            select(outbox.c.message).where(outbox.c.user_id == user_id, outbox.c.period == period.key)
        ).scalar()
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
    row = _row(
        user_id,
        f"verify:{int(now.timestamp()) // VERIFY_EVERY}:{address}",
        "verify",
        "pending",
        sub.email,
        msg,
        [],
        None,
    )
    recent = select(func.count()).where(
        outbox.c.user_id == user_id, outbox.c.kind == "verify", outbox.c.created_at > now - timedelta(hours=1)
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert(outbox), [row])
            if conn.execute(recent).scalar() > VERIFY_PER_HOUR:
                raise _TooMany
    except (IntegrityError, _TooMany):
        return False
    return True


class _TooMany(Exception):
    """Rolls the insert back."""


def _row(user_id, period, kind, status, to, message, paper_ids, covered, error=None) -> dict:
    # Every row has every key: an insert of many rows takes its columns from the first.
    now = utcnow()
    return {
        "user_id": user_id,
        "period": period,
        "kind": kind,
        "status": status,
        "to_addr": to,
        "message": message,
        "paper_ids": paper_ids,
        "covered_until": covered,
        "attempts": 0,
        "last_error": error,
        "next_attempt_at": now,
        "created_at": now,
    }


def _insert_many(engine: Engine, rows: list[dict]) -> int:
    """Insert in one transaction; if another process composed some of these meanwhile, row by row."""
    if not rows:
        return 0
    try:
        with engine.begin() as conn:
            conn.execute(insert(outbox), rows)
        return len(rows)
    except IntegrityError:
        added = 0
        for row in rows:
            try:
                with engine.begin() as conn:
                    conn.execute(insert(outbox), [row])
                added += 1
            except IntegrityError:
                pass  # another process composed this period first
        return added


# -- sending ----------------------------------------------------------------------------------------
def sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def release_stale(engine: Engine, settings: Settings) -> int:
    """Put rows back to pending whose sender died (this host, pid gone) or whose claim is past the lease."""
    host = socket.gethostname()
    expired = utcnow() - timedelta(seconds=settings.digest_lease_seconds)
    stale = []
    with engine.connect() as conn:
        for row_id, claimed_by, claimed_at in conn.execute(
            select(outbox.c.id, outbox.c.claimed_by, outbox.c.claimed_at).where(outbox.c.status == "sending")
        ):
            owner_host, _, pid = (claimed_by or "").rpartition(":")
            dead_here = owner_host == host and pid.isdigit() and (int(pid) == os.getpid() or not lease.alive(int(pid)))
            if dead_here or claimed_at is None or claimed_at < expired:
                stale.append((row_id, claimed_by))
    for row_id, claimed_by in stale:
        with engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.status == "sending", outbox.c.claimed_by == claimed_by)
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
    return len(stale)


def claim(engine: Engine, row_id: int, me: str) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.status == "pending")
            .values(status="sending", claimed_by=me, claimed_at=utcnow())
        )
    return done.rowcount == 1


def finish(engine: Engine, row_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id).values(claimed_by=None, **values))


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
        with engine.connect() as conn:
            ids = (
                conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= utcnow())
                    .order_by(outbox.c.id)
                    .limit(BATCH)
                )
                .scalars()
                .all()
            )
        if not ids:
            return
        progressed = False
        for row_id in ids:
            if not claim(engine, row_id, me):
                continue  # another sender has it
            progressed = True
            with engine.connect() as conn:
                row = conn.execute(select(outbox).where(outbox.c.id == row_id)).first()
            pacer.wait()
            deliver(engine, settings, mailer, sender, row, report)
        if not progressed:
            return


def deliver(engine: Engine, settings: Settings, mailer: Mailer, sender: str, row, report: Report) -> None:
    try:
        mailer.send(sender, row.to_addr, row.message.encode())
    except PermanentError as exc:
        finish(engine, row.id, status="failed", last_error=str(exc), attempts=row.attempts + 1)
        report.failed += 1
        if exc.address_refused:
            subs.mark_bounced(engine, row.user_id, str(exc))
            report.bounced += 1
        log.warning("digest %s for user %s failed for good: %s", row.period, row.user_id, exc)
    except TransientError as exc:
        attempts = row.attempts + 1
        if attempts >= settings.digest_max_attempts:
            finish(
                engine, row.id, status="failed", last_error=f"gave up after {attempts} tries: {exc}", attempts=attempts
            )
            report.failed += 1
            return
        delay = settings.digest_retry_base_seconds * 2 ** (attempts - 1)
        finish(
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
        finish(engine, row.id, status="sent", sent_at=utcnow(), attempts=row.attempts + 1, last_error=None)
        report.sent += 1


def pending_state(engine: Engine) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        n, earliest = conn.execute(
            select(func.count(), func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
        ).one()
    return n, earliest


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
        report.pending = pending_state(engine)[0]
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
            n, earliest = pending_state(engine)
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
