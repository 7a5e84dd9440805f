"""Harness of the challenge-store tests (a top-level module: this folder has no ``__init__.py``).

* :class:`ManualClock` — a thread-safe clock that only moves when told to.
* :func:`open_store` — builds a store from a picklable :data:`StoreSpec`, so a worker process (fork or
  forkserver) opens its *own* SQLite connection or Redis connection, as a separate worker would.
* :func:`race_processes` / :func:`race_threads` — N consumers of one challenge released together by a
  barrier, several rounds (one fresh challenge per round); each returns, per round, the outcome of every
  consumer: ``"ok"``, a :class:`~myna_rp.errors.Reason` value, or ``"error:…"`` for anything unexpected.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from myna_rp.challenge import (
    ChallengeStore,
    MemoryChallengeStore,
    RedisChallengeStore,
    SQLiteChallengeStore,
)
from myna_rp.clock import Clock
from myna_rp.errors import ChallengeError

REDIS_URL_VARIABLE = "MYNA_TEST_REDIS_URL"
REQUIRE_REDIS_VARIABLE = "MYNA_RP_REQUIRE_REDIS"

#: ("memory",) | ("sqlite", path) | ("redis", url, key_prefix)
StoreSpec = tuple[str, ...]
#: The ``make_store`` fixture: keyword arguments of the store's constructor → a store.
MakeStore = Callable[..., ChallengeStore]

#: 2026-11-29 12:00 JST, as elsewhere in the suite.
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)

#: How long a worker waits at the barrier before the round is declared broken (a hang, not a loss).
BARRIER_SECONDS = 120.0


def redis_unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``; fail it instead under ``MYNA_RP_REQUIRE_REDIS=1`` (CI)."""
    import pytest

    message = f"Redis not available: {reason} (`make test` starts one with scripts/test-redis.sh)"
    if os.environ.get(REQUIRE_REDIS_VARIABLE) == "1":
        pytest.fail(message + f"; {REQUIRE_REDIS_VARIABLE}=1 makes this an error", pytrace=False)
    pytest.skip(message)


class ManualClock:
    """A clock that moves only on :meth:`advance` / :meth:`set`. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("naive start")
        self._lock = threading.Lock()
        self._now = start

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant


def open_store(spec: StoreSpec, *, clock: Clock | None = None) -> tuple[ChallengeStore, Callable[[], None]]:
    """A store for ``spec`` and the function that releases its connections."""
    kind = spec[0]
    if kind == "memory":
        return MemoryChallengeStore(clock=clock), lambda: None
    if kind == "sqlite":
        sqlite_store = SQLiteChallengeStore(spec[1], clock=clock)
        return sqlite_store, sqlite_store.close
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(spec[1], socket_timeout=30, socket_connect_timeout=10)
        client.ping()  # connect now, not inside the race
        return RedisChallengeStore(client, clock=clock, key_prefix=spec[2]), client.close
    raise ValueError(f"unknown store kind {kind!r}")


def attempt(store: ChallengeStore, value: bytes, session_id: str, purpose: str) -> str:
    """One consume; its outcome as a string (never raises)."""
    try:
        store.consume(value, session_id=session_id, purpose=purpose)
    except ChallengeError as exc:
        return exc.reason.value
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        return f"error:{type(exc).__name__}:{exc}"
    return "ok"


def _race_process_main(
    spec: StoreSpec,
    values: Sequence[bytes],
    sessions: Sequence[str],
    purpose: str,
    barrier: Any,
    results: Any,
    worker: int,
) -> None:
    """One consumer process: its own store/connection, then one consume per round at the barrier."""
    try:
        store, close = open_store(spec)
    except Exception:  # noqa: BLE001
        results.put((worker, -1, "error:open:" + traceback.format_exc(limit=3)))
        barrier.abort()
        return
    try:
        for round_index, value in enumerate(values):
            try:
                barrier.wait(BARRIER_SECONDS)
            except threading.BrokenBarrierError:
                results.put((worker, round_index, "error:barrier broken"))
                return
            results.put((worker, round_index, attempt(store, value, sessions[worker], purpose)))
    finally:
        close()


def race_processes(
    spec: StoreSpec,
    values: Sequence[bytes],
    *,
    sessions: Sequence[str],
    purpose: str,
    start_method: str = "fork",
) -> list[Counter[str]]:
    """``len(sessions)`` worker processes race on ``values[r]`` in round ``r``; outcomes per round."""
    context: Any = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        # Import the SDK once in the server, not in each of the 50 children (takes effect when the
        # forkserver is not running yet).
        context.set_forkserver_preload(["challenge_support", "myna_rp.challenge", "redis"])
    workers = len(sessions)
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(
            target=_race_process_main,
            args=(spec, list(values), list(sessions), purpose, barrier, results, worker),
            daemon=True,
        )
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes: list[Counter[str]] = [Counter() for _ in values]
    try:
        deadline = time.monotonic() + BARRIER_SECONDS + 60 * len(values)
        expected = workers * len(values)
        received = 0
        while received < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"race timed out after {received}/{expected} outcomes: {outcomes}")
            worker, round_index, outcome = results.get(timeout=remaining)
            if round_index < 0:
                raise AssertionError(f"worker {worker} could not open the store: {outcome}")
            if outcome.startswith("error:barrier"):
                raise AssertionError(f"barrier broken in round {round_index}: {outcomes}")
            outcomes[round_index][outcome] += 1
            received += 1
        for process in processes:
            process.join(30)
            assert process.exitcode == 0, f"worker pid {process.pid} exited with {process.exitcode}"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
        results.close()
    return outcomes


def race_threads(
    store: ChallengeStore,
    values: Sequence[bytes],
    *,
    sessions: Sequence[str],
    purpose: str,
) -> list[Counter[str]]:
    """``len(sessions)`` threads race on one shared ``store``, one value per round; outcomes per round."""
    workers = len(sessions)
    barrier = threading.Barrier(workers)
    outcomes: list[Counter[str]] = []

    def consumer(worker: int, value: bytes) -> str:
        barrier.wait(BARRIER_SECONDS)
        return attempt(store, value, sessions[worker], purpose)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for value in values:
            futures = [pool.submit(consumer, worker, value) for worker in range(workers)]
            outcomes.append(Counter(future.result(timeout=BARRIER_SECONDS + 30) for future in futures))
    return outcomes


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its parent or PID 1) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
