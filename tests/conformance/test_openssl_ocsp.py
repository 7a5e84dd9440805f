"""OpenSSL's OCSP response-verification cases (test/recipes/80-test_ocsp.t) through myna_rp.

Vectors: ``../shared/vectors/openssl-ocsp/`` (see its README section "openssl-ocsp"): the pyHanko copy of
``openssl/openssl`` ``test/ocsp-tests/``; ``.ors`` files are base64 text of DER OCSPResponses. Each case
mirrors ``openssl ocsp -respin R -partial_chain -attime 1355875200 -CAfile X -verify_other Y``:

- every certificate of the CA file is a trust anchor (``-partial_chain``), and the CA the response speaks
  about is the one whose subject/key hashes match the CertIDs (:func:`verify_ocsp_signer`);
- ``-verify_other`` certificates are untrusted candidates for the responder;
- the signer must be that CA or a delegated responder it issued with id-kp-OCSPSigning, valid at
  2012-12-19T00:00:00Z (the ``-attime``).

Only the signature/signer checks are exercised (the recipe asserts no status and no freshness), so
freshness and nonce are not part of this test. Expected exit 0 → accepted, 1 → rejected.

Skip list (one reason per case): none needed. Cases marked ``files_missing_here`` in the case list are
skipped with that reason (the vectors lack their certificate files).
"""

from __future__ import annotations

import base64
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from myna_rp.errors import OCSPResponseInvalidError
from myna_rp.revocation import verify_ocsp_signer

ATTIME = datetime(2012, 12, 19, 0, 0, tzinfo=UTC)  # -attime 1355875200


def _vectors_root() -> Path:
    env = os.environ.get("MYNA_RP_VECTORS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "vectors"


def _load_cases() -> list[dict[str, Any]]:
    path = _vectors_root() / "openssl-ocsp" / "openssl-80-test_ocsp-cases.json"
    if not path.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


CASES = _load_cases()
# One placeholder when the list is missing, so the test still runs (and the vectors fixture skips/fails).
CASES_OR_PLACEHOLDER: list[dict[str, Any] | None] = [*CASES] or [None]


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['group']} | {case['title']} | {case['response']} + {case['ca_file']}"


def _certificates(path: Path) -> list[x509.Certificate]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some vector certificates carry non-positive serials
        return x509.load_pem_x509_certificates(path.read_bytes())


def _accepted(folder: Path, case: dict[str, Any]) -> bool:
    response = base64.b64decode((folder / case["response"]).read_text())
    anchors = _certificates(folder / case["ca_file"])
    others = _certificates(folder / (case["verify_other"] or case["ca_file"]))
    try:
        verify_ocsp_signer(response, anchors, at=ATTIME, other_certificates=others)
    except OCSPResponseInvalidError:
        return False
    return True


def test_case_list(vectors: Path) -> None:
    assert len(CASES) == 55, "openssl-80-test_ocsp-cases.json should list all 55 recipe cases"
    assert sum(1 for c in CASES if c["expected_exit"] == 0) == 13


@pytest.mark.vectors
@pytest.mark.parametrize(
    "case", CASES_OR_PLACEHOLDER, ids=[_case_id(c) for c in CASES] or ["case-list-missing"]
)
def test_openssl_ocsp_case(vectors: Path, case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.fail("vectors present but openssl-ocsp/openssl-80-test_ocsp-cases.json is missing")
    if case.get("files_missing_here"):
        pytest.skip(f"vector files missing here: {', '.join(case['files_missing_here'])}")
    assert _accepted(vectors / "openssl-ocsp", case) is (case["expected_exit"] == 0)
