"""``myna-rp demo`` (what ``make demo`` runs) completes and shows each step's outcome."""

from __future__ import annotations

import pytest

from myna_rp.cli import main


def test_demo_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "revocation: good (source ocsp)" in out
    assert "CERTIFICATE_REVOKED" in out
    assert "signing certificate on android" in out
    assert "register before the notice: refused with NOT_READY" in out
    assert "use before the usable time: refused with NOT_READY" in out
    assert "signing certificate on iphone, revocation good" in out
    assert "login ok: subject_id" in out
    assert "disclosed: org.iso.23220.1/age_over_20 only" in out
    assert "over 20: True (evidence mdoc org.iso.23220.1/age_over_20)" in out
    assert "ATTRIBUTE_PROOF_UNSUPPORTED (fallback jpki_signing_certificate)" in out
    assert "over 20: True (evidence jpki date_of_birth, allow_jpki_date_of_birth=True)" in out
    assert "Traceback" not in out + err
