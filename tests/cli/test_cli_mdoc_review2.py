"""verify-mdoc / verify-age after the second review of issue 4: bad trust configuration is a usage error
(exit 2); a deviceMac without a reader key is a verdict (exit 1, DEVICE_AUTH_INVALID); stdout is strict JSON
whatever the element values; status != 0 is refused; the age answer names its namespace and comes only from
the configured docType; --max-bytes, --doc-type, --namespace and --allow-ds-without-eku."""

from __future__ import annotations

import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "mdoc"))

from mdoc_issuer import NS, NS_JP, Issued, IssuerPKI, default_elements, issue

from myna_rp.cli import main

AT = "2026-06-01T12:00:00Z"
MDL = "org.iso.18013.5.1.mDL"


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, _strict_json(out), err


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


def _files(tmp_path: Path, pki: IssuerPKI, issued: Issued, *, iaca: bytes | None = None) -> list[str]:
    (tmp_path / "iaca.pem").write_bytes(iaca if iaca is not None else pki.iaca.public_bytes(Encoding.PEM))
    (tmp_path / "response.cbor").write_bytes(issued.device_response)
    (tmp_path / "transcript.cbor").write_bytes(issued.transcript)
    return [
        "--iaca", str(tmp_path / "iaca.pem"), "--device-response", str(tmp_path / "response.cbor"),
        "--session-transcript", str(tmp_path / "transcript.cbor"), "--at", AT,
    ]  # fmt: skip


def _edited(issued: Issued, edit: Any) -> Issued:
    response = cbor2.loads(issued.device_response)
    edit(response)
    return Issued(cbor2.dumps(response), issued.transcript, issued.device_key)


@pytest.mark.parametrize("command", ["verify-mdoc", "verify-age"])
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage, not a certificate\n",
        b"-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n",
    ],
    ids=["empty", "garbage", "bad-pem"],
)
def test_bad_iaca_file_is_a_usage_error(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str], command: str, content: bytes
) -> None:
    code, payload, err = _run(capsys, command, *_files(tmp_path, pki, issue(pki), iaca=content))
    assert code == 2
    assert payload["reason"] == "USAGE_ERROR"
    assert "trust configuration" in err


def test_device_mac_without_reader_key_is_exit_1(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    def to_mac(response: dict[str, Any]) -> None:
        response["documents"][0]["deviceSigned"]["deviceAuth"] = {
            "deviceMac": [cbor2.dumps({1: 5}), {}, None, b"\x00" * 32]
        }

    code, payload, err = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, _edited(issue(pki), to_mac)))
    assert code == 1
    assert payload["reason"] == "DEVICE_AUTH_INVALID"
    assert "reader" in err


def test_status_other_than_zero_is_refused(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = _edited(issue(pki), lambda r: r.update(status=10))
    code, payload, err = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, issued))
    assert code == 1
    assert payload["reason"] == "MALFORMED_INPUT"
    assert "status is 10" in err


def test_output_is_strict_json_for_any_element_value(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = {
        "nan": math.nan,
        "inf": math.inf,
        "minus_inf": -math.inf,
        "undefined": cbor2.undefined,
        "simple": cbor2.CBORSimpleValue(99),
        "big": 2**70,
        "half": 0.5,
        "keys": {1: "int key", b"\x01\x02": "bytes key", "s": "text key"},
        "tag": cbor2.CBORTag(1234, [math.nan]),
    }
    issued = issue(pki, elements={"org.example.values": odd, NS: {"age_over_20": True}})
    code, payload, _ = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, issued))
    assert code == 0
    values = payload["elements"]["org.example.values"]
    assert values["nan"] == {"cbor_float": "NaN"}
    assert values["inf"] == {"cbor_float": "Infinity"}
    assert values["minus_inf"] == {"cbor_float": "-Infinity"}
    assert values["undefined"] == {"cbor_undefined": True}
    assert values["simple"] == {"cbor_simple": 99}
    assert values["big"] == {"tag": 2, "value": "QAAAAAAAAAAA"}  # a bignum stays an uninterpreted tag 2
    assert values["half"] == 0.5
    # not all keys are text: the explicit pair form (third review; no two keys can merge)
    assert values["keys"] == {"cbor_map": [[1, "int key"], ["AQI=", "bytes key"], ["s", "text key"]]}
    assert values["tag"] == {"tag": 1234, "value": [{"cbor_float": "NaN"}]}


