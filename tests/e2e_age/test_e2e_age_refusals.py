"""End to end through the mock: what the SDK refuses — a device signature replayed to another session
(another nonce, origin or merchant: DEVICE_AUTH_INVALID; the envelopes do not even open), and the
individual number (個人番号) in request building and in results unless explicitly allowed."""

from __future__ import annotations

import pytest
from cryptography import x509
from e2e_age_support import AGE_25, CHANNELS, via_dc_api
from lifecycle_support import World

from myna_rp import (
    IACAStore,
    IndividualNumberRefusedError,
    MdocVerificationError,
    MdocVerifier,
    Reason,
    age_request,
    verify_age,
)
from myna_rp.mdoc import (
    INDIVIDUAL_NUMBER_ELEMENT,
    JP_MNC_DOCTYPE,
    NS_23220,
    NS_JP,
    build_device_request,
    open_apple_envelope,
    open_dcapi_response,
)


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_3C_device_signature_over_another_transcript_is_rejected(
    world: World, mdoc_verifier: MdocVerifier, channel: str
) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    exchange = CHANNELS[channel](phone, age_request(20))
    mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)  # its own session: ok
    assert len(exchange.others) == 2
    for other in exchange.others:  # another nonce; another origin (web) / merchant (Apple)
        assert other.raw != exchange.transcript.raw
        with pytest.raises(MdocVerificationError) as raised:
            mdoc_verifier.verify(exchange.response, session_transcript=other)
        assert raised.value.reason is Reason.DEVICE_AUTH_INVALID
        if exchange.envelope is not None:  # the HPKE envelope is bound to the transcript as well
            assert exchange.recipient_key is not None
            opener = open_apple_envelope if channel == "apple" else open_dcapi_response
            with pytest.raises(MdocVerificationError) as raised:
                opener(
                    exchange.envelope, recipient_private_key=exchange.recipient_key, session_transcript=other
                )
            assert raised.value.reason is Reason.ENVELOPE_INVALID


def test_individual_number_refused_when_building_requests() -> None:
    for elements in (
        {NS_JP: [INDIVIDUAL_NUMBER_ELEMENT]},
        {NS_23220: ["age_over_20"], NS_JP: [INDIVIDUAL_NUMBER_ELEMENT]},
    ):
        with pytest.raises(IndividualNumberRefusedError) as raised:
            build_device_request(JP_MNC_DOCTYPE, elements)
        assert raised.value.reason is Reason.INDIVIDUAL_NUMBER_REFUSED
    assert INDIVIDUAL_NUMBER_ELEMENT.encode() not in age_request(20)
    assert build_device_request(
        JP_MNC_DOCTYPE, {NS_JP: [INDIVIDUAL_NUMBER_ELEMENT]}, allow_individual_number=True
    )


def test_3C_individual_number_refused_in_results_by_default(
    world: World, mdoc_verifier: MdocVerifier, iaca: x509.Certificate
) -> None:
    phone = world.iphone_usable(world.person(AGE_25))
    request = build_device_request(
        JP_MNC_DOCTYPE,
        {NS_23220: ["age_over_20"], NS_JP: [INDIVIDUAL_NUMBER_ELEMENT]},
        allow_individual_number=True,  # a request made with the opt-in (or by someone else's code)
    )
    exchange = via_dc_api(phone, request)
    assert INDIVIDUAL_NUMBER_ELEMENT.encode() in exchange.response  # the phone did disclose it
    with pytest.raises(IndividualNumberRefusedError) as raised:
        mdoc_verifier.verify(exchange.response, session_transcript=exchange.transcript)
    assert raised.value.reason is Reason.INDIVIDUAL_NUMBER_REFUSED

    allowing = MdocVerifier(
        IACAStore.from_certificates([iaca]), clock=world.clock, allow_individual_number=True
    )
    presentation = allowing.verify(exchange.response, session_transcript=exchange.transcript)
    number = presentation.element(NS_JP, INDIVIDUAL_NUMBER_ELEMENT)
    assert isinstance(number, str)
    assert len(number) == 12
    assert number.isdigit()
    assert number not in str(raised.value)
    assert number not in repr(presentation)
    assert verify_age(presentation, 20).over is True
