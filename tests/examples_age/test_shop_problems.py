"""Every refusal is an RFC 9457 problem with a stable type and the right status — never a 500: unknown
checkouts, malformed and hostile input on every route, revocation unavailable (503), and the trust
configuration refusing a policy that is not hard-fail."""

from __future__ import annotations

from dataclasses import replace

import cbor2
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_support import World
from shop_age_support import AGE_25, ORIGIN, Shop, assert_problem, b64url, jpki_challenge, jpki_fallback

from examples.age_check import (
    ShopDependencies,
    ShopSettings,
    ShopTrust,
    build_trust,
    create_app,
    problem_type,
)
from examples.age_check.problems import reason_status
from myna_rp.errors import ConfigurationError, Reason
from myna_rp.jpki import JPKIVerifier
from myna_rp.mdoc import IACAStore, MdocVerifier
from myna_rp.revocation import OCSPClient, RevocationChecker, RevocationPolicy

ROUTES_WITH_ORDER = [
    ("get", "/checkouts/{}"),
    ("post", "/checkouts/{}/age-check/dc-api"),
    ("post", "/checkouts/{}/age-check/apple"),
    ("post", "/checkouts/{}/age-check/android"),
    ("post", "/checkouts/{}/age-check/jpki/challenge"),
    ("post", "/checkouts/{}/place"),
]


def test_shop_every_reason_has_a_non_500_status() -> None:
    for reason in Reason:
        status = reason_status(reason)
        assert 400 <= status <= 503, reason
        assert status != 500, reason
    assert reason_status(Reason.CHALLENGE_REPLAYED) == 409
    assert reason_status(Reason.CHALLENGE_MISMATCH) == 403
    assert reason_status(Reason.CHALLENGE_EXPIRED) == 410
    assert reason_status(Reason.CERTIFICATE_REVOKED) == 403
    assert reason_status(Reason.REVOCATION_UNAVAILABLE) == 503
    assert reason_status(Reason.DEVICE_AUTH_INVALID) == 422
    assert problem_type("CHALLENGE_REPLAYED").endswith("/problems/challenge-replayed")


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_ORDER)
def test_shop_unknown_checkout_is_404(shop: Shop, method: str, path: str) -> None:
    response = shop.http.request(method.upper(), path.format("no-such-order"))
    assert_problem(response, 404, "UNKNOWN_CHECKOUT")


def test_shop_unknown_route_and_method(shop: Shop) -> None:
    assert_problem(shop.http.get("/nowhere"), 404, "NOT_FOUND")
    assert_problem(shop.http.get("/checkouts"), 405, "METHOD_NOT_ALLOWED")


def _deep(depth: int) -> bytes:
    """CBOR arrays nested ``depth`` deep (0x81 = an array of one item), ending in null."""
    return b"\x81" * depth + b"\xf6"


def _dcapi_body(challenge_id: str, response: bytes) -> dict[str, object]:
    return {"challenge_id": challenge_id, "response": b64url(response)}


def test_shop_hostile_dc_api_answers_are_4xx_problems(shop: Shop) -> None:
    order_id = shop.checkout()
    request = shop.http.post(f"/checkouts/{order_id}/age-check/dc-api").json()
    url = f"/checkouts/{order_id}/age-check/dc-api/response"
    challenge_id = request["challenge_id"]
    cases: list[tuple[dict[str, object], int, str]] = [
        ({"challenge_id": challenge_id}, 422, "VALIDATION_ERROR"),
        ({"challenge_id": challenge_id, "response": "x", "extra": 1}, 422, "VALIDATION_ERROR"),
        ({"challenge_id": challenge_id, "response": 5}, 422, "VALIDATION_ERROR"),
        ({"challenge_id": "not base64!", "response": "AAAA"}, 400, "MALFORMED_INPUT"),
        ({"challenge_id": b64url(b"short"), "response": "AAAA"}, 400, "MALFORMED_INPUT"),
        ({"challenge_id": challenge_id, "response": "%%%"}, 400, "MALFORMED_INPUT"),
        (_dcapi_body(challenge_id, b"\xff\x00garbage"), 400, "MALFORMED_INPUT"),
        (_dcapi_body(challenge_id, cbor2.dumps(["dcapi"])), 400, "MALFORMED_INPUT"),
        (
            _dcapi_body(challenge_id, cbor2.dumps(["dcapi", {"enc": b"x" * 65, "cipherText": b"y" * 40}])),
            422,
            "ENVELOPE_INVALID",
        ),
        (_dcapi_body(challenge_id, _deep(100)), 400, "MALFORMED_INPUT"),
    ]
    for body, status, code in cases:
        problem = assert_problem(shop.http.post(url, json=body), status, code)
        if code == "VALIDATION_ERROR":
            assert "errors" in problem
            assert all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])  # no input echoed
    # not JSON at all
    raw = shop.http.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(raw, 422, "VALIDATION_ERROR")
    assert shop.state(order_id)["status"] == "age_check_required"


