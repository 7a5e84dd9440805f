"""Regression tests of the issue-6 review of the age-check shop.

* The JPKI fallback checks revocation afresh for every age check: a certificate revoked after an earlier
  successful check is refused (the default ``FreshOCSPCache``), and an answer reused from a cache the
  shop was given anyway is refused as older than the challenge (``REVOCATION_UNAVAILABLE``).
* The shop keeps no reference to the customer's signing certificate (no path cache).
* A locked / failing SQLite order store is a 503 problem, never a 500.
* The challenge store down is a 503 with ``Retry-After`` on every route that issues or consumes.
* 405 answers carry ``Allow``.
* A SQLite challenge store under a missing folder is created (``AGE_SHOP_CHALLENGE_STORE=sqlite:///var/…``).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from lifecycle_support import World
from shop_age_support import AGE_25, ORIGIN, MakeShop, Shop, approved, assert_problem, jpki_fallback

from examples.age_check import (
    MemoryOrderStore,
    ShopDependencies,
    ShopSettings,
    SQLiteOrderStore,
    build_trust,
    create_app,
    trust_from_platform,
)
from myna_rp.challenge import RedisChallengeStore, SQLiteChallengeStore
from myna_rp.revocation import MemoryRevocationCache


def _app(world: World, **dependencies: Any) -> TestClient:
    values: dict[str, Any] = {
        "clock": world.clock,
        "trust": trust_from_platform(world.client, clock=world.clock),
        "orders": MemoryOrderStore(),
        "http": world.client,
    }
    values.update(dependencies)
    return TestClient(
        create_app(ShopSettings(origin=ORIGIN), dependencies=ShopDependencies(**values)), base_url=ORIGIN
    )


# --------------------------------------------------------------------------------------------- revocation


def test_shop_review_revoked_after_a_first_successful_check(world: World, shop: Shop) -> None:
    person = world.person(AGE_25)
    phone = world.android_registered(person)
    approved(jpki_fallback(shop, shop.checkout(), phone, consent=True).response, "jpki_date_of_birth")
    world.counter.suspend_phone(person.resident_id)  # hotline: phone lost → its certificates revoked/held
    world.advance(minutes=5)  # inside the first OCSP answer's nextUpdate (15 minutes)
    attempt = jpki_fallback(shop, shop.checkout(), phone, consent=True)
    assert attempt.response.status_code == 403, attempt.response.text
    assert attempt.response.json()["code"] == "CERTIFICATE_REVOKED"  # the hotline revokes (keyCompromise)


def test_shop_review_a_reused_ocsp_answer_is_refused(world: World) -> None:
    """A shop built with a cache that keeps OCSP answers (e.g. a shared cache): the second check of the
    same certificate within the answer's lifetime is refused (503), never approved on stale evidence."""
    reusing = build_trust(
        iaca_certificates=[x509.load_der_x509_certificate(world.client.get("/mdoc/iaca.cer").content)],
        jpki_trust=world.trust,
        http=world.client,
        clock=world.clock,
        ocsp_responders={root.subject: "/ocsp" for root in world.roots},
        cache=MemoryRevocationCache(clock=world.clock),  # keeps OCSP answers until nextUpdate
    )
    with _app(world, trust=reusing) as client:
        service = client.app.state.shop  # type: ignore[attr-defined]
        shop = Shop(client, service, service.challenges, service.orders)
        phone = world.android_registered(world.person(AGE_25))
        approved(jpki_fallback(shop, shop.checkout(), phone, consent=True).response, "jpki_date_of_birth")
        world.advance(minutes=3)
        again = jpki_fallback(shop, shop.checkout(), phone, consent=True).response
        assert_problem(again, 503, "REVOCATION_UNAVAILABLE")
        assert again.headers["retry-after"].isdigit()


# --------------------------------------------------------------------------------------------- privacy


