"""MockClock / SystemClock / JST helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from mock_platform.clock import (
    JST,
    Clock,
    MockClock,
    SystemClock,
    end_of_day_jst,
    jst_date,
    start_of_day_jst,
    whole_seconds,
)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert isinstance(SystemClock(), Clock)


def test_mock_clock_set_and_advance_normalise_to_utc() -> None:
    clock = MockClock(datetime(2026, 1, 1, 9, 0, tzinfo=JST))
    assert clock.now() == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.advance(timedelta(hours=1)) == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert clock.set(datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=-5)))) == datetime(
        2025, 6, 1, 5, 0, tzinfo=UTC
    )
    assert isinstance(clock, Clock)


def test_mock_clock_rejects_naive() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        MockClock(naive)
    clock = MockClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        clock.set(naive)


def test_jst_day_boundaries() -> None:
    # 2026-11-28 15:00Z is 2026-11-29 00:00 JST
    assert jst_date(datetime(2026, 11, 28, 15, 0, tzinfo=UTC)) == date(2026, 11, 29)
    assert jst_date(datetime(2026, 11, 28, 14, 59, 59, tzinfo=UTC)) == date(2026, 11, 28)
    assert start_of_day_jst(date(2026, 11, 29)) == datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert end_of_day_jst(date(2026, 11, 29)) == datetime(2026, 11, 29, 14, 59, 59, tzinfo=UTC)
    assert whole_seconds(datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=UTC)).microsecond == 0
