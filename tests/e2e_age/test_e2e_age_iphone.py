"""End to end through the mock: an iPhone that completed the add flow (guide §3-C/3-D) presents its My
Number Card mdoc on each online channel; the relying party uses the SDK only (request, transcript,
envelope, ``MdocVerifier`` anchored on ``GET /mdoc/iaca.cer``, ``verify_age``)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from e2e_age_support import AGE_19, AGE_25, CHANNELS, MERCHANT, ORIGIN, TEAM, via_dc_api
from lifecycle_support import PHONE_PASSWORD, World, problem

from mock_platform.mdoc import request as mock_request
from mock_platform.mdoc import transcript as mock_transcript
from myna_rp import (
    AgeEvidence,
    AgeNotDeterminedError,
    Channel,
    DeviceAuthKind,
    MdocVerificationError,
    MdocVerifier,
    Reason,
    age_request,
    verify_age,
)
from myna_rp.mdoc import (
    JP_MNC_DOCTYPE,
    NS_23220,
    apple_transcript,
    build_device_request,
    dcapi_encryption_info,
    dcapi_transcript,
    openid4vp_dcapi_transcript,
    public_key_sha256,
)
from myna_rp.mdoc.profile import JP_MNC_ELEMENTS

SDK_CHANNEL = {"apple": Channel.APPLE, "dcapi": Channel.DCAPI, "openid4vp": Channel.OPENID4VP_DCAPI}


def plain(elements: object) -> dict[str, dict[str, object]]:
    return {ns: dict(items) for ns, items in elements.items()}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ over 20, per channel


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_3C_added_iphone_of_a_25_year_old_passes_over_20(
    world: World, mdoc_verifier: MdocVerifier, iaca: x509.Certificate, channel: str
) -> None:
    person_phone = world.iphone_usable(world.person(AGE_25))
    exchange = CHANNELS[channel](person_phone, age_request(20))

    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)

    assert presentation.doc_type == JP_MNC_DOCTYPE
    assert presentation.channel is SDK_CHANNEL[channel]
    assert presentation.device_auth is DeviceAuthKind.SIGNATURE
    assert presentation.issuer_chain[-1] == iaca
    assert presentation.verified_at == world.clock.now()  # the SDK reads the platform's clock
    held = person_phone.mdoc_credential
    assert held is not None
    assert presentation.validity.valid_until == held.valid_until
    # selective disclosure: the minimal age request yields age_over_20 and nothing else
    assert plain(presentation.elements) == {NS_23220: {"age_over_20": True}}
    answer = verify_age(presentation, 20)
    assert answer.over is True
    assert answer.minimum_age == 20
    assert answer.evidence == AgeEvidence("mdoc", "age_over_20", NS_23220, world.clock.now())


def test_3C_minimal_age_request_discloses_nothing_else(world: World, mdoc_verifier: MdocVerifier) -> None:
    """No other element identifier, value or the holder's name travels in the DeviceResponse."""
    phone = world.iphone_usable(world.person(AGE_25))
    exchange = via_dc_api(phone, age_request(20))
    for namespace, identifiers in JP_MNC_ELEMENTS.items():
        for identifier in identifiers:
            if identifier != "age_over_20":
                assert identifier.encode() not in exchange.response, f"{namespace}/{identifier} leaked"
    assert AGE_25["name"].encode() not in exchange.response
    assert b"2001-06-01" not in exchange.response
    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert [(ns, k) for ns, items in presentation.elements.items() for k in items] == [
        (NS_23220, "age_over_20")
    ]
    # age_over_20 = true decides "over 18" too, but not "over 21": nothing else was disclosed
    assert verify_age(presentation, 18).over is True
    assert verify_age(presentation, 18).evidence.element == "age_over_20"
    with pytest.raises(AgeNotDeterminedError) as raised:
        verify_age(presentation, 21)
    assert raised.value.reason is Reason.AGE_NOT_DISCLOSED


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_3C_added_iphone_of_a_19_year_old_fails_over_20(
    world: World, mdoc_verifier: MdocVerifier, channel: str
) -> None:
    phone = world.iphone_usable(world.person(AGE_19))
    exchange = CHANNELS[channel](phone, age_request(20))
    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert plain(presentation.elements) == {NS_23220: {"age_over_20": False}}
    answer = verify_age(presentation, 20)
    assert answer.over is False
    assert answer.evidence.element == "age_over_20"
    # age_over_20 = false does not decide "over 18"
    with pytest.raises(AgeNotDeterminedError):
        verify_age(presentation, 18)


@pytest.mark.parametrize(
    ("person", "born", "over"),
    [(AGE_19, date(2007, 3, 15), False), (AGE_25, date(2001, 6, 1), True)],
    ids=["19", "25"],
)
def test_3C_over_20_from_a_disclosed_birth_date(
    world: World, mdoc_verifier: MdocVerifier, person: dict[str, str], born: date, over: bool
) -> None:
    phone = world.iphone_usable(world.person(person))
    request = build_device_request(JP_MNC_DOCTYPE, {NS_23220: ["birth_date"]})
    exchange = via_dc_api(phone, request)
    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert plain(presentation.elements) == {NS_23220: {"birth_date": born}}
    answer = verify_age(presentation, 20)
    assert answer.over is over
    assert answer.evidence == AgeEvidence("mdoc", "birth_date", NS_23220, world.clock.now())


