"""The must-show race: 50 concurrent consumers of one challenge → exactly one success, 49 replays.

Run on every backend the way it is deployed, several rounds (a fresh challenge per round, all 50
consumers released together by a barrier each round):

* memory — 50 threads sharing one store;
* SQLite — 50 worker *processes* (``fork``; and ``forkserver``, whose children never saw the parent's
  store), each opening its own connection to one file; plus 50 threads on one store (a connection each);
* Redis — 50 worker processes with a connection each; plus 50 threads sharing one client (its pool gives
  each thread a connection of its own).

A second race mixes rightful and wrong-session consumers: still exactly one attempt wins the record
(``ok`` or ``CHALLENGE_MISMATCH``), every other one is ``CHALLENGE_REPLAYED``; and a race on an expired
challenge yields one ``CHALLENGE_EXPIRED`` and 49 replays.

``MYNA_CHALLENGE_RACE_ROUNDS`` (default 5) sets the number of rounds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

import pytest
from challenge_support import MakeStore, ManualClock, StoreSpec, open_store, race_processes, race_threads

from myna_rp.challenge import DEFAULT_TTL

CONSUMERS = 50
ROUNDS = int(os.environ.get("MYNA_CHALLENGE_RACE_ROUNDS", "5"))
SESSION = "race-session"
PURPOSE = "kyc.sign"
EXACTLY_ONE_WINNER = Counter({"ok": 1, "CHALLENGE_REPLAYED": CONSUMERS - 1})


def issue_values(spec: StoreSpec, rounds: int) -> list[bytes]:
    store, close = open_store(spec)
    try:
        return [store.issue(session_id=SESSION, purpose=PURPOSE).value for _ in range(rounds)]
    finally:
        close()


def assert_one_winner_per_round(outcomes: list[Counter[str]]) -> None:
    for round_index, outcome in enumerate(outcomes):
        assert outcome == EXACTLY_ONE_WINNER, f"round {round_index}: {dict(outcome)}"


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_fifty_threads_one_winner(make_store: MakeStore) -> None:
    store = make_store(clock=None)
    values = [store.issue(session_id=SESSION, purpose=PURPOSE).value for _ in range(ROUNDS)]
    outcomes = race_threads(store, values, sessions=[SESSION] * CONSUMERS, purpose=PURPOSE)
    assert_one_winner_per_round(outcomes)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_fifty_processes_one_winner(spec: StoreSpec) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    values = issue_values(spec, ROUNDS)
    outcomes = race_processes(
        spec, values, sessions=[SESSION] * CONSUMERS, purpose=PURPOSE, start_method="fork"
    )
    assert_one_winner_per_round(outcomes)
    # After the race, every value stays consumed for everybody.
    store, close = open_store(spec)
    try:
        for value in values:
            with pytest.raises(Exception, match="CHALLENGE_REPLAYED"):
                store.consume(value, session_id=SESSION, purpose=PURPOSE)
    finally:
        close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_fifty_fresh_processes_one_winner(spec: StoreSpec) -> None:
    """forkserver: the workers descend from a clean server process, not from this test's state."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no forkserver start method on this platform")
    values = issue_values(spec, 2)
    outcomes = race_processes(
        spec, values, sessions=[SESSION] * CONSUMERS, purpose=PURPOSE, start_method="forkserver"
    )
    assert_one_winner_per_round(outcomes)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_rightful_and_wrong_sessions_racing_still_one_winner(make_store: MakeStore) -> None:
    store = make_store(clock=None)
    sessions = [SESSION if worker % 2 else f"intruder-{worker}" for worker in range(CONSUMERS)]
    values = [store.issue(session_id=SESSION, purpose=PURPOSE).value for _ in range(ROUNDS)]
    for round_index, outcome in enumerate(race_threads(store, values, sessions=sessions, purpose=PURPOSE)):
        winners = outcome["ok"] + outcome["CHALLENGE_MISMATCH"]
        assert winners == 1, f"round {round_index}: {dict(outcome)}"
        assert outcome["CHALLENGE_REPLAYED"] == CONSUMERS - 1, f"round {round_index}: {dict(outcome)}"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_racing_on_an_expired_challenge(spec: StoreSpec) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    # Issued "yesterday" by a worker whose clock is a day behind; the racers use the system clock.
    from datetime import UTC, datetime, timedelta

    past = ManualClock(datetime.now(UTC) - DEFAULT_TTL - timedelta(seconds=1))
    store, close = open_store(spec, clock=past)
    try:
        values = [store.issue(session_id=SESSION, purpose=PURPOSE).value for _ in range(2)]
    finally:
        close()
    outcomes = race_processes(spec, values, sessions=[SESSION] * CONSUMERS, purpose=PURPOSE)
    for round_index, outcome in enumerate(outcomes):
        expected = Counter({"CHALLENGE_EXPIRED": 1, "CHALLENGE_REPLAYED": CONSUMERS - 1})
        assert outcome == expected, f"round {round_index}: {dict(outcome)}"