def test_shop_review_keeps_no_signing_certificate(world: World, shop: Shop) -> None:
    phone = world.android_registered(world.person(AGE_25))
    approved(jpki_fallback(shop, shop.checkout(), phone, consent=True).response, "jpki_date_of_birth")
    paths = shop.service.trust.jpki._paths  # the verifier's validated-path memo
    assert len(paths._cache) == 0  # nothing kept: the leaf carries name, address, date of birth, gender


# --------------------------------------------------------------------------------------------- stores


def test_shop_review_locked_order_store_is_503(make_shop: MakeShop) -> None:
    shop = make_shop(order_store="sqlite")
    assert isinstance(shop.orders, SQLiteOrderStore)
    order = shop.checkout()
    shop.orders._timeout = 0.2
    holder = sqlite3.connect(shop.orders.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for method, path in (("POST", "/checkouts"), ("GET", f"/checkouts/{order}")):
            answer = shop.http.request(method, path)
            assert_problem(answer, 503, "ORDER_STORE_UNAVAILABLE")
            assert answer.headers["retry-after"].isdigit()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert shop.http.get(f"/checkouts/{order}").status_code == 200


def test_shop_review_corrupt_order_row_is_503(make_shop: MakeShop) -> None:
    shop = make_shop(order_store="sqlite")
    assert isinstance(shop.orders, SQLiteOrderStore)
    order = shop.checkout()
    vandal = sqlite3.connect(shop.orders.path)
    vandal.execute("UPDATE age_check_orders SET placed_at = 'not a time' WHERE order_id = ?", (order,))
    vandal.commit()
    vandal.close()
    assert_problem(shop.http.get(f"/checkouts/{order}"), 503, "ORDER_STORE_UNAVAILABLE")


def test_shop_review_challenge_store_down_is_503(world: World) -> None:
    """Redis unreachable (the shop's own client, from its settings)."""
    settings = ShopSettings(origin=ORIGIN, challenge_store="redis://127.0.0.1:1/0")
    dependencies = ShopDependencies(
        clock=world.clock,
        trust=trust_from_platform(world.client, clock=world.clock),
        orders=MemoryOrderStore(),
        http=world.client,
    )
    with TestClient(create_app(settings, dependencies=dependencies), base_url=ORIGIN) as client:
        assert isinstance(client.app.state.shop.challenges, RedisChallengeStore)  # type: ignore[attr-defined]
        order = client.post("/checkouts").json()["order_id"]
        for path in ("dc-api", "apple", "jpki/challenge"):
            answer = client.post(f"/checkouts/{order}/age-check/{path}")
            body = assert_problem(answer, 503, "CHALLENGE_STORE_UNAVAILABLE")
            assert body["reason"] == "CHALLENGE_UNKNOWN"
            assert answer.headers["retry-after"].isdigit()


def test_shop_review_sqlite_challenge_store_setting_creates_its_folder(world: World, tmp_path: Path) -> None:
    path = tmp_path / "var" / uuid.uuid4().hex / "shop-challenges.sqlite3"
    settings = ShopSettings(origin=ORIGIN, challenge_store=f"sqlite:///{path}")
    dependencies = ShopDependencies(
        clock=world.clock,
        trust=trust_from_platform(world.client, clock=world.clock),
        orders=MemoryOrderStore(),
        http=world.client,
    )
    with TestClient(create_app(settings, dependencies=dependencies), base_url=ORIGIN) as client:
        order = client.post("/checkouts").json()["order_id"]
        assert client.post(f"/checkouts/{order}/age-check/dc-api").status_code == 201
        assert isinstance(client.app.state.shop.challenges, SQLiteChallengeStore)  # type: ignore[attr-defined]
    assert path.is_file()


# --------------------------------------------------------------------------------------------- HTTP


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/checkouts", "POST"),
        ("DELETE", "/checkouts/x", "GET"),
        ("GET", "/checkouts/x/age-check/jpki", "POST"),
    ],
)
def test_shop_review_405_has_allow(shop: Shop, method: str, path: str, allow: str) -> None:
    answer = shop.http.request(method, path)
    assert_problem(answer, 405, "METHOD_NOT_ALLOWED")
    assert answer.headers["allow"] == allow
