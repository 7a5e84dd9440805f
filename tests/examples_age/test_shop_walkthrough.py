"""The README walk-through (``examples.age_check.walkthrough``) run in-process, with the shop built the way
``uvicorn --factory`` builds it from settings: trust read from the platform, the platform's test clock
(``AGE_SHOP_CLOCK=platform``), stores from settings — only the HTTP client is injected (a TestClient on
the mock instead of a socket). Also: the settings-driven store choices, including Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lifecycle_support import World
from shop_age_support import ORIGIN

from examples.age_check import (
    MemoryOrderStore,
    PlatformClock,
    ShopDependencies,
    ShopSettings,
    SQLiteOrderStore,
    create_app,
)
from examples.age_check.walkthrough import Walkthrough, main
from myna_rp.challenge import MemoryChallengeStore, RedisChallengeStore, SQLiteChallengeStore
from myna_rp.errors import ConfigurationError


def test_shop_walkthrough_runs_end_to_end(world: World, tmp_path: Path) -> None:
    settings = ShopSettings(
        origin=ORIGIN,
        clock="platform",
        challenge_store=f"sqlite:///{tmp_path / 'challenges.sqlite3'}",
        order_store=f"sqlite:///{tmp_path / 'orders.sqlite3'}",
        reader_key_secret="00" * 32,
    )
    app = create_app(settings, dependencies=ShopDependencies(http=world.client))
    shop = app.state.shop
    assert isinstance(shop.clock, PlatformClock)
    assert isinstance(shop.challenges, SQLiteChallengeStore)
    assert isinstance(shop.orders, SQLiteOrderStore)
    lines: list[str] = []
    with TestClient(app, base_url=ORIGIN) as client:
        results = Walkthrough(world.client, client, say=lines.append).run()

    assert results["iphone_web_25"]["http_status"] == 200
    assert results["iphone_web_25"]["evidence"] == "age_over_20"
    assert (results["place"]["http_status"], results["place"]["status"]) == (200, "placed")
    assert results["iphone_app_25"]["over"] is True
    assert (results["iphone_web_19"]["http_status"], results["iphone_web_19"]["code"]) == (
        403,
        "AGE_REQUIREMENT_NOT_MET",
    )
    assert (results["replay"]["http_status"], results["replay"]["code"]) == (409, "CHALLENGE_REPLAYED")
    assert results["android_offer"]["code"] == "ATTRIBUTE_PROOF_UNSUPPORTED"
    assert results["android_declined"]["code"] == "JPKI_FALLBACK_DECLINED"
    assert results["android_consented"]["evidence"] == "jpki_date_of_birth"
    assert any("CHALLENGE_REPLAYED" in line for line in lines)
    decided = [o.age_check for o in shop.orders.orders() if o.age_check is not None]
    assert sorted((record.evidence, record.over) for record in decided) == [
        ("age_over_20", False),
        ("age_over_20", True),
        ("age_over_20", True),
        ("jpki_date_of_birth", True),
    ]


def test_shop_walkthrough_cli_reports_an_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--platform", "http://127.0.0.1:9", "--shop", "http://127.0.0.1:9"]) == 1
    assert "are the mock" in capsys.readouterr().err


def test_shop_factory_refuses_to_start_without_a_platform() -> None:
    """``uvicorn --factory`` with an unreachable platform: a clear configuration error, no half-built app."""
    with pytest.raises(ConfigurationError) as raised:
        create_app(ShopSettings(platform_url="http://127.0.0.1:9", http_timeout_seconds=2))
    assert "trust configuration" in raised.value.message


def test_shop_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    monkeypatch.setenv("AGE_SHOP_ORIGIN", "https://shop.example")
    monkeypatch.setenv("AGE_SHOP_MINIMUM_AGE", "18")
    monkeypatch.setenv("AGE_SHOP_CHALLENGE_TTL_SECONDS", "60")
    settings = ShopSettings()
    assert (settings.origin, settings.minimum_age, settings.challenge_ttl_seconds) == (
        "https://shop.example",
        18,
        60,
    )
    app = create_app(settings, dependencies=ShopDependencies(http=world.client, clock=world.clock))
    assert isinstance(app.state.shop.challenges, MemoryChallengeStore)
    assert isinstance(app.state.shop.orders, MemoryOrderStore)
    with TestClient(app, base_url=ORIGIN) as client:
        assert client.post("/checkouts").json()["minimum_age"] == 18
    for name, value in (
        ("AGE_SHOP_ORIGIN", "shop.example"),
        ("AGE_SHOP_CHALLENGE_STORE", "postgres://x"),
        ("AGE_SHOP_READER_KEY_SECRET", "abcd"),
        ("AGE_SHOP_MINIMUM_AGE", "100"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(ValueError, match=name.removeprefix("AGE_SHOP_").lower()):
                ShopSettings()


def test_shop_redis_challenge_store_from_settings(world: World, make_shop: object) -> None:
    """The fleet configuration (``AGE_SHOP_CHALLENGE_STORE=redis://…``) against the test Redis server."""
    import os

    import redis
    from shop_age_support import AGE_25, approved, dc_api

    url = os.environ.get("MYNA_TEST_REDIS_URL", "").strip()
    if not url:
        if os.environ.get("MYNA_RP_REQUIRE_REDIS") == "1":
            pytest.fail("MYNA_TEST_REDIS_URL is not set; MYNA_RP_REQUIRE_REDIS=1 makes this an error")
        pytest.skip("Redis not available: MYNA_TEST_REDIS_URL is not set (`make test` starts one)")
    app = create_app(
        ShopSettings(origin=ORIGIN, challenge_store=url),
        dependencies=ShopDependencies(http=world.client, clock=world.clock),
    )
    store = app.state.shop.challenges
    assert isinstance(store, RedisChallengeStore)
    phone = world.iphone_usable(world.person(AGE_25))
    from shop_age_support import Shop

    with TestClient(app, base_url=ORIGIN) as client:
        shop = Shop(client, app.state.shop, store, app.state.shop.orders)
        order_id = shop.checkout()
        first = dc_api(shop, order_id, phone)
        approved(first.response, "age_over_20")
        assert client.post(first.url, json=first.body).json()["code"] == "CHALLENGE_REPLAYED"
    from myna_rp.challenge import Challenge

    key = store.redis_key(Challenge.value_from_id(first.body["challenge_id"]))
    connection = redis.Redis.from_url(url)
    try:
        assert connection.exists(key) == 1  # the record lives in Redis (consumed, kept for the grace)
        connection.delete(key)
    finally:
        connection.close()
