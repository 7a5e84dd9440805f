"""verify_age(): age_over_NN (matching, and larger/smaller only when deciding), birth_date, age_in_years,
refusal without evidence, Android and the opt-in JPKI date-of-birth fallback, the age request helper."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from mdoc_issuer import NOW, NS, NS_JP, IssuerPKI, issue
from mdoc_jpki_signer import JPKISigner

from myna_rp import (
    AgeNotDeterminedError,
    AndroidDevice,
    AttributeProofUnsupported,
    IndividualNumberRefusedError,
    MdocVerificationError,
    Presentation,
    Reason,
    age_request,
    verify_age,
)
from myna_rp.age import age_on
from myna_rp.cli import main
from myna_rp.jpki.profile import FormFactor
from myna_rp.jpki.verifier import JPKIVerification
from myna_rp.mdoc import IACAStore, MdocVerifier, build_device_request


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


def _present(pki: IssuerPKI, elements: dict[str, dict[str, Any]]) -> Presentation:
    issued = issue(pki, elements=elements)
    return MdocVerifier(IACAStore([pki.iaca])).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )


def test_from_matching_age_over(pki: IssuerPKI) -> None:
    p = _present(pki, {NS: {"age_over_20": True, "age_over_18": True}})
    result = verify_age(p, 20)
    assert result.over is True
    assert result.minimum_age == 20
    assert result.evidence.element == "age_over_20"
    assert result.evidence.namespace == NS
    assert verify_age(_present(pki, {NS: {"age_over_20": False}}), 20).over is False


def test_larger_or_smaller_nn_only_when_deciding(pki: IssuerPKI) -> None:
    assert verify_age(_present(pki, {NS: {"age_over_21": True}}), 20).evidence.element == "age_over_21"
    assert verify_age(_present(pki, {NS: {"age_over_18": False}}), 20).over is False
    with pytest.raises(AgeNotDeterminedError) as info:  # age_over_18 true / age_over_21 false: undecided
        verify_age(_present(pki, {NS: {"age_over_18": True, "age_over_21": False}}), 20)
    assert info.value.reason is Reason.AGE_NOT_DISCLOSED
    mixed = _present(pki, {NS: {"age_over_18": True, "age_over_65": True, "age_over_25": True}})
    assert verify_age(mixed, 20).evidence.element == "age_over_25"  # the nearest deciding NN


def test_from_birth_date(pki: IssuerPKI) -> None:
    # NOW is 2026-06-01 12:00Z (21:00 JST)
    assert verify_age(_present(pki, {NS: {"birth_date": date(2006, 6, 1)}}), 20).over is True
    assert verify_age(_present(pki, {NS: {"birth_date": date(2006, 6, 2)}}), 20).over is False
    result = verify_age(_present(pki, {NS: {"birth_date": date(1990, 1, 1)}}), 20)
    assert result.over
    assert result.evidence.element == "birth_date"


def test_birth_date_map_form_and_approximate(pki: IssuerPKI) -> None:
    exact = _present(pki, {NS: {"birth_date": {"birth_date": date(1990, 1, 1)}}})
    assert verify_age(exact, 20).over is True
    approximate = _present(
        pki, {NS: {"birth_date": {"birth_date": date(1990, 1, 1), "approximate_mask": "00001111"}}}
    )
    with pytest.raises(AgeNotDeterminedError):
        verify_age(approximate, 20)


def test_from_age_in_years(pki: IssuerPKI) -> None:
    result = verify_age(_present(pki, {NS: {"age_in_years": 19}}), 20)
    assert result.over is False
    assert result.evidence.element == "age_in_years"


def test_refuses_when_neither_is_disclosed(pki: IssuerPKI) -> None:
    with pytest.raises(AgeNotDeterminedError):
        verify_age(_present(pki, {NS_JP: {"full_name_unicode": "山田\u3000花子"}}), 20)


def test_japanese_age_arithmetic() -> None:
    assert age_on(date(2004, 2, 29), date(2024, 2, 28)) == 19
    assert age_on(date(2004, 2, 29), date(2024, 2, 29)) == 20
    assert age_on(date(2004, 2, 29), date(2025, 2, 28)) == 20
    assert age_on(date(2005, 2, 28), date(2025, 2, 28)) == 20


def test_day_is_taken_in_japan_time(pki: IssuerPKI) -> None:
    p = _present(pki, {NS: {"birth_date": date(2006, 6, 2)}})
    late = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)  # 00:30 JST on 2 June
    assert verify_age(p, 20, at=late).over is True


def test_unverified_data_is_refused() -> None:
    with pytest.raises(TypeError):
        verify_age({"org.iso.23220.1": {"age_over_20": True}}, 20)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verify_age(AndroidDevice(), 100)


def test_issuer_signed_alone_does_not_answer(vectors: Path) -> None:
    folder = vectors / "mdoc-wallet-samples"
    case = next(c for c in json.loads((folder / "cases.json").read_text())["cases"] if c["name"] == "bdr")
    from myna_rp.encoding import load_certificates

    store = IACAStore(load_certificates((folder / case["trusted_certificates"][0]).read_bytes()))
    p = MdocVerifier(store).verify_issuer_signed(
        (folder / case["issuer_signed"]).read_bytes(),
        doc_type="org.iso.18013.5.1.mDL",
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(MdocVerificationError):
        verify_age(p, 18)


@pytest.fixture(scope="module")
def signer() -> JPKISigner:
    return JPKISigner()


def _jpki(signer: JPKISigner, form: FormFactor, dob: str) -> JPKIVerification:
    """A real JPKIVerifier result (verify_age refuses hand-built evidence)."""
    return signer.verification(form, dob, at=NOW)


def test_android_is_unsupported_and_names_the_fallback(signer: JPKISigner) -> None:
    for evidence in (AndroidDevice(), _jpki(signer, FormFactor.ANDROID, "419900101")):
        with pytest.raises(AttributeProofUnsupported) as info:
            verify_age(evidence, 20)
        assert info.value.reason is Reason.ATTRIBUTE_PROOF_UNSUPPORTED
        assert info.value.fallback == "jpki_signing_certificate"


def test_jpki_fallback_only_when_opted_in(signer: JPKISigner) -> None:
    card = _jpki(signer, FormFactor.CARD, "420060601")  # Heisei, 2006-06-01
    with pytest.raises(AgeNotDeterminedError):
        verify_age(card, 20)
    result = verify_age(card, 20, allow_jpki_date_of_birth=True)
    assert result.over is True
    assert result.evidence.source == "jpki"
    android = _jpki(signer, FormFactor.ANDROID, "420060602")
    assert verify_age(android, 20, allow_jpki_date_of_birth=True).over is False


def test_jpki_partial_date_fails_closed(signer: JPKISigner) -> None:
    with pytest.raises(AgeNotDeterminedError):
        verify_age(_jpki(signer, FormFactor.CARD, "419900000"), 20, allow_jpki_date_of_birth=True)


def test_age_request_is_minimal() -> None:
    request = cbor2.loads(age_request(20))
    assert request["version"] == "1.0"
    items = cbor2.loads(request["docRequests"][0]["itemsRequest"].value)
    assert items == {"docType": "org.iso.23220.1.jp.mnc", "nameSpaces": {NS: {"age_over_20": False}}}


def test_individual_number_refused_in_requests() -> None:
    with pytest.raises(IndividualNumberRefusedError):
        build_device_request("org.iso.23220.1.jp.mnc", {NS_JP: ["individual_number_unicode"]})
    build_device_request(
        "org.iso.23220.1.jp.mnc", {NS_JP: ["individual_number_unicode"]}, allow_individual_number=True
    )


def _cli_files(tmp_path: Path, pki: IssuerPKI, elements: dict[str, dict[str, Any]]) -> list[str]:
    from cryptography.hazmat.primitives.serialization import Encoding

    issued = issue(pki, elements=elements)
    (tmp_path / "iaca.pem").write_bytes(pki.iaca.public_bytes(Encoding.PEM))
    (tmp_path / "response.cbor").write_bytes(issued.device_response)
    (tmp_path / "transcript.cbor").write_bytes(issued.transcript)
    return [
        "--iaca", str(tmp_path / "iaca.pem"), "--device-response", str(tmp_path / "response.cbor"),
        "--session-transcript", str(tmp_path / "transcript.cbor"), "--at", "2026-06-01T12:00:00Z",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("elements", "over", "evidence"),
    [
        ({NS: {"age_over_20": True}}, True, "age_over_20"),
        ({NS: {"birth_date": date(2007, 1, 1)}}, False, "birth_date"),
    ],
)
def test_cli_verify_age(
    tmp_path: Path,
    pki: IssuerPKI,
    capsys: pytest.CaptureFixture[str],
    elements: dict[str, dict[str, Any]],
    over: bool,
    evidence: str,
) -> None:
    assert main(["verify-age", "--min-age", "20", *_cli_files(tmp_path, pki, elements)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True
    assert out["over"] is over
    assert out["evidence"] == evidence
    assert out["minimum_age"] == 20
    assert out["device_auth"] == "signature"


def test_cli_verify_age_refuses_without_evidence(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli_files(tmp_path, pki, {NS_JP: {"sex_unicode": "女"}})
    assert main(["verify-age", "--min-age", "20", *args]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["reason"] == "AGE_NOT_DISCLOSED"
    assert out["over"] is None


def test_cli_verify_mdoc_untrusted(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli_files(tmp_path, pki, {NS: {"age_over_20": True}})
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "iaca.pem").write_bytes(IssuerPKI().iaca.public_bytes(Encoding.PEM))
    assert main(["verify-mdoc", *args]) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "UNTRUSTED_ISSUER"
