"""Helpers of the bank example tests (a top-level module: this folder has no ``__init__.py``).

* :class:`Key` — one JPKI key on a device (card, Android, iPhone) as the bank sees it: ``sign`` and the
  certificate. :func:`card_keys`, :func:`phone_keys` make the (signing, user authentication) pair.
* :class:`Bank` — one bank instance in-process: its TestClient, service, the RP registration at the mock.
* :func:`open_account` — the customer's side of an account opening over HTTP.
* :class:`WebhookRouter` — the mock platform's webhook client: delivers to the bank TestClient registered
  for the URL's host (the mock app is built before the banks of a module).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from lifecycle_support import Person, World

from examples.bank_kyc import BankService
from mock_platform.device import Smartphone
from mock_platform.device.platform_holder import set_consent
from mock_platform.device.simulator import Card
from mock_platform.rp_auth import RelyingParty

BANK_BASE = "http://bank.test"


@dataclass(frozen=True)
class Key:
    """A device key as the bank sees it: it signs, and it has a certificate."""

    sign: Callable[[bytes], bytes]
    certificate: x509.Certificate
    label: str

    @property
    def der_b64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode()


def card_keys(person: Person) -> tuple[Key, Key]:
    card = person.card
    return (
        Key(card.signing.sign, card.signing.certificate, "card"),
        Key(card.user_authentication.sign, card.user_authentication.certificate, "card"),
    )


def phone_keys(phone: Smartphone) -> tuple[Key, Key]:
    return (
        Key(phone.sign, phone.signing_certificate, phone.platform),
        Key(phone.authenticate, phone.user_authentication_certificate, phone.platform),
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Bank:
    """A bank in-process and its registration at the mock platform."""

    client: TestClient
    service: BankService
    rp: RelyingParty
    api_key: str
    world: World
    host: str
    router: WebhookRouter

    def deliveries(self) -> list[Delivery]:
        """The webhook deliveries this bank received so far."""
        return [d for d in self.router.deliveries if d.host == self.host]

    def records(self) -> list[Any]:
        return self.service.kyc.records.records()

    def customer_count(self) -> int:
        return self.service.customers.count_customers()


MakeBank = Callable[..., Bank]


def opening_body(opening: dict[str, Any], signing: Key, login: Key, **override: Any) -> dict[str, Any]:
    """The complete-request body: ``signing`` signs the signing challenge, ``login`` the login one."""
    signing_challenge = b64url_decode(opening["signing"]["challenge"])
    login_challenge = b64url_decode(opening["login"]["challenge"])
    body: dict[str, Any] = {
        "signing": {
            "challenge_id": opening["signing"]["challenge_id"],
            "signature": b64(signing.sign(signing_challenge)),
            "certificate": signing.der_b64,
        },
        "login": {
            "challenge_id": opening["login"]["challenge_id"],
            "signature": b64(login.sign(login_challenge)),
            "certificate": login.der_b64,
        },
    }
    body.update(override)
    return body


def start_opening(bank: Bank) -> dict[str, Any]:
    response = bank.client.post("/accounts/openings")
    assert response.status_code == 201, response.text
    opening: dict[str, Any] = response.json()
    return opening


def complete_opening(bank: Bank, opening: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return bank.client.post(f"/accounts/openings/{opening['opening_id']}/complete", json=body)


def open_account(bank: Bank, signing: Key, login: Key) -> dict[str, Any]:
    """Open an account (expects success); the 201 body."""
    opening = start_opening(bank)
    response = complete_opening(bank, opening, opening_body(opening, signing, login))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def login(bank: Bank, key: Key) -> httpx.Response:
    """Log in with a user-authentication key (any outcome)."""
    challenge = bank.client.post("/login/challenges")
    assert challenge.status_code == 201, challenge.text
    c = challenge.json()
    return bank.client.post(
        "/login",
        json={
            "session_id": c["session_id"],
            "challenge_id": c["challenge_id"],
            "signature": b64(key.sign(b64url_decode(c["challenge"]))),
            "certificate": key.der_b64,
        },
    )


def me(bank: Bank, token: str) -> httpx.Response:
    return bank.client.get("/customers/me", headers={"Authorization": f"Bearer {token}"})


def grant_consent(
    world: World, client_id: str, holder: Card | Smartphone, *, pin: str, action: str = "grant"
) -> None:
    """The holder, in the platform's app, grants (or withdraws) consent for ``client_id`` to get the latest
    attributes: the card or phone signs the platform's consent structure and the holder enters the
    user-authentication ``pin`` (mock_platform.device.platform_holder)."""
    answer = set_consent(world.client, holder, client_id, action, pin=pin)
    assert answer["status"] in ("granted", "withdrawn"), answer


def deliver_webhooks(world: World) -> dict[str, Any]:
    """The mock sends its due webhook events now (``POST /admin/webhooks/deliver``)."""
    answer = world.client.post("/admin/webhooks/deliver")
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem answer with ``status`` and ``code``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == "https://myna-rp.example/examples/bank-kyc/problems/" + code.lower().replace(
        "_", "-"
    )
    assert {"title", "detail", "instance"} <= body.keys()
    return body


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as the bank received it, and its answer."""

    host: str
    headers: dict[str, str]
    body: bytes
    status: int
    answer: Any


@dataclass
class WebhookRouter(httpx.BaseTransport):
    """The mock's webhook transport: POSTs to ``http://<host>/…`` go to the TestClient registered for
    ``<host>``; an unknown host is a connection error (the mock schedules a retry)."""

    targets: dict[str, TestClient] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = self.targets.get(request.url.host)
        if target is None:
            raise httpx.ConnectError("no bank at this host", request=request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = target.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            content=request.read(),
            headers=headers,
        )
        self.deliveries.append(
            Delivery(request.url.host, headers, request.read(), answer.status_code, answer.json())
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
