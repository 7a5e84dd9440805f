"""Time as an input.

Every check that depends on "now" reads it from a :class:`Clock` per call. Only timezone-aware
datetimes are accepted or returned (naive datetimes raise :class:`ValueError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Source of the current time. ``now()`` returns an aware :class:`datetime`."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at ``instant`` (tests, replaying a verification at a past time)."""

    instant: datetime

    def __post_init__(self) -> None:
        require_aware(self.instant)

    def now(self) -> datetime:
        return self.instant


def require_aware(value: datetime) -> datetime:
    """Return ``value`` unchanged if it is timezone-aware; raise :class:`ValueError` otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: myna_rp only accepts timezone-aware datetimes")
    return value
