"""Fixtures of the challenge-store tests: the test Redis server and one store factory per backend.

``redis_url`` follows the PostgreSQL pattern of ``tests/conftest.py``: ``make test`` (through
``scripts/with-test-redis.sh``) starts a throw-away ``redis-server`` on 127.0.0.1 and exports
``MYNA_TEST_REDIS_URL``; without it the Redis tests skip with the reason, and fail instead when
``MYNA_RP_REQUIRE_REDIS=1`` (CI, ``.ci/run``).

``backend`` parametrises a test over ``memory``, ``sqlite`` and ``redis``; ``make_store`` then builds a
store of that backend (any number of them share one SQLite file / one Redis key prefix, as separate
workers would), and ``spec`` is the picklable description a worker process opens on its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from challenge_support import NOW, REDIS_URL_VARIABLE, MakeStore, ManualClock, StoreSpec, redis_unavailable

from myna_rp.challenge import ChallengeStore, MemoryChallengeStore, RedisChallengeStore, SQLiteChallengeStore

BACKENDS = ("memory", "sqlite", "redis")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis server (``MYNA_TEST_REDIS_URL``, set by ``make test``).

    Skips with a visible reason when the variable is unset, the client is missing or the server does not
    answer PING; fails instead when ``MYNA_RP_REQUIRE_REDIS=1``. Tests share the server and keep apart
    by key prefix (:func:`redis_prefix`).
    """
    url = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if not url:
        redis_unavailable(f"{REDIS_URL_VARIABLE} is not set")
    try:
        import redis
    except ImportError as exc:
        redis_unavailable(f"the redis client is not installed ({exc})")
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        if not client.ping():
            redis_unavailable(f"{url} did not answer PING")
    except redis.RedisError as exc:
        redis_unavailable(f"cannot connect to {url} ({exc})")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    import redis

    prefix = f"test:{uuid.uuid4().hex[:12]}:challenge:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def spec(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """The backend as a picklable description (one SQLite file / one Redis key prefix per test)."""
    if backend == "memory":
        return ("memory",)
    if backend == "sqlite":
        return ("sqlite", str(tmp_path / "challenges.sqlite3"))
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return ("redis", url, prefix)


@pytest.fixture
def make_store(spec: StoreSpec, clock: ManualClock) -> Iterator[MakeStore]:
    """``make_store(**kwargs)`` → a store on this test's backend (default clock: the ``clock`` fixture).

    For ``memory`` every call gives an independent store; for ``sqlite`` and ``redis`` every call gives a
    new handle (own connections) on the same shared data.
    """
    closers: list[Callable[[], None]] = []

    def make(**kwargs: Any) -> ChallengeStore:
        kwargs.setdefault("clock", clock)
        if spec[0] == "memory":
            return MemoryChallengeStore(**kwargs)
        if spec[0] == "sqlite":
            sqlite_store = SQLiteChallengeStore(spec[1], **kwargs)
            closers.append(sqlite_store.close)
            return sqlite_store
        import redis

        client = redis.Redis.from_url(spec[1], socket_connect_timeout=5, socket_timeout=10)
        closers.append(client.close)
        return RedisChallengeStore(client, key_prefix=spec[2], **kwargs)

    yield make
    for close in closers:
        close()


@pytest.fixture
def store(make_store: MakeStore) -> ChallengeStore:
    return make_store()
