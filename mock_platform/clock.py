"""Time as an input for the mock platform.

Every component that needs "now" (certificate issuance, CRL schedule, OCSP thisUpdate/producedAt) reads
it from an injected :class:`Clock` on each call; nothing reads the system time directly.

Only timezone-aware datetimes are accepted or returned: a naive datetime raises :class:`ValueError`.
Returned instants are normalised to UTC; use :data:`JST` to convert for display or for the J-LIS
day boundaries (certificate validity runs 00:00:00–23:59:59 JST, the CRL is issued daily in JST).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol, runtime_checkable

#: Japan Standard Time (UTC+9, no daylight saving time since 1951).
JST = timezone(timedelta(hours=9), "JST")


@runtime_checkable
class Clock(Protocol):
    """Source of the current time. ``now()`` returns an aware :class:`datetime` (UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MockClock:
    """A clock that only moves when told to (tests, demos, the ``/admin/clock`` endpoints).

    Thread-safe: FastAPI runs synchronous endpoints on a thread pool, so reads and writes take a lock.

    Args:
        start: the initial instant (aware; stored in UTC).

    Raises:
        ValueError: ``start`` (or any later ``set``) is naive.
    """

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._now = _in_range(require_aware(start).astimezone(UTC))

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (forwards or backwards) and return it in UTC."""
        try:
            value = _in_range(require_aware(instant).astimezone(UTC))
        except OverflowError as exc:
            raise ValueError("instant is outside the range a datetime can hold") from exc
        with self._lock:
            self._now = value
        return value

    def advance(self, delta: timedelta) -> datetime:
        """Move forwards by ``delta`` (a negative delta moves backwards) and return the new instant."""
        with self._lock:
            try:
                moved = self._now + delta
            except OverflowError as exc:
                raise ValueError("the clock would leave the supported range") from exc
            self._now = _in_range(moved)
            return self._now

    def __repr__(self) -> str:
        return f"MockClock({self.now().isoformat()})"


# The mock's supported time range: wide enough for any certificate scenario (J-LIS CA generations span
# 2015-2033), narrow enough that JST conversions, +10 year validities and CRL schedules never overflow.
MIN_MOCK_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MOCK_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not MIN_MOCK_TIME <= value <= MAX_MOCK_TIME:
        raise ValueError(
            f"mock time must lie between {MIN_MOCK_TIME.date()} and {MAX_MOCK_TIME.date()} (UTC)"
        )
    return value


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` unchanged if it is timezone-aware; raise :class:`ValueError` otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive {what}: mock_platform only accepts timezone-aware datetimes")
    return value


def jst_date(instant: datetime) -> date:
    """The calendar date in Japan at ``instant`` (aware)."""
    return require_aware(instant).astimezone(JST).date()


def start_of_day_jst(day: date) -> datetime:
    """00:00:00 JST of ``day``, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0, 0), tzinfo=JST).astimezone(UTC)


def end_of_day_jst(day: date) -> datetime:
    """23:59:59 JST of ``day`` (whole seconds: X.509 times carry no fractions), as aware UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST).astimezone(UTC)


def whole_seconds(instant: datetime) -> datetime:
    """``instant`` without microseconds (X.509 UTCTime/GeneralizedTime in DER carry whole seconds)."""
    return require_aware(instant).replace(microsecond=0)