def test_profile_element_of_the_wrong_type_is_malformed(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = issue(pki, elements={NS: {"age_over_20": 1}})
    for command in ("verify-mdoc", "verify-age"):
        code, payload, err = _run(capsys, command, *_files(tmp_path, pki, issued))
        assert code == 1
        assert payload["reason"] == "MALFORMED_INPUT"
        assert "age_over_20 must be a bool" in err


def test_age_answer_names_its_namespace_and_ignores_other_namespaces(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = issue(pki, elements={NS_JP: {"age_over_20": False}, NS: {"age_over_20": True}})
    code, payload, err = _run(capsys, "verify-age", *_files(tmp_path, pki, issued))
    assert code == 0
    assert payload["over"] is True
    assert payload["evidence"] == "age_over_20"
    assert payload["evidence_namespace"] == NS
    assert f"{NS}/age_over_20" in err


def test_age_only_from_the_configured_doctype(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    other = issue(pki, elements={NS: {"age_over_20": True}}, doc_type="org.example.loyalty")
    code, payload, _ = _run(capsys, "verify-age", *_files(tmp_path, pki, other))
    assert code == 1
    assert payload["reason"] == "AGE_NOT_DISCLOSED"
    assert payload["over"] is None
    # configured explicitly: a namespace is then required
    code, payload, _ = _run(
        capsys, "verify-age", *_files(tmp_path, pki, other), "--doc-type", "org.example.loyalty"
    )
    assert code == 2
    code, payload, _ = _run(
        capsys,
        "verify-age",
        *_files(tmp_path, pki, other),
        "--doc-type",
        "org.example.loyalty",
        "--namespace",
        NS,
    )
    assert code == 0
    assert payload["over"] is True
    mdl = issue(pki, elements={"org.iso.18013.5.1": {"age_over_18": True}}, doc_type=MDL)
    code, payload, _ = _run(
        capsys, "verify-age", "--min-age", "18", *_files(tmp_path, pki, mdl), "--doc-type", MDL
    )
    assert code == 0
    assert payload["evidence_namespace"] == "org.iso.18013.5.1"


def test_contradicting_age_elements_are_refused(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = issue(pki, elements={NS: {"age_over_20": True, "birth_date": date(2011, 1, 1)}})
    code, payload, err = _run(capsys, "verify-age", *_files(tmp_path, pki, issued))
    assert code == 1
    assert payload["reason"] == "AGE_EVIDENCE_INCONSISTENT"
    assert payload["over"] is None
    assert "contradict" in err


def test_two_documents_verify_age_picks_the_configured_doctype(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    mnc = issue(pki, elements={NS: {"age_over_20": False}})
    other = issue(
        pki, elements={NS: {"age_over_20": True}}, doc_type="org.example.loyalty", transcript=mnc.transcript
    )
    both = _edited(mnc, lambda r: r["documents"].append(cbor2.loads(other.device_response)["documents"][0]))
    code, payload, _ = _run(capsys, "verify-age", *_files(tmp_path, pki, both))
    assert code == 0
    assert payload["over"] is False
    assert payload["doc_type"] == "org.iso.23220.1.jp.mnc"
    code, _, _ = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, both))
    assert code == 1  # several documents and no --doc-type
    code, payload, _ = _run(
        capsys, "verify-mdoc", *_files(tmp_path, pki, both), "--doc-type", "org.example.loyalty"
    )
    assert code == 0
    assert payload["doc_type"] == "org.example.loyalty"


def test_max_bytes(tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]) -> None:
    elements = default_elements()
    elements[NS_JP]["portrait"] = b"\xff\xd8" + bytes(5 * 1024 * 1024)
    issued = issue(pki, elements=elements)
    code, payload, err = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, issued))
    assert code == 1
    assert payload["reason"] == "MALFORMED_INPUT"
    assert "larger than 1048576 bytes" in err  # the default, 1 MiB (4 MiB before the third review)
    code, payload, _ = _run(
        capsys, "verify-mdoc", *_files(tmp_path, pki, issued), "--max-bytes", str(8 * 1024 * 1024)
    )
    assert code == 0
    for bad in ("0", "x", str(65 * 1024 * 1024)):
        code, _, _ = _run(capsys, "verify-mdoc", *_files(tmp_path, pki, issued), "--max-bytes", bad)
        assert code == 2


def test_ds_without_eku_needs_the_explicit_flag(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    import copy
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from mdoc_issuer import NOW

    key = ec.generate_private_key(ec.SECP256R1())
    ds = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "DS without EKU")]))
        .issuer_name(pki.iaca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.iaca_key.public_key()), critical=False
        )
        .sign(pki.iaca_key, hashes.SHA256())
    )
    variant = copy.copy(pki)
    variant.ds, variant.ds_key = ds, key
    args = _files(tmp_path, pki, issue(variant))
    code, payload, _ = _run(capsys, "verify-mdoc", *args)
    assert code == 1
    assert payload["reason"] == "UNTRUSTED_ISSUER"
    code, payload, _ = _run(capsys, "verify-mdoc", *args, "--allow-ds-without-eku")
    assert code == 0
