"""The ASGI path itself: ``httpx.AsyncClient(transport=httpx.ASGITransport(app))`` drives the mock's admin,
CA, OCSP and CRL endpoints directly, and the SDK's building blocks (request builder, response and CRL
validation) judge what comes back. No sync bridge, no TestClient.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import urllib.parse
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from integration_support import (
    BASE_URL,
    CARD_EXPIRY,
    DATE_OF_BIRTH,
    MUNICIPALITY,
    NOW,
    OCSP_RESPONSE_TYPE,
    OCSP_VALIDITY,
    PERSON,
    PREFECTURE,
)

from mock_platform.app import create_app
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.settings import Settings
from myna_rp.errors import OCSPFailure, OCSPResponseInvalidError
from myna_rp.revocation import (
    CertStatus,
    RevocationPolicy,
    RevocationReason,
    build_ocsp_request,
    validate_crl,
    validate_ocsp_response,
)

pytestmark = pytest.mark.anyio
REQUIRE_WITH_NONCE = dataclasses.replace(
    RevocationPolicy.REQUIRE, name="REQUIRE_WITH_NONCE", require_ocsp_nonce=True
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(template_database: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "mock.sqlite3"
    shutil.copy(template_database, path)
    database = Database(f"sqlite:///{path}")
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True), clock=MockClock(NOW), database=database
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as async_client:
        yield async_client
    database.dispose()


async def roots(client: httpx.AsyncClient) -> dict[tuple[str, int], x509.Certificate]:
    response = await client.get("/ca")
    assert response.status_code == 200
    return {
        (item["purpose"], item["generation"]): x509.load_pem_x509_certificate(
            item["certificate_pem"].encode()
        )
        for item in response.json()
    }


async def enroll(client: httpx.AsyncClient, token: TokenSimulator) -> dict[str, Any]:
    response = await client.post(
        "/admin/certificates",
        json={
            "kind": "signing",
            "public_key_pem": token.public_key_pem(),
            "date_of_birth": DATE_OF_BIRTH,
            "card_expiry": CARD_EXPIRY,
            "prefecture": PREFECTURE,
            "municipality": MUNICIPALITY,
            "attributes": PERSON,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def ask(
    client: httpx.AsyncClient, certificate: x509.Certificate, issuer: x509.Certificate, *, get: bool = False
) -> tuple[bytes, bytes | None]:
    """One OCSP exchange built by the SDK; returns (response DER, the nonce sent)."""
    request = build_ocsp_request(certificate, issuer)
    if get:
        encoded = urllib.parse.quote(base64.b64encode(request.der).decode(), safe="")
        response = await client.get(f"/ocsp/{encoded}")
    else:
        response = await client.post(
            "/ocsp", content=request.der, headers={"content-type": "application/ocsp-request"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == OCSP_RESPONSE_TYPE
    assert response.headers["cache-control"] == "no-store"
    return response.content, request.nonce


def foreign_root() -> x509.Certificate:
    """A CA with J-LIS's signing DN and another key (EC: instant to generate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string(
        "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for digital signature,O=JPKI,C=JP"
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


async def test_issue_check_revoke_and_crl_over_asgi(
    client: httpx.AsyncClient, tokens: dict[str, TokenSimulator]
) -> None:
    anchors = await roots(client)
    issuer = anchors[("signing", 2)]
    issued = await enroll(client, tokens["card_signing"])
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
    assert certificate.public_key() == tokens["card_signing"].public_key()
    serial = int(issued["serial"], 16)

    der, nonce = await ask(client, certificate, issuer)
    status = validate_ocsp_response(
        der, certificate, issuer, at=NOW, policy=REQUIRE_WITH_NONCE, expected_nonce=nonce
    )
    assert status.status is CertStatus.GOOD
    assert (status.this_update, status.next_update) == (NOW, NOW + OCSP_VALIDITY)

    advanced = await client.post("/admin/clock", json={"advance_seconds": 90})
    later = NOW + timedelta(seconds=90)
    assert advanced.json()["now"].startswith(later.strftime("%Y-%m-%dT%H:%M:%S"))
    revoked = await client.post(
        f"/admin/certificates/{issued['serial']}/revoke", json={"reason": "keyCompromise"}
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"

    for get in (False, True):
        der, nonce = await ask(client, certificate, issuer, get=get)
        status = validate_ocsp_response(
            der, certificate, issuer, at=later, policy=REQUIRE_WITH_NONCE, expected_nonce=nonce
        )
        assert status.status is CertStatus.REVOKED
        assert status.reason is RevocationReason.KEY_COMPROMISE
        assert status.revocation_time == later
        assert status.this_update == later

    forced = await client.post("/admin/crl/issue", json={"purpose": "signing"})
    assert forced.status_code == 200
    crl_response = await client.get("/crl/signing/2.crl")
    assert crl_response.headers["content-type"] == "application/pkix-crl"
    index = validate_crl(crl_response.content, issuer, at=later, policy=RevocationPolicy.CRL_ONLY)
    entry = index.lookup(serial)
    assert entry.status is CertStatus.REVOKED
    assert entry.reason is RevocationReason.KEY_COMPROMISE
    assert index.crl_number == max(c["crl_number"] for c in forced.json() if c["generation"] == 2)


async def test_concurrent_ocsp_requests_over_asgi(
    client: httpx.AsyncClient, tokens: dict[str, TokenSimulator]
) -> None:
    anchors = await roots(client)
    issuer = anchors[("signing", 2)]
    certificates = []
    for _ in range(3):
        issued = await enroll(client, tokens["card_signing"])
        certificates.append(x509.load_pem_x509_certificate(issued["certificate_pem"].encode()))
    results: list[CertStatus] = []

    async def one(certificate: x509.Certificate) -> None:
        der, nonce = await ask(client, certificate, issuer)
        status = validate_ocsp_response(
            der, certificate, issuer, at=NOW, policy=REQUIRE_WITH_NONCE, expected_nonce=nonce
        )
        results.append(status.status)

    async with anyio.create_task_group() as group:
        for certificate in certificates * 4:
            group.start_soon(one, certificate)
    assert results == [CertStatus.GOOD] * 12


async def test_error_answers_over_asgi(client: httpx.AsyncClient, tokens: dict[str, TokenSimulator]) -> None:
    anchors = await roots(client)
    issuer = anchors[("signing", 2)]
    issued = await enroll(client, tokens["card_signing"])
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())

    # A malformed OCSP request gets an OCSP error status (HTTP 200), which the SDK refuses as an answer.
    garbage = await client.post(
        "/ocsp", content=b"\x30\x03garbage", headers={"content-type": "application/ocsp-request"}
    )
    assert garbage.status_code == 200
    with pytest.raises(OCSPResponseInvalidError) as caught:
        validate_ocsp_response(garbage.content, certificate, issuer, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause is OCSPFailure.RESPONDER_ERROR

    # A request about a CA the mock does not run: 'unauthorized'.
    foreign = build_ocsp_request(certificate, foreign_root())
    answer = await client.post(
        "/ocsp", content=foreign.der, headers={"content-type": "application/ocsp-request"}
    )
    with pytest.raises(OCSPResponseInvalidError) as caught:
        validate_ocsp_response(answer.content, certificate, issuer, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause is OCSPFailure.RESPONDER_ERROR

    # HTTP-level problems are RFC 9457 documents.
    wrong_type = await client.post("/ocsp", content=b"x", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"].startswith("application/problem+json")
    release = await client.post(f"/admin/certificates/{issued['serial']}/release")
    assert release.status_code == 409
    assert release.json()["code"] == "NOT_ON_HOLD"
