"""Fixtures of the age-check shop tests: the mock platform in-process (the lifecycle tests' :class:`World`
harness: real app, TestClient, MockClock, fast PINs, a key pool) and the shop
(:func:`examples.age_check.create_app`) in-process too, its trust configuration read from the mock
(``GET /mdoc/iaca.cer``, ``GET /ca``; OCSP and CRLs through the mock's TestClient), its clock the mock's.

``make_shop(challenge_store=…, order_store=…)`` builds a shop on a chosen backend: ``memory`` (default),
``sqlite`` (files under the test's tmp_path) or ``redis`` (the test Redis server of ``make test``:
``MYNA_TEST_REDIS_URL``; skipped without it, an error when ``MYNA_RP_REQUIRE_REDIS=1``).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import NOW, KeyPool, World
from shop_age_support import ORIGIN, MakeShop, Shop

from examples.age_check import (
    MemoryOrderStore,
    OrderStore,
    ShopDependencies,
    ShopSettings,
    SQLiteOrderStore,
    create_app,
    trust_from_platform,
)
from mock_platform.app import create_app as create_mock_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings
from myna_rp.challenge import ChallengeStore, MemoryChallengeStore, RedisChallengeStore, SQLiteChallengeStore

POOL_SIZE = 12
REDIS_URL_VARIABLE = "MYNA_TEST_REDIS_URL"


@pytest.fixture(scope="session")
def shop_mock_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop-mock-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def shop_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def shop_platform(
    shop_mock_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    """One mock per module; each test enrols its own residents and phones, the clock is reset to NOW."""
    path = tmp_path_factory.mktemp("shop-mock") / "mock.sqlite3"
    shutil.copy(shop_mock_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_mock_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )
    with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as client:
        yield client, clock
    database.dispose()


@pytest.fixture
def world(shop_platform: tuple[TestClient, MockClock], shop_keys: list[PrivateKey]) -> World:
    client, clock = shop_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(shop_keys))


def _redis_unavailable(reason: str) -> NoReturn:
    message = f"Redis not available: {reason} (`make test` starts one with scripts/test-redis.sh)"
    if os.environ.get("MYNA_RP_REQUIRE_REDIS") == "1":
        pytest.fail(message + "; MYNA_RP_REQUIRE_REDIS=1 makes this an error", pytrace=False)
    pytest.skip(message)


def _redis_client() -> Any:
    url = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if not url:
        _redis_unavailable(f"{REDIS_URL_VARIABLE} is not set")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _redis_unavailable(f"cannot connect to {url} ({exc})")
    return client


@pytest.fixture
def make_shop(world: World, tmp_path: Path) -> Iterator[MakeShop]:
    """``make_shop(challenge_store="memory"|"sqlite"|"redis", order_store="memory"|"sqlite", **settings)``."""
    cleanups: list[Callable[[], None]] = []

    def make(challenge_store: str = "memory", order_store: str = "memory", **settings: Any) -> Shop:
        clock = world.clock
        challenges: ChallengeStore
        if challenge_store == "memory":
            challenges = MemoryChallengeStore(clock=clock)
        elif challenge_store == "sqlite":
            sqlite_challenges = SQLiteChallengeStore(
                tmp_path / f"challenges-{uuid.uuid4().hex[:8]}.sqlite3", clock=clock
            )
            cleanups.append(sqlite_challenges.close)
            challenges = sqlite_challenges
        elif challenge_store == "redis":
            client = _redis_client()
            prefix = f"test:{uuid.uuid4().hex[:12]}:shop:"
            challenges = RedisChallengeStore(client, clock=clock, key_prefix=prefix)

            def drop(client: Any = client, prefix: str = prefix) -> None:
                keys = list(client.scan_iter(match=prefix + "*", count=500))
                if keys:
                    client.delete(*keys)
                client.close()

            cleanups.append(drop)
        else:
            raise ValueError(challenge_store)
        orders: OrderStore = (
            MemoryOrderStore()
            if order_store == "memory"
            else SQLiteOrderStore(tmp_path / f"orders-{uuid.uuid4().hex[:8]}.sqlite3")
        )
        dependencies = ShopDependencies(
            clock=clock,
            trust=trust_from_platform(world.client, clock=clock),
            challenges=challenges,
            orders=orders,
            http=world.client,
        )
        app = create_app(ShopSettings(origin=ORIGIN, **settings), dependencies=dependencies)
        client = TestClient(app, base_url=ORIGIN)
        client.__enter__()
        cleanups.append(lambda: client.__exit__(None, None, None))
        return Shop(client, app.state.shop, challenges, orders)

    yield make
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.fixture
def shop(make_shop: MakeShop) -> Shop:
    """The shop on the default backends (in-memory challenges and orders)."""
    return make_shop()
