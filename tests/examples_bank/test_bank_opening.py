"""Account opening (eKYC with the signing certificate) at the example bank, end to end: the mock platform
and the bank in-process, the device simulator playing a card, an Android phone and an iPhone."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from bank_support import (
    Bank,
    MakeBank,
    b64,
    b64url_decode,
    card_keys,
    complete_opening,
    open_account,
    opening_body,
    phone_keys,
    problem,
    start_opening,
)
from cryptography.hazmat.primitives.serialization import Encoding
from lifecycle_support import HANAKO, MOVED, PHONE_PASSWORD, TARO, World

from myna_rp.identity import VerificationMode
from myna_rp.jpki import CertificateKind, FormFactor
from myna_rp.kyc import KycMethod, RetentionProfile, load_jsonl
from myna_rp.revocation import CertStatus


def _assert_opened(bank: Bank, opened: dict[str, object], resident: dict[str, str], form_factor: str) -> None:
    """The 201 body, the confirmation record and the customer row agree with the synthetic resident."""
    records = bank.records()
    assert len(records) == 1
    record = records[0]
    assert str(record.record_id) == opened["record_id"]
    assert record.customer_reference == opened["customer_id"]
    assert record.method is KycMethod.JPKI_SIGNING_CERTIFICATE
    assert record.mode is VerificationMode.DIRECT
    assert record.certificate.kind is CertificateKind.SIGNING
    assert record.certificate.form_factor is FormFactor(form_factor)
    assert record.revocation.status is CertStatus.GOOD
    assert record.retention == RetentionProfile.BANK
    assert record.certificate_der is None  # not kept unless configured
    assert record.attributes.name == resident["name"]
    assert record.attributes.address == resident["address"]
    assert record.attributes.date_of_birth.raw == resident["date_of_birth"]
    assert record.attributes.gender.value == resident["gender"]
    assert record.verified_by.organisation == "Example Bank K.K. (synthetic)"
    verification = opened["verification"]
    assert isinstance(verification, dict)
    assert verification["mode"] == "direct"
    assert verification["form_factor"] == form_factor
    assert verification["certificate_serial"] == format(record.certificate.serial_number, "x")
    assert opened["attributes_kept"] == ["name", "address", "date_of_birth"]
    assert opened["login_form_factor"] == form_factor
    # The 201 body carries no personal data.
    text = json.dumps(opened, ensure_ascii=False)
    for value in (resident["name"], resident["address"], resident["date_of_birth"]):
        assert value not in text
    customer = bank.service.customers.get(str(opened["customer_id"]))
    assert customer is not None
    assert customer.attributes.name == resident["name"]
    assert customer.attributes.address == resident["address"]
    assert customer.attributes.date_of_birth == resident["date_of_birth"]
    assert customer.attributes_source == "signing_certificate"
    assert customer.opening_record_id == record.record_id
    assert customer.signing_fingerprint == record.certificate.fingerprint_sha256
    assert not customer.reverification_required
    assert customer.platform_user_id is None  # direct mode: the platform was not asked
    (credential,) = bank.service.customers.login_credentials(customer.customer_id)
    assert credential.form_factor == form_factor
    assert resident["name"] not in repr(customer)
    assert resident["address"] not in repr(customer)


def test_bank_opening_with_an_android_phone(world: World, bank: Bank) -> None:
    phone = world.android_registered(world.person(HANAKO))
    signing, login = phone_keys(phone)
    opened = open_account(bank, signing, login)
    _assert_opened(bank, opened, HANAKO, "android")


def test_bank_opening_with_an_iphone(world: World, bank: Bank) -> None:
    phone = world.iphone_usable(world.person(TARO))
    signing, login = phone_keys(phone)
    opened = open_account(bank, signing, login)
    _assert_opened(bank, opened, TARO, "iphone")


def test_bank_opening_with_the_card(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, login)
    _assert_opened(bank, opened, HANAKO, "card")


def test_bank_opening_with_a_cms_signature_and_pem(world: World, bank: Bank) -> None:
    """The phone sends a detached CMS SignedData instead of a raw signature; the login certificate as PEM."""
    phone = world.android_registered(world.person(HANAKO))
    _, login = phone_keys(phone)
    opening = start_opening(bank)
    challenge = b64url_decode(opening["signing"]["challenge"])
    cms = phone.sign_cms(challenge, signing_time=datetime.now(UTC), detached=True)
    body = opening_body(opening, login, login)
    body["signing"] = {"challenge_id": opening["signing"]["challenge_id"], "cms": b64(cms)}
    body["login"]["certificate"] = login.certificate.public_bytes(Encoding.PEM).decode()
    response = complete_opening(bank, opening, body)
    assert response.status_code == 201, response.text
    _assert_opened(bank, response.json(), HANAKO, "android")


def test_bank_opening_in_platform_mode_records_the_platform_user_id(
    world: World, make_bank: MakeBank
) -> None:
    bank = make_bank("platform")
    phone = world.iphone_usable(world.person(HANAKO))
    signing, login = phone_keys(phone)
    opened = open_account(bank, signing, login)
    (record,) = bank.records()
    assert record.mode is VerificationMode.PLATFORM
    assert record.revocation.status is CertStatus.GOOD
    assert record.user_id is not None
    assert len(record.user_id) == 43
    customer = bank.service.customers.get(opened["customer_id"])
    assert customer is not None
    assert customer.platform_user_id == record.user_id
    assert opened["verification"]["mode"] == "platform"


def test_bank_replayed_opening_is_refused_and_records_nothing(world: World, bank: Bank) -> None:
    phone = world.android_registered(world.person(HANAKO))
    signing, login = phone_keys(phone)
    opening = start_opening(bank)
    body = opening_body(opening, signing, login)
    assert complete_opening(bank, opening, body).status_code == 201
    replay = complete_opening(bank, opening, body)
    problem(replay, 409, "CHALLENGE_REPLAYED")
    assert len(bank.records()) == 1
    assert bank.customer_count() == 1


def test_bank_signature_over_a_burned_signing_challenge_is_replayed(world: World, bank: Bank) -> None:
    """A first attempt fails (a bad signing signature): the signing challenge is burned. A valid signature
    over it, sent later with a fresh login challenge, is CHALLENGE_REPLAYED at the eKYC step."""
    phone = world.android_registered(world.person(HANAKO))
    signing, login = phone_keys(phone)
    first = start_opening(bank)
    bad = opening_body(first, signing, login)
    bad["signing"]["signature"] = b64(signing.sign(b"not the challenge"))
    problem(complete_opening(bank, first, bad), 422, "SIGNATURE_INVALID")
    second = start_opening(bank)
    body = opening_body(second, signing, login)
    body["signing"] = opening_body(first, signing, login)["signing"]  # the first opening's signing challenge
    problem(complete_opening(bank, second, body), 409, "CHALLENGE_REPLAYED")
    assert bank.records() == []
    assert bank.customer_count() == 0


def test_bank_challenge_of_another_opening_is_a_mismatch(world: World, bank: Bank) -> None:
    phone = world.android_registered(world.person(HANAKO))
    signing, login = phone_keys(phone)
    first, second = start_opening(bank), start_opening(bank)
    body = opening_body(first, signing, login)
    problem(complete_opening(bank, second, body), 403, "CHALLENGE_MISMATCH")
    # Fail closed: the mismatched login challenge is burned for its own opening too.
    problem(complete_opening(bank, first, body), 409, "CHALLENGE_REPLAYED")
    assert bank.records() == []


def test_bank_expired_challenge(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    opening = start_opening(bank)
    world.advance(minutes=6)
    problem(complete_opening(bank, opening, opening_body(opening, signing, login)), 410, "CHALLENGE_EXPIRED")
    assert bank.records() == []


def test_bank_revoked_signing_certificate_after_a_move_is_refused(world: World, bank: Bank) -> None:
    """The card's signing certificate is revoked (affiliationChanged) when the holder moves; the old one is
    refused with CERTIFICATE_REVOKED and nothing is stored. The user-authentication certificate survives."""
    person = world.person(HANAKO)
    old_signing, login = card_keys(person)
    world.counter.change_attributes(person.card, {k: v for k, v in MOVED.items()})
    opening = start_opening(bank)
    body = problem(
        complete_opening(bank, opening, opening_body(opening, old_signing, login)), 403, "CERTIFICATE_REVOKED"
    )
    assert body["reason"] == "CERTIFICATE_REVOKED"
    assert bank.records() == []
    assert bank.customer_count() == 0
    # The new signing certificate (new address) opens the account.
    new_signing, _ = card_keys(person)
    opened = open_account(bank, new_signing, login)
    customer = bank.service.customers.get(opened["customer_id"])
    assert customer is not None
    assert customer.attributes.address == MOVED["address"]


def test_bank_stopped_phone_is_refused(world: World, bank: Bank) -> None:
    phone = world.android_registered(world.person(HANAKO))
    signing, login = phone_keys(phone)
    phone.stop_with_password(PHONE_PASSWORD)  # 2-F: both phone certificates revoked
    opening = start_opening(bank)
    problem(
        complete_opening(bank, opening, opening_body(opening, signing, login)), 403, "CERTIFICATE_REVOKED"
    )
    assert bank.records() == []
    assert bank.customer_count() == 0


def test_bank_lost_phone_is_refused(world: World, bank: Bank) -> None:
    person = world.person(HANAKO)
    phone = world.iphone_usable(person)
    signing, login = phone_keys(phone)
    world.counter.suspend_phone(person.resident_id)  # 5-B: auth on hold, signing revoked
    opening = start_opening(bank)
    problem(
        complete_opening(bank, opening, opening_body(opening, signing, login)), 403, "CERTIFICATE_ON_HOLD"
    )
    assert bank.records() == []


def test_bank_wrong_certificate_kinds(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    swapped = start_opening(bank)
    # The login challenge signed with the signing certificate: not a user-authentication certificate.
    problem(complete_opening(bank, swapped, opening_body(swapped, signing, signing)), 422, "WRONG_KEY_USAGE")
    both_auth = start_opening(bank)
    body = problem(
        complete_opening(bank, both_auth, opening_body(both_auth, login, login)),
        422,
        "WRONG_CERTIFICATE_KIND",
    )
    assert "signing certificate" in body["detail"]
    assert bank.records() == []


def test_bank_same_person_cannot_open_twice_with_the_same_certificates(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    open_account(bank, signing, login)
    opening = start_opening(bank)
    problem(complete_opening(bank, opening, opening_body(opening, signing, login)), 409, "ACCOUNT_EXISTS")
    assert len(bank.records()) == 1


def test_bank_signing_certificate_already_used_is_refused_after_verification(
    world: World, bank: Bank
) -> None:
    """The same signing certificate with another (unbound) login certificate: ACCOUNT_EXISTS, decided
    only once the signature verified (no oracle for someone holding a copy of the certificate). The
    confirmation record of that verification stays (append-only); no second customer."""
    person = world.person(HANAKO)
    signing, card_login = card_keys(person)
    open_account(bank, signing, card_login)
    _, phone_login = phone_keys(world.android_registered(person))
    copy_holder = start_opening(bank)
    forged = opening_body(copy_holder, signing, phone_login)
    forged["signing"]["signature"] = b64(phone_login.sign(b"anything"))  # a copy of the certificate only
    problem(complete_opening(bank, copy_holder, forged), 422, "SIGNATURE_INVALID")
    opening = start_opening(bank)
    problem(
        complete_opening(bank, opening, opening_body(opening, signing, phone_login)), 409, "ACCOUNT_EXISTS"
    )
    assert bank.customer_count() == 1
    records = bank.records()
    assert len(records) == 2
    assert records[0].certificate == records[1].certificate
    assert bank.service.customers.get(records[1].customer_reference) is None


def test_bank_malformed_inputs_are_problems_not_500(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    opening = start_opening(bank)
    good = opening_body(opening, signing, login)

    def variant(section: str, **changes: object) -> dict[str, object]:
        body = json.loads(json.dumps(good))
        body[section].update(changes)
        return body

    problem(complete_opening(bank, opening, variant("login", signature="***")), 400, "MALFORMED_INPUT")
    problem(complete_opening(bank, opening, variant("login", challenge_id="short")), 400, "MALFORMED_INPUT")
    problem(
        complete_opening(bank, opening, variant("login", certificate=base64.b64encode(b"junk").decode())),
        400,
        "MALFORMED_INPUT",
    )
    fresh = start_opening(bank)
    missing = opening_body(fresh, signing, login)
    missing["signing"] = {"challenge_id": fresh["signing"]["challenge_id"]}  # no evidence at all
    problem(complete_opening(bank, fresh, missing), 400, "MALFORMED_INPUT")
    problem(complete_opening(bank, opening, {"signing": {}}), 422, "VALIDATION_ERROR")
    problem(bank.client.post("/accounts/openings/x/complete", content=b"{"), 422, "VALIDATION_ERROR")
    problem(bank.client.get("/nowhere"), 404, "NOT_FOUND")
    problem(bank.client.delete("/accounts/openings"), 405, "METHOD_NOT_ALLOWED")
    assert bank.records() == []


def test_bank_confirmation_records_export_as_json_lines(world: World, make_bank: MakeBank) -> None:
    bank = make_bank(admin_token="t" * 32)
    signing, login = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, login)
    problem(bank.client.get("/admin/confirmation-records.jsonl"), 401, "UNAUTHENTICATED")
    problem(
        bank.client.get("/admin/confirmation-records.jsonl", headers={"X-Admin-Token": "x" * 32}),
        401,
        "UNAUTHENTICATED",
    )
    answer = bank.client.get("/admin/confirmation-records.jsonl", headers={"X-Admin-Token": "t" * 32})
    assert answer.status_code == 200
    (record,) = load_jsonl(io.StringIO(answer.text))
    assert record == bank.records()[0]
    assert str(record.record_id) == opened["record_id"]
    line = json.loads(answer.text.splitlines()[0])
    assert line["retention_status"] == {"relationship_ended_on": None, "retain_until": None}


def test_bank_on_a_sqlite_challenge_store(world: World, make_bank: MakeBank, tmp_path: Path) -> None:
    """Workers on one host share challenges through SQLite: a replay is refused across bank instances."""
    store = f"sqlite:///{tmp_path / 'challenges.sqlite3'}"
    first = make_bank(challenge_store=store)
    second = make_bank(challenge_store=store)
    signing, login = card_keys(world.person(HANAKO))
    opening = start_opening(first)
    body = opening_body(opening, signing, login)
    assert complete_opening(first, opening, body).status_code == 201
    problem(complete_opening(second, opening, body), 409, "CHALLENGE_REPLAYED")
