"""NIST PKITS section 4.4 (basic CRL tests, ids 40401-40421) through RevocationChecker.check_chain.

Vectors: ``../shared/vectors/pkits/`` (``pkits.json``: cert, other_certs, crls, expected error class).
For each case the path is built with ``cryptography.x509.verification`` (trust anchor
TrustAnchorRootCertificate.crt, a permissive extension policy requiring basicConstraints on CAs, validation
time 2022-01-01 UTC), then every certificate below the anchor is checked with
``RevocationPolicy.CRL_ONLY`` and the case's CRLs as offline evidence, plus TrustAnchorRootCRL.crl: PKITS
assumes the anchor's CRL is always available (it is what revokes the CA-level certificates, e.g. the CRL
signer of 4.4.21), while pyHanko's case list only names the CRLs beyond it. The case's other certificates
are evidence too (candidate separate CRL signers, 4.4.19-4.4.21).

Expected: no error → every status GOOD; RevokedError → some REVOKED; InsufficientRevinfoError or
StaleRevinfoError → RevocationUnavailableError.

Path building note (4.4.15): cryptography's verifier refuses an end-entity with a negative serial
("certificate serial number cannot be negative"). For that refusal only, the issuer's path is built with the
verifier and the end entity is attached after ``verify_directly_issued_by``, so the revocation code still
sees the negative serial it must find on the CRL. Skip list: none.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from myna_rp.clock import FixedClock
from myna_rp.errors import RevocationUnavailableError
from myna_rp.revocation import CertStatus, RevocationChecker, RevocationEvidence, RevocationPolicy

AT = datetime(2022, 1, 1, tzinfo=UTC)
UNAVAILABLE = {"InsufficientRevinfoError", "StaleRevinfoError"}


def _vectors_root() -> Path:
    env = os.environ.get("MYNA_RP_VECTORS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "vectors"


def _load_cases() -> list[dict[str, Any]]:
    path = _vectors_root() / "pkits" / "pkits.json"
    if not path.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(path.read_text())
    return [c for c in cases if 40401 <= int(c["id"]) <= 40421]


CASES = _load_cases()
# One placeholder when the list is missing, so the test still runs (and the vectors fixture skips/fails).
CASES_OR_PLACEHOLDER: list[dict[str, Any] | None] = [*CASES] or [None]


def _cert(folder: Path, name: str) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4.4.15's deliberately negative serial
        return x509.load_der_x509_certificate((folder / "certs" / name).read_bytes())


def _path(folder: Path, case: dict[str, Any]) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    anchor = _cert(folder, "TrustAnchorRootCertificate.crt")
    leaf = _cert(folder, case["cert"])
    others = [_cert(folder, name) for name in case.get("other_certs", [])]
    verifier = (
        PolicyBuilder()
        .store(Store([anchor]))
        .time(AT)
        .extension_policies(
            ca_policy=ExtensionPolicy.permit_all().require_present(
                x509.BasicConstraints, Criticality.AGNOSTIC, None
            ),
            ee_policy=ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        return list(verifier.verify(leaf, others).chain), others
    except VerificationError as exc:
        if "serial number cannot be negative" not in str(exc):
            raise
    issuer = next(c for c in others if c.subject == leaf.issuer)
    leaf.verify_directly_issued_by(issuer)
    return [leaf, *verifier.verify(issuer, others).chain], others


def _outcome(folder: Path, case: dict[str, Any]) -> str | None:
    chain, others = _path(folder, case)
    crls = tuple(
        (folder / "crls" / name).read_bytes() for name in [*case.get("crls", []), "TrustAnchorRootCRL.crl"]
    )
    checker = RevocationChecker(clock=FixedClock(AT))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cryptography warns when reading 4.4.15's negative serial
            statuses = checker.check_chain(
                chain,
                policy=RevocationPolicy.CRL_ONLY,
                at=AT,
                evidence=RevocationEvidence(crls=crls, certificates=tuple(others)),
            )
    except RevocationUnavailableError:
        return "unavailable"
    if any(s.status in (CertStatus.REVOKED, CertStatus.ON_HOLD) for s in statuses):
        return "revoked"
    assert all(s.status is CertStatus.GOOD for s in statuses), statuses
    return None


def _expected(case: dict[str, Any]) -> str | None:
    error = case.get("error", {}).get("class")
    if error is None:
        return None
    if error == "RevokedError":
        return "revoked"
    assert error in UNAVAILABLE, error
    return "unavailable"


def test_case_list(vectors: Path) -> None:
    assert [int(c["id"]) for c in CASES] == list(range(40401, 40422))


@pytest.mark.vectors
@pytest.mark.parametrize(
    "case", CASES_OR_PLACEHOLDER, ids=[f"{c['id']}-{c['name']}" for c in CASES] or ["missing"]
)
def test_pkits_4_4(vectors: Path, case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.fail("vectors present but pkits/pkits.json is missing")
    assert _outcome(vectors / "pkits", case) == _expected(case)
