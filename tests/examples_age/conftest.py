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
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import World
from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, world_fixture
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
from myna_rp.challenge import ChallengeStore, MemoryChallengeStore, RedisChallengeStore, SQLiteChallengeStore

POOL_SIZE = 12
REDIS_URL_VARIABLE = "MYNA_TEST_REDIS_URL"

shop_mock_template = ca_template_fixture("shop-mock-template")
shop_keys = key_pool_fixture(POOL_SIZE)
#: One mock per module; each test enrols its own residents and phones, the clock is reset to NOW.
shop_platform = mock_app_fixture("shop_mock_template", "shop-mock")
world = world_fixture("shop_platform", "shop_keys")


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
