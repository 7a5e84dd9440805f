"""The mock's mdoc issuer: IACA and document signer profile, the credential's structure and values, the
lifecycle (3-C add, 3-E/3-F delete, 5-B hotline, attribute change), re-issue, Android, HTTP problems."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from lifecycle_support import CARD_PASSWORD, PHONE_PASSWORD, KeyPool, World, problem
from mdoc_support import (
    AGE_19,
    AGE_25,
    DOC_TYPE,
    NS,
    NS_JP,
    TURNS_20_TOMORROW,
    check_issuer_signed,
    cose_public_key,
    disclosed,
    full_date,
    item_value,
    loads,
    platform,
    signer_certificate,
)

from mock_platform.ca.keys import PrivateKey
from mock_platform.device import AttributeProofUnsupportedProblemError, PlatformProblemError, Smartphone
from mock_platform.mdoc.elements import my_number_check_digit
from mock_platform.mdoc.pki import SignerCurve
from mock_platform.mdoc.service import MdocConfig

MDL_DS = ObjectIdentifier("1.0.18013.5.1.2")


def iaca(world: World) -> x509.Certificate:
    response = world.client.get("/mdoc/iaca.cer")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-cert"
    return x509.load_der_x509_certificate(response.content)


def issuer_signed_of(phone: Smartphone) -> tuple[dict[str, object], bytes]:
    assert phone.mdoc_credential is not None
    raw = phone.mdoc_credential.issuer_signed
    return loads(raw), raw


def added(world: World, attributes: dict[str, object] = AGE_25) -> Smartphone:
    return world.iphone_usable(world.person(attributes))


def status(world: World, phone: Smartphone) -> dict[str, object]:
    response = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential")
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


# --------------------------------------------------------------------------------------- PKI


def test_iaca_root_follows_the_annex_b_profile(world: World) -> None:
    root = iaca(world)
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    assert root.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "JP"
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    root.extensions.get_extension_for_class(x509.IssuerAlternativeName)
    root.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert root.not_valid_after_utc - root.not_valid_before_utc <= timedelta(days=20 * 366)
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(root.public_key().curve, ec.SECP256R1)  # type: ignore[union-attr]
    pem = world.client.get("/mdoc/iaca.pem")
    assert x509.load_pem_x509_certificate(pem.content) == root


def test_document_signer_follows_the_annex_b_profile(world: World) -> None:
    phone = added(world)
    issuer_signed, _ = issuer_signed_of(phone)
    ds = signer_certificate(issuer_signed["issuerAuth"])  # type: ignore[arg-type]
    root = iaca(world)
    ds.verify_directly_issued_by(root)
    eku = ds.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [MDL_DS]
    assert ExtendedKeyUsageOID.SERVER_AUTH not in eku.value
    usage = ds.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    aki = ds.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert ds.not_valid_after_utc - ds.not_valid_before_utc <= timedelta(days=457)
    country = x509.NameOID.COUNTRY_NAME
    assert ds.subject.get_attributes_for_oid(country) == root.subject.get_attributes_for_oid(country)


# --------------------------------------------------------------------------------------- structure


def test_3C_added_iphone_holds_a_credential_with_a_valid_mso(world: World) -> None:
    phone = added(world)
    issuer_signed, raw = issuer_signed_of(phone)
    mso = check_issuer_signed(issuer_signed, iaca(world), raw)  # type: ignore[arg-type]
    assert mso["version"] == "1.0"
    assert mso["docType"] == DOC_TYPE
    assert set(mso["valueDigests"]) == {NS, NS_JP}
    # every issued item has a digest, and only those
    for ns, items in issuer_signed["nameSpaces"].items():  # type: ignore[attr-defined]
        ids = [item_value(t)["digestID"] for t in items]
        assert sorted(ids) == sorted(mso["valueDigests"][ns])
        for tagged in items:
            assert len(item_value(tagged)["random"]) >= 16
    all_ids = [i for digests in mso["valueDigests"].values() for i in digests]
    assert len(all_ids) == len(set(all_ids))
    # the device key is the simulator's P-256 mdoc key, not a JPKI RSA key
    assert phone.mdoc_device_key is not None
    device_key = cose_public_key(mso["deviceKeyInfo"]["deviceKey"])
    assert device_key.public_numbers() == phone.mdoc_device_key.public_key().public_numbers()
    # validity as tdate (tag 0), whole seconds, ordered
    mso_bytes = loads(issuer_signed["issuerAuth"][2]).value  # type: ignore[index]
    info = mso["validityInfo"]
    for name in ("signed", "validFrom", "validUntil", "expectedUpdate"):
        text = info[name].strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        assert b"\xc0\x74" + text in mso_bytes  # 0("…Z"): tag 0, 20-character text, whole seconds
    info = mso["validityInfo"]
    assert info["signed"] == info["validFrom"] == world.clock.now()
    assert info["validFrom"] < info["expectedUpdate"] < info["validUntil"]
    # issuerAuth: ES256 in the protected header, x5chain (33) unprotected, attached MSO payload
    protected = loads(issuer_signed["issuerAuth"][0])  # type: ignore[index]
    assert protected == {1: -7}
    assert isinstance(issuer_signed["issuerAuth"][1][33], bytes)  # type: ignore[index]


def test_3C_elements_of_a_25_year_old(world: World) -> None:
    phone = added(world, AGE_25)
    values = disclosed(issuer_signed_of(phone)[0])
    common, jp = values[NS], values[NS_JP]
    assert common["age_over_18"] is True
    assert common["age_over_20"] is True
    assert common["age_in_years"] == 25
    assert full_date(common["birth_date"]).isoformat() == "2001-06-01"
    assert common["sex"] == 2
    assert jp["full_name_unicode"] == AGE_25["name"]
    assert jp["resident_address_unicode"] == AGE_25["address"]
    assert jp["birth_date_unicode"] == "2001年6月1日"
    assert jp["sex_unicode"] == "女"
    code = jp["local_gov_code_unicode"]
    assert len(code) == 5
    assert code.isdigit()
    number = jp["individual_number_unicode"]
    assert len(number) == 12
    assert number.isdigit()
    assert int(number[-1]) == my_number_check_digit(number[:11])
    portrait = jp["portrait"]
    assert portrait[:2] == b"\xff\xd8"
    assert portrait[-2:] == b"\xff\xd9"
    assert b"\xff\xc0" in portrait
    # birth_date is tag 1004 on the wire
    tagged = next(t for t in issuer_signed_of(phone)[0]["nameSpaces"][NS] if b"birth_date" in t.value)  # type: ignore[index]
    assert b"\xd9\x03\xec" in tagged.value


def test_3C_elements_of_a_19_year_old(world: World) -> None:
    phone = added(world, AGE_19)
    common = disclosed(issuer_signed_of(phone)[0])[NS]
    assert common["age_over_18"] is True
    assert common["age_over_20"] is False
    assert common["age_in_years"] == 19
    assert common["sex"] == 1
    assert disclosed(issuer_signed_of(phone)[0])[NS_JP]["sex_unicode"] == "男"


def test_ages_never_outlive_a_birthday(world: World) -> None:
    phone = added(world, TURNS_20_TOMORROW)
    credential = phone.mdoc_credential
    assert credential is not None
    assert disclosed(issuer_signed_of(phone)[0])[NS]["age_over_20"] is False
    assert credential.valid_until == datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 00:00 JST on the birthday
    world.advance(days=1)
    renewed = phone.sync_credential()
    assert renewed.credential_id != credential.credential_id
    assert disclosed(loads(renewed.issuer_signed))[NS]["age_over_20"] is True
    assert disclosed(loads(renewed.issuer_signed))[NS]["age_in_years"] == 20


def test_reissue_before_expiry(world: World) -> None:
    phone = added(world)
    first = phone.mdoc_credential
    assert first is not None
    assert first.valid_until - first.signed == timedelta(days=30)
    assert first.valid_until - first.expected_update == timedelta(days=7)
    world.advance(days=1)
    assert phone.sync_credential().credential_id == first.credential_id  # not due yet
    world.clock.set(first.expected_update)
    second = phone.sync_credential()
    assert second.credential_id != first.credential_id
    assert second.signed == first.expected_update
    assert second.valid_until > first.valid_until
    old = world.client.get(f"/admin/mdoc/credentials/{first.credential_id}").json()
    assert old["status"] == "superseded"
    assert status(world, phone)["status"] == "valid"
    # new salts: the same element has a different item encoding
    old_items = {item_value(t)["random"] for t in loads(first.issuer_signed)["nameSpaces"][NS]}
    new_items = {item_value(t)["random"] for t in loads(second.issuer_signed)["nameSpaces"][NS]}
    assert not old_items & new_items


def test_P384_document_signer_option(
    mdoc_template: Path, tmp_path: Path, mdoc_keys: list[PrivateKey]
) -> None:
    with platform(mdoc_template, tmp_path, MdocConfig(curve=SignerCurve.P384)) as (client, clock):
        world = World(client, clock, KeyPool(mdoc_keys))
        phone = added(world)
        issuer_signed, raw = issuer_signed_of(phone)
        root = iaca(world)
        assert isinstance(root.public_key().curve, ec.SECP384R1)  # type: ignore[union-attr]
        check_issuer_signed(issuer_signed, root, raw)
        assert loads(issuer_signed["issuerAuth"][0]) == {1: -35}  # type: ignore[index]


# --------------------------------------------------------------------------------------- lifecycle


def test_3C_pending_iphone_has_no_credential_yet(world: World) -> None:
    person = world.person(AGE_25)
    phone = world.phone("iphone")
    phone.iphone_add_all(
        person.card,
        card_face_pin="9120",
        card_signing_password=CARD_PASSWORD,
        iphone_pin="4321",
        iphone_signing_password=PHONE_PASSWORD,
    )
    error = problem(phone.fetch_credential)
    assert error.code == "NOT_READY"
    assert status(world, phone)["status"] == "none"


def test_3E_delete_invalidates_credential(world: World) -> None:
    phone = added(world)
    credential = phone.mdoc_credential
    assert credential is not None
    phone.stop_with_password(PHONE_PASSWORD)
    state = status(world, phone)
    assert state["status"] == "invalidated"
    assert state["reason"] == "deleted"
    assert world.client.get(f"/admin/mdoc/credentials/{credential.credential_id}").json()["status"] == (
        "invalidated"
    )
    error = problem(phone.sync_credential)
    assert error.code == "CREDENTIAL_INVALIDATED"
    assert phone.mdoc_credential is None  # Wallet removed it


def test_3F_delete_from_another_iphone_invalidates_credential(world: World) -> None:
    person = world.person(AGE_25)
    phone = world.iphone_usable(person)
    other = world.phone("iphone")
    other.delete_other(person.card, CARD_PASSWORD)
    state = status(world, phone)
    assert state["status"] == "invalidated"
    assert state["reason"] == "deleted"
    assert problem(phone.sync_credential).code == "CREDENTIAL_INVALIDATED"


def test_5B_hotline_suspension_invalidates_credential_and_resume_binds_a_new_key(world: World) -> None:
    person = world.person(AGE_25)
    phone = world.iphone_usable(person)
    old = phone.mdoc_credential
    old_key = phone.mdoc_device_key
    assert old is not None
    assert old_key is not None
    world.counter.suspend_phone(person.resident_id)
    state = status(world, phone)
    assert state["status"] == "invalidated"
    assert state["reason"] == "suspended"
    error = problem(phone.sync_credential)
    assert error.code == "CREDENTIAL_INVALIDATED"
    assert error["reason"] == "suspended"
    phone.resume(person.card, CARD_PASSWORD)
    world.advance(minutes=10)
    phone.provision()
    assert phone.mdoc_credential is not None
    assert phone.mdoc_device_key is not None
    assert phone.mdoc_credential.credential_id != old.credential_id
    assert status(world, phone)["status"] == "valid"
    assert world.client.get(f"/admin/mdoc/credentials/{old.credential_id}").json()["status"] == "invalidated"
    mso = check_issuer_signed(*issuer_signed_of(phone)[:1], iaca(world), phone.mdoc_credential.issuer_signed)
    new_key = cose_public_key(mso["deviceKeyInfo"]["deviceKey"])
    assert new_key.public_numbers() != old_key.public_key().public_numbers()


def test_attribute_change_invalidates_credential(world: World) -> None:
    person = world.person(AGE_25)
    phone = world.iphone_usable(person)
    world.counter.change_attributes(person.card, {**AGE_25, "address": "東京都港区見本町四丁目4番4号"})
    state = status(world, phone)
    assert state["status"] == "invalidated"
    assert state["reason"] == "attributes_changed"
    assert problem(phone.sync_credential).code == "CREDENTIAL_INVALIDATED"
    # the platform does not issue again for this registration: the user re-adds the card
    error = problem(phone.fetch_credential, new_key=True)
    assert error.code == "CREDENTIAL_INVALIDATED"
    assert error["reason"] == "attributes_changed"


def test_admin_invalidation(world: World) -> None:
    phone = added(world)
    response = world.client.post(f"/admin/mdoc/registrations/{phone.registration_id}/invalidate")
    assert response.json()["status"] == "invalidated"
    assert response.json()["reason"] == "admin"
    assert problem(phone.sync_credential).code == "CREDENTIAL_INVALIDATED"
    phone.fetch_credential(new_key=True)  # Wallet re-provisions with a new key
    assert status(world, phone)["status"] == "valid"


def test_new_device_key_supersedes_the_old_binding(world: World) -> None:
    phone = added(world)
    first = phone.mdoc_credential
    assert first is not None
    second = phone.fetch_credential(new_key=True)
    assert second.credential_id != first.credential_id
    old = world.client.get(f"/admin/mdoc/credentials/{first.credential_id}").json()
    assert old["status"] == "invalidated"
    assert old["reason"] == "device_key_replaced"


# --------------------------------------------------------------------------------------- Android, HTTP


def test_android_has_no_attribute_credential(world: World) -> None:
    phone = world.android_registered(world.person(AGE_25))
    with pytest.raises(AttributeProofUnsupportedProblemError) as raised:
        phone.fetch_credential()
    assert raised.value.code == "ATTRIBUTE_PROOF_UNSUPPORTED"
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    response = world.client.post(
        f"/iphone/additions/{phone.registration_id}/credential",
        json={"device_id": phone.device_id, "device_public_key_pem": pem.decode()},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ATTRIBUTE_PROOF_UNSUPPORTED"
    assert response.json()["fallback"] == "jpki_signing_certificate"
    admin = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential")
    assert admin.json()["code"] == "ATTRIBUTE_PROOF_UNSUPPORTED"


def test_credential_routes_answer_problems(world: World) -> None:
    phone = added(world)
    path = f"/iphone/additions/{phone.registration_id}/credential"
    wrong = world.client.get(path, params={"device_id": "someone-else"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "WRONG_DEVICE"
    unknown = world.client.get("/iphone/additions/reg_nope/credential", params={"device_id": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_REGISTRATION"
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    bad_key = world.client.post(path, json={"device_id": phone.device_id, "device_public_key_pem": rsa_pem})
    assert bad_key.status_code == 422
    assert bad_key.json()["code"] == "INVALID_DEVICE_KEY"
    garbage = world.client.post(path, json={"device_id": phone.device_id, "device_public_key_pem": "nope"})
    assert garbage.status_code == 422
    assert garbage.headers["content-type"] == "application/problem+json"
    missing = world.client.get(path)
    assert missing.status_code == 422
    assert world.client.get("/admin/mdoc/credentials/mdc_nope").json()["code"] == "UNKNOWN_CREDENTIAL"
    fresh = world.phone("iphone")
    assert fresh.mdoc_credential is None


def test_credential_json_is_what_the_device_holds(world: World) -> None:
    phone = added(world)
    body = world.client.get(
        f"/iphone/additions/{phone.registration_id}/credential", params={"device_id": phone.device_id}
    ).json()
    assert phone.mdoc_credential is not None
    assert base64.b64decode(body["issuer_signed"]) == phone.mdoc_credential.issuer_signed
    assert body["doc_type"] == DOC_TYPE


def test_status_never_carries_personal_data(world: World) -> None:
    phone = added(world)
    text = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential").text
    assert AGE_25["name"] not in text
    assert "2001" not in text


def test_no_request_to_a_platform_error_is_500(world: World) -> None:
    phone = added(world)
    for method, path in (
        ("GET", f"/iphone/additions/{phone.registration_id}/credential?device_id=%00"),
        ("POST", f"/iphone/additions/{phone.registration_id}/credential"),
        ("POST", "/admin/mdoc/registrations/x/invalidate"),
    ):
        response = world.client.request(method, path, content=b"{not json")
        assert response.status_code < 500, (method, path, response.text)
    assert isinstance(PlatformProblemError, type)
