"""ISO/IEC 18013-5:2021 Annex D DeviceResponse (via openwallet-foundation/multipaz TestVectors.kt; see
../shared/vectors/README.md, section iso18013-5-annex-d): an mDL authenticated by deviceMac, with the
document-signer certificate as trust anchor (the utopia IACA is not published), verified at
2021-01-01T00:00:00Z, and each tampering rejected with the right reason."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from myna_rp import MdocVerificationError, MynaRPError, Reason
from myna_rp.cli import main
from myna_rp.mdoc import DeviceAuthKind, IACAStore, MdocVerifier, Presentation
from myna_rp.mdoc.transcript import Channel

pytestmark = pytest.mark.vectors

AT = datetime(2021, 1, 1, tzinfo=UTC)
NS = "org.iso.18013.5.1"


@pytest.fixture(scope="module")
def annex_d(vectors: Path) -> Path:
    return vectors / "iso18013-5-annex-d"


def _key(annex_d: Path, name: str) -> ec.EllipticCurvePrivateKey:
    keys = json.loads((annex_d / "keys.json").read_text())
    return ec.derive_private_key(int(keys[name]["d"], 16), ec.SECP256R1())


def _verify(
    annex_d: Path, response: bytes | None = None, transcript: bytes | None = None, **kw
) -> Presentation:  # type: ignore[no-untyped-def]
    ds = x509.load_der_x509_certificate((annex_d / "ds_cert.der").read_bytes())
    kw.setdefault("reader_private_key", _key(annex_d, "reader_ephemeral_key"))
    kw.setdefault("at", AT)
    return MdocVerifier(IACAStore([ds])).verify(
        response or (annex_d / "device_response.cbor").read_bytes(),
        session_transcript=transcript or (annex_d / "session_transcript_bytes.cbor").read_bytes(),
        **kw,
    )


def _reason(annex_d: Path, **kw) -> Reason:  # type: ignore[no-untyped-def]
    with pytest.raises(MynaRPError) as info:
        _verify(annex_d, **kw)
    return info.value.reason


def test_annex_d_verifies_with_expected_values(annex_d: Path) -> None:
    expected = json.loads((annex_d / "expected.json").read_text())["device_response"]
    p = _verify(annex_d)
    assert p.doc_type == expected["docType"] == "org.iso.18013.5.1.mDL"
    assert p.device_auth is DeviceAuthKind.MAC
    assert p.channel is Channel.PROXIMITY
    assert p.digest_algorithm == "SHA-256"
    elements = p.elements[NS]
    assert elements["family_name"] == "Doe"
    assert elements["issue_date"] == date(2019, 10, 20)
    assert elements["expiry_date"] == date(2024, 10, 20)
    assert elements["document_number"] == "123456789"
    assert elements["portrait"] == (annex_d / "portrait.jpg").read_bytes()
    assert [d["vehicle_category_code"] for d in elements["driving_privileges"]] == ["A", "B"]
    assert elements["driving_privileges"][1]["issue_date"] == date(2017, 2, 23)
    assert p.validity.signed == datetime(2020, 10, 1, 13, 30, 2, tzinfo=UTC)
    assert p.validity.valid_until == datetime(2021, 10, 1, 13, 30, 2, tzinfo=UTC)
    assert len(p.issuer_chain) == 1


def _flip(data: bytes, needle: bytes, offset: int = 0) -> bytes:
    at = data.index(needle) + offset
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_tampered_element_byte(annex_d: Path) -> None:
    response = (annex_d / "device_response.cbor").read_bytes()
    tampered = response.replace(b"cDoe", b"cDoa", 1)  # family_name "Doe" -> "Doa", same length
    assert tampered != response
    assert _reason(annex_d, response=tampered) is Reason.DIGEST_MISMATCH


def test_tampered_issuer_signature(annex_d: Path) -> None:
    response = (annex_d / "device_response.cbor").read_bytes()
    issuer_auth = cbor2.loads(response)["documents"][0]["issuerSigned"]["issuerAuth"]
    assert _reason(annex_d, response=_flip(response, issuer_auth[3], 5)) is Reason.ISSUER_SIGNATURE_INVALID


def test_tampered_mac(annex_d: Path) -> None:
    response = (annex_d / "device_response.cbor").read_bytes()
    tag = bytes.fromhex("e99521a85ad7891b806a07f8b5388a332d92c189a7bf293ee1f543405ae6824d")
    assert _reason(annex_d, response=_flip(response, tag, 31)) is Reason.DEVICE_AUTH_INVALID


def test_tampered_transcript(annex_d: Path) -> None:
    transcript = (annex_d / "session_transcript_bytes.cbor").read_bytes()
    tampered = transcript[:-1] + bytes([transcript[-1] ^ 0x01])  # last byte of the Handover's bstr
    assert _reason(annex_d, transcript=tampered) is Reason.DEVICE_AUTH_INVALID


def test_wrong_reader_key(annex_d: Path) -> None:
    wrong = _key(annex_d, "device_ephemeral_key")
    assert _reason(annex_d, reader_private_key=wrong) is Reason.DEVICE_AUTH_INVALID


def test_mac_without_the_reader_key_cannot_be_authenticated(annex_d: Path) -> None:
    # The sender chose deviceMac: a response the caller cannot authenticate is a verdict, not a usage error.
    with pytest.raises(MdocVerificationError) as info:
        _verify(annex_d, reader_private_key=None)
    assert info.value.reason is Reason.DEVICE_AUTH_INVALID
    assert "reader" in info.value.message


def test_after_the_ds_expired(annex_d: Path) -> None:
    assert _reason(annex_d, at=datetime(2021, 10, 1, 6, tzinfo=UTC)) is Reason.UNTRUSTED_ISSUER


def test_before_the_mso_validity(annex_d: Path) -> None:
    assert _reason(annex_d, at=datetime(2020, 10, 1, 13, 0, tzinfo=UTC)) is Reason.MSO_NOT_VALID


def _cli(annex_d: Path, tmp_path: Path, *extra: str) -> list[str]:
    pem = _key(annex_d, "reader_ephemeral_key").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "reader.pem").write_bytes(pem)
    return [
        "--iaca", str(annex_d / "ds_cert.der"),
        "--device-response", str(annex_d / "device_response.cbor"),
        "--session-transcript", str(annex_d / "session_transcript_bytes.cbor"),
        "--reader-private-key", str(tmp_path / "reader.pem"),
        "--at", "2021-01-01T00:00:00Z",
        *extra,
    ]  # fmt: skip


def test_cli_verify_mdoc_annex_d(annex_d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-mdoc", *_cli(annex_d, tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True
    assert out["reason"] is None
    assert out["doc_type"] == "org.iso.18013.5.1.mDL"
    assert out["device_auth"] == "mac"
    assert out["valid_until"] == "2021-10-01T13:30:02+00:00"
    assert out["elements"][NS]["family_name"] == "Doe"
    assert out["elements"][NS]["issue_date"] == "2019-10-20"
    assert out["elements"][NS]["portrait"].startswith("/9j/")  # base64 of a JPEG


def test_cli_verify_mdoc_tampered(annex_d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    response = (annex_d / "device_response.cbor").read_bytes().replace(b"cDoe", b"cDoa", 1)
    (tmp_path / "tampered.cbor").write_bytes(response)
    args = _cli(annex_d, tmp_path)
    args[args.index("--device-response") + 1] = str(tmp_path / "tampered.cbor")
    assert main(["verify-mdoc", *args]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "valid": False, "reason": "DIGEST_MISMATCH", "doc_type": None, "elements": None,
        "device_auth": None, "valid_until": None,
    }  # fmt: skip


def test_cli_verify_age_refuses_without_age_elements(
    annex_d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify-age", "--min-age", "18", *_cli(annex_d, tmp_path)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["reason"] == "AGE_NOT_DISCLOSED"
    assert out["over"] is None
    assert out["minimum_age"] == 18
    assert out["evidence"] is None


def test_cli_mac_without_reader_key_is_invalid(
    annex_d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli(annex_d, tmp_path)
    del args[args.index("--reader-private-key") : args.index("--reader-private-key") + 2]
    assert main(["verify-mdoc", *args]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert json.loads(captured.out)["reason"] == "DEVICE_AUTH_INVALID"
    assert "reader" in captured.err
