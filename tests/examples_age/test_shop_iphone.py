"""The shop with an iPhone customer, end to end: mock platform (issuing the My Number Card mdoc) + the shop
(in-process) + the iPhone simulator, on both online channels — web DC API (ISO/IEC 18013-7 Annex C
``org-iso-mdoc``) and in-app (Apple ``AppleIdentityPresentment_1.0`` + ``APPLE-HPKE-v1``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from lifecycle_support import PHONE_PASSWORD, World, problem
from shop_age_support import (
    AGE_19,
    AGE_25,
    CHANNELS,
    ORIGIN,
    MakeShop,
    Shop,
    answer_for,
    approved,
    assert_problem,
    b64url_decode,
    dc_api,
    present,
    request_for,
    response_url,
)

from examples.age_check import OrderStatus
from myna_rp.mdoc import NS_23220, age_request


def zulu(text: str) -> str:
    return text.replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------ pass / fail


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_25_year_old_iphone_passes_and_the_order_is_placed(
    world: World, shop: Shop, channel: str
) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    assert_problem(shop.place(order_id), 403, "AGE_CHECK_REQUIRED")  # not before the age check

    attempt = present(shop, order_id, phone, channel)

    body = approved(attempt.response, "age_over_20")
    assert body["order_id"] == order_id
    assert zulu(body["checked_at"]) == zulu(world.clock.now().isoformat())  # the mock's (= shop's) time
    state = shop.state(order_id)
    assert state["status"] == "approved"
    assert state["age_check"] == body
    placed = shop.place(order_id)
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "placed"
    assert shop.orders.get(order_id).status is OrderStatus.PLACED


def test_shop_requests_ask_for_age_over_20_only(shop: Shop) -> None:
    """What the page / app hands to Wallet: the minimal DeviceRequest, the shop's origin and identifiers."""
    request = request_for(shop, shop.checkout(), "dc_api")
    assert request["origin"] == ORIGIN
    assert b64url_decode(request["request"]["deviceRequest"]) == age_request(20)
    assert len(b64url_decode(request["challenge_id"])) == 32
    in_app = request_for(shop, shop.checkout(), "apple")
    assert b64url_decode(in_app["device_request"]) == age_request(20)
    assert in_app["nonce"] == in_app["challenge_id"]
    assert (in_app["merchant_id"], in_app["team_id"]) == ("merchant.example.shop", "TEAM123456")
    assert len(b64url_decode(in_app["encryption_public_key"])) == 65  # uncompressed P-256 point
    # each request has a challenge of its own
    assert request["challenge_id"] != in_app["challenge_id"]


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_19_year_old_iphone_is_refused(world: World, shop: Shop, channel: str) -> None:
    phone = world.iphone_usable(world.person(AGE_19))
    order_id = shop.checkout()

    attempt = present(shop, order_id, phone, channel)

    body = assert_problem(attempt.response, 403, "AGE_REQUIREMENT_NOT_MET")
    assert (body["order_id"], body["minimum_age"], body["evidence"]) == (order_id, 20, "age_over_20")
    state = shop.state(order_id)
    assert state["status"] == "refused"
    assert (state["age_check"]["over"], state["age_check"]["evidence"]) == (False, "age_over_20")
    assert_problem(shop.place(order_id), 403, "AGE_CHECK_REQUIRED")
    # decided once: no second try on this checkout
    assert_problem(shop.http.post(f"/checkouts/{order_id}/age-check/dc-api"), 409, "CHECKOUT_ALREADY_DECIDED")


def test_shop_withheld_age_element_decides_nothing(world: World, shop: Shop) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    attempt = dc_api(shop, order_id, phone, withhold=[(NS_23220, "age_over_20")])
    assert_problem(attempt.response, 422, "AGE_NOT_DISCLOSED")
    assert shop.state(order_id)["status"] == "age_check_required"  # nothing recorded
    # the customer may try again (a new challenge) and share the element this time
    approved(dc_api(shop, order_id, phone).response, "age_over_20")


# ------------------------------------------------------------------------------------------ replays


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_replayed_response_is_refused(world: World, shop: Shop, channel: str) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    first = present(shop, order_id, phone, channel)
    approved(first.response, "age_over_20")

    replay = shop.http.post(first.url, json=first.body)

    body = assert_problem(replay, 409, "CHALLENGE_REPLAYED")
    assert body["reason"] == "CHALLENGE_REPLAYED"
    # the captured answer replayed into a fresh checkout (a 19-year-old borrowing it): still refused
    other = shop.checkout()
    stolen = shop.http.post(response_url(other, channel), json=first.body)
    assert_problem(stolen, 409, "CHALLENGE_REPLAYED")
    assert shop.state(other)["status"] == "age_check_required"


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_response_for_another_checkouts_challenge_is_refused(
    world: World, shop: Shop, channel: str
) -> None:
    """A 25-year-old's answer made for checkout A is sent to checkout B instead."""
    phone = world.iphone_usable(world.person(AGE_25))
    order_a, order_b = shop.checkout(), shop.checkout()
    request_a = request_for(shop, order_a, channel)
    request_b = request_for(shop, order_b, channel)
    made_for_a = answer_for(phone, channel, request_a)  # intercepted before the page posts it

    # with B's challenge id: the answer is sealed to A's transcript (A's nonce) — it does not open
    swapped = {**made_for_a, "challenge_id": request_b["challenge_id"]}
    assert_problem(shop.http.post(response_url(order_b, channel), json=swapped), 422, "ENVELOPE_INVALID")

    # with A's challenge id: the evidence verifies, but the challenge is A's
    mismatch = shop.http.post(response_url(order_b, channel), json=made_for_a)
    assert assert_problem(mismatch, 403, "CHALLENGE_MISMATCH")["reason"] == "CHALLENGE_MISMATCH"
    # a challenge shown to the wrong checkout is burned (fail closed): A cannot use it any more
    assert_problem(shop.http.post(response_url(order_a, channel), json=made_for_a), 409, "CHALLENGE_REPLAYED")

    assert shop.state(order_a)["status"] == "age_check_required"
    assert shop.state(order_b)["status"] == "age_check_required"
    # B's own challenge is untouched: B's customer can still finish
    approved(present(shop, order_b, phone, channel, request=request_b).response, "age_over_20")


