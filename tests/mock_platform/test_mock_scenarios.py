"""The scenario fixture generator (tests/fixtures/jpki_scenarios.py): structure and self-consistency.

These tests check the fixtures with cryptography and openssl, independently of the SDK that consumes them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp, verification
from mockpki_helpers import NOW

GENERATOR = Path(__file__).resolve().parents[1] / "fixtures" / "jpki_scenarios.py"
REASONS = {
    None,
    "SIGNATURE_INVALID",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_NOT_YET_VALID",
    "UNTRUSTED_ISSUER",
    "WRONG_KEY_USAGE",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_ON_HOLD",
    "REVOCATION_UNAVAILABLE",
    "MALFORMED_INPUT",
}
REQUIRED = {
    "good_signing_card_rsa_ocsp",
    "good_signing_card_rsa_crl",
    "good_signing_android",
    "good_signing_iphone",
    "good_user_auth_card",
    "good_signing_ecdsa_p256",
    "good_user_auth_ecdsa_p256",
    "cms_attached_issuer_serial",
    "cms_detached_issuer_serial",
    "cms_attached_ski",
    "cms_detached_ski",
    "expired",
    "not_yet_valid",
    "wrong_key_usage",
    "wrong_policy",
    "other_purpose_root",
    "rogue_root_same_dn",
    "generation_rollover",
    "tampered_signature",
    "tampered_data",
    "hold_then_release",
    "ocsp_unauthorised_signer",
    "ocsp_delegated_responder_good",
    "stale_ocsp",
    "crl_without_next_update",
    "no_revocation_info_given",
    "attributes_substitute_characters",
    "attributes_unknown_birth_date",
    "attributes_octet_string",
    "revoked_unspecified",
    "revoked_keyCompromise",
    "revoked_cACompromise",
    "revoked_affiliationChanged",
    "revoked_superseded",
    "revoked_cessationOfOperation",
    "revoked_certificateHold",
}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jpki_scenarios_under_test", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("scenarios")
    manifest = _load_generator().build_scenarios(out, NOW)
    return out, manifest


def _cases(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, case) for name, scenario in manifest["scenarios"].items() for case in scenario["cases"]]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_manifest_structure(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    assert json.loads((out / "manifest.json").read_text("utf-8")) == manifest
    assert manifest["schema_version"] == 1
    assert _time(manifest["now"]) == NOW
    assert manifest["scenarios"].keys() >= REQUIRED
    assert len(manifest["trust_anchors"]) == 4
    assert {row["oid"] for row in manifest["policy_table"] if not row["assumed"]} == {
        "1.2.392.200149.8.5.1.1.20",
        "1.2.392.200149.8.5.1.3.30",
    }
    for name, case in _cases(manifest):
        args, expected = case["args"], case["expected"]
        assert expected["reason"] in REASONS, name
        assert expected["valid"] is (expected["reason"] is None), name
        assert (args["signature"] is None) != (args["cms"] is None), name
        for path in [*args["trust_anchors"], args["certificate"], *args["crls"], *args["ocsp_responses"]]:
            assert (out / path).is_file(), path
        assert case["argv"][0] == "verify-jpki"
        assert case["argv"].count("--trust-anchor") == len(args["trust_anchors"])
        assert ("--no-revocation" in case["argv"]) is args["no_revocation"]
        if expected["valid"] and expected["certificate_kind"] == "signing":
            assert expected["attributes"] is not None, name
        if expected["certificate_kind"] == "user_authentication":
            assert expected["attributes"] is None


def _verifier(out: Path, case: dict[str, Any]) -> verification.ClientVerifier:
    anchors = [x509.load_der_x509_certificate((out / p).read_bytes()) for p in case["args"]["trust_anchors"]]
    return (
        verification.PolicyBuilder()
        .store(verification.Store(anchors))
        .time(_time(case["args"]["at"]))
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )


def _verify_raw(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_paths_and_signatures_match_the_expectations(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    for name, case in _cases(manifest):
        args, reason = case["args"], case["expected"]["reason"]
        if reason == "MALFORMED_INPUT":
            continue
        certificate = x509.load_der_x509_certificate((out / args["certificate"]).read_bytes())
        at = _time(args["at"])
        chain_ok = True
        try:
            _verifier(out, case).verify(certificate, [])
        except verification.VerificationError:
            chain_ok = False
        if reason in {"CERTIFICATE_EXPIRED", "CERTIFICATE_NOT_YET_VALID", "UNTRUSTED_ISSUER"}:
            assert not chain_ok, f"{name}/{case['id']} unexpectedly builds a path"
        else:
            assert chain_ok, f"{name}/{case['id']} does not build a path"
        if reason == "CERTIFICATE_EXPIRED":
            assert certificate.not_valid_after_utc < at
        if reason == "CERTIFICATE_NOT_YET_VALID":
            assert certificate.not_valid_before_utc > at
        if args["signature"] is not None:
            signature = (out / args["signature"]).read_bytes()
            data = (out / args["data"]).read_bytes()
            if reason == "SIGNATURE_INVALID":
                with pytest.raises(InvalidSignature):
                    _verify_raw(certificate, signature, data)
            else:
                _verify_raw(certificate, signature, data)


def test_revocation_material_matches_the_expectations(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    for name, case in _cases(manifest):
        expected = case["expected"]["revocation"]
        if expected is None or expected["status"] not in {"good", "revoked", "on_hold"}:
            continue
        args = case["args"]
        certificate = x509.load_der_x509_certificate((out / args["certificate"]).read_bytes())
        at = _time(args["at"])
        if expected["source"] == "ocsp":
            (path,) = args["ocsp_responses"]
            response = ocsp.load_der_ocsp_response((out / path).read_bytes())
            assert response.serial_number == certificate.serial_number
            assert response.this_update_utc <= at
            assert response.produced_at_utc <= at
            assert response.next_update_utc is not None
            assert at <= response.next_update_utc
            status = response.certificate_status
            reason = response.revocation_reason.value if response.revocation_reason else None
        else:
            (path,) = args["crls"]
            crl = x509.load_der_x509_crl((out / path).read_bytes())
            assert crl.last_update_utc <= at
            assert crl.next_update_utc is None or at <= crl.next_update_utc
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            status = ocsp.OCSPCertStatus.GOOD if entry is None else ocsp.OCSPCertStatus.REVOKED
            reason = None
            if entry is not None:
                try:
                    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
                except x509.ExtensionNotFound:
                    reason = None
        wanted = ocsp.OCSPCertStatus.GOOD if expected["status"] == "good" else ocsp.OCSPCertStatus.REVOKED
        assert status is wanted, f"{name}/{case['id']}"
        assert reason == expected["reason"], f"{name}/{case['id']}"


def test_rogue_and_unauthorised_material_is_what_it_claims(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    rogue = manifest["scenarios"]["rogue_root_same_dn"]["cases"]
    for case in rogue:
        folder = out / Path(case["args"]["certificate"]).parent
        rogue_root = x509.load_der_x509_certificate((folder / "rogue-root.cer").read_bytes())
        leaf = x509.load_der_x509_certificate((out / case["args"]["certificate"]).read_bytes())
        real = x509.load_der_x509_certificate(
            (out / manifest["trust_anchors"]["signing-g2"]["der"]).read_bytes()
        )
        assert rogue_root.subject == real.subject
        leaf.verify_directly_issued_by(rogue_root)
    for case in manifest["scenarios"]["ocsp_unauthorised_signer"]["cases"]:
        (path,) = case["args"]["ocsp_responses"]
        response = ocsp.load_der_ocsp_response((out / path).read_bytes())
        assert response.certificate_status is ocsp.OCSPCertStatus.GOOD  # a "good" nobody may trust


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_cms_fixtures_verify_with_openssl(generated: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    assert OPENSSL is not None
    out, manifest = generated
    for name, case in _cases(manifest):
        args = case["args"]
        if args["cms"] is None or case["expected"]["reason"] == "MALFORMED_INPUT":
            continue
        command = [
            OPENSSL,
            "cms",
            "-verify",
            "-noverify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(out / args["cms"]),
            "-out",
            str(tmp_path / "content.bin"),
        ]
        if args["data"] is not None:
            command += ["-content", str(out / args["data"])]
        result = subprocess.run(command, capture_output=True, check=False)
        should_verify = case["expected"]["reason"] != "SIGNATURE_INVALID"
        assert (result.returncode == 0) is should_verify, f"{name}/{case['id']}: {result.stderr!r}"


@pytest.mark.slow
def test_script_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), str(tmp_path), "--now", "2026-11-29T12:00:00+09:00"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert manifest["now"] == "2026-11-29T03:00:00Z"
