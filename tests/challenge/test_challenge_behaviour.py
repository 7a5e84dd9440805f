"""The behaviour every challenge store shares, run on memory, SQLite and Redis alike.

Issue and consume, replay, expiry against the store's clock (with its exact boundary), binding to the
session and the purpose (a mismatched attempt burns the challenge), unknown values, the grace period after
which a record is forgotten, TTL limits, input validation (nothing is touched on bad input), and
configuration errors.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from challenge_support import NOW, MakeStore, ManualClock

from myna_rp.challenge import (
    DEFAULT_GRACE,
    DEFAULT_TTL,
    MAX_FIELD_LENGTH,
    MAX_TTL,
    VALUE_LENGTH,
    Challenge,
    ChallengeInputError,
    ChallengeStore,
    ChallengeStoreUnavailableError,
)
from myna_rp.errors import ChallengeError, ConfigurationError, MalformedInputError, Reason

US = timedelta(microseconds=1)
SESSION = "sess-0123456789abcdef"
OTHER_SESSION = "sess-fedcba9876543210"
PURPOSE = "kyc.sign"


def reason_of(
    store: ChallengeStore, value: bytes, session_id: str = SESSION, purpose: str = PURPOSE
) -> Reason:
    with pytest.raises(ChallengeError) as caught:
        store.consume(value, session_id=session_id, purpose=purpose)
    return caught.value.reason


# ------------------------------------------------------------------------------------------ issue, consume


def test_issue_returns_a_fresh_random_challenge_bound_to_session_and_purpose(
    store: ChallengeStore, clock: ManualClock
) -> None:
    first = store.issue(session_id=SESSION, purpose=PURPOSE)
    second = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert len(first.value) == VALUE_LENGTH
    assert first.value != second.value
    assert (first.session_id, first.purpose) == (SESSION, PURPOSE)
    assert first.issued_at == clock.now()
    assert first.issued_at.tzinfo is not None
    assert first.expires_at == clock.now() + DEFAULT_TTL
    # The id is unpadded base64url of the value and decodes back.
    assert len(first.id) == 43
    assert base64.urlsafe_b64decode(first.id + "=") == first.value
    assert Challenge.value_from_id(first.id) == first.value
    # The value stays out of repr (logs).
    assert first.value.hex() not in repr(first)
    assert repr(first.value) not in repr(first)


def test_consume_once_returns_the_challenge_as_issued(store: ChallengeStore) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    consumed = store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert consumed == issued


def test_consume_accepts_a_bytearray(store: ChallengeStore) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert store.consume(bytearray(issued.value), session_id=SESSION, purpose=PURPOSE) == issued  # type: ignore[arg-type]


def test_second_and_later_consumes_are_replays(store: ChallengeStore) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert reason_of(store, issued.value) is Reason.CHALLENGE_REPLAYED
    assert reason_of(store, issued.value) is Reason.CHALLENGE_REPLAYED


def test_challenges_are_independent(store: ChallengeStore) -> None:
    a = store.issue(session_id=SESSION, purpose=PURPOSE)
    b = store.issue(session_id=SESSION, purpose=PURPOSE)
    c = store.issue(session_id=SESSION, purpose="login.auth")
    store.consume(b.value, session_id=SESSION, purpose=PURPOSE)
    assert store.consume(a.value, session_id=SESSION, purpose=PURPOSE) == a
    assert store.consume(c.value, session_id=SESSION, purpose="login.auth") == c


def test_unknown_value(store: ChallengeStore) -> None:
    store.issue(session_id=SESSION, purpose=PURPOSE)
    assert reason_of(store, bytes(VALUE_LENGTH)) is Reason.CHALLENGE_UNKNOWN
    assert reason_of(store, b"\xff" * VALUE_LENGTH) is Reason.CHALLENGE_UNKNOWN


# --------------------------------------------------------------------------------------------- binding


@pytest.mark.parametrize(
    ("session_id", "purpose"),
    [
        (OTHER_SESSION, PURPOSE),
        (SESSION, "login.auth"),
        (OTHER_SESSION, "age.mdoc"),
        (SESSION + " ", PURPOSE),
    ],
)
def test_mismatch_is_refused_and_burns_the_challenge(
    store: ChallengeStore, session_id: str, purpose: str
) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert reason_of(store, issued.value, session_id, purpose) is Reason.CHALLENGE_MISMATCH
    # Fail closed: the rightful owner cannot use it afterwards either.
    assert reason_of(store, issued.value) is Reason.CHALLENGE_REPLAYED


def test_session_and_purpose_compare_exactly(store: ChallengeStore) -> None:
    issued = store.issue(session_id="Sess", purpose="Kyc.Sign")
    assert reason_of(store, issued.value, "sess", "Kyc.Sign") is Reason.CHALLENGE_MISMATCH
    unicode = store.issue(session_id="セッション-1", purpose="年齢確認")
    assert store.consume(unicode.value, session_id="セッション-1", purpose="年齢確認") == unicode


# --------------------------------------------------------------------------------------------- time


def test_valid_until_the_last_microsecond_before_expiry(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=30))
    clock.set(issued.expires_at - US)
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


def test_expired_at_expires_at_exactly_and_burned(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=30))
    assert issued.expires_at == NOW + timedelta(seconds=30)
    clock.set(issued.expires_at)
    assert reason_of(store, issued.value) is Reason.CHALLENGE_EXPIRED
    assert reason_of(store, issued.value) is Reason.CHALLENGE_REPLAYED


def test_expired_long_after(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    clock.advance(DEFAULT_TTL + DEFAULT_GRACE - US)
    assert reason_of(store, issued.value) is Reason.CHALLENGE_EXPIRED


def test_mismatch_is_reported_before_expiry(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    clock.advance(DEFAULT_TTL)
    assert reason_of(store, issued.value, OTHER_SESSION) is Reason.CHALLENGE_MISMATCH


def test_forgotten_after_the_grace_period(make_store: MakeStore, clock: ManualClock) -> None:
    grace = timedelta(seconds=90)
    store = make_store(grace=grace)
    fresh = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=10))
    used = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=10))
    store.consume(used.value, session_id=SESSION, purpose=PURPOSE)
    clock.set(fresh.expires_at + grace - US)
    assert reason_of(store, used.value) is Reason.CHALLENGE_REPLAYED
    clock.set(fresh.expires_at + grace)
    assert reason_of(store, used.value) is Reason.CHALLENGE_UNKNOWN
    assert reason_of(store, fresh.value) is Reason.CHALLENGE_UNKNOWN
    # Issuing now (which purges lazily on memory and SQLite) keeps them unknown.
    newer = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert reason_of(store, fresh.value) is Reason.CHALLENGE_UNKNOWN
    assert store.consume(newer.value, session_id=SESSION, purpose=PURPOSE) == newer


def test_clock_in_another_time_zone(make_store: MakeStore) -> None:
    jst = timezone(timedelta(hours=9))
    clock = ManualClock(NOW.astimezone(jst))
    store = make_store(clock=clock)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=1))
    assert issued.issued_at == NOW
    assert issued.issued_at.utcoffset() == timedelta(0)
    clock.set((NOW + timedelta(minutes=1)).astimezone(jst))
    assert reason_of(store, issued.value) is Reason.CHALLENGE_EXPIRED


def test_clock_going_back_does_not_revive_or_break(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=5))
    clock.advance(-timedelta(hours=1))  # e.g. another host's clock behind: still usable before expiry
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


# --------------------------------------------------------------------------------------------- TTL


def test_ttl_of_one_microsecond(store: ChallengeStore, clock: ManualClock) -> None:
    quick = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=US)
    assert quick.expires_at - quick.issued_at == US
    assert store.consume(quick.value, session_id=SESSION, purpose=PURPOSE) == quick  # same instant: valid
    late = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=US)
    clock.advance(US)
    assert reason_of(store, late.value) is Reason.CHALLENGE_EXPIRED


def test_ttl_of_max_ttl(store: ChallengeStore, clock: ManualClock) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=MAX_TTL)
    assert issued.expires_at == NOW + MAX_TTL
    clock.set(issued.expires_at - US)
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


def test_default_ttl_of_the_store(make_store: MakeStore) -> None:
    store = make_store(default_ttl=timedelta(seconds=42))
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert issued.expires_at - issued.issued_at == timedelta(seconds=42)


@pytest.mark.parametrize(
    "ttl",
    [timedelta(0), -US, -timedelta(minutes=5), MAX_TTL + US, timedelta(days=365), 300, 300.0, "PT5M"],
)
def test_bad_ttl_is_refused(store: ChallengeStore, ttl: object) -> None:
    with pytest.raises(ChallengeInputError) as caught:
        store.issue(session_id=SESSION, purpose=PURPOSE, ttl=ttl)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.MALFORMED_INPUT
    assert isinstance(caught.value, ChallengeError)
    assert isinstance(caught.value, MalformedInputError)


# --------------------------------------------------------------------------------------------- inputs

BAD_TEXT: list[object] = ["", " ", "\t\n", "x" * (MAX_FIELD_LENGTH + 1), None, 7, b"sess", "\ud800"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=repr)
def test_bad_session_or_purpose_on_issue(store: ChallengeStore, bad: object) -> None:
    with pytest.raises(ChallengeInputError):
        store.issue(session_id=bad, purpose=PURPOSE)  # type: ignore[arg-type]
    with pytest.raises(ChallengeInputError):
        store.issue(session_id=SESSION, purpose=bad)  # type: ignore[arg-type]


def test_longest_allowed_fields(store: ChallengeStore) -> None:
    session, purpose = "s" * MAX_FIELD_LENGTH, "p" * MAX_FIELD_LENGTH
    issued = store.issue(session_id=session, purpose=purpose)
    assert store.consume(issued.value, session_id=session, purpose=purpose) == issued


@pytest.mark.parametrize("bad", BAD_TEXT, ids=repr)
def test_bad_session_or_purpose_on_consume_touches_nothing(store: ChallengeStore, bad: object) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    with pytest.raises(ChallengeInputError):
        store.consume(issued.value, session_id=bad, purpose=PURPOSE)  # type: ignore[arg-type]
    with pytest.raises(ChallengeInputError):
        store.consume(issued.value, session_id=SESSION, purpose=bad)  # type: ignore[arg-type]
    # Not burned: a malformed call never reaches the store.
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * 64, "a" * 32, None, 12345])
def test_bad_value_on_consume(store: ChallengeStore, bad: object) -> None:
    with pytest.raises(ChallengeInputError) as caught:
        store.consume(bad, session_id=SESSION, purpose=PURPOSE)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.MALFORMED_INPUT


def test_a_truncated_or_extended_real_value_is_refused_and_the_real_one_survives(
    store: ChallengeStore,
) -> None:
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    for bad in (issued.value[:-1], issued.value + b"\x00"):
        with pytest.raises(ChallengeInputError):
            store.consume(bad, session_id=SESSION, purpose=PURPOSE)
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "A" * 42,
        "A" * 44,
        "A" * 43 + "=",
        "+" * 43,
        "/" * 43,
        "A" * 42 + "B",  # non-canonical: the last character carries bits outside the 32 bytes
        "A" * 21 + " " + "A" * 21,
        "é" * 43,
        None,
        b"A" * 43,
    ],
    ids=repr,
)
def test_value_from_id_refuses_what_id_never_makes(bad_id: object) -> None:
    with pytest.raises(ChallengeInputError):
        Challenge.value_from_id(bad_id)  # type: ignore[arg-type]


def test_value_from_id_round_trips_extreme_values() -> None:
    for value in (bytes(32), b"\xff" * 32, bytes(range(32))):
        handle = Challenge(value, "s", "p", NOW, NOW).id
        assert Challenge.value_from_id(handle) == value


# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default_ttl": timedelta(0)},
        {"default_ttl": -timedelta(seconds=1)},
        {"default_ttl": MAX_TTL + US},
        {"default_ttl": 300},
        {"grace": timedelta(0)},
        {"grace": MAX_TTL + US},
        {"clock": object()},
    ],
    ids=repr,
)
def test_bad_configuration(make_store: MakeStore, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        make_store(**kwargs)


def test_naive_clock_is_a_configuration_error(make_store: MakeStore) -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2026, 11, 29, 12, 0, 0)  # naive on purpose

    store = make_store(clock=NaiveClock())
    with pytest.raises(ConfigurationError):
        store.issue(session_id=SESSION, purpose=PURPOSE)


def test_default_clock_is_the_system_clock(make_store: MakeStore) -> None:
    store = make_store(clock=None)
    before = datetime.now(UTC)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    after = datetime.now(UTC)
    assert before - timedelta(microseconds=1) <= issued.issued_at <= after
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


# ------------------------------------------------------------------------------------------ never overwrite


def test_a_colliding_value_is_redrawn_never_overwritten(
    store: ChallengeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = b"\x42" * VALUE_LENGTH
    draws = iter([fixed, fixed, b"\x43" * VALUE_LENGTH])
    monkeypatch.setattr("myna_rp.challenge.secrets.token_bytes", lambda n: next(draws))
    first = store.issue(session_id=SESSION, purpose=PURPOSE)
    second = store.issue(session_id=OTHER_SESSION, purpose="login.auth")
    assert first.value == fixed
    assert second.value == b"\x43" * VALUE_LENGTH
    # The first record still belongs to the first session.
    assert store.consume(fixed, session_id=SESSION, purpose=PURPOSE) == first


def test_a_broken_random_source_fails_the_issue(
    store: ChallengeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = b"\x42" * VALUE_LENGTH
    monkeypatch.setattr("myna_rp.challenge.secrets.token_bytes", lambda n: fixed)
    first = store.issue(session_id=SESSION, purpose=PURPOSE)
    with pytest.raises(ChallengeStoreUnavailableError) as caught:
        store.issue(session_id=OTHER_SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN
    assert store.consume(fixed, session_id=SESSION, purpose=PURPOSE) == first


# --------------------------------------------------------------------------------------------- shared data


@pytest.mark.parametrize("backend", ["sqlite", "redis"])  # a memory store is private to its process
def test_workers_sharing_the_backend_see_one_set_of_challenges(make_store: MakeStore) -> None:
    worker_a, worker_b = make_store(), make_store()
    issued = worker_a.issue(session_id=SESSION, purpose=PURPOSE)
    assert worker_b.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued
    assert reason_of(worker_a, issued.value) is Reason.CHALLENGE_REPLAYED
    # Each worker judges expiry with its own clock.
    late_clock = ManualClock(NOW + DEFAULT_TTL)
    worker_late = make_store(clock=late_clock)
    other = worker_a.issue(session_id=SESSION, purpose=PURPOSE)
    assert reason_of(worker_late, other.value) is Reason.CHALLENGE_EXPIRED
    assert reason_of(worker_a, other.value) is Reason.CHALLENGE_REPLAYED


def test_protocol_is_satisfied(store: ChallengeStore) -> None:
    assert isinstance(store, ChallengeStore)
