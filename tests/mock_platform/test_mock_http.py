"""The HTTP API: OCSP POST/GET, CRL and CA downloads, admin JSON, RFC 9457 problems, test-mode clock."""

from __future__ import annotations

import base64
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509 import ocsp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mockpki_helpers import NOW

from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock

SIGNING_REQUEST: dict[str, Any] = {
    "kind": "signing",
    "form_factor": "card",
    "date_of_birth": "319800412",
    "card_expiry": "2034-04-12",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
    "attributes": {"name": "試験　太郎", "gender": "1", "address": "東京都千代田区試験町一丁目99番99号"},
}


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def test_mode_client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(test_mode=True)) as test_client:
        yield test_client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    assert "Traceback" not in response.text
    return body


def issue_signing(client: TestClient, token: TokenSimulator, **changes: Any) -> dict[str, Any]:
    payload = {**SIGNING_REQUEST, "public_key_pem": token.public_key_pem(), **changes}
    response = client.post("/admin/certificates", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ocsp_request(
    certificate: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def root(client: TestClient, purpose: str, generation: int) -> x509.Certificate:
    response = client.get(f"/ca/{purpose}/{generation}.cer")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-cert"
    return x509.load_der_x509_certificate(response.content)


# ---------------------------------------------------------------------------------------------- CA, issue


def test_ca_listing(client: TestClient) -> None:
    listing = client.get("/ca").json()
    assert [(c["purpose"], c["generation"]) for c in listing] == [
        ("signing", 1),
        ("signing", 2),
        ("user_authentication", 1),
        ("user_authentication", 2),
    ]
    for entry in listing:
        cert = x509.load_pem_x509_certificate(entry["certificate_pem"].encode())
        assert cert.fingerprint(hashes.SHA256()).hex() == entry["sha256_fingerprint"]
        assert root(client, entry["purpose"], entry["generation"]) == cert
    assert_problem(client.get("/ca/signing/7.cer"), 404, "UNKNOWN_CA")
    assert_problem(client.get("/ca/nonsense/1.cer"), 422, "VALIDATION_ERROR")


def test_issue_status_revoke_release(client: TestClient, rsa_token: TokenSimulator) -> None:
    body = issue_signing(client, rsa_token)
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    assert body["serial"] == format(cert.serial_number, "x")
    assert body["issuer"] == {"purpose": "signing", "generation": 2}
    assert cert.public_key() == rsa_token.public_key()
    serial = body["serial"]
    state = client.get(f"/admin/certificates/{serial.upper()}").json()
    assert state["status"] == "good"
    assert state["subject_id"] == body["subject_id"]
    assert "試験" not in str(state)  # no personal data in the state
    held = client.post(f"/admin/certificates/0x{serial}/revoke", json={"reason": "certificateHold"}).json()
    assert held["status"] == "on_hold"
    assert held["revocation_reason"] == "certificateHold"
    assert_problem(
        client.post(f"/admin/certificates/{serial}/revoke", json={"reason": "certificateHold"}),
        409,
        "ALREADY_ON_HOLD",
    )
    assert client.post(f"/admin/certificates/{serial}/release").json()["status"] == "good"
    assert_problem(client.post(f"/admin/certificates/{serial}/release"), 409, "NOT_ON_HOLD")
    revoked = client.post(
        f"/admin/certificates/{serial}/revoke", json={"reason": "affiliationChanged"}
    ).json()
    assert revoked["status"] == "revoked"
    assert_problem(
        client.post(f"/admin/certificates/{serial}/revoke", json={"reason": "superseded"}),
        409,
        "ALREADY_REVOKED",
    )


def test_issue_user_authentication_and_ec(client: TestClient, ec_token: TokenSimulator) -> None:
    response = client.post(
        "/admin/certificates",
        json={
            "kind": "user_authentication",
            "form_factor": "android",
            "public_key_pem": ec_token.public_key_pem(),
            "date_of_birth": "319800412",
        },
    )
    assert response.status_code == 201, response.text
    cert = x509.load_pem_x509_certificate(response.json()["certificate_pem"].encode())
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.392.200149.8.5.1.3.40"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        (
            {"public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
            422,
            "INVALID_PUBLIC_KEY",
        ),
        ({"public_key_pem": "hello"}, 422, "INVALID_PUBLIC_KEY"),
        ({"date_of_birth": "419800412"}, 422, "INVALID_ATTRIBUTES"),  # Heisei digit with a Showa date
        ({"date_of_birth": "3198004"}, 422, "VALIDATION_ERROR"),
        ({"attributes": None}, 422, "INVALID_ATTRIBUTES"),
        ({"prefecture": None}, 422, "INVALID_ATTRIBUTES"),
        ({"kind": "user_authentication"}, 422, "INVALID_ATTRIBUTES"),
        ({"card_expiry": "2026-01-01"}, 422, "INVALID_VALIDITY"),
        ({"form_factor": "watch"}, 422, "VALIDATION_ERROR"),
        ({"unexpected": 1}, 422, "VALIDATION_ERROR"),
        (
            {"attributes": {**SIGNING_REQUEST["attributes"], "name_substitute_positions": "01"}},
            422,
            "INVALID_ATTRIBUTES",
        ),
        ({"attributes": {**SIGNING_REQUEST["attributes"], "gender": "9"}}, 422, "VALIDATION_ERROR"),
    ],
)
def test_issue_bad_input_is_a_4xx_problem(
    client: TestClient, rsa_token: TokenSimulator, changes: dict[str, Any], status: int, code: str
) -> None:
    payload = {**SIGNING_REQUEST, "public_key_pem": rsa_token.public_key_pem(), **changes}
    body = assert_problem(client.post("/admin/certificates", json=payload), status, code)
    assert "試験" not in str(body)  # the input is never echoed


