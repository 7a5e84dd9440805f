"""Stateful property test: every backend behaves like a ten-line model of a single-use challenge.

Hypothesis drives random sequences of issue / consume (right or wrong session and purpose, unknown
values) / clock moves (including jumps to one microsecond before, at and after each expiry and forget
instant) / purge against the store and against :class:`Model`; every consume must give the model's
outcome. Run on memory, SQLite and (when the test server is up) Redis.

The clock only moves forward here: a purge is irreversible, so with a clock that went back a purged record
would read UNKNOWN where the model still remembers it (that case is covered by
``test_clock_going_back_does_not_revive_or_break``).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from challenge_support import NOW, ManualClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from myna_rp.challenge import (
    VALUE_LENGTH,
    ChallengeStore,
    MemoryChallengeStore,
    RedisChallengeStore,
    SQLiteChallengeStore,
)
from myna_rp.errors import ChallengeError

GRACE = timedelta(minutes=2)
US = timedelta(microseconds=1)
SESSIONS = ("session-a", "session-b")
PURPOSES = ("kyc.sign", "login.auth")


@dataclass
class Entry:
    session_id: str
    purpose: str
    expires_at: Any
    forget_at: Any
    consumed: bool = False


class Model:
    """What a challenge store must do, with nothing else in it."""

    def __init__(self) -> None:
        self.entries: dict[bytes, Entry] = {}

    def consume(self, value: bytes, session_id: str, purpose: str, now: Any) -> str:
        entry = self.entries.get(value)
        if entry is None or now >= entry.forget_at:
            return "CHALLENGE_UNKNOWN"
        if entry.consumed:
            return "CHALLENGE_REPLAYED"
        entry.consumed = True
        if (session_id, purpose) != (entry.session_id, entry.purpose):
            return "CHALLENGE_MISMATCH"
        if now >= entry.expires_at:
            return "CHALLENGE_EXPIRED"
        return "ok"


def machine_for(open_backend: Callable[[ManualClock], tuple[ChallengeStore, Callable[[], None]]]) -> type:
    class ChallengeMachine(RuleBasedStateMachine):
        values = Bundle("values")

        def __init__(self) -> None:
            super().__init__()
            self.clock = ManualClock(NOW)
            self.store, self.close = open_backend(self.clock)
            self.model = Model()

        def teardown(self) -> None:
            self.close()

        @initialize(target=values)
        def first_issue(self) -> bytes:
            return self.issue_one(SESSIONS[0], PURPOSES[0], None)

        def issue_one(self, session_id: str, purpose: str, ttl: timedelta | None) -> bytes:
            challenge = self.store.issue(session_id=session_id, purpose=purpose, ttl=ttl)
            actual_ttl = ttl if ttl is not None else timedelta(minutes=5)
            assert challenge.issued_at == self.clock.now()
            assert challenge.expires_at == self.clock.now() + actual_ttl
            assert challenge.value not in self.model.entries
            self.model.entries[challenge.value] = Entry(
                session_id, purpose, challenge.expires_at, challenge.expires_at + GRACE
            )
            return challenge.value

        @rule(
            target=values,
            session_id=st.sampled_from(SESSIONS),
            purpose=st.sampled_from(PURPOSES),
            ttl=st.one_of(
                st.none(),
                st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
                st.integers(1, 5).map(lambda us: timedelta(microseconds=us)),
            ),
        )
        def issue(self, session_id: str, purpose: str, ttl: timedelta | None) -> bytes:
            return self.issue_one(session_id, purpose, ttl)

        @rule(value=values, session_id=st.sampled_from(SESSIONS), purpose=st.sampled_from(PURPOSES))
        def consume(self, value: bytes, session_id: str, purpose: str) -> None:
            self.check_consume(value, session_id, purpose)

        @rule(value=values)
        def consume_rightfully(self, value: bytes) -> None:
            entry = self.model.entries[value]
            self.check_consume(value, entry.session_id, entry.purpose)

        @rule(value=st.binary(min_size=VALUE_LENGTH, max_size=VALUE_LENGTH))
        def consume_unknown(self, value: bytes) -> None:
            self.check_consume(value, SESSIONS[0], PURPOSES[0])

        def check_consume(self, value: bytes, session_id: str, purpose: str) -> None:
            expected = self.model.consume(value, session_id, purpose, self.clock.now())
            try:
                result = self.store.consume(value, session_id=session_id, purpose=purpose)
                outcome = "ok"
                assert result.value == value
                assert (result.session_id, result.purpose) == (session_id, purpose)
            except ChallengeError as exc:
                outcome = exc.reason.value
            assert outcome == expected, f"now={self.clock.now().isoformat()}"

        @rule(seconds=st.integers(0, 900))
        def wait(self, seconds: int) -> None:
            self.clock.advance(timedelta(seconds=seconds))

        @rule(
            value=values,
            instant=st.sampled_from(["expires_at", "forget_at"]),
            offset=st.sampled_from([-US, timedelta(0), US]),
        )
        def jump_to_boundary(self, value: bytes, instant: str, offset: timedelta) -> None:
            target = getattr(self.model.entries[value], instant) + offset
            if target > self.clock.now():  # forward only
                self.clock.set(target)

        @rule()
        def purge(self) -> None:
            purge = getattr(self.store, "purge", None)
            if purge is not None:
                purge()

        @invariant()
        def clock_is_aware(self) -> None:
            assert self.clock.now().tzinfo is not None

    return ChallengeMachine


SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_memory_store_follows_the_model() -> None:
    def open_backend(clock: ManualClock) -> tuple[ChallengeStore, Callable[[], None]]:
        return MemoryChallengeStore(clock=clock, grace=GRACE), lambda: None

    run_state_machine_as_test(machine_for(open_backend), settings=SETTINGS)


def test_sqlite_store_follows_the_model() -> None:
    def open_backend(clock: ManualClock) -> tuple[ChallengeStore, Callable[[], None]]:
        folder = Path(tempfile.mkdtemp(prefix="myna-challenge-sm-"))
        store = SQLiteChallengeStore(folder / "challenges.sqlite3", clock=clock, grace=GRACE)
        # A second handle on the same file (another worker) does half of the work.
        other = SQLiteChallengeStore(folder / "challenges.sqlite3", clock=clock, grace=GRACE)

        class TwoWorkers:
            def __init__(self) -> None:
                self.turn = 0

            def _next(self) -> SQLiteChallengeStore:
                self.turn += 1
                return store if self.turn % 2 else other

            def issue(self, **kwargs: Any) -> Any:
                return self._next().issue(**kwargs)

            def consume(self, value: bytes, **kwargs: Any) -> Any:
                return self._next().consume(value, **kwargs)

            def purge(self) -> int:
                return self._next().purge()

        def close() -> None:
            store.close()
            other.close()
            shutil.rmtree(folder, ignore_errors=True)

        return TwoWorkers(), close

    run_state_machine_as_test(machine_for(open_backend), settings=SETTINGS)


def test_redis_store_follows_the_model(redis_url: str) -> None:
    import redis

    def open_backend(clock: ManualClock) -> tuple[ChallengeStore, Callable[[], None]]:
        client = redis.Redis.from_url(redis_url)
        prefix = f"test:{uuid.uuid4().hex[:12]}:sm:"
        store = RedisChallengeStore(client, clock=clock, grace=GRACE, key_prefix=prefix)

        def close() -> None:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()

        return store, close

    run_state_machine_as_test(machine_for(open_backend), settings=SETTINGS)


@pytest.mark.parametrize("outcome", ["ok", "CHALLENGE_MISMATCH"])
def test_the_model_itself(outcome: str) -> None:
    """The model encodes the documented order: unknown/forgotten, replayed, mismatch, expired, ok."""
    model = Model()
    value = b"\x01" * VALUE_LENGTH
    model.entries[value] = Entry("s", "p", NOW + timedelta(minutes=5), NOW + timedelta(minutes=7))
    session = "s" if outcome == "ok" else "t"
    assert model.consume(value, session, "p", NOW) == outcome
    assert model.consume(value, "s", "p", NOW) == "CHALLENGE_REPLAYED"
    assert model.consume(value, "s", "p", NOW + timedelta(minutes=7)) == "CHALLENGE_UNKNOWN"