def test_3C_withheld_age_element_answers_nothing(world: World, mdoc_verifier: MdocVerifier) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    exchange = via_dc_api(phone, age_request(20), withhold=[(NS_23220, "age_over_20")])
    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert not any(presentation.elements.values())
    with pytest.raises(AgeNotDeterminedError) as raised:
        verify_age(presentation, 20)
    assert raised.value.reason is Reason.AGE_NOT_DISCLOSED


# ------------------------------------------------------------------------------ the two encodings


def test_sdk_and_mock_rp_builders_agree_byte_for_byte() -> None:
    """The SDK's request/transcript builders and the mock's (independent code) give the same bytes, so a
    device signature made over the mock's transcript verifies over the SDK's (diagnostic for the above)."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    nonce = secrets.token_bytes(16)
    assert age_request(20) == mock_request.device_request({NS_23220: ["age_over_20"]})
    info = dcapi_encryption_info(nonce=nonce, recipient_public_key=key)
    assert info == mock_transcript.dcapi_encryption_info(nonce, key)
    assert dcapi_transcript(encryption_info_b64url=info, origin=ORIGIN).raw == (
        mock_transcript.dcapi_session_transcript(info, ORIGIN)
    )
    apple = apple_transcript(
        nonce=nonce, merchant_id=MERCHANT, team_id=TEAM, encryption_key_hash=public_key_sha256(key)
    )
    assert apple.raw == mock_transcript.apple_session_transcript(
        nonce=nonce, merchant_id=MERCHANT, team_id=TEAM, recipient_public_key=key
    )
    assert openid4vp_dcapi_transcript(origin=ORIGIN, nonce="n-0S6_WzA2Mj").raw == (
        mock_transcript.openid4vp_dcapi_session_transcript(ORIGIN, "n-0S6_WzA2Mj", None)
    )


# ------------------------------------------------------------------------------ deletion (3-E)


def test_3E_deleted_iphone_credential_not_presented(world: World) -> None:
    """Deleting the card from the iPhone (3-E) invalidates its credential: the phone, syncing with the
    platform before presenting (as Wallet does), presents nothing on any channel."""
    phone = world.iphone_usable(world.person(AGE_25))
    held = phone.mdoc_credential
    assert held is not None
    phone.stop_with_password(PHONE_PASSWORD)

    error = problem(via_dc_api, phone, age_request(20))
    assert error.code == "CREDENTIAL_INVALIDATED"
    assert error["reason"] == "deleted"
    assert phone.mdoc_credential is None  # Wallet removed it
    for channel in CHANNELS.values():
        with pytest.raises(LookupError):  # nothing left to present, even offline
            channel(phone, age_request(20), sync=False)
        again = problem(channel, phone, age_request(20))  # nor can it fetch one back
        assert (again.code, again["reason"]) == ("CREDENTIAL_INVALIDATED", "deleted")

    status = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential").json()
    assert status["status"] == "invalidated"
    assert status["reason"] == "deleted"
    assert status["credential_id"] == held.credential_id
    one = world.client.get(f"/admin/mdoc/credentials/{held.credential_id}").json()
    assert one["status"] == "invalidated"


def test_3E_LIMITATION_stale_device_credential_still_verifies_until_valid_until(
    world: World, mdoc_verifier: MdocVerifier
) -> None:
    """KNOWN LIMITATION (an mdoc has no status list): a device that kept the credential after the card was
    deleted (3-E; ``sync=False``: offline / tampered device) still presents it, and the SDK *accepts* it —
    issuer signature, digests and device signature are all valid — until the MSO's validUntil. Only the
    platform's credential status tells that it was invalidated. The exposure is bounded by validUntil
    (at most 30 days after signing, and never past the holder's next birthday)."""
    phone = world.iphone_usable(world.person(AGE_25))
    held = phone.mdoc_credential
    assert held is not None
    phone.stop_with_password(PHONE_PASSWORD)
    world.advance(hours=1)

    exchange = via_dc_api(phone, age_request(20), sync=False)
    presentation = mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert verify_age(presentation, 20).over is True  # accepted: the SDK cannot see the deletion

    status = world.client.get(f"/admin/mdoc/registrations/{phone.registration_id}/credential").json()
    assert status["status"] == "invalidated"
    assert status["reason"] == "deleted"

    valid_until = presentation.validity.valid_until
    assert valid_until == held.valid_until
    assert valid_until - presentation.validity.signed <= timedelta(days=30)
    mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript, at=valid_until)
    with pytest.raises(MdocVerificationError) as raised:
        mdoc_verifier.verify(
            exchange.response, session_transcript=exchange.transcript, at=valid_until + timedelta(seconds=1)
        )
    assert raised.value.reason is Reason.MSO_NOT_VALID
    # the same once the platform's clock is past validUntil: the stale device's fresh presentation fails
    world.clock.set(valid_until + timedelta(seconds=1))
    late = via_dc_api(phone, age_request(20), sync=False)
    with pytest.raises(MdocVerificationError) as raised:
        mdoc_verifier.verify(late.response, session_transcript=late.transcript)
    assert raised.value.reason is Reason.MSO_NOT_VALID