def test_shop_hostile_apple_envelopes_are_4xx_problems(shop: Shop) -> None:
    order_id = shop.checkout()
    request = shop.http.post(f"/checkouts/{order_id}/age-check/apple").json()
    url = f"/checkouts/{order_id}/age-check/apple/response"
    challenge_id = request["challenge_id"]
    wrong_algorithm = {"algorithm": "NONE", "params": {"mode": 0}, "data": b""}
    foreign_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    sealed_elsewhere = {
        "algorithm": "APPLE-HPKE-v1",
        "params": {
            "mode": 0,
            "pkEm": foreign_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
            "pkRHash": b"\x00" * 32,
            "infoHash": b"\x00" * 32,
        },
        "data": b"\x01" * 48,
    }
    for envelope, status, code in (
        (b"", 422, "VALIDATION_ERROR"),
        (b"\x00", 400, "MALFORMED_INPUT"),
        (cbor2.dumps(wrong_algorithm), 422, "ENVELOPE_INVALID"),
        (cbor2.dumps(sealed_elsewhere), 422, "ENVELOPE_INVALID"),
        (cbor2.dumps({"algorithm": "APPLE-HPKE-v1"}), 400, "MALFORMED_INPUT"),
    ):
        body = {"challenge_id": challenge_id, "envelope": b64url(envelope)}
        assert_problem(shop.http.post(url, json=body), status, code)


def _self_signed() -> x509.Certificate:
    from datetime import UTC, datetime, timedelta

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "not a JPKI certificate")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def test_shop_hostile_jpki_submissions_are_4xx_problems(world: World, shop: Shop) -> None:
    phone = world.android_registered(world.person(AGE_25))
    order_id = shop.checkout()
    good = jpki_fallback(shop, shop.checkout(), phone, consent=True).body  # a genuine body, other checkout
    request = jpki_challenge(shop, order_id)
    url = f"/checkouts/{order_id}/age-check/jpki"
    base = {**good, "challenge_id": request["challenge_id"], "consent": True}
    foreign = b64url(_self_signed().public_bytes(Encoding.DER))
    for change, status, code in (
        ({"certificate": "!!!"}, 400, "MALFORMED_INPUT"),
        ({"certificate": b64url(b"not DER")}, 400, "MALFORMED_INPUT"),
        (
            {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
            400,
            "MALFORMED_INPUT",
        ),
        ({"signature": "@@@"}, 400, "MALFORMED_INPUT"),
        ({"signature": b64url(b"\x00" * 256)}, 422, "SIGNATURE_INVALID"),
        ({"consent": "true"}, 422, "VALIDATION_ERROR"),
        ({"signature": "A" * 5000}, 422, "VALIDATION_ERROR"),
    ):
        assert_problem(shop.http.post(url, json={**base, **change}), status, code)
    refused = shop.http.post(url, json={**base, "certificate": foreign})
    assert 400 <= refused.status_code < 500
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] in ("WRONG_KEY_USAGE", "UNTRUSTED_ISSUER")
    assert shop.state(order_id)["status"] == "age_check_required"


