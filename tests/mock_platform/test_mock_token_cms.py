"""Token simulator: raw signatures like the card applet, CMS SignedData with both signer-identifier forms."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from mockpki_helpers import NOW

from mock_platform.ca.builder import build_end_entity_certificate
from mock_platform.ca.cms import SignerIdentifierType
from mock_platform.ca.keys import KeyType
from mock_platform.ca.profile import CertificateKind, FormFactor
from mock_platform.ca.service import CAService, IssuedCertificate
from mock_platform.ca.token import TokenSimulator

Issue = Callable[..., IssuedCertificate]
DATA = "本人確認のための署名対象データ".encode()


def _verify_raw(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


@pytest.fixture(params=["rsa", "ec"])
def signer(request: pytest.FixtureRequest, issue: Issue) -> TokenSimulator:
    token: TokenSimulator = request.getfixturevalue(f"{request.param}_token")
    return token.with_certificate(issue(token=token).certificate)


def test_raw_signature_is_pkcs1v15_sha256_or_ecdsa(signer: TokenSimulator) -> None:
    signature = signer.sign(DATA)
    _verify_raw(signer.certificate, signature, DATA)
    with pytest.raises(InvalidSignature):
        _verify_raw(signer.certificate, signature, DATA + b"x")
    _verify_raw(signer.certificate, signer.sign_digest(hashlib.sha256(DATA).digest()), DATA)
    if signer.key_type is KeyType.RSA_2048:
        assert signer.sign(DATA) == signature  # PKCS#1 v1.5 is deterministic
        assert len(signature) == 256


def test_token_guards(rsa_token: TokenSimulator, ec_token: TokenSimulator, issue: Issue) -> None:
    with pytest.raises(LookupError):
        _ = rsa_token.certificate
    with pytest.raises(ValueError, match="does not match"):
        ec_token.with_certificate(issue(token=rsa_token).certificate)
    with pytest.raises(ValueError, match="32 bytes"):
        rsa_token.sign_digest(b"short")
    assert "PRIVATE" not in repr(rsa_token)
    assert (
        TokenSimulator.generate(KeyType.EC_P256, form_factor=FormFactor.IPHONE).application_name
        == "JPKIAPIOSTOKEN"
    )
    assert rsa_token.application_name == "JPKIAPICCTOKEN2"


def _verify_cms_in_python(der: bytes, certificate: x509.Certificate, content: bytes) -> cms.SignedData:
    """Independent verification from the decoded structure (RFC 5652 §5.4, §5.6)."""
    info = cms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    (signer_info,) = signed["signer_infos"]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attrs["content_type"].native == "data"
    assert attrs["message_digest"].native == hashlib.sha256(content).digest()
    assert attrs["signing_time"].native == NOW
    to_be_signed = signer_info["signed_attrs"].untag().dump()
    assert to_be_signed[0] == 0x31  # SET OF, not the [0] IMPLICIT tag
    _verify_raw(certificate, signer_info["signature"].native, to_be_signed)
    return signed


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("sid", list(SignerIdentifierType))
def test_cms_structure_and_signature(
    signer: TokenSimulator, detached: bool, sid: SignerIdentifierType
) -> None:
    der = signer.sign_cms(DATA, signing_time=NOW, detached=detached, signer_identifier=sid)
    signed = _verify_cms_in_python(der, signer.certificate, DATA)
    (signer_info,) = signed["signer_infos"]
    version = "v1" if sid is SignerIdentifierType.ISSUER_AND_SERIAL_NUMBER else "v3"
    assert signed["version"].native == version
    assert signer_info["version"].native == version
    assert signer_info["sid"].name == sid.value
    if sid is SignerIdentifierType.SUBJECT_KEY_IDENTIFIER:
        ski = signer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        assert signer_info["sid"].chosen.native == ski
    else:
        assert signer_info["sid"].chosen["serial_number"].native == signer.certificate.serial_number
    encapsulated = signed["encap_content_info"]
    assert encapsulated["content_type"].native == "data"
    assert encapsulated["content"].native == (None if detached else DATA)
    assert signed["certificates"][0].chosen.dump() == signer.certificate.public_bytes(
        serialization.Encoding.DER
    )
    algorithm = signer_info["signature_algorithm"]
    if signer.key_type is KeyType.RSA_2048:
        assert algorithm["algorithm"].dotted == "1.2.840.113549.1.1.1"
        assert algorithm["parameters"].dump() == b"\x05\x00"  # NULL, RFC 3370 §3.2
    else:
        assert algorithm["algorithm"].dotted == "1.2.840.10045.4.3.2"


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("sid", list(SignerIdentifierType))
def test_openssl_cms_verify_noverify(
    signer: TokenSimulator, detached: bool, sid: SignerIdentifierType, tmp_path: Path
) -> None:
    assert OPENSSL is not None
    der = signer.sign_cms(DATA, signing_time=NOW, detached=detached, signer_identifier=sid)
    (tmp_path / "sig.p7s").write_bytes(der)
    (tmp_path / "data.bin").write_bytes(DATA)
    command = [
        OPENSSL,
        "cms",
        "-verify",
        "-noverify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "sig.p7s"),
    ]
    if detached:
        command += ["-content", str(tmp_path / "data.bin")]
    command += ["-out", str(tmp_path / "out.bin")]
    result = subprocess.run(command, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert (tmp_path / "out.bin").read_bytes() == DATA
    if detached:  # and a tampered content must fail
        (tmp_path / "data.bin").write_bytes(DATA + b"!")
        result = subprocess.run(command, capture_output=True, check=False)
        assert result.returncode != 0


def test_cms_requires_ski_for_ski_form(rsa_token: TokenSimulator, service: CAService) -> None:
    issuer = service.export_ca_generation_for_tests(CertificateKind.USER_AUTHENTICATION, 2)
    cert = build_end_entity_certificate(
        issuer=issuer,
        public_key=rsa_token.public_key(),
        kind=CertificateKind.USER_AUTHENTICATION,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
        subject_key_identifier=False,
    )
    token = rsa_token.with_certificate(cert)
    with pytest.raises(ValueError, match="subjectKeyIdentifier"):
        token.sign_cms(DATA, signing_time=NOW, signer_identifier=SignerIdentifierType.SUBJECT_KEY_IDENTIFIER)
    with pytest.raises(ValueError, match="naive"):
        token.sign_cms(DATA, signing_time=NOW.replace(tzinfo=None))
