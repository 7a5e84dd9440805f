"""The shop on each challenge backend (memory, SQLite, Redis — the test Redis server of ``make test``) and
each order store (memory, SQLite): the same flows, replays refused, and races — many concurrent posts of
one genuine answer give exactly one decision."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lifecycle_support import World
from shop_age_support import (
    AGE_25,
    MakeShop,
    answer_for,
    approved,
    assert_problem,
    jpki_fallback,
    present,
    request_for,
    response_url,
)

from examples.age_check import (
    AgeCheckRecord,
    CheckoutAlreadyDecidedError,
    MemoryOrderStore,
    OrderStore,
    SQLiteOrderStore,
    UnknownCheckoutError,
)
from examples.age_check.errors import AgeCheckRequiredError

BACKENDS = ("memory", "sqlite", "redis")


@pytest.mark.parametrize("backend", BACKENDS)
def test_shop_flows_on_each_challenge_backend(world: World, make_shop: MakeShop, backend: str) -> None:
    shop = make_shop(challenge_store=backend, order_store="sqlite" if backend != "memory" else "memory")
    iphone = world.iphone_usable(world.person(AGE_25))
    android = world.android_registered(world.person(AGE_25))

    for channel in ("dc_api", "apple"):
        first = present(shop, shop.checkout(), iphone, channel)
        approved(first.response, "age_over_20")
        assert_problem(shop.http.post(first.url, json=first.body), 409, "CHALLENGE_REPLAYED")
    order_a, order_b = shop.checkout(), shop.checkout()
    stolen = answer_for(iphone, "dc_api", request_for(shop, order_a, "dc_api"))
    assert_problem(shop.http.post(response_url(order_b, "dc_api"), json=stolen), 403, "CHALLENGE_MISMATCH")
    jpki = jpki_fallback(shop, shop.checkout(), android, consent=True)
    approved(jpki.response, "jpki_date_of_birth")
    assert_problem(shop.http.post(jpki.url, json=jpki.body), 409, "CHALLENGE_REPLAYED")


@pytest.mark.parametrize("backend", BACKENDS)
def test_shop_race_one_answer_posted_many_times_decides_once(
    world: World, make_shop: MakeShop, backend: str
) -> None:
    """12 concurrent posts of one genuine answer: exactly one 200, every other a 409 CHALLENGE_REPLAYED."""
    shop = make_shop(challenge_store=backend, order_store="sqlite")
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    body = answer_for(phone, "dc_api", request_for(shop, order_id, "dc_api"))
    url = response_url(order_id, "dc_api")
    start = threading.Barrier(12)

    def post(_: int) -> tuple[int, str]:
        start.wait()
        response = shop.http.post(url, json=body)
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(post, range(12)))

    assert sorted(results).count((200, "")) == 1, results
    assert results.count((409, "CHALLENGE_REPLAYED")) == 11, results
    record = shop.orders.get(order_id).age_check
    assert record is not None
    assert (record.over, record.evidence) == (True, "age_over_20")


def _stores(tmp_path: Path) -> list[OrderStore]:
    return [MemoryOrderStore(), SQLiteOrderStore(tmp_path / "orders.sqlite3")]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_shop_order_store_decides_once_under_concurrency(tmp_path: Path, kind: str) -> None:
    store = MemoryOrderStore() if kind == "memory" else SQLiteOrderStore(tmp_path / "orders.sqlite3")
    store.open("order-1")
    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    start = threading.Barrier(16)

    def decide(i: int) -> str:
        start.wait()
        try:
            store.record_age_check(AgeCheckRecord("order-1", i % 2 == 0, "age_over_20", now))
        except CheckoutAlreadyDecidedError:
            return "already"
        return "won"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(decide, range(16)))
    assert outcomes.count("won") == 1
    assert outcomes.count("already") == 15


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_shop_order_store_rules(tmp_path: Path, kind: str) -> None:
    store = MemoryOrderStore() if kind == "memory" else SQLiteOrderStore(tmp_path / "orders.sqlite3")
    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    store.open("a")
    store.open("b")
    with pytest.raises(ValueError, match="already used"):
        store.open("a")
    with pytest.raises(UnknownCheckoutError):
        store.get("zzz")
    with pytest.raises(UnknownCheckoutError):
        store.record_age_check(AgeCheckRecord("zzz", True, "age_over_20", now))
    with pytest.raises(AgeCheckRequiredError):
        store.place("a", now)  # undecided
    store.record_age_check(AgeCheckRecord("a", True, "jpki_date_of_birth", now))
    store.record_age_check(AgeCheckRecord("b", False, "birth_date", now))
    with pytest.raises(AgeCheckRequiredError):
        store.place("b", now)  # refused
    placed = store.place("a", now)
    assert placed.placed_at == now
    assert store.place("a", datetime(2026, 12, 1, tzinfo=UTC)).placed_at == now  # idempotent
    assert [o.status.value for o in store.orders()] == ["placed", "refused"]
    for bad in ("name", "date_of_birth", "age_over_1", "age_over_ab"):
        with pytest.raises(ValueError, match="evidence"):
            AgeCheckRecord("a", True, bad, now)
    with pytest.raises(ValueError, match="naive"):
        AgeCheckRecord("a", True, "age_over_20", datetime(2026, 11, 29))


def test_shop_sqlite_order_store_is_shared_between_instances(tmp_path: Path) -> None:
    """Two store objects on one file (two worker processes, say) see the same orders and the one decision."""
    path = tmp_path / "orders.sqlite3"
    first, second = SQLiteOrderStore(path), SQLiteOrderStore(path)
    first.open("o")
    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    second.record_age_check(AgeCheckRecord("o", True, "age_over_20", now))
    with pytest.raises(CheckoutAlreadyDecidedError):
        first.record_age_check(AgeCheckRecord("o", False, "age_over_20", now))
    assert first.get("o").age_check == AgeCheckRecord("o", True, "age_over_20", now)