def test_shop_revocation_unavailable_is_503(world: World) -> None:
    """REQUIRE is hard-fail: with OCSP and CRL both down the shop cannot decide — 503, retry later."""
    roots = world.roots
    down = httpx.Client(
        base_url="http://jlis-mock.test", transport=httpx.MockTransport(lambda _: httpx.Response(503))
    )
    iaca = x509.load_der_x509_certificate(world.client.get("/mdoc/iaca.cer").content)
    trust = build_trust(
        iaca_certificates=[iaca],
        jpki_trust=world.trust,
        http=down,
        clock=world.clock,
        ocsp_responders={root.subject: "/ocsp" for root in roots},
        crl_urls={root.subject: ["/crl/signing/1.crl"] for root in roots},
    )
    app = create_app(
        ShopSettings(origin=ORIGIN), dependencies=ShopDependencies(clock=world.clock, trust=trust, http=down)
    )
    phone = world.android_registered(world.person(AGE_25))
    with TestClient(app, base_url=ORIGIN) as client:
        shop = Shop(client, app.state.shop, app.state.shop.challenges, app.state.shop.orders)
        order_id = shop.checkout()
        attempt = jpki_fallback(shop, order_id, phone, consent=True)
        problem = assert_problem(attempt.response, 503, "REVOCATION_UNAVAILABLE")
        assert attempt.response.headers["retry-after"] == "30"
        assert problem["reason"] == "REVOCATION_UNAVAILABLE"
        assert shop.state(order_id)["status"] == "age_check_required"
    down.close()


def test_shop_trust_refuses_a_policy_that_is_not_hard_fail(world: World) -> None:
    iaca = x509.load_der_x509_certificate(world.client.get("/mdoc/iaca.cer").content)
    mdoc = MdocVerifier(IACAStore.from_certificates([iaca]), clock=world.clock)
    for policy in (
        RevocationPolicy.UNSAFE_SKIP,
        replace(RevocationPolicy.REQUIRE, name="SOFT", hard_fail=False),
    ):
        checker = RevocationChecker(ocsp=OCSPClient(world.client, {}), clock=world.clock)
        jpki = JPKIVerifier(world.trust, revocation=checker, policy=policy)
        with pytest.raises(ConfigurationError, match="hard-fail"):
            ShopTrust(mdoc=mdoc, jpki=jpki)
    with pytest.raises(ConfigurationError, match="IACA"):
        build_trust(
            iaca_certificates=[],
            jpki_trust=world.trust,
            http=world.client,
            clock=world.clock,
            ocsp_responders={},
        )


def test_shop_openapi_documents_the_problem_answers(shop: Shop) -> None:
    schema = shop.http.get("/openapi.json").json()
    answer = schema["paths"]["/checkouts/{order_id}/age-check/dc-api/response"]["post"]["responses"]
    for status in ("400", "403", "409", "410", "422", "503"):
        assert "application/problem+json" in answer[status]["content"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(["dc-api", "apple", "jpki"]),
    blob=st.binary(max_size=300),
    text=st.text(min_size=1, max_size=80),
    consent=st.booleans(),
)
def test_shop_fuzzed_answers_never_cause_a_5xx(
    shop: Shop, route: str, blob: bytes, text: str, consent: bool
) -> None:
    """Random bytes (base64url) and random text in every member of every completion route: always a 4xx
    problem, and the checkout stays undecided."""
    order_id = shop.checkout()
    issue = "jpki/challenge" if route == "jpki" else route
    challenge_id = shop.http.post(f"/checkouts/{order_id}/age-check/{issue}").json()["challenge_id"]
    url = (
        f"/checkouts/{order_id}/age-check/jpki"
        if route == "jpki"
        else f"/checkouts/{order_id}/age-check/{route}/response"
    )
    member = {"dc-api": "response", "apple": "envelope"}.get(route)
    for payload in (b64url(blob) or "AA", text):
        for challenge in (challenge_id, text):
            if member is not None:
                body: dict[str, object] = {"challenge_id": challenge, member: payload}
            else:
                body = {
                    "challenge_id": challenge,
                    "consent": consent,
                    "signature": payload,
                    "certificate": payload,
                }
            response = shop.http.post(url, json=body)
            assert 400 <= response.status_code < 500, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    assert shop.state(order_id)["status"] == "age_check_required"
