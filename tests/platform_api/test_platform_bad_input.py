"""Authenticated bad input on every platform-API route: always a 4xx problem+json with a stable code, never
a 5xx (the schemathesis run of the whole app cannot authenticate, so it only reaches the 401s here)."""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_support import HANAKO, World
from platform_api_support import register_rp

from mock_platform.ca.cms import SignerIdentifierType

STABLE_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_b64 = st.binary(max_size=600).map(lambda raw: base64.b64encode(raw).decode())
_text = st.text(max_size=80)
_value = st.one_of(_b64, _text, st.integers(), st.none(), st.booleans())

ROUTES: list[tuple[str, str, dict[str, st.SearchStrategy[Any]]]] = [
    ("POST", "/platform/v1/signatures/verify", {"data": _value, "signature": _value, "certificate": _value}),
    (
        "POST",
        "/platform/v1/signatures/verify-cms",
        {"signed_data": _value, "content": _value, "certificate": _value},
    ),
    (
        "POST",
        "/platform/v1/authentication/verify",
        {"challenge_id": _value, "signature": _value, "certificate": _value},
    ),
    (
        "POST",
        "/platform/v1/holder/consents",
        {"challenge_id": _value, "signature": _value, "user_authentication_pin": _value},
    ),
    (
        "POST",
        "/platform/v1/holder/consent-challenges",
        {
            "client_id": _value,
            "action": _value,
            "method": _value,
            "card_id": _value,
            "device_id": _value,
            "registration_id": _value,
        },
    ),
]


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code
        assert STABLE_CODE.fullmatch(body["code"])


def _fuzz(
    world: World, method: str, path: str, fields: dict[str, st.SearchStrategy[Any]], headers: dict[str, str]
) -> None:
    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries({}, optional=fields))
    def run(body: dict[str, Any]) -> None:
        _check(world.client.request(method, path, json=body, headers=headers))

    run()


def test_random_bodies_never_fail_the_server(world: World) -> None:
    kit = register_rp(world.client, "Fuzz RP", api_key=True)
    assert kit.api_key is not None
    headers = {"X-API-Key": kit.api_key}
    for method, path, fields in ROUTES:
        _fuzz(world, method, path, fields, headers)
    for path in ("/platform/v1/certificates/zz/status", "/platform/v1/certificates/" + "f" * 41 + "/status"):
        _check(world.client.get(path, headers=headers))
    for user in ("short", "x" * 43, "%00" * 3):
        _check(world.client.get(f"/platform/v1/users/{user}/attributes", headers=headers))


def test_structurally_valid_but_wrong_inputs(world: World) -> None:
    kit = register_rp(world.client, "Edge RP", api_key=True)
    assert kit.api_key is not None
    headers = {"X-API-Key": kit.api_key}
    person = world.person(HANAKO)
    token = person.card.signing
    der = token.certificate.public_bytes(Encoding.DER)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        # CMS: the signer certificate neither included nor given.
        (
            "/platform/v1/signatures/verify-cms",
            {
                "signed_data": b64(
                    token.sign_cms(b"x", signing_time=world.clock.now(), include_certificate=False)
                )
            },
            422,
            "MALFORMED_INPUT",
        ),
        # CMS: detached without content.
        (
            "/platform/v1/signatures/verify-cms",
            {"signed_data": b64(token.sign_cms(b"x", signing_time=world.clock.now(), detached=True))},
            422,
            "MALFORMED_INPUT",
        ),
        # CMS: not a SignedData at all; a certificate where CMS goes.
        ("/platform/v1/signatures/verify-cms", {"signed_data": b64(der)}, 422, "MALFORMED_INPUT"),
        # Raw: truncated certificate, empty-ish signature.
        (
            "/platform/v1/signatures/verify",
            {"data": b64(b"x"), "signature": b64(token.sign(b"x")), "certificate": b64(der[:-10])},
            422,
            "MALFORMED_INPUT",
        ),
        (
            "/platform/v1/signatures/verify",
            {"data": b64(b"x"), "signature": b64(b"\x00"), "certificate": b64(der)},
            422,
            "SIGNATURE_INVALID",
        ),
        # Padding in the middle: refused by the schema; a bad length: refused when decoding.
        (
            "/platform/v1/signatures/verify",
            {"data": "QQ==QQ==", "signature": b64(b"s"), "certificate": b64(der)},
            422,
            "VALIDATION_ERROR",
        ),
        (
            "/platform/v1/signatures/verify",
            {"data": "QQ=", "signature": b64(b"s"), "certificate": b64(der)},
            422,
            "MALFORMED_INPUT",
        ),
        # Login with an unknown challenge.
        (
            "/platform/v1/authentication/verify",
            {"challenge_id": "chl_nope", "signature": b64(b"s"), "certificate": b64(der)},
            422,
            "CHALLENGE_UNKNOWN",
        ),
    ]
    for path, body, status, code in cases:
        answer = world.client.post(path, json=body, headers=headers)
        assert (answer.status_code, answer.json().get("code")) == (status, code), (path, answer.text)
    # The CMS signer named by subjectKeyIdentifier and given separately verifies.
    by_ski = token.sign_cms(
        b"x",
        signing_time=world.clock.now(),
        signer_identifier=SignerIdentifierType.SUBJECT_KEY_IDENTIFIER,
        include_certificate=False,
    )
    answer = world.client.post(
        "/platform/v1/signatures/verify-cms",
        json={"signed_data": b64(by_ski), "certificate": b64(der)},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["signed_content"] == b64(b"x")