def test_unsupported_key_type(client: TestClient) -> None:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    payload = {**SIGNING_REQUEST, "public_key_pem": pem.decode()}
    assert_problem(client.post("/admin/certificates", json=payload), 422, "UNSUPPORTED_KEY_TYPE")


def test_validation_problem_lists_errors_without_input(client: TestClient) -> None:
    body = assert_problem(
        client.post("/admin/certificates", json={"kind": "signing", "secret": "試験"}),
        422,
        "VALIDATION_ERROR",
    )
    assert body["errors"]
    assert all(set(error) == {"loc", "msg", "type"} for error in body["errors"])
    assert "試験" not in str(body)
    assert_problem(
        client.post(
            "/admin/certificates", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "VALIDATION_ERROR",
    )


def test_serial_and_route_problems(client: TestClient) -> None:
    assert_problem(client.get("/admin/certificates/xyz"), 422, "INVALID_SERIAL")
    assert_problem(client.get("/admin/certificates/" + "f" * 41), 422, "INVALID_SERIAL")
    assert_problem(client.get("/admin/certificates/abc123"), 404, "UNKNOWN_CERTIFICATE")
    assert_problem(client.post("/admin/certificates/abc123/release"), 404, "UNKNOWN_CERTIFICATE")
    assert_problem(
        client.post("/admin/certificates/abc123/revoke", json={"reason": "removeFromCRL"}),
        422,
        "VALIDATION_ERROR",
    )
    assert_problem(client.get("/no/such/route"), 404, "NOT_FOUND")
    assert_problem(client.delete("/ca"), 405, "METHOD_NOT_ALLOWED")


def test_unexpected_error_is_a_500_problem_without_traceback(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    app.state.ca_service.ca_certificates = boom
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        body = assert_problem(client.get("/ca"), 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in str(body)


def test_request_size_limit(make_app: Callable[..., FastAPI]) -> None:
    with TestClient(make_app(max_request_bytes=1024)) as client:
        assert_problem(
            client.post(
                "/ocsp", content=b"\x00" * 2048, headers={"content-type": "application/ocsp-request"}
            ),
            413,
            "REQUEST_TOO_LARGE",
        )

        def chunks() -> Iterator[bytes]:
            yield b"\x00" * 1000
            yield b"\x00" * 1000

        assert_problem(
            client.post("/ocsp", content=chunks(), headers={"content-type": "application/ocsp-request"}),
            413,
            "REQUEST_TOO_LARGE",
        )
        # A JSON route reads the body through the framework, which would answer its own 400: still 413.
        assert_problem(
            client.post(
                "/android/applications", content=chunks(), headers={"content-type": "application/json"}
            ),
            413,
            "REQUEST_TOO_LARGE",
        )


# ---------------------------------------------------------------------------------------------- OCSP


def test_ocsp_post_and_get(client: TestClient, rsa_token: TokenSimulator) -> None:
    body = issue_signing(client, rsa_token)
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    issuer = root(client, "signing", 2)
    der = ocsp_request(cert, issuer, nonce=b"n" * 16)

    post = client.post("/ocsp", content=der, headers={"content-type": "application/ocsp-request"})
    assert post.status_code == 200
    assert post.headers["content-type"] == "application/ocsp-response"
    response = ocsp.load_der_ocsp_response(post.content)
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16

    standard = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    urlsafe = base64.urlsafe_b64encode(der).decode().rstrip("=")
    for encoded in (standard, urlsafe):
        get = client.get(f"/ocsp/{encoded}")
        assert get.status_code == 200
        assert ocsp.load_der_ocsp_response(get.content).certificate_status is ocsp.OCSPCertStatus.GOOD

    client.post(f"/admin/certificates/{body['serial']}/revoke", json={"reason": "keyCompromise"})
    revoked = ocsp.load_der_ocsp_response(client.post("/ocsp", content=der).content)
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.key_compromise


def test_ocsp_malformed_is_an_ocsp_error_not_500(client: TestClient) -> None:
    for response in (
        client.post("/ocsp", content=b"junk", headers={"content-type": "application/ocsp-request"}),
        client.post("/ocsp", content=b""),
        client.get("/ocsp/%%%not-base64"),
        client.get("/ocsp/" + base64.b64encode(b"junk").decode()),
    ):
        assert response.status_code == 200
        parsed = ocsp.load_der_ocsp_response(response.content)
        assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert_problem(
        client.post("/ocsp", content=b"x", headers={"content-type": "text/plain"}),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )


def test_ocsp_delegated_responder_setting(
    make_app: Callable[..., FastAPI], rsa_token: TokenSimulator
) -> None:
    with TestClient(make_app(ocsp_delegated_responder=True, ocsp_responder_id="by_name")) as client:
        body = issue_signing(client, rsa_token)
        cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
        response = ocsp.load_der_ocsp_response(
            client.post("/ocsp", content=ocsp_request(cert, root(client, "signing", 2))).content
        )
        (responder,) = response.certificates
        assert response.responder_name == responder.subject
        assert responder.extensions.get_extension_for_class(x509.OCSPNoCheck)


# ---------------------------------------------------------------------------------------------- CRL, clock


def test_crl_routes(test_mode_client: TestClient, rsa_token: TokenSimulator) -> None:
    client = test_mode_client
    first = client.get("/crl/signing/2.crl")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(first.content)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    root_key = root(client, "signing", 2).public_key()
    assert isinstance(root_key, rsa.RSAPublicKey)
    assert crl.is_signature_valid(root_key)

    body = issue_signing(client, rsa_token)
    serial = int(body["serial"], 16)
    client.post(f"/admin/certificates/{body['serial']}/revoke", json={"reason": "superseded"})
    same = x509.load_der_x509_crl(client.get("/crl/signing/2.crl").content)
    assert same.get_revoked_certificate_by_serial_number(serial) is None  # not before the next issue

    forced = client.post("/admin/crl/issue", json={"purpose": "signing"}).json()
    assert [(c["generation"], c["crl_number"]) for c in forced] == [(1, 1), (2, 2)]
    latest = x509.load_der_x509_crl(client.get(forced[1]["url"]).content)
    assert latest.get_revoked_certificate_by_serial_number(serial) is not None

    assert client.post("/admin/clock", json={"advance_seconds": 86400}).status_code == 200
    scheduled = x509.load_der_x509_crl(client.get("/crl/signing/2.crl").content)
    assert scheduled.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3
    assert client.post("/admin/crl/issue").status_code == 200  # empty body = everything
    assert_problem(client.get("/crl/signing/5.crl"), 404, "UNKNOWN_CA")


def test_clock_endpoints(test_mode_client: TestClient, clock: MockClock) -> None:
    client = test_mode_client
    assert client.get("/admin/clock").json()["now"] == "2026-11-29T03:00:00Z"
    moved = client.post("/admin/clock", json={"now": "2027-01-01T09:00:00+09:00"}).json()
    assert moved["now"] == "2027-01-01T00:00:00Z"
    assert clock.now() == NOW.replace(year=2027, month=1, day=1, hour=0)
    assert client.post("/admin/clock", json={"advance_seconds": -60}).json()["now"] == "2026-12-31T23:59:00Z"
    assert_problem(client.post("/admin/clock", json={}), 422, "VALIDATION_ERROR")
    assert_problem(
        client.post("/admin/clock", json={"now": "2027-01-01T00:00:00", "advance_seconds": 1}),
        422,
        "VALIDATION_ERROR",
    )
    assert_problem(
        client.post("/admin/clock", json={"now": "2027-01-01T00:00:00"}), 422, "VALIDATION_ERROR"
    )  # naive
    assert clock.now() - NOW > timedelta(days=30)


def test_clock_endpoints_absent_outside_test_mode(client: TestClient) -> None:
    assert_problem(client.get("/admin/clock"), 404, "NOT_FOUND")
    assert_problem(client.post("/admin/clock", json={"advance_seconds": 1}), 404, "NOT_FOUND")


def test_openapi_document_builds(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "/admin/certificates" in document["paths"]
    assert "/ocsp" in document["paths"]


def test_personal_attributes_are_never_logged(
    client: TestClient, rsa_token: TokenSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        body = issue_signing(client, rsa_token)
        client.post(f"/admin/certificates/{body['serial']}/revoke", json={"reason": "keyCompromise"})
        client.post("/admin/crl/issue")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert body["serial"] in text  # something is logged …
    for value in ("試験", "太郎", "千代田区試験町", "319800412"):  # … but no attribute
        assert value not in text
