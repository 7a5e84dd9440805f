"""The customer's side of the shop tests: the browser / iOS app / Android app, played by the mock's device
simulator, talking to the shop over its HTTP API (a TestClient on the shop app).

* :func:`dc_api` — iPhone on the web: the page asks the shop for the ``org-iso-mdoc`` request, hands it
  to the wallet (``Smartphone.present_dc_api`` with the page's origin) and posts the answer back.
* :func:`apple` — iPhone in-app: the app asks for the identity-request data, Wallet answers with an
  ``APPLE-HPKE-v1`` envelope (``Smartphone.present_apple``) that the app posts back.
* :func:`jpki_fallback` — Android: the shop's 409 offer, then (with or without consent) a signature over
  the shop's challenge with the phone's JPKI signing key, posted with the signing certificate.

Each returns the shop's final :class:`httpx.Response` and what was sent, so tests can replay it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from lifecycle_support import AGE_19, AGE_25
from lifecycle_support import PARTIAL_DOB as PARTIAL_DOB

from examples.age_check import AgeCheckShop, OrderStore
from mock_platform.device import Smartphone
from myna_rp.challenge import ChallengeStore

ORIGIN = "https://shop.example"
PROBLEM_BASE = "https://myna-rp.example/examples/age-check/problems/"

# Persons at the mock clock's NOW (2026-11-29 12:00 JST): AGE_25, AGE_19, PARTIAL_DOB (lifecycle_support)
# and one who moved. Synthetic.
MOVED_25: dict[str, Any] = {
    **AGE_25,
    "address": "北海道札幌市中央区試験町五丁目5番5号",
    "prefecture": "Hokkaido",
    "municipality": "Sapporo-shi",
}
#: Strings that must never be kept or logged by the shop (personal attributes of the persons above).
PERSONAL_STRINGS = (
    AGE_25["name"],
    AGE_25["address"],
    AGE_19["name"],
    AGE_19["address"],
    "2001-06-01",
    "2007-03-15",
    "20010601",
    "20070315",
    "420010601",
    "420070315",
    "試験町",
    "見本町",
)


@dataclass
class Shop:
    """The shop under test: its HTTP client and, for inspection only, its parts."""

    http: TestClient
    service: AgeCheckShop
    challenges: ChallengeStore
    orders: OrderStore

    def checkout(self) -> str:
        response = self.http.post("/checkouts")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "age_check_required"
        return str(body["order_id"])

    def state(self, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"/checkouts/{order_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def place(self, order_id: str) -> httpx.Response:
        response: httpx.Response = self.http.post(f"/checkouts/{order_id}/place")
        return response


@dataclass
class Attempt:
    """One completed exchange: the shop's answer, the body posted (to replay it) and where."""

    response: httpx.Response
    url: str
    body: dict[str, Any]
    request: dict[str, Any] = field(default_factory=dict)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def request_for(shop: Shop, order_id: str, channel: str) -> dict[str, Any]:
    """What the page (``dc_api``) or the app (``apple``) gets from the shop to start the presentation."""
    response = shop.http.post(f"/checkouts/{order_id}/age-check/{PATHS[channel]}")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def answer_for(
    phone: Smartphone,
    channel: str,
    request: dict[str, Any],
    *,
    origin: str | None = None,
    withhold: Iterable[tuple[str, str]] = (),
    sync: bool = True,
) -> dict[str, Any]:
    """The body the page/app posts back for ``request`` (the wallet's answer), without posting it.

    ``origin`` overrides the page's origin (a phishing page relaying the shop's request).
    """
    if channel == "dc_api":
        assert request["protocol"] == "org-iso-mdoc"
        answer = phone.present_dc_api(
            request["request"], origin=origin or request["origin"], withhold=withhold, sync=sync
        )
        return {"challenge_id": request["challenge_id"], "response": answer["response"]}
    key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(request["encryption_public_key"])
    )
    envelope = phone.present_apple(
        b64url_decode(request["device_request"]),
        nonce=b64url_decode(request["nonce"]),
        merchant_id=request["merchant_id"],
        team_id=request["team_id"],
        recipient_public_key=key,
        withhold=withhold,
        sync=sync,
    )
    return {"challenge_id": request["challenge_id"], "envelope": b64url(envelope)}


def response_url(order_id: str, channel: str) -> str:
    return f"/checkouts/{order_id}/age-check/{PATHS[channel]}/response"


def present(
    shop: Shop,
    order_id: str,
    phone: Smartphone,
    channel: str,
    *,
    request: dict[str, Any] | None = None,
    **options: Any,
) -> Attempt:
    """The whole exchange on ``channel``: request → wallet → post the answer."""
    request = request or request_for(shop, order_id, channel)
    body = answer_for(phone, channel, request, **options)
    url = response_url(order_id, channel)
    return Attempt(shop.http.post(url, json=body), url, body, request)


def dc_api(shop: Shop, order_id: str, phone: Smartphone, **options: Any) -> Attempt:
    """iPhone on the web (Digital Credentials API, ``org-iso-mdoc``)."""
    return present(shop, order_id, phone, "dc_api", **options)


def apple(shop: Shop, order_id: str, phone: Smartphone, **options: Any) -> Attempt:
    """iPhone in an iOS app (Apple "Verify with Wallet", ``APPLE-HPKE-v1``)."""
    return present(shop, order_id, phone, "apple", **options)


MakeShop = Callable[..., Shop]
PATHS = {"dc_api": "dc-api", "apple": "apple"}
CHANNELS = {"dc_api": dc_api, "apple": apple}


def jpki_challenge(shop: Shop, order_id: str) -> dict[str, Any]:
    response = shop.http.post(f"/checkouts/{order_id}/age-check/jpki/challenge")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def jpki_fallback(
    shop: Shop,
    order_id: str,
    phone: Smartphone,
    *,
    consent: bool | None,
    certificate_pem: bool = False,
    use_authentication_key: bool = False,
) -> Attempt:
    """Android: sign the shop's challenge with the JPKI signing key; ``consent=None`` omits the flag."""
    request = jpki_challenge(shop, order_id)
    data = b64url_decode(request["challenge"])
    if use_authentication_key:
        signature = phone.authenticate(data)
        certificate = phone.user_authentication_certificate
    else:
        signature = phone.sign(data)
        certificate = phone.signing_certificate
    body: dict[str, Any] = {
        "challenge_id": request["challenge_id"],
        "signature": b64url(signature),
        "certificate": (
            certificate.public_bytes(Encoding.PEM).decode()
            if certificate_pem
            else b64url(certificate.public_bytes(Encoding.DER))
        ),
    }
    if consent is not None:
        body["consent"] = consent
    url = f"/checkouts/{order_id}/age-check/jpki"
    return Attempt(shop.http.post(url, json=body), url, body, request)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with this status and code, and its stable type URI."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_BASE + code.lower().replace("_", "-")
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    return body


def approved(response: httpx.Response, evidence: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["over"] is True
    assert body["evidence"] == evidence
    return body
