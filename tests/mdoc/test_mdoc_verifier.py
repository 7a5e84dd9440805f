"""MdocVerifier against responses made by the independent test issuer (tests/mdoc/mdoc_issuer.py)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import cbor2
import pytest
from mdoc_issuer import DOCTYPE, NOW, NS, NS_JP, IssuerPKI, issue, session_transcript

from myna_rp import (
    ConfigurationError,
    IndividualNumberRefusedError,
    MalformedInputError,
    MynaRPError,
    Reason,
)
from myna_rp.mdoc import DeviceAuthKind, IACAStore, MdocVerifier, Presentation, SessionTranscript
from myna_rp.mdoc.transcript import Channel


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


@pytest.fixture(scope="module")
def verifier(pki: IssuerPKI) -> MdocVerifier:
    return MdocVerifier(IACAStore([pki.iaca]))


def _verify(verifier: MdocVerifier, issued, **kwargs) -> Presentation:  # type: ignore[no-untyped-def]
    return verifier.verify(issued.device_response, session_transcript=issued.transcript, at=NOW, **kwargs)


def _reason(verifier: MdocVerifier, issued) -> Reason:  # type: ignore[no-untyped-def]
    with pytest.raises(MynaRPError) as info:
        _verify(verifier, issued)
    return info.value.reason


def test_valid_response_verifies_with_the_right_elements(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    p = _verify(verifier, issue(pki))
    assert p.doc_type == DOCTYPE
    assert p.device_auth is DeviceAuthKind.SIGNATURE
    assert p.channel is Channel.DCAPI
    assert p.element(NS, "age_over_20") is True
    assert p.element(NS, "birth_date") == date(2001, 4, 2)
    assert p.element(NS, "age_in_years") == 25
    assert p.element(NS_JP, "full_name_unicode") == "山田\u3000花子"
    assert p.issuer_chain[0] == pki.ds
    assert p.issuer_chain[-1] == pki.iaca
    assert p.digest_algorithm == "SHA-256"
    assert p.validity.valid_until > NOW
    assert "山田" not in repr(p)
    assert "2001" not in repr(p)


def test_p384_issuer_and_selective_disclosure() -> None:
    pki = IssuerPKI(curve="P-384")
    issued = issue(pki, disclose=[(NS, "age_over_20")], digest_algorithm="SHA-384")
    p = MdocVerifier(IACAStore([pki.iaca])).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )
    assert dict(p.elements) == {NS: {"age_over_20": True}}
    assert p.digest_algorithm == "SHA-384"


def test_ds_certificate_trusted_directly(pki: IssuerPKI) -> None:
    issued = issue(pki)
    p = MdocVerifier(IACAStore([pki.ds])).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )
    assert p.issuer_chain == (pki.ds,)


def test_transcript_accepted_tagged_or_as_object(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki)
    tagged = cbor2.dumps(cbor2.CBORTag(24, issued.transcript))
    verifier.verify(issued.device_response, session_transcript=tagged, at=NOW)
    verifier.verify(
        issued.device_response, session_transcript=SessionTranscript.from_bytes(issued.transcript), at=NOW
    )


def test_digest_mismatch(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    assert _reason(verifier, issue(pki, tamper_item=(NS, "age_over_20", False))) is Reason.DIGEST_MISMATCH


def test_wrong_doctype_in_mso(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki, mso_doc_type="org.iso.18013.5.1.mDL")
    assert _reason(verifier, issued) is Reason.DOCTYPE_MISMATCH


def test_expired_mso(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki, valid_from=NOW - timedelta(days=100), valid_until=NOW - timedelta(seconds=1))
    assert _reason(verifier, issued) is Reason.MSO_NOT_VALID


def test_mso_not_yet_valid(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    assert _reason(verifier, issue(pki, valid_from=NOW + timedelta(hours=1))) is Reason.MSO_NOT_VALID


def test_mso_signed_outside_the_ds_validity(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki, signed=NOW - timedelta(days=60))  # the DS was issued 30 days before NOW
    assert _reason(verifier, issued) is Reason.MSO_NOT_VALID


def test_untrusted_iaca(pki: IssuerPKI) -> None:
    other = IssuerPKI()
    verifier = MdocVerifier(IACAStore([other.iaca]))
    assert _reason(verifier, issue(pki)) is Reason.UNTRUSTED_ISSUER


def test_device_signature_over_another_transcript(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki, sign_transcript=session_transcript(b"another session"))
    assert _reason(verifier, issued) is Reason.DEVICE_AUTH_INVALID


def test_element_missing_from_value_digests(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    assert _reason(verifier, issue(pki, omit_digest_for=(NS, "birth_date"))) is Reason.DIGEST_MISSING


def test_duplicate_cbor_keys(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    with pytest.raises(MalformedInputError):
        _verify(verifier, issue(pki, duplicate_key=True))


def test_tampered_issuer_signature(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    assert _reason(verifier, issue(pki, tamper_issuer_signature=True)) is Reason.ISSUER_SIGNATURE_INVALID


def test_unknown_digest_algorithm(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    assert _reason(verifier, issue(pki, digest_algorithm="MD5")) is Reason.UNSUPPORTED_ALGORITHM


def test_x5chain_as_array_with_intermediate_ignored_when_anchor_is_root(pki: IssuerPKI) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    issued = issue(pki, x5chain=[pki.ds_der, pki.iaca.public_bytes(Encoding.DER)])
    p = MdocVerifier(IACAStore([pki.iaca])).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )
    assert p.issuer_chain[-1] == pki.iaca


def test_individual_number_refused_unless_allowed(pki: IssuerPKI) -> None:
    elements = {NS: {"age_over_20": True}, NS_JP: {"individual_number_unicode": "123456789012"}}
    issued = issue(pki, elements=elements)
    with pytest.raises(IndividualNumberRefusedError) as info:
        MdocVerifier(IACAStore([pki.iaca])).verify(
            issued.device_response, session_transcript=issued.transcript, at=NOW
        )
    assert info.value.reason is Reason.INDIVIDUAL_NUMBER_REFUSED
    assert "123456789012" not in str(info.value)
    p = MdocVerifier(IACAStore([pki.iaca]), allow_individual_number=True).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )
    assert p.element(NS_JP, "individual_number_unicode") == "123456789012"


def test_verifier_needs_an_iaca_store() -> None:
    with pytest.raises(ConfigurationError):
        MdocVerifier(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        IACAStore([])


@pytest.mark.parametrize("garbage", [b"", b"\xff", b"\xa0", cbor2.dumps({"version": "1.0", "documents": []})])
def test_garbage_is_malformed(verifier: MdocVerifier, garbage: bytes) -> None:
    with pytest.raises(MalformedInputError):
        verifier.verify(garbage, session_transcript=session_transcript(), at=NOW)


def test_no_dependency_exception_leaks_on_truncation(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki)
    data = issued.device_response
    for cut in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(MynaRPError):
            verifier.verify(data[:cut], session_transcript=issued.transcript, at=NOW)
    for i in range(0, len(data), max(1, len(data) // 61)):
        flipped = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]
        with contextlib.suppress(MynaRPError):
            verifier.verify(flipped, session_transcript=issued.transcript, at=NOW)