def test_shop_answer_relayed_through_a_phishing_origin_is_refused(world: World, shop: Shop) -> None:
    """A phishing page relays the shop's request; the browser reports *its* origin to the wallet, so the
    transcript differs from the shop's and the answer cannot be opened."""
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    attempt = dc_api(shop, order_id, phone, origin="https://shop.example.evil.test")
    assert_problem(attempt.response, 422, "ENVELOPE_INVALID")
    # the failed attempt did not consume the challenge: the genuine page still completes with it
    approved(dc_api(shop, order_id, phone, request=attempt.request).response, "age_over_20")


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_expired_challenge_is_refused(world: World, shop: Shop, channel: str) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    request = request_for(shop, order_id, channel)
    world.advance(seconds=301)  # the default TTL is 300 s
    attempt = present(shop, order_id, phone, channel, request=request)
    assert_problem(attempt.response, 410, "CHALLENGE_EXPIRED")
    assert shop.state(order_id)["status"] == "age_check_required"


def test_shop_answer_to_another_shops_challenge_is_refused(
    world: World, shop: Shop, make_shop: MakeShop
) -> None:
    """Another shop instance (its own reader-key secret and challenge store) issued the request."""
    phone = world.iphone_usable(world.person(AGE_25))
    elsewhere = make_shop()
    request = request_for(elsewhere, elsewhere.checkout(), "dc_api")
    body: dict[str, Any] = answer_for(phone, "dc_api", request)
    refused = shop.http.post(response_url(shop.checkout(), "dc_api"), json=body)
    assert_problem(refused, 422, "ENVELOPE_INVALID")


# ------------------------------------------------------------------------------------------ deletion (3-E)


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_shop_deleted_iphone_credential_is_refused(world: World, shop: Shop, channel: str) -> None:
    """The customer deleted the card from the iPhone (3-E): Wallet, syncing with the platform before
    presenting, has nothing to present (CREDENTIAL_INVALIDATED); the checkout cannot go through."""
    phone = world.iphone_usable(world.person(AGE_25))
    phone.stop_with_password(PHONE_PASSWORD)
    order_id = shop.checkout()
    request = request_for(shop, order_id, channel)

    error = problem(present, shop, order_id, phone, channel, request=request)

    assert (error.code, error["reason"]) == ("CREDENTIAL_INVALIDATED", "deleted")
    assert phone.mdoc_credential is None
    with pytest.raises(LookupError):  # nothing left on the device either
        present(shop, order_id, phone, channel, request=request, sync=False)
    assert shop.state(order_id)["status"] == "age_check_required"
    assert_problem(shop.place(order_id), 403, "AGE_CHECK_REQUIRED")


def test_shop_LIMITATION_stale_offline_credential_is_accepted_until_valid_until(
    world: World, shop: Shop
) -> None:
    """KNOWN LIMITATION (the mdoc carries no status: ISO/IEC 18013-5 defines none): a device that kept
    the credential after the deletion and presents offline (``sync=False``: stale or tampered) still
    passes — issuer signature, digests and device signature are all genuine — until the MSO's validUntil
    (≤ 30 days, never past the next birthday). Only the platform's credential status knows, and no RP
    interface exposes it. After validUntil the shop refuses (MSO_NOT_VALID)."""
    phone = world.iphone_usable(world.person(AGE_25))
    held = phone.mdoc_credential
    assert held is not None
    phone.stop_with_password(PHONE_PASSWORD)  # deleted on the platform; the offline device keeps its copy

    approved(dc_api(shop, shop.checkout(), phone, sync=False).response, "age_over_20")

    world.clock.set(held.valid_until + timedelta(seconds=1))
    late = dc_api(shop, shop.checkout(), phone, sync=False)
    assert_problem(late.response, 422, "MSO_NOT_VALID")


def test_shop_decided_checkout_issues_no_new_challenge(world: World, shop: Shop) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    order_id = shop.checkout()
    approved(present(shop, order_id, phone, "apple").response, "age_over_20")
    for path in ("dc-api", "apple", "jpki/challenge", "android"):
        refused = shop.http.post(f"/checkouts/{order_id}/age-check/{path}")
        assert_problem(refused, 409, "CHECKOUT_ALREADY_DECIDED")
