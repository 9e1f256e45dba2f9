"""The one clock: naive UTC datetimes, as every table stores them (SQLite keeps no time zone)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
