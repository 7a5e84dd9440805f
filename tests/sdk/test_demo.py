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
    # Issue 5: the OIDC login; issue 6: the demo ends with the bank account opening and the shop checkout.
    assert "ID token verified (ES256, iss, aud, exp, iat, nonce)" in out
    assert "userinfo: name 見本　花子, birthdate 1995-07-07" in out
    assert "open account: 201" in out
    assert "replay: 409 CHALLENGE_REPLAYED" in out
    assert "forged webhook: 401 WEBHOOK_SIGNATURE_INVALID" in out
    assert "age check: 200 over=True evidence=age_over_20" in out
    assert "age check: 403 AGE_REQUIREMENT_NOT_MET" in out
    assert "fallback: 200 over=True evidence=jpki_date_of_birth" in out
    assert out.rstrip().endswith("bank account opened, shop checkout done.")
