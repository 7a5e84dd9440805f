"""x509-limbo subset (C2SP/x509-limbo, see ../shared/vectors/README.md) through myna_rp's path validator.

The cases run with the JPKI CA extension policy and the generic end-entity policy (limbo leaves are TLS
certificates, not JPKI leaves). Cases that test something outside this profile are skipped, one reason each.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from myna_rp.errors import Reason, VerificationError
from myna_rp.jpki.path import PathValidator, generic_extension_policies
from myna_rp.jpki.truststore import TrustStore

# One reason per skipped case.
SKIPPED = {
    # cryptography's verifier does not implement RFC 5280 §4.2.1.9's self-issued exemption.
    "pathlen::self-issued-certs-pathlen": "upstream: cryptography counts self-issued CAs in pathLen",
    "pathlen::max-chain-depth-1-self-issued": "upstream: cryptography counts self-issued CAs in depth",
    # cryptography rejects directoryName name constraints as unsupported (fails closed); JPKI roots have none.
    "rfc5280::nc::permitted-dn-match": "upstream: directoryName nameConstraints unsupported (fails closed)",
    # The JPKI profile refuses a CA certificate as the signer, stricter than RFC 5280.
    "pathlen::validation-ignores-pathlen-in-leaf": "profile: a CA certificate never signs as a holder",
    # JPKI leaves are not required to carry an AKI: the issuer is found by signature.
    "rfc5280::aki::leaf-missing-aki": "profile: leaf AKI not required; issuer chosen by signature",
    # Server-authentication specifics: JPKI leaves carry no EKU and no DNS names.
    "rfc5280::eku::ee-wrong-eku": "profile: TLS serverAuth EKU is out of scope for JPKI leaves",
    "rfc5280::san::noncritical-with-empty-subject": "profile: JPKI subjects are never empty; SAN criticality "
    "for empty subjects is a TLS concern",
    # cryptography's verifier accepts a zero serial (it refuses negative ones); RFC 5280 §4.1.2.2 says
    # positive, but the serial plays no part in JPKI trust decisions beyond revocation lookup.
    "rfc5280::serial::zero": "upstream: cryptography's verifier accepts a zero serial number",
}


def _cases(vectors_dir: Path) -> list[dict[str, Any]]:
    data = json.loads((vectors_dir / "limbo" / "limbo-subset.json").read_text())
    cases: list[dict[str, Any]] = data["testcases"]
    return cases


def _load(pem: str) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns on the deliberately broken serials
        return x509.load_pem_x509_certificate(pem.encode())


def _run(case: dict[str, Any]) -> str:
    trust = TrustStore.from_certificates([_load(p) for p in case["trusted_certs"]])
    leaf = _load(case["peer_certificate"])
    intermediates = [_load(p) for p in case["untrusted_intermediates"]]
    at = (
        datetime.fromisoformat(case["validation_time"])
        if case["validation_time"]
        else datetime(2024, 1, 1, tzinfo=UTC)
    )
    depth = case["max_chain_depth"] if case["max_chain_depth"] is not None else 8
    validator = PathValidator(trust, policies=generic_extension_policies(), max_chain_depth=depth)
    try:
        validator.validate(leaf, at=at, intermediates=intermediates)
    except VerificationError as exc:
        return "FAILURE" if exc.reason is Reason.UNTRUSTED_ISSUER else f"UNEXPECTED {exc.reason}"
    return "SUCCESS"


def test_limbo_subset(vectors: Path) -> None:
    cases = _cases(vectors)
    assert len(cases) == 86
    mismatches, ran = [], 0
    for case in cases:
        if case["id"] in SKIPPED:
            continue
        ran += 1
        got = _run(case)
        if got != case["expected_result"]:
            mismatches.append(f"{case['id']}: expected {case['expected_result']}, got {got}")
    assert not mismatches, "\n".join(mismatches)
    assert ran == 86 - len(SKIPPED)


def test_skip_list_names_real_cases(vectors: Path) -> None:
    ids = {case["id"] for case in _cases(vectors)}
    assert set(SKIPPED) <= ids
