"""Regression tests of the issue-6 review of ``myna_rp.challenge``.

* A corrupt time column (SQLite is dynamically typed: text, a float, an out-of-range integer) raises the
  typed :class:`ChallengeStoreUnavailableError`, never an untyped ``ValueError``/``OverflowError``, and
  the challenge is never accepted; the same for a Redis hash with corrupt time fields.
* ``SQLiteChallengeStore`` creates the missing parent folders of its file (``sqlite:///var/…`` on a fresh
  tree).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from challenge_support import NOW, ManualClock

from myna_rp.challenge import (
    ChallengeStoreUnavailableError,
    RedisChallengeStore,
    SQLiteChallengeStore,
)
from myna_rp.errors import ChallengeError, Reason

SESSION = "session-review"
PURPOSE = "review.purpose"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("expires_us", "abc"),  # text
        ("issued_us", "12.5"),  # text that int() would refuse
        ("expires_us", 1.5),  # a float int() would silently truncate
        ("forget_us", 2**62),  # beyond datetime's range (year 9999)
        ("expires_us", 0),  # out of order: expires before it was issued
        ("session_hash", b"short"),  # not a SHA-256
    ],
)
def test_challenge_review_sqlite_corrupt_record_is_typed(tmp_path: Path, column: str, value: Any) -> None:
    path = tmp_path / "c.sqlite3"
    store = SQLiteChallengeStore(path, clock=ManualClock(NOW))
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    vandal = sqlite3.connect(path)
    vandal.execute(f"UPDATE myna_rp_challenge SET {column} = ?", (value,))
    vandal.commit()
    vandal.close()
    for _ in range(2):  # fail closed every time: never accepted, never an untyped error
        with pytest.raises(ChallengeStoreUnavailableError) as raised:
            store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
        assert raised.value.reason is Reason.CHALLENGE_UNKNOWN
    store.close()


def test_challenge_review_sqlite_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nested" / "challenges.sqlite3"
    assert not path.parent.exists()
    with SQLiteChallengeStore(path, clock=ManualClock(NOW)) as store:
        issued = store.issue(session_id=SESSION, purpose=PURPOSE)
        assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE).value == issued.value
    assert path.is_file()


def test_challenge_review_sqlite_relative_path_is_created_under_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``AGE_SHOP_CHALLENGE_STORE=sqlite:///var/shop-challenges.sqlite3`` gives on a fresh tree."""
    monkeypatch.chdir(tmp_path)
    with SQLiteChallengeStore("var/shop-challenges.sqlite3") as store:
        store.issue(session_id=SESSION, purpose=PURPOSE)
    assert (tmp_path / "var" / "shop-challenges.sqlite3").is_file()


@pytest.mark.parametrize(
    ("field", "value"),
    [("e", "abc"), ("i", "-"), ("f", str(2**62)), ("e", "1.5"), ("s", "zz")],
)
def test_challenge_review_redis_corrupt_record_is_typed(
    redis_client: Any, redis_prefix: str, field: str, value: str
) -> None:
    store = RedisChallengeStore(redis_client, clock=ManualClock(NOW), key_prefix=redis_prefix)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    redis_client.hset(store.redis_key(issued.value), field, value)
    with pytest.raises(ChallengeStoreUnavailableError):
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    # The consume script marked it consumed before the reply was parsed: a retry is a replay, never a pass.
    with pytest.raises(ChallengeError) as again:
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert again.value.reason in (Reason.CHALLENGE_REPLAYED, Reason.CHALLENGE_UNKNOWN)


def test_challenge_review_redis_vandalised_consumed_flag_fails_closed(
    redis_client: Any, redis_prefix: str
) -> None:
    """Only the exact flag "0" is unconsumed: a vandalised "2" reads as consumed, never as a first use."""
    store = RedisChallengeStore(redis_client, clock=ManualClock(NOW), key_prefix=redis_prefix)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    redis_client.hset(store.redis_key(issued.value), "c", "2")
    with pytest.raises(ChallengeError) as raised:
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert raised.value.reason is Reason.CHALLENGE_REPLAYED
