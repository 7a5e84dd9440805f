"""Presentations by the device simulator: selective disclosure, device signature over each channel's
SessionTranscript, the Apple and DC API HPKE envelopes (opened with the RP's key), OpenID4VP, Android."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lifecycle_support import PHONE_PASSWORD, World, problem
from mdoc_support import (
    AGE_19,
    AGE_25,
    DOC_TYPE,
    NS,
    NS_JP,
    check_device_signature,
    check_issuer_signed,
    disclosed,
    loads,
)
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

from mock_platform.device import AttributeProofUnsupportedProblemError, DeviceRequestError, Smartphone
from mock_platform.mdoc.request import dcapi_request, device_request, openid4vp_request

ORIGIN = "https://shop.example"
AGE_20 = {NS: ["age_over_20"]}


def iaca(world: World) -> x509.Certificate:
    return x509.load_der_x509_certificate(world.client.get("/mdoc/iaca.cer").content)


def suite() -> CipherSuite:
    return CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)


def open_hpke(private_key: ec.EllipticCurvePrivateKey, enc: bytes, ciphertext: bytes, info: bytes) -> bytes:
    context = suite().create_recipient_context(enc, KEMKey.from_pyca_cryptography_key(private_key), info=info)
    return context.open(ciphertext, aad=b"")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_document(world: World, response: bytes, transcript: bytes) -> dict[str, Any]:
    """The one document of ``response``, its issuer and device signatures checked (RP side)."""
    decoded = loads(response)
    assert decoded["version"] == "1.0"
    assert decoded["status"] == 0
    [document] = decoded["documents"]
    assert document["docType"] == DOC_TYPE
    mso = check_issuer_signed(document["issuerSigned"], iaca(world), response)
    check_device_signature(document, mso, transcript)
    return document


@pytest.fixture
def adult(world: World) -> Smartphone:
    return world.iphone_usable(world.person(AGE_25))


# --------------------------------------------------------------------------------------- disclosure


def test_selective_disclosure_only_requested_elements(world: World, adult: Smartphone) -> None:
    transcript = cbor2.dumps([None, None, ["test", secrets.token_bytes(16)]])
    request = device_request({NS: {"age_over_20": False, "age_over_21": False}})
    document = verified_document(world, adult.present(request, transcript), transcript)
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": True}}
    assert document["errors"] == {NS: {"age_over_21": 0}}
    assert loads(document["deviceSigned"]["nameSpaces"].value) == {}


def test_name_and_address_request(world: World, adult: Smartphone) -> None:
    transcript = cbor2.dumps([None, None, ["test", b"n"]])
    request = device_request({NS_JP: {"full_name_unicode": True, "resident_address_unicode": True}})
    values = disclosed(
        verified_document(world, adult.present(request, transcript), transcript)["issuerSigned"]
    )
    assert values == {
        NS_JP: {"full_name_unicode": AGE_25["name"], "resident_address_unicode": AGE_25["address"]}
    }


def test_individual_number_only_when_requested(world: World, adult: Smartphone) -> None:
    transcript = cbor2.dumps([None, None, ["test", b"n"]])
    everything_else = device_request(
        {
            NS: ["age_over_18", "age_over_20", "age_in_years", "birth_date", "sex"],
            NS_JP: [
                "full_name_unicode",
                "resident_address_unicode",
                "local_gov_code_unicode",
                "birth_date_unicode",
                "sex_unicode",
                "portrait",
            ],
        }
    )
    response = adult.present(everything_else, transcript)
    assert b"individual_number_unicode" not in response
    assert len(disclosed(loads(response)["documents"][0]["issuerSigned"])[NS_JP]) == 6
    asked = adult.present(device_request({NS_JP: ["individual_number_unicode"]}), transcript)
    number = disclosed(verified_document(world, asked, transcript)["issuerSigned"])[NS_JP][
        "individual_number_unicode"
    ]
    assert len(number) == 12


def test_user_may_withhold_an_element(world: World, adult: Smartphone) -> None:
    transcript = cbor2.dumps([None, None, ["test", b"n"]])
    request = device_request({NS: ["age_over_20", "birth_date"]})
    document = verified_document(
        world, adult.present(request, transcript, withhold=[(NS, "birth_date")]), transcript
    )
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": True}}
    assert document["errors"] == {NS: {"birth_date": 0}}


def test_other_doc_type_is_not_returned(adult: Smartphone) -> None:
    response = loads(adult.present(device_request(AGE_20, doc_type="org.iso.18013.5.1.mDL"), b"\xf6"))
    assert "documents" not in response
    assert response["documentErrors"] == [{"org.iso.18013.5.1.mDL": 0}]


def test_malformed_requests_are_refused(adult: Smartphone) -> None:
    for bad in (
        b"",
        b"\xff",
        cbor2.dumps({"version": "1.0"}),
        cbor2.dumps({"version": "1.0", "docRequests": [{}]}),
    ):
        with pytest.raises(DeviceRequestError):
            adult.present(bad, b"\xf6")
    duplicate = b"\xa2\x67version\x631.0\x67version\x631.0"
    with pytest.raises(DeviceRequestError):
        adult.present(duplicate, b"\xf6")


def test_device_signature_does_not_verify_over_another_transcript(world: World, adult: Smartphone) -> None:
    transcript = cbor2.dumps([None, None, ["test", b"one"]])
    document = verified_document(world, adult.present(device_request(AGE_20), transcript), transcript)
    mso = check_issuer_signed(
        document["issuerSigned"], iaca(world), adult.present(device_request(AGE_20), transcript)
    )
    with pytest.raises(InvalidSignature):
        check_device_signature(document, mso, cbor2.dumps([None, None, ["test", b"two"]]))


def test_age_over_20_for_a_19_year_old_is_false(world: World) -> None:
    phone = world.iphone_usable(world.person(AGE_19))
    transcript = cbor2.dumps([None, None, ["test", b"n"]])
    document = verified_document(world, phone.present(device_request(AGE_20), transcript), transcript)
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": False}}


# --------------------------------------------------------------------------------------- channels


def test_apple_verify_with_wallet_envelope(world: World, adult: Smartphone) -> None:
    rp_key = ec.generate_private_key(ec.SECP256R1())
    nonce = secrets.token_bytes(32)
    envelope_bytes = adult.present_apple(
        device_request(AGE_20),
        nonce=nonce,
        merchant_id="merchant.example.shop",
        team_id="TEAM123456",
        recipient_public_key=rp_key.public_key(),
    )
    envelope = loads(envelope_bytes)
    assert envelope["algorithm"] == "APPLE-HPKE-v1"
    params = envelope["params"]
    assert params["mode"] == 0
    point = rp_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert params["pkRHash"] == hashlib.sha256(point).digest()
    transcript = cbor2.dumps(
        [
            None,
            None,
            ["AppleIdentityPresentment_1.0", nonce, "merchant.example.shop", "TEAM123456", params["pkRHash"]],
        ]
    )
    assert params["infoHash"] == hashlib.sha256(transcript).digest()
    plaintext = open_hpke(rp_key, params["pkEm"], envelope["data"], transcript)
    identity = loads(plaintext)
    assert set(identity) == {"identity"}
    response = cbor2.dumps(identity["identity"])
    assert response in plaintext  # spliced verbatim
    document = verified_document(world, response, transcript)
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": True}}
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Exception):  # noqa: B017 - pyhpke's OpenError
        open_hpke(wrong_key, params["pkEm"], envelope["data"], transcript)


def test_dc_api_org_iso_mdoc(world: World, adult: Smartphone) -> None:
    rp_key = ec.generate_private_key(ec.SECP256R1())
    nonce = secrets.token_bytes(16)
    request = dcapi_request(AGE_20, nonce=nonce, recipient_public_key=rp_key.public_key())
    encryption_info = loads(b64url_decode(request["encryptionInfo"]))
    assert encryption_info[0] == "dcapi"
    assert encryption_info[1]["nonce"] == nonce
    answer = adult.present_dc_api(request, origin=ORIGIN)
    encrypted = loads(b64url_decode(answer["response"]))
    assert encrypted[0] == "dcapi"
    info_hash = hashlib.sha256(cbor2.dumps([request["encryptionInfo"], ORIGIN])).digest()
    transcript = cbor2.dumps([None, None, ["dcapi", info_hash]])
    response = open_hpke(rp_key, encrypted[1]["enc"], encrypted[1]["cipherText"], transcript)
    document = verified_document(world, response, transcript)
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": True}}
    # another origin gives another transcript: the device signature does not carry over
    other = cbor2.dumps(
        [
            None,
            None,
            [
                "dcapi",
                hashlib.sha256(cbor2.dumps([request["encryptionInfo"], "https://evil.example"])).digest(),
            ],
        ]
    )
    with pytest.raises(Exception):  # noqa: B017 - HPKE open fails with another info
        open_hpke(rp_key, encrypted[1]["enc"], encrypted[1]["cipherText"], other)


def test_openid4vp_over_dc_api(world: World, adult: Smartphone) -> None:
    nonce = b64url(secrets.token_bytes(16))
    answer = adult.present_openid4vp(openid4vp_request(AGE_20, nonce=nonce), origin=ORIGIN)
    [token] = answer["vp_token"]["mnc"]
    response = b64url_decode(token)
    info_hash = hashlib.sha256(cbor2.dumps([ORIGIN, nonce, None])).digest()
    transcript = cbor2.dumps([None, None, ["OpenID4VPDCAPIHandover", info_hash]])
    document = verified_document(world, response, transcript)
    assert disclosed(document["issuerSigned"]) == {NS: {"age_over_20": True}}
    with pytest.raises(DeviceRequestError):
        adult.present_openid4vp(
            {**openid4vp_request(AGE_20, nonce=nonce), "response_mode": "dc_api.jwt"}, origin=ORIGIN
        )


# --------------------------------------------------------------------------------------- lifecycle, Android


def test_3E_deleted_iphone_presents_nothing(world: World, adult: Smartphone) -> None:
    adult.stop_with_password(PHONE_PASSWORD)
    error = problem(adult.present, device_request(AGE_20), b"\xf6")
    assert error.code == "CREDENTIAL_INVALIDATED"
    with pytest.raises(LookupError):
        adult.present(device_request(AGE_20), b"\xf6", sync=False)  # Wallet removed it


def test_offline_device_can_still_present_a_stale_credential(world: World) -> None:
    """Documents the limit of an mdoc without a status list: an invalidated credential that a device
    keeps (``sync=False``) still verifies until validUntil; only the platform's status tells."""
    person = world.person(AGE_25)
    phone = world.iphone_usable(person)
    world.counter.suspend_phone(person.resident_id)
    transcript = cbor2.dumps([None, None, ["test", b"n"]])
    verified_document(world, phone.present(device_request(AGE_20), transcript, sync=False), transcript)
    status = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential").json()
    assert status["status"] == "invalidated"


def test_android_answers_attribute_proof_unsupported(world: World) -> None:
    android = world.android_registered(world.person(AGE_25))
    rp_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    calls = (
        lambda: android.present(device_request(AGE_20), b"\xf6"),
        lambda: android.present_apple(
            device_request(AGE_20), nonce=b"n", merchant_id="m", team_id="t", recipient_public_key=rp_key
        ),
        lambda: android.present_dc_api(
            dcapi_request(AGE_20, nonce=b"n", recipient_public_key=rp_key), origin=ORIGIN
        ),
        lambda: android.present_openid4vp(openid4vp_request(AGE_20, nonce="n"), origin=ORIGIN),
    )
    for call in calls:
        with pytest.raises(AttributeProofUnsupportedProblemError) as raised:
            call()
        assert raised.value.code == "ATTRIBUTE_PROOF_UNSUPPORTED"
        assert raised.value.body["fallback"] == "jpki_signing_certificate"
