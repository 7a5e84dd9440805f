"""Nothing personal is kept: after every kind of checkout, the order store holds the order id, yes/no, the
evidence type and times — nothing else — on the in-memory and the SQLite store; the SQLite files (orders
and challenges) contain no personal attribute, certificate or response bytes; the shop's log lines name
order ids, channels, answers and reasons only."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lifecycle_support import World
from shop_age_support import (
    AGE_19,
    AGE_25,
    PERSONAL_STRINGS,
    MakeShop,
    apple,
    approved,
    assert_problem,
    b64url_decode,
    dc_api,
    jpki_fallback,
)

from examples.age_check import AgeCheckRecord, Order, SQLiteOrderStore
from myna_rp.challenge import SQLiteChallengeStore


@pytest.mark.parametrize("order_store", ["memory", "sqlite"])
def test_shop_keeps_nothing_but_yes_no_evidence_time_and_order_id(
    world: World, make_shop: MakeShop, order_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop = make_shop(challenge_store="sqlite", order_store=order_store)
    iphone_25 = world.iphone_usable(world.person(AGE_25))
    iphone_19 = world.iphone_usable(world.person(AGE_19))
    android_25 = world.android_registered(world.person(AGE_25))
    android_19 = world.android_registered(world.person(AGE_19))

    outcomes: dict[str, tuple[bool, str, dict[str, Any] | None]] = {}
    order = shop.checkout()
    outcomes[order] = (True, "age_over_20", approved(dc_api(shop, order, iphone_25).response, "age_over_20"))
    order = shop.checkout()
    outcomes[order] = (True, "age_over_20", approved(apple(shop, order, iphone_25).response, "age_over_20"))
    order = shop.checkout()
    assert_problem(dc_api(shop, order, iphone_19).response, 403, "AGE_REQUIREMENT_NOT_MET")
    outcomes[order] = (False, "age_over_20", None)
    order = shop.checkout()
    jpki = jpki_fallback(shop, order, android_25, consent=True)
    outcomes[order] = (True, "jpki_date_of_birth", approved(jpki.response, "jpki_date_of_birth"))
    order = shop.checkout()
    assert_problem(
        jpki_fallback(shop, order, android_19, consent=True).response, 403, "AGE_REQUIREMENT_NOT_MET"
    )
    outcomes[order] = (False, "jpki_date_of_birth", None)
    declined = shop.checkout()
    assert_problem(
        jpki_fallback(shop, declined, android_25, consent=False).response, 403, "JPKI_FALLBACK_DECLINED"
    )
    assert shop.place(next(iter(outcomes))).status_code == 200

    # 1. the store's records: exactly these fields, these values
    assert [f.name for f in dataclasses.fields(Order)] == ["order_id", "age_check", "placed_at"]
    assert [f.name for f in dataclasses.fields(AgeCheckRecord)] == [
        "order_id",
        "over",
        "evidence",
        "checked_at",
    ]
    stored = {o.order_id: o for o in shop.orders.orders()}
    assert set(stored) == {*outcomes, declined}
    assert stored[declined].age_check is None  # declining decides nothing and stores nothing
    for order_id, (over, evidence, _) in outcomes.items():
        record = stored[order_id].age_check
        assert record is not None
        assert (record.order_id, record.over, record.evidence) == (order_id, over, evidence)
        assert record.checked_at == world.clock.now()

    # 2. the bytes at rest: no personal attribute, no certificate, no response
    certificate_der = android_25.signing_certificate.public_bytes(Encoding.DER)
    forbidden = (
        [s.encode() for s in PERSONAL_STRINGS]
        + [
            certificate_der[-64:],  # the certificate's signature
            b64url_decode(jpki.body["signature"])[:32],
            str(android_25.signing_certificate.serial_number).encode(),
        ]
    )
    files: list[Path] = []
    if isinstance(shop.orders, SQLiteOrderStore):
        files.append(shop.orders.path)
        with sqlite3.connect(shop.orders.path) as connection:
            columns = [row[1] for row in connection.execute("PRAGMA table_info(age_check_orders)")]
        assert columns == ["order_id", "over", "evidence", "checked_at", "placed_at"]
    assert isinstance(shop.challenges, SQLiteChallengeStore)
    files.append(shop.challenges.path)
    for path in files:
        for candidate in path.parent.glob(path.name + "*"):  # the database, its WAL and shm files
            data = candidate.read_bytes()
            for needle in forbidden:
                assert needle not in data, f"{needle[:20]!r} found in {candidate.name}"
            for value in (jpki.body["challenge_id"],):  # challenges are stored hashed, never in clear
                assert b64url_decode(value) not in data

    # 3. the log: order ids, channels, answers, reasons — no personal data
    shop_lines = [r.getMessage() for r in caplog.records if r.name.startswith("examples.age_check")]
    assert any("over=True evidence=jpki_date_of_birth" in line for line in shop_lines)
    assert any("reason=JPKI_FALLBACK_DECLINED" in line for line in shop_lines)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for text in PERSONAL_STRINGS:
        assert text not in everything


def test_shop_responses_carry_no_personal_data(world: World, make_shop: MakeShop) -> None:
    """What the shop answers (decisions and refusals) never echoes an attribute."""
    shop = make_shop()
    android = world.android_registered(world.person(AGE_19))
    refused = jpki_fallback(shop, shop.checkout(), android, consent=True).response
    iphone = world.iphone_usable(world.person(AGE_25))
    passed = dc_api(shop, shop.checkout(), iphone).response
    for response in (refused, passed):
        for text in PERSONAL_STRINGS:
            assert text not in response.text
