"""The mock's mdoc issuer PKI: an IACA root and document signer (DS) certificates.

Profile: ISO/IEC 18013-5:2021 Annex B (B.1.2 IACA, B.1.4 document signer), as far as sensible for a mock:

IACA root (self-signed)
    subject = issuer ``C=JP, O=<issuer>, CN=<name>``; validity ≤ 20 years (mock: 10); serial: 16 random
    bytes (positive, ≤ 20 octets); subjectKeyIdentifier; keyUsage **critical** keyCertSign + cRLSign;
    basicConstraints **critical** CA, pathLenConstraint 0; issuerAltName (URI); cRLDistributionPoints (URI).
Document signer
    issuer = the IACA subject; subject ``C=JP, O=…, CN=…`` (same country); validity ≤ 457 days (mock: 1
    year); authorityKeyIdentifier = IACA SKI; subjectKeyIdentifier; keyUsage **critical** digitalSignature;
    extendedKeyUsage **critical** ``1.0.18013.5.1.2`` (id-mdl-kp-mdlDS); issuerAltName;
    cRLDistributionPoints.

Who really signs the My Number Card mdoc, and its IACA, are not public (domain-mdoc.md): names and URLs
here are the mock's own. No CRL is served at the URL (the mock invalidates credentials instead; see
``docs/mock_mdoc.md``). Signatures: ecdsa-with-SHA256 on P-256, ecdsa-with-SHA384 on P-384.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ..clock import require_aware, whole_seconds

#: id-mdl-kp-mdlDS (ISO/IEC 18013-5 Annex B): extendedKeyUsage of a document signer.
MDL_DS_EKU = ObjectIdentifier("1.0.18013.5.1.2")

ISSUER_ORGANIZATION = "myna_rp mock attribute issuer"
ISSUER_URI = "https://myna-rp.example/mdoc"
CRL_URI = "https://myna-rp.example/mdoc/iaca.crl"

IACA_LIFETIME = timedelta(days=3650)
DS_LIFETIME = timedelta(days=365)


class SignerCurve(StrEnum):
    """Curve of the IACA and document signer keys (and so ES256 or ES384)."""

    P256 = "P-256"
    P384 = "P-384"

    def generate(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1() if self is SignerCurve.P256 else ec.SECP384R1())

    def hash(self) -> hashes.SHA256 | hashes.SHA384:
        return hashes.SHA256() if self is SignerCurve.P256 else hashes.SHA384()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial() -> int:
    return int.from_bytes(secrets.token_bytes(16), "big") >> 1 or 1


def _common(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.IssuerAlternativeName([x509.UniformResourceIdentifier(ISSUER_URI)]), critical=False
    ).add_extension(
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(CRL_URI)], None, None, None)]
        ),
        critical=False,
    )


def build_iaca(
    key: ec.EllipticCurvePrivateKey, curve: SignerCurve, *, not_before: datetime, sequence: int = 1
) -> x509.Certificate:
    """A self-signed IACA root valid from ``not_before`` for :data:`IACA_LIFETIME`."""
    start = whole_seconds(require_aware(not_before))
    name = _name(f"myna_rp mock IACA {curve.value} #{sequence}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + IACA_LIFETIME)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    )
    return _common(builder).sign(key, curve.hash())


def build_document_signer(
    key: ec.EllipticCurvePublicKey,
    iaca: x509.Certificate,
    iaca_key: ec.EllipticCurvePrivateKey,
    curve: SignerCurve,
    *,
    not_before: datetime,
    sequence: int,
) -> x509.Certificate:
    """A document signer certificate issued by ``iaca`` for :data:`DS_LIFETIME` (capped by the IACA)."""
    start = whole_seconds(require_aware(not_before))
    end = min(start + DS_LIFETIME, iaca.not_valid_after_utc)
    ski = iaca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"myna_rp mock document signer {curve.value} #{sequence}"))
        .issuer_name(iaca.subject)
        .public_key(key)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([MDL_DS_EKU]), critical=True)
    )
    return _common(builder).sign(iaca_key, curve.hash())


__all__ = [
    "DS_LIFETIME",
    "IACA_LIFETIME",
    "MDL_DS_EKU",
    "SignerCurve",
    "build_document_signer",
    "build_iaca",
]
