"""The parsed-MSO memo never skips a per-call check (signature, validity, docType, digests)."""

from __future__ import annotations

from datetime import timedelta

import cbor2
import pytest
from mdoc_issuer import NOW, IssuerPKI, issue

from myna_rp.errors import MdocVerificationError, Reason
from myna_rp.mdoc import IACAStore, MdocVerifier


def _edit(response: bytes, edit: object) -> bytes:
    value = cbor2.loads(response)
    edit(value["documents"][0])  # type: ignore[operator]
    return cbor2.dumps(value)


def test_cached_mso_still_gets_every_check() -> None:
    pki = IssuerPKI()
    issued = issue(pki)
    verifier = MdocVerifier(IACAStore([pki.iaca]))
    verifier.verify(issued.device_response, session_transcript=issued.transcript, at=NOW)  # cached now

    with pytest.raises(MdocVerificationError) as caught:  # validity is checked at each call's time
        verifier.verify(
            issued.device_response, session_transcript=issued.transcript, at=NOW + timedelta(days=365)
        )
    assert caught.value.reason is Reason.MSO_NOT_VALID

    def bad_signature(doc: dict) -> None:  # type: ignore[type-arg]
        auth = list(doc["issuerSigned"]["issuerAuth"])
        auth[3] = bytes([auth[3][0] ^ 1]) + auth[3][1:]
        doc["issuerSigned"]["issuerAuth"] = auth

    with pytest.raises(MdocVerificationError) as caught:
        verifier.verify(
            _edit(issued.device_response, bad_signature), session_transcript=issued.transcript, at=NOW
        )
    assert caught.value.reason is Reason.ISSUER_SIGNATURE_INVALID

    def other_doc_type(doc: dict) -> None:  # type: ignore[type-arg]
        doc["docType"] = "org.example.other"

    with pytest.raises(MdocVerificationError) as caught:
        verifier.verify(
            _edit(issued.device_response, other_doc_type), session_transcript=issued.transcript, at=NOW
        )
    assert caught.value.reason is Reason.DOCTYPE_MISMATCH

    tampered = issue(pki, tamper_item=("org.iso.23220.1", "age_in_years", 99))
    with pytest.raises(MdocVerificationError) as caught:
        verifier.verify(tampered.device_response, session_transcript=tampered.transcript, at=NOW)
    assert caught.value.reason is Reason.DIGEST_MISMATCH
    with pytest.raises(MdocVerificationError) as caught:  # and again, with its MSO now in the memo
        verifier.verify(tampered.device_response, session_transcript=tampered.transcript, at=NOW)
    assert caught.value.reason is Reason.DIGEST_MISMATCH
