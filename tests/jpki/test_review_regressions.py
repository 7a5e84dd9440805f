"""Regression tests for the review findings (one test, or one parametrised test, per finding).

Each test fails on the behaviour the reviewer found and passes on the fix. The PKI is JPKI-shaped and
built with ``cryptography`` (:mod:`pki_builder`); CMS comes from the mock platform's token simulator.

1. partitioned CRLs: cRLNumber sequences are per partition, not per issuer;
2. a leaf must chain to the root of its own purpose;
3. a certificate named by the caller is the only acceptable CMS signer;
4. several OCSP responses: the verdict does not depend on their order;
5. leaf = trust anchor, duplicated extension, ``str`` input: typed errors, never a raw exception;
6. raw ECDSA ``r || s`` beginning with 0x30;
7. unknown policy OIDs under the J-LIS arcs;
8. reason precedence: an untrusted issuer is reported as such even when the leaf is out of date;
9. UNSAFE_SKIP without a checker warns on every verification;
10. no personal data or signed content in ``repr()``;
11. CLI: strict ``--at``, CRL files parsed up front, PEM bundles, devices, ``--help``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import ocsp
from pki_builder import (
    ADDRESS,
    DATE_OF_BIRTH,
    MUNICIPALITY,
    NAME,
    NOW,
    PREFECTURE,
    USER_AUTHENTICATION_OU,
    Party,
    crl_der,
    crl_dp_name,
    crl_pem,
    make_crl,
    make_leaf,
    make_ocsp,
    make_root,
    with_duplicated_key_usage,
)

from mock_platform.ca.cms import SignerIdentifierType
from mock_platform.ca.token import TokenSimulator
from myna_rp.cli import main
from myna_rp.clock import FixedClock
from myna_rp.errors import (
    CertificateRevokedError,
    CRLFailure,
    MalformedInputError,
    Reason,
    RevocationUnavailableError,
    VerificationError,
)
from myna_rp.jpki.profile import CertificateKind, FormFactor
from myna_rp.jpki.truststore import TrustStore
from myna_rp.jpki.verifier import JPKIVerification, JPKIVerifier
from myna_rp.revocation import CertStatus, RevocationPolicy, RevocationReason, RevocationSource
from myna_rp.revocation.checker import RevocationChecker, RevocationEvidence
from myna_rp.revocation.crl import CRLSource

REPO = Path(__file__).resolve().parents[2]
DATA = b"I agree to the terms (contract 2026-0601)"
KEY_COMPROMISE = x509.ReasonFlags.key_compromise


@dataclass(frozen=True)
class Roots:
    signing: Party
    user_authentication: Party


@pytest.fixture(scope="module")
def roots() -> Roots:
    return Roots(signing=make_root(), user_authentication=make_root(USER_AUTHENTICATION_OU))


def sign(party: Party, data: bytes = DATA) -> bytes:
    return party.key.sign(data, ec.ECDSA(hashes.SHA256()))


def verifier_for(*anchors: Party, checked: bool = False) -> JPKIVerifier:
    """A verifier trusting ``anchors`` at NOW: revocation REQUIRE with an evidence-only checker when
    ``checked``, else UNSAFE_SKIP (for findings that are decided before revocation)."""
    trust = TrustStore.from_certificates([a.cert for a in anchors])
    clock = FixedClock(NOW)
    if checked:
        return JPKIVerifier(trust, revocation=RevocationChecker(clock=clock), clock=clock)
    return JPKIVerifier(trust, revocation=None, policy=RevocationPolicy.UNSAFE_SKIP, clock=clock)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out), err


# -- 1. partitioned CRLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy", [RevocationPolicy.CRL_ONLY, RevocationPolicy.REQUIRE], ids=lambda p: p.name
)
@pytest.mark.parametrize("where", ["evidence", "static"])
@pytest.mark.parametrize("first", ["A", "B"])
def test_partitioned_crls_have_their_own_crl_number_sequences(
    roots: Roots, policy: RevocationPolicy, where: str, first: str
) -> None:
    root = roots.signing
    leaves = {
        "A": make_leaf(root, municipality="千代田区"),
        "B": make_leaf(root, municipality="新宿区"),
    }
    crl_a = make_crl(root, number=500, partition=crl_dp_name("千代田区"))
    crl_b = make_crl(
        root,
        number=12,
        partition=crl_dp_name("新宿区"),
        revoked=((leaves["B"].cert.serial_number, KEY_COMPROMISE),),
    )
    evidence: RevocationEvidence | None = None
    if where == "evidence":
        checker = RevocationChecker(clock=FixedClock(NOW))
        evidence = RevocationEvidence(crls=(crl_der(crl_a), crl_der(crl_b)))
    else:
        checker = RevocationChecker(crls=CRLSource(static=[crl_a, crl_b]), clock=FixedClock(NOW))
    order = [first, "B" if first == "A" else "A"] * 2  # each leaf twice, alternating: one checker
    for step, which in enumerate(order):
        status = checker.check(
            leaves[which].cert, root.cert, policy=policy, at=NOW + timedelta(seconds=step), evidence=evidence
        )
        assert status.source is RevocationSource.CRL
        if which == "A":
            assert (status.status, status.crl_number) == (CertStatus.GOOD, 500), f"step {step}"
        else:
            assert (status.status, status.crl_number) == (CertStatus.REVOKED, 12), f"step {step}"
            assert status.reason is RevocationReason.KEY_COMPROMISE


def test_rollback_within_one_partition_is_still_rejected(roots: Roots) -> None:
    root = roots.signing
    leaf = make_leaf(root, municipality="千代田区")
    partition = crl_dp_name("千代田区")
    newer = make_crl(root, number=5, partition=partition, this_update=NOW - timedelta(hours=1))
    older = make_crl(root, number=4, partition=partition, this_update=NOW - timedelta(hours=3))
    other_partition = make_crl(root, number=900, partition=crl_dp_name("新宿区"))
    checker = RevocationChecker(clock=FixedClock(NOW))
    policy = RevocationPolicy.CRL_ONLY
    accepted = checker.check(
        leaf.cert, root.cert, policy=policy, at=NOW, evidence=RevocationEvidence(crls=(crl_der(newer),))
    )
    assert (accepted.status, accepted.crl_number) == (CertStatus.GOOD, 5)
    # Another partition's (higher) number neither raises nor lowers this partition's floor.
    checker.check(
        make_leaf(root, municipality="新宿区").cert,
        root.cert,
        policy=policy,
        at=NOW,
        evidence=RevocationEvidence(crls=(crl_der(other_partition),)),
    )
    with pytest.raises(RevocationUnavailableError) as info:
        checker.check(
            leaf.cert,
            root.cert,
            policy=policy,
            at=NOW + timedelta(minutes=1),  # after #5's thisUpdate: #4 is a rollback
            evidence=RevocationEvidence(crls=(crl_der(older),)),
        )
    assert info.value.reason is Reason.REVOCATION_UNAVAILABLE
    assert any(CRLFailure.ROLLBACK.value in attempt for attempt in info.value.attempts), info.value.attempts


# -- 2. anchor purpose --------------------------------------------------------------------------------


@pytest.mark.parametrize("signing", [True, False], ids=["signing-leaf", "user-auth-leaf"])
def test_leaf_under_the_root_of_the_other_purpose_is_untrusted(roots: Roots, signing: bool) -> None:
    verifier = verifier_for(roots.signing, roots.user_authentication)
    own, other = (
        (roots.signing, roots.user_authentication) if signing else (roots.user_authentication, roots.signing)
    )

    def verify(leaf: Party) -> object:
        if signing:
            return verifier.verify_signature(data=DATA, signature=sign(leaf), certificate=leaf.cert)
        return verifier.verify_authentication(challenge=DATA, signature=sign(leaf), certificate=leaf.cert)

    verify(make_leaf(own, signing=signing))  # control: the same profile under its own root is fine
    with pytest.raises(VerificationError) as info:
        verify(make_leaf(other, signing=signing))
    assert info.value.reason is Reason.UNTRUSTED_ISSUER


# -- 3. CMS signer named by the caller ----------------------------------------------------------------


@pytest.mark.parametrize("sid", list(SignerIdentifierType))
def test_cms_never_falls_back_to_the_embedded_certificate(roots: Roots, sid: SignerIdentifierType) -> None:
    signer = make_leaf(roots.signing)
    other = make_leaf(roots.signing)
    cms = TokenSimulator(signer.key, certificate=signer.cert).sign_cms(
        DATA, signing_time=NOW, signer_identifier=sid
    )
    verifier = verifier_for(roots.signing)
    assert verifier.verify_cms(cms).certificate == signer.cert  # control: the CMS itself is valid
    assert verifier.verify_cms(cms, certificate=signer.cert).certificate == signer.cert
    for named in (other.cert, other.der):
        with pytest.raises(VerificationError) as info:
            verifier.verify_cms(cms, certificate=named)
        assert info.value.reason is Reason.SIGNATURE_INVALID


# -- 4. several OCSP responses ------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["given-order", "reversed"])
@pytest.mark.parametrize("case", ["good-then-revoked", "hold-then-good", "revoked-then-good"])
def test_ocsp_verdict_does_not_depend_on_the_order_of_responses(
    roots: Roots, case: str, reverse: bool
) -> None:
    root = roots.signing
    leaf = make_leaf(root)
    older, newer = NOW - timedelta(hours=3), NOW - timedelta(minutes=10)
    revoked = ocsp.OCSPCertStatus.REVOKED
    good = ocsp.OCSPCertStatus.GOOD
    if case == "good-then-revoked":
        responses = [
            make_ocsp(leaf, root, this_update=older),
            make_ocsp(leaf, root, status=revoked, reason=KEY_COMPROMISE, this_update=newer),
        ]
    elif case == "hold-then-good":  # the hold was released: the newer answer decides
        responses = [
            make_ocsp(
                leaf, root, status=revoked, reason=x509.ReasonFlags.certificate_hold, this_update=older
            ),
            make_ocsp(leaf, root, status=good, this_update=newer),
        ]
    else:  # a revocation is final, whatever a later response claims
        responses = [
            make_ocsp(leaf, root, status=revoked, reason=KEY_COMPROMISE, this_update=older),
            make_ocsp(leaf, root, status=good, this_update=newer),
        ]
    if reverse:
        responses.reverse()
    evidence = RevocationEvidence(ocsp_responses=tuple(responses))
    verifier = verifier_for(root, checked=True)

    def verify() -> JPKIVerification:
        return verifier.verify_signature(
            data=DATA, signature=sign(leaf), certificate=leaf.cert, evidence=evidence
        )

    if case == "hold-then-good":
        result = verify()
        assert result.revocation.status is CertStatus.GOOD
        assert result.revocation.this_update == newer
        return
    with pytest.raises(CertificateRevokedError) as info:
        verify()
    assert info.value.reason is Reason.CERTIFICATE_REVOKED
    assert info.value.status.status is CertStatus.REVOKED
    assert info.value.status.reason is RevocationReason.KEY_COMPROMISE


# -- 5. typed errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("checked", [False, True], ids=["unsafe-skip", "require"])
def test_leaf_that_is_itself_the_trust_anchor_is_untrusted(checked: bool) -> None:
    leaf = make_leaf(None)  # self-signed, JPKI signing profile, not a CA
    verifier = verifier_for(leaf, checked=checked)
    with pytest.raises(VerificationError) as info:  # and not IndexError
        verifier.verify_signature(data=DATA, signature=sign(leaf), certificate=leaf.cert)
    assert info.value.reason is Reason.UNTRUSTED_ISSUER


def test_duplicated_key_usage_is_malformed_input(
    roots: Roots, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = make_leaf(roots.signing)
    der = with_duplicated_key_usage(leaf, roots.signing)
    parsed = x509.load_der_x509_certificate(der)  # cryptography decodes extensions lazily
    pem = parsed.public_bytes(serialization.Encoding.PEM)
    verifier = verifier_for(roots.signing)
    for certificate in (der, pem, parsed):
        with pytest.raises(MalformedInputError) as info:
            verifier.verify_signature(data=DATA, signature=sign(leaf), certificate=certificate)
        assert info.value.reason is Reason.MALFORMED_INPUT
    cms = TokenSimulator(leaf.key, certificate=parsed).sign_cms(DATA, signing_time=NOW)
    with pytest.raises(MalformedInputError):
        verifier.verify_cms(cms)

    path = tmp_path / "duplicated-key-usage.der"
    path.write_bytes(der)
    code, payload, err = run_cli(capsys, "inspect", str(path))
    assert code == 1
    assert payload["reason"] == "MALFORMED_INPUT"
    assert "error" not in payload  # a typed verdict, not the last-resort internal-error handler
    assert "internal error" not in err


@pytest.mark.parametrize("call", ["data", "signature", "certificate", "cms", "challenge"])
def test_text_instead_of_bytes_is_malformed_input(roots: Roots, call: str) -> None:
    leaf = make_leaf(roots.signing)
    auth = make_leaf(roots.user_authentication, signing=False)
    verifier = verifier_for(roots.signing, roots.user_authentication)
    signature = sign(leaf)
    calls: dict[str, Callable[[], object]] = {
        "data": lambda: verifier.verify_signature(
            data=DATA.decode(),  # type: ignore[arg-type]
            signature=signature,
            certificate=leaf.cert,
        ),
        "signature": lambda: verifier.verify_signature(
            data=DATA,
            signature=signature.hex(),  # type: ignore[arg-type]
            certificate=leaf.cert,
        ),
        "certificate": lambda: verifier.verify_signature(
            data=DATA,
            signature=signature,
            certificate=leaf.pem.decode(),  # type: ignore[arg-type]
        ),
        "cms": lambda: verifier.verify_cms("-----BEGIN CMS-----"),  # type: ignore[arg-type]
        "challenge": lambda: verifier.verify_authentication(
            challenge="nonce",  # type: ignore[arg-type]
            signature=sign(auth, b"nonce"),
            certificate=auth.cert,
        ),
    }
    with pytest.raises(MalformedInputError) as info:
        calls[call]()
    assert info.value.reason is Reason.MALFORMED_INPUT


# -- 6. raw ECDSA beginning with 0x30 -----------------------------------------------------------------


def _raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_raw_ecdsa_signature_beginning_with_0x30_verifies(roots: Roots) -> None:
    leaf = make_leaf(roots.signing)
    verifier = verifier_for(roots.signing)
    for attempt in range(8192):  # P(r begins with 0x30) = 1/256: failing to find one is ~1e-14
        data = b"challenge %d" % attempt
        der = sign(leaf, data)
        raw = _raw(der)
        if raw[0] == 0x30:
            break
    else:
        pytest.fail("no raw ECDSA signature beginning with 0x30 in 8192 attempts")
    assert len(raw) == 64
    result = verifier.verify_signature(data=data, signature=raw, certificate=leaf.cert)
    assert result.hash_algorithm == "sha256"
    verifier.verify_signature(data=data, signature=der, certificate=leaf.cert)  # DER still verifies
    plain = _raw(sign(leaf))  # a raw signature of the other kind, most likely not beginning with 0x30
    verifier.verify_signature(data=DATA, signature=plain, certificate=leaf.cert)
    for wrong_data, wrong_signature in ((data + b"!", raw), (DATA + b"!", plain), (data + b"!", der)):
        with pytest.raises(VerificationError) as info:
            verifier.verify_signature(data=wrong_data, signature=wrong_signature, certificate=leaf.cert)
        assert info.value.reason is Reason.SIGNATURE_INVALID


# -- 7. unknown policy OIDs under the J-LIS arcs ------------------------------------------------------


def test_unknown_policy_under_the_jlis_arcs_gives_kind_and_unknown_form_factor(roots: Roots) -> None:
    signing = make_leaf(roots.signing, policy_oid="1.2.392.200149.8.5.1.1.60")
    result = verifier_for(roots.signing).verify_signature(
        data=DATA, signature=sign(signing), certificate=signing.cert
    )
    assert result.certificate_kind is CertificateKind.SIGNING
    assert result.form_factor is FormFactor.UNKNOWN
    assert result.check.policy_oids == ("1.2.392.200149.8.5.1.1.60",)

    auth = make_leaf(roots.user_authentication, signing=False, policy_oid="1.2.392.200149.8.5.1.3.60")
    login = verifier_for(roots.user_authentication).verify_authentication(
        challenge=DATA, signature=sign(auth), certificate=auth.cert
    )
    assert login.check.certificate_kind is CertificateKind.USER_AUTHENTICATION
    assert login.form_factor is FormFactor.UNKNOWN


@pytest.mark.parametrize(
    "oid",
    [
        "1.2.392.200149.8.5.1.2.60",  # a J-LIS arc that is neither signing nor user authentication
        "1.2.392.200149.8.5.1.11.60",  # shares the text prefix "…1.1" but not the arc
        "1.2.392.200149.8.5.1.10",
        "2.5.29.32.0",  # anyPolicy
    ],
)
def test_policy_outside_the_jlis_arcs_is_wrong_key_usage(roots: Roots, oid: str) -> None:
    leaf = make_leaf(roots.signing, policy_oid=oid)
    with pytest.raises(VerificationError) as info:
        verifier_for(roots.signing).verify_signature(data=DATA, signature=sign(leaf), certificate=leaf.cert)
    assert info.value.reason is Reason.WRONG_KEY_USAGE


# -- 8. reason precedence -----------------------------------------------------------------------------

_EXPIRED = {"not_before": NOW - timedelta(days=400), "not_after": NOW - timedelta(days=1)}
_NOT_YET_VALID = {"not_before": NOW + timedelta(days=1), "not_after": NOW + timedelta(days=400)}


@pytest.mark.parametrize(
    ("issuer", "validity", "reason"),
    [
        ("rogue", "expired", Reason.UNTRUSTED_ISSUER),
        ("rogue", "not-yet-valid", Reason.UNTRUSTED_ISSUER),
        ("trusted", "expired", Reason.CERTIFICATE_EXPIRED),
        ("trusted", "not-yet-valid", Reason.CERTIFICATE_NOT_YET_VALID),
    ],
)
def test_untrusted_issuer_takes_precedence_over_the_validity_period(
    roots: Roots, issuer: str, validity: str, reason: Reason
) -> None:
    rogue = make_root()  # the trusted root's DN, another key
    assert rogue.cert.subject == roots.signing.cert.subject
    period = _EXPIRED if validity == "expired" else _NOT_YET_VALID
    leaf = make_leaf(rogue if issuer == "rogue" else roots.signing, **period)
    with pytest.raises(VerificationError) as info:
        verifier_for(roots.signing, roots.user_authentication).verify_signature(
            data=DATA, signature=sign(leaf), certificate=leaf.cert
        )
    assert info.value.reason is reason


# -- 9. UNSAFE_SKIP warns -----------------------------------------------------------------------------


def test_unsafe_skip_without_a_checker_warns_on_every_verification(
    roots: Roots, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = make_leaf(roots.signing)
    verifier = verifier_for(roots.signing)
    with caplog.at_level(logging.WARNING, logger="myna_rp.revocation"):
        for _ in range(3):
            result = verifier.verify_signature(data=DATA, signature=sign(leaf), certificate=leaf.cert)
            assert result.revocation.status is CertStatus.NOT_CHECKED
            assert result.revocation.source is None
            assert [s.status for s in result.check.chain_revocation] == [CertStatus.NOT_CHECKED]
    warnings = [r for r in caplog.records if r.name == "myna_rp.revocation" and r.levelno == logging.WARNING]
    assert len(warnings) == 3


# -- 10. repr without personal data ------------------------------------------------------------------


def test_repr_shows_no_personal_data_nor_signed_content(roots: Roots) -> None:
    leaf = make_leaf(roots.signing)
    content = b"CONFIDENTIAL loan application 7731-XQ"
    verifier = verifier_for(roots.signing)
    raw = verifier.verify_signature(data=content, signature=sign(leaf, content), certificate=leaf.cert)
    cms = verifier.verify_cms(
        TokenSimulator(leaf.key, certificate=leaf.cert).sign_cms(content, signing_time=NOW)
    )
    secrets = [*NAME.split("\u3000"), ADDRESS, "試験町", PREFECTURE, MUNICIPALITY, DATE_OF_BIRTH, "1990"]
    secrets += ["CONFIDENTIAL", "7731-XQ"]
    forms = set()
    for secret in secrets:
        forms |= {secret, secret.encode("unicode_escape").decode(), repr(secret.encode())[2:-1]}
    for result in (raw, cms):
        assert result.attributes is not None
        assert result.attributes.name == NAME  # the data is there, only the repr hides it
        for obj in (result, result.check, result.attributes, result.attributes.date_of_birth):
            for text in (repr(obj), str(obj), f"{obj!r}"):
                leaked = sorted(f for f in forms if f in text)
                assert not leaked, f"{type(obj).__name__} repr leaks {leaked}: {text}"


# -- 11. CLI ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CLIFiles:
    folder: Path
    root: Path
    leaf: Path  # valid, not revoked
    revoked_leaf: Path
    data: Path
    signature: Path
    revoked_signature: Path
    ocsp_good: Path
    garbage_crl: Path
    crl_bundle: Path

    def verify(self, *extra: str, leaf: str = "good") -> list[str]:
        certificate, signature = (
            (self.leaf, self.signature) if leaf == "good" else (self.revoked_leaf, self.revoked_signature)
        )
        return [
            "verify-jpki",
            "--trust-anchor",
            str(self.root),
            "--certificate",
            str(certificate),
            "--signature",
            str(signature),
            "--data",
            str(self.data),
            *extra,
        ]


@pytest.fixture(scope="module")
def cli_files(roots: Roots, tmp_path_factory: pytest.TempPathFactory) -> CLIFiles:
    folder = tmp_path_factory.mktemp("review-cli")
    leaf = make_leaf(roots.signing)
    revoked = make_leaf(roots.signing)
    other_ca_crl = make_crl(roots.user_authentication, number=7)
    relevant_crl = make_crl(roots.signing, number=3, revoked=((revoked.cert.serial_number, KEY_COMPROMISE),))
    contents = {
        "root": roots.signing.pem,
        "leaf": leaf.pem,
        "revoked_leaf": revoked.pem,
        "data": DATA,
        "signature": sign(leaf),
        "revoked_signature": sign(revoked),
        "ocsp_good": make_ocsp(leaf, roots.signing),
        "garbage_crl": b"\x30" + b"this is not a CRL, whatever its first byte says" * 3,
        "crl_bundle": crl_pem(other_ca_crl) + crl_pem(relevant_crl),  # the relevant CRL second
    }
    paths = {}
    for field, content in contents.items():
        paths[field] = folder / field
        paths[field].write_bytes(content)
    return CLIFiles(folder=folder, **paths)


@pytest.mark.parametrize("value", ["2026-06-01 00:00:00Z", "20260601T000000Z"])
def test_cli_at_must_be_rfc3339(cli_files: CLIFiles, capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, payload, _ = run_cli(capsys, *cli_files.verify("--no-revocation", "--at", "2026-06-01T00:00:00Z"))
    assert code == 0, payload  # control: the same command with an RFC 3339 time is valid
    code, payload, _ = run_cli(capsys, *cli_files.verify("--no-revocation", "--at", value))
    assert code == 2
    assert payload["reason"] == "USAGE_ERROR"


def test_cli_garbage_crl_is_malformed_even_with_a_valid_ocsp_response(
    cli_files: CLIFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--at", NOW.isoformat())
    code, payload, _ = run_cli(capsys, *cli_files.verify(*at, "--ocsp-response", str(cli_files.ocsp_good)))
    assert code == 0, payload  # control: the OCSP response alone decides GOOD
    assert payload["revocation"] == {"status": "good", "reason": None, "source": "ocsp"}
    code, payload, _ = run_cli(
        capsys,
        *cli_files.verify(
            *at, "--ocsp-response", str(cli_files.ocsp_good), "--crl", str(cli_files.garbage_crl)
        ),
    )
    assert code == 1
    assert payload["reason"] == "MALFORMED_INPUT"


@pytest.mark.parametrize("leaf", ["good", "revoked"])
def test_cli_pem_bundle_of_crls_is_fully_used(
    cli_files: CLIFiles, capsys: pytest.CaptureFixture[str], leaf: str
) -> None:
    code, payload, _ = run_cli(
        capsys, *cli_files.verify("--at", NOW.isoformat(), "--crl", str(cli_files.crl_bundle), leaf=leaf)
    )
    if leaf == "good":
        assert code == 0, payload
        assert payload["revocation"] == {"status": "good", "reason": None, "source": "crl"}
    else:
        assert code == 1
        assert payload["reason"] == "CERTIFICATE_REVOKED"
        assert payload["revocation"] == {"status": "revoked", "reason": "keyCompromise", "source": "crl"}


_CLI_UNDER_MEMORY_LIMIT = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"  # a runaway read fails, not the host
    "from myna_rp.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"  # argparse's --help
    "    code = exc.code\n"
    "plugins = sorted(m for m in ('myna_demo', 'mock_platform') if m in sys.modules)\n"
    "sys.stderr.write('imported plug-in modules: ' + ','.join(plugins) + '\\n')\n"
    "sys.exit(code)\n"
)


def _console(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    return subprocess.run(
        [sys.executable, "-c", _CLI_UNDER_MEMORY_LIMIT, *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
        timeout=timeout,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_cli_inspect_a_device_is_a_usage_error_not_a_hang() -> None:
    proc = _console("inspect", "/dev/zero")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["reason"] == "USAGE_ERROR"


def test_cli_help_exits_zero_without_loading_plug_ins() -> None:
    proc = _console("--help")
    assert proc.returncode == 0, proc.stderr
    assert "verify-jpki" in proc.stdout
    assert "demo" in proc.stdout  # the plug-in is listed…
    assert "imported plug-in modules: \n" in proc.stderr  # …but not imported (mock platform, web stack)
    assert "Traceback" not in proc.stderr


# -- ties and special files (found by the regression review, then fixed) ---------------------------------


def test_ocsp_hold_and_good_with_the_same_this_update_are_order_independent(roots: Roots) -> None:
    root = roots.signing
    leaf = make_leaf(root)
    same = NOW - timedelta(minutes=10)
    hold = make_ocsp(
        leaf,
        root,
        status=ocsp.OCSPCertStatus.REVOKED,
        reason=x509.ReasonFlags.certificate_hold,
        this_update=same,
    )
    good = make_ocsp(leaf, root, this_update=same)
    checker = RevocationChecker(clock=FixedClock(NOW))
    verdicts = [
        checker.check(
            leaf.cert,
            root.cert,
            policy=RevocationPolicy.REQUIRE,
            at=NOW,
            evidence=RevocationEvidence(ocsp_responses=order),
        ).status
        for order in ((hold, good), (good, hold))
    ]
    assert verdicts[0] is verdicts[1], verdicts


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_cli_inspect_a_fifo_is_a_usage_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "certificate.fifo"
    os.mkfifo(fifo)
    proc = _console("inspect", str(fifo), timeout=3)
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["reason"] == "USAGE_ERROR"
