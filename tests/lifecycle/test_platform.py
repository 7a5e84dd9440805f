"""Clock and notices (issue point 7), revocation following state (8), errors and OpenAPI, the device
simulator's signatures (9)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from lifecycle_support import CARD_PASSWORD, NOW, PHONE_PASSWORD, PHONE_PIN, TARO, KeyPool, World, problem

from mock_platform.app import create_app
from mock_platform.ca.keys import PrivateKey
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.device import MunicipalCounter, Smartphone
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings
from myna_rp.jpki import CertificateKind


def test_7_test_mode_clock_endpoints_drive_notices(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    assert phone.notices() == []
    moved = world.client.post("/admin/clock", json={"advance_seconds": 300}).json()
    assert datetime.fromisoformat(moved["now"]) == datetime(2026, 11, 29, 3, 5, tzinfo=UTC)
    notices = phone.notices()
    assert [n["kind"] for n in notices] == ["registration_ready"]
    assert phone.notices(after=notices[-1]["notice_id"]) == []  # poll with a cursor


def test_7_notices_of_unknown_devices_are_404(world: World) -> None:
    response = world.client.get("/devices/nobody/notices")
    assert (response.status_code, response.json()["code"]) == (404, "UNKNOWN_DEVICE")
    assert response.headers["content-type"] == "application/problem+json"


def _crl_serials(world: World, certificate: x509.Certificate) -> set[int]:
    state = world.client.get(f"/admin/certificates/{certificate.serial_number:x}").json()
    issuer = state["issuer"]
    der = world.client.get(f"/crl/{issuer['purpose']}/{issuer['generation']}.crl").content
    return {entry.serial_number for entry in x509.load_der_x509_crl(der)}


def test_8_ocsp_changes_at_once_and_the_crl_at_its_next_scheduled_issue(fresh_world: World) -> None:
    world = fresh_world
    hanako = world.person()
    phone = world.android_registered(hanako)
    certificate = phone.signing_certificate
    assert certificate.serial_number not in _crl_serials(world, certificate)
    phone.stop_with_password(PHONE_PASSWORD)
    assert world.sdk_status(phone.signing) == "revoked:cessationOfOperation"
    assert certificate.serial_number not in _crl_serials(world, certificate)  # same CRL until the next issue
    world.set_jst(0, 1, days=1)  # the daily issue at 00:00 JST has come
    assert certificate.serial_number in _crl_serials(world, certificate)


def test_8_hold_and_release_follow_in_ocsp(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    world.counter.suspend_phone(hanako.resident_id)
    assert world.sdk_status(phone.user_authentication) == "on_hold"
    phone.resume(hanako.card, CARD_PASSWORD)
    assert world.sdk_status(phone.user_authentication) == "good"


def test_9_device_simulator_signs_rp_challenges_raw_and_cms(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    verifier = world.verifier()
    signed = phone.sign_cms(b"application form", signing_time=world.clock.now())
    result = verifier.verify_cms(signed)
    assert (result.signed_content, result.certificate_kind) == (b"application form", CertificateKind.SIGNING)
    detached = phone.sign_cms(b"detached", signing_time=world.clock.now(), detached=True)
    assert verifier.verify_cms(detached, content=b"detached").signed_content == b"detached"
    login = verifier.verify_authentication(
        challenge=b"rp-nonce",
        signature=phone.authenticate(b"rp-nonce"),
        certificate=phone.user_authentication_certificate,
    )
    assert login.subject_id


def test_9_device_simulator_without_registration_cannot_sign(world: World) -> None:
    phone = world.phone()
    with pytest.raises(LookupError):
        phone.sign(b"x")
    with pytest.raises(LookupError):
        phone.authenticate(b"x")
    with pytest.raises(RuntimeError):
        phone.status()
    with pytest.raises(ValueError, match="platform"):
        world.phone("blackberry")


# ----------------------------------------------------------------------------------------- errors

_ROUTES: list[tuple[str, str]] = [
    ("POST", "/admin/residents"),
    ("GET", "/admin/residents/res_x"),
    ("POST", "/admin/residents/res_x/cards"),
    ("GET", "/admin/cards/card_x"),
    ("POST", "/admin/cards/card_x/pin-reset"),
    ("POST", "/admin/residents/res_x/attribute-change"),
    ("POST", "/admin/cards/card_x/renewal"),
    ("POST", "/admin/hotline/cards/card_x/suspend"),
    ("POST", "/admin/cards/card_x/found"),
    ("POST", "/admin/hotline/residents/res_x/smartphone-suspension"),
    ("POST", "/cards/card_x/challenges"),
    ("POST", "/cards/card_x/verify-pin"),
    ("POST", "/android/applications"),
    ("POST", "/android/applications/reg_x/card-read"),
    ("POST", "/android/applications/reg_x/passwords"),
    ("POST", "/android/applications/reg_x/register"),
    ("POST", "/iphone/additions"),
    ("POST", "/iphone/additions/reg_x/card-face-pin"),
    ("POST", "/iphone/additions/reg_x/signing-password"),
    ("POST", "/iphone/additions/reg_x/card-read"),
    ("POST", "/iphone/additions/reg_x/credentials"),
    ("POST", "/iphone/additions/reg_x/wallet"),
    ("POST", "/iphone/additions/reg_x/provision"),
    ("GET", "/registrations/reg_x"),
    ("POST", "/registrations/reg_x/stop"),
    ("POST", "/smartphones/delete-other"),
    ("POST", "/registrations/reg_x/resume"),
    ("POST", "/registrations/reg_x/cancel"),
    ("GET", "/devices/dev_x/notices"),
    ("GET", "/smartphone/uses"),
]
_BODIES: list[Any] = [
    None,
    b"{not json",
    [],
    {"device_id": 7},
    {"device_id": "d", "card_read": {"challenge_id": "chl_x", "signature": "%%%"}},
    {"device_id": "d", "pin": "1234", "password": "AB1234", "method": "card"},
    {"device_id": "x" * 65},
]


@pytest.mark.parametrize(("method", "path"), _ROUTES)
def test_errors_bad_input_is_a_4xx_problem_never_a_500(world: World, method: str, path: str) -> None:
    for body in _BODIES:
        if isinstance(body, bytes):
            response = world.client.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
        else:
            response = world.client.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (path, body, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"].isupper()


def test_errors_unknown_ids_have_stable_codes(world: World) -> None:
    assert world.client.get("/admin/residents/res_x").json()["code"] == "UNKNOWN_RESIDENT"
    assert world.client.get("/admin/cards/card_x").json()["code"] == "UNKNOWN_CARD"
    assert world.client.get("/registrations/reg_x").json()["code"] == "UNKNOWN_REGISTRATION"
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    bad = {"device_id": phone.device_id, "card_read": {"challenge_id": "chl_nope", "signature": "AAAA"}}
    response = world.client.post(f"/android/applications/{phone.registration_id}/card-read", json=bad)
    assert (response.status_code, response.json()["code"]) == (404, "UNKNOWN_CHALLENGE")


def test_errors_problem_documents_never_echo_secrets(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    phone.read_card(hanako.card)
    error = problem(
        phone.set_passwords,
        signing_password="SECRET9",
        signing_password_confirmation="SECRET8",
        user_authentication_pin=PHONE_PIN,
    )
    assert "SECRET" not in str(error.body)
    error = problem(world.phone().android_apply, hanako.card, "TOPSECRET1")
    assert "TOPSECRET1" not in str(error.body)


def test_errors_no_personal_data_or_pins_in_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    hanako = world.person()
    phone = world.android_registered(hanako)
    problem(phone.stop_with_password, "WRONG9")
    text = caplog.text
    for secret in ("試験", "東京都", "319850704", CARD_PASSWORD, PHONE_PASSWORD, "WRONG9"):
        assert secret not in text


def test_openapi_every_lifecycle_route_is_documented_with_examples(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for method, path in _ROUTES:
        template = path
        for raw, name in (
            ("res_x", "{resident_id}"),
            ("card_x", "{card_id}"),
            ("reg_x", "{registration_id}"),
            ("dev_x", "{device_id}"),
        ):
            template = template.replace(raw, name)
        operation = spec["paths"][template][method.lower()]
        assert operation["summary"]
        body = operation.get("requestBody")
        if body is not None:
            reference = body["content"]["application/json"]["schema"]
            reference = reference.get("$ref") or reference["anyOf"][0]["$ref"]
            schema = schemas[reference.rsplit("/", 1)[1]]
            assert schema.get("examples"), f"{method} {template} request has no example"
        answer = operation["responses"][next(code for code in operation["responses"] if code.startswith("2"))]
        answer_schema = answer["content"]["application/json"]["schema"]
        answer_schema = answer_schema.get("items", answer_schema)
        if "$ref" in answer_schema:
            assert schemas[answer_schema["$ref"].rsplit("/", 1)[1]].get("examples"), f"{template} answer"
        problems = [code for code in operation["responses"] if code.startswith("4")]
        assert problems or (method == "GET" and template == "/smartphone/uses"), template


def test_registration_expiry_edge_next_day_clock(world: World) -> None:
    """Registration long after the notice still works (the notice does not expire)."""
    hanako = world.person()
    phone = world.phone()
    phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
        certificates=("user_authentication",),
    )
    world.advance(days=3)
    assert phone.register()["state"] == "registered"
    assert phone.user_authentication_certificate.not_valid_before_utc <= world.clock.now() + timedelta(days=1)


def test_9_device_simulator_against_a_real_loopback_server(
    lifecycle_template: Path, tmp_path: Path, key_material: list[PrivateKey]
) -> None:
    """The same simulator over sockets: uvicorn on 127.0.0.1 in a thread, a plain httpx.Client."""
    path = tmp_path / "served.sqlite3"
    shutil.copy(lifecycle_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            keys = KeyPool(key_material)
            counter = MunicipalCounter(http, keys=keys)
            resident = counter.enrol(dict(TARO))
            card = counter.issue_card(
                resident, signing_password=CARD_PASSWORD, user_authentication_pin="1234", card_face_pin="9120"
            )
            phone = Smartphone(http, "android", keys=keys)
            phone.android_apply_all(
                card,
                CARD_PASSWORD,
                phone_signing_password=PHONE_PASSWORD,
                phone_user_authentication_pin=PHONE_PIN,
            )
            http.post("/admin/clock", json={"advance_seconds": 300}).raise_for_status()
            assert phone.register()["state"] == "registered"
            assert phone.signing_certificate.public_key() == phone.signing.public_key()  # type: ignore[union-attr]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()
