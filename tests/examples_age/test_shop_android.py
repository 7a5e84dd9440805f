"""The shop with an Android customer, end to end: Android carries no attribute proof
(「Android端末では未対応」), so the shop answers a typed ATTRIBUTE_PROOF_UNSUPPORTED offering the JPKI
fallback; only with the customer's explicit consent does it accept a signature with the JPKI signing
certificate (verified directly, revocation REQUIRE) and answer from the certificate's date of birth,
which it then drops."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lifecycle_support import World
from shop_age_support import (
    AGE_19,
    AGE_25,
    MOVED_25,
    PARTIAL_DOB,
    Shop,
    approved,
    assert_problem,
    jpki_challenge,
    jpki_fallback,
    present,
)

from mock_platform.device import AttributeProofUnsupportedProblemError
from myna_rp.challenge import Challenge


def test_shop_android_gets_attribute_proof_unsupported_with_the_fallback(world: World, shop: Shop) -> None:
    order_id = shop.checkout()
    offer = shop.http.post(f"/checkouts/{order_id}/age-check/android")
    body = assert_problem(offer, 409, "ATTRIBUTE_PROOF_UNSUPPORTED")
    assert body["reason"] == "ATTRIBUTE_PROOF_UNSUPPORTED"
    assert body["fallback"] == "jpki_signing_certificate"
    assert body["fallback_url"] == f"/checkouts/{order_id}/age-check/jpki/challenge"
    assert "date of birth" in body["consent_notice"]
    assert "20" in body["consent_notice"]
    # the same answer the platform gives the Android phone itself: the mdoc channels are closed too
    phone = world.android_registered(world.person(AGE_25))
    with pytest.raises(AttributeProofUnsupportedProblemError):
        present(shop, order_id, phone, "dc_api")
    assert shop.state(order_id)["status"] == "age_check_required"


@pytest.mark.parametrize("consent", [False, None], ids=["declined", "flag-missing"])
def test_shop_android_user_declining_the_fallback_is_refused(
    world: World, shop: Shop, consent: bool | None
) -> None:
    phone = world.android_registered(world.person(AGE_25))
    order_id = shop.checkout()

    attempt = jpki_fallback(shop, order_id, phone, consent=consent)

    body = assert_problem(attempt.response, 403, "JPKI_FALLBACK_DECLINED")
    assert body["reason"] == "CONSENT_REQUIRED"
    assert "consent" in body["detail"]
    assert body["consent_notice"]
    assert shop.state(order_id)["status"] == "age_check_required"  # no age decision was made
    assert_problem(shop.place(order_id), 403, "AGE_CHECK_REQUIRED")
    # nothing was verified: the challenge was not even consumed (the signature was never looked at)
    value = Challenge.value_from_id(attempt.body["challenge_id"])
    assert shop.challenges.consume(value, session_id=order_id, purpose="age.jpki").session_id == order_id


@pytest.mark.parametrize("consent", ["yes", 1, "true"])
def test_shop_consent_must_be_a_json_true(world: World, shop: Shop, consent: object) -> None:
    phone = world.android_registered(world.person(AGE_25))
    order_id = shop.checkout()
    attempt = jpki_fallback(shop, order_id, phone, consent=True)  # the real exchange …
    assert attempt.response.status_code == 200
    other = shop.checkout()
    request = jpki_challenge(shop, other)
    body = {**attempt.body, "challenge_id": request["challenge_id"], "consent": consent}
    refused = shop.http.post(f"/checkouts/{other}/age-check/jpki", json=body)
    assert_problem(refused, 422, "VALIDATION_ERROR")  # … but only a JSON true counts as consent


@pytest.mark.parametrize(("person", "over"), [(AGE_25, True), (AGE_19, False)], ids=["25-passes", "19-fails"])
def test_shop_android_user_consenting_is_judged_by_the_certificate_date_of_birth(
    world: World, shop: Shop, person: dict[str, str], over: bool
) -> None:
    phone = world.android_registered(world.person(person))
    order_id = shop.checkout()

    attempt = jpki_fallback(shop, order_id, phone, consent=True)

    if over:
        body = approved(attempt.response, "jpki_date_of_birth")
        assert body["order_id"] == order_id
        assert shop.place(order_id).status_code == 200
    else:
        body = assert_problem(attempt.response, 403, "AGE_REQUIREMENT_NOT_MET")
        assert body["evidence"] == "jpki_date_of_birth"
        assert_problem(shop.place(order_id), 403, "AGE_CHECK_REQUIRED")
    record = shop.orders.get(order_id).age_check
    assert record is not None
    assert (record.over, record.evidence) == (over, "jpki_date_of_birth")


def test_shop_fallback_accepts_a_pem_certificate(world: World, shop: Shop) -> None:
    phone = world.android_registered(world.person(AGE_25))
    attempt = jpki_fallback(shop, shop.checkout(), phone, consent=True, certificate_pem=True)
    approved(attempt.response, "jpki_date_of_birth")


def test_shop_fallback_revoked_signing_certificate_is_refused(world: World, shop: Shop) -> None:
    """The phone was reported lost (hotline, 5-B): its signing certificate is revoked (keyCompromise)."""
    person = world.person(AGE_25)
    phone = world.android_registered(person)
    world.counter.suspend_phone(person.resident_id)
    order_id = shop.checkout()

    attempt = jpki_fallback(shop, order_id, phone, consent=True)

    body = assert_problem(attempt.response, 403, "CERTIFICATE_REVOKED")
    assert body["reason"] == "CERTIFICATE_REVOKED"
    assert shop.state(order_id)["status"] == "age_check_required"


def test_shop_fallback_customer_who_moved_is_refused_with_the_old_certificate(
    world: World, shop: Shop
) -> None:
    """A move (転居) revokes every signing certificate (affiliationChanged): the old one is refused."""
    person = world.person(AGE_25)
    phone = world.android_registered(person)
    world.counter.change_attributes(person.card, MOVED_25)
    attempt = jpki_fallback(shop, shop.checkout(), phone, consent=True)
    assert_problem(attempt.response, 403, "CERTIFICATE_REVOKED")


def test_shop_fallback_replayed_signature_is_refused(world: World, shop: Shop) -> None:
    phone = world.android_registered(world.person(AGE_25))
    order_id = shop.checkout()
    first = jpki_fallback(shop, order_id, phone, consent=True)
    approved(first.response, "jpki_date_of_birth")

    replay = shop.http.post(first.url, json=first.body)
    assert_problem(replay, 409, "CHALLENGE_REPLAYED")
    other = shop.checkout()
    stolen = shop.http.post(f"/checkouts/{other}/age-check/jpki", json=first.body)
    assert_problem(stolen, 409, "CHALLENGE_REPLAYED")
    assert shop.state(other)["status"] == "age_check_required"


def test_shop_fallback_signature_for_another_checkout_is_refused(world: World, shop: Shop) -> None:
    phone = world.android_registered(world.person(AGE_25))
    order_a, order_b = shop.checkout(), shop.checkout()
    request_b = jpki_challenge(shop, order_b)
    signed_for_a = jpki_fallback(shop, order_a, phone, consent=True).body  # (A completes: 200)
    # A's signed challenge id presented to B: already used, or another checkout's — refused either way
    assert shop.http.post(f"/checkouts/{order_b}/age-check/jpki", json=signed_for_a).status_code == 409
    # a signature over A's challenge sent with B's challenge id: the signature is not over B's value
    forged = {**signed_for_a, "challenge_id": request_b["challenge_id"]}
    assert_problem(
        shop.http.post(f"/checkouts/{order_b}/age-check/jpki", json=forged), 422, "SIGNATURE_INVALID"
    )
    # a fresh, unused signature of checkout C's challenge, sent to B: mismatch
    order_c = shop.checkout()
    request_c = jpki_challenge(shop, order_c)
    from shop_age_support import b64url, b64url_decode

    fresh = {
        **signed_for_a,
        "challenge_id": request_c["challenge_id"],
        "signature": b64url(phone.sign(b64url_decode(request_c["challenge"]))),
    }
    mismatch = shop.http.post(f"/checkouts/{order_b}/age-check/jpki", json=fresh)
    assert_problem(mismatch, 403, "CHALLENGE_MISMATCH")
    assert shop.state(order_b)["status"] == "age_check_required"


def test_shop_fallback_needs_the_signing_certificate(world: World, shop: Shop) -> None:
    """The user-authentication certificate carries no date of birth and is not the signing certificate."""
    phone = world.android_registered(world.person(AGE_25))
    attempt = jpki_fallback(shop, shop.checkout(), phone, consent=True, use_authentication_key=True)
    assert_problem(attempt.response, 422, "WRONG_KEY_USAGE")


def test_shop_fallback_partial_date_of_birth_decides_nothing(world: World, shop: Shop) -> None:
    """A date of birth with an unknown day (不詳) cannot prove 20: fail closed, nothing recorded."""
    phone = world.android_registered(world.person(PARTIAL_DOB))
    order_id = shop.checkout()
    attempt = jpki_fallback(shop, order_id, phone, consent=True)
    assert_problem(attempt.response, 422, "AGE_NOT_DISCLOSED")
    assert shop.state(order_id)["status"] == "age_check_required"


def test_shop_trust_from_platform_wires_ocsp_and_crl(world: World) -> None:
    """Both revocation sources REQUIRE consults are reachable: the CRL alone (CRL_ONLY, after the daily
    issue is forced) and OCSP alone each decide GOOD and REVOKED for the fallback's certificates."""
    from examples.age_check import trust_from_platform
    from myna_rp.errors import CertificateRevokedError
    from myna_rp.revocation import CertStatus, RevocationPolicy, RevocationSource

    good_phone = world.android_registered(world.person(AGE_25))
    lost = world.person(AGE_25)
    lost_phone = world.android_registered(lost)
    world.counter.suspend_phone(lost.resident_id)
    assert world.client.post("/admin/crl/issue", json={}).status_code == 200
    ocsp_only = replace(RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,))
    crl_only = RevocationPolicy.CRL_ONLY
    for policy, source in ((crl_only, RevocationSource.CRL), (ocsp_only, RevocationSource.OCSP)):
        verifier = trust_from_platform(world.client, clock=world.clock, policy=policy).jpki
        data = b"age check challenge"
        result = verifier.verify_signature(
            data=data, signature=good_phone.sign(data), certificate=good_phone.signing_certificate
        )
        assert (result.revocation.status, result.revocation.source) == (CertStatus.GOOD, source)
        with pytest.raises(CertificateRevokedError) as raised:
            verifier.verify_signature(
                data=data, signature=lost_phone.sign(data), certificate=lost_phone.signing_certificate
            )
        assert raised.value.reason.value == "CERTIFICATE_REVOKED"
