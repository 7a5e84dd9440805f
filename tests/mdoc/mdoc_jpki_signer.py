"""A tiny JPKI-shaped signing hierarchy for the verify_age tests: a root and a signing certificate carrying
the basic four attributes (基本4情報) with a chosen date of birth, verified by a real JPKIVerifier.

Built with ``cryptography`` only (shapes as in domain-jpki.md and tests/jpki/pki_builder.py); the policy
OIDs are the SDK's default card (``.1.1.20``) and assumed Android (``.1.1.40``) signing OIDs, so
:class:`~myna_rp.jpki.FormFactor` comes out as CARD or ANDROID through the default rules.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from myna_rp.jpki.profile import FormFactor
from myna_rp.jpki.truststore import TrustStore
from myna_rp.jpki.verifier import JPKIVerification, JPKIVerifier
from myna_rp.revocation import RevocationPolicy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = {FormFactor.CARD: "1.2.392.200149.8.5.1.1.20", FormFactor.ANDROID: "1.2.392.200149.8.5.1.1.40"}
_ATTRIBUTE_ARC = "1.2.392.200149.8.5.5."


def _utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) < 0x80:
        return b"\x0c" + bytes([len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return b"\x0c" + bytes([0x80 | len(size)]) + size + data


def _key_usage(*, signing: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


class JPKISigner:
    """One root; :meth:`verification` issues a signing certificate and returns the verifier's result."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
            ]
        )
        self.root = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1000))
            .not_valid_after(NOW + timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(signing=False, ca=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()), critical=False
            )
            .sign(self.root_key, hashes.SHA256())
        )
        self.verifier = JPKIVerifier(
            TrustStore.from_certificates([self.root]), revocation=None, policy=RevocationPolicy.UNSAFE_SKIP
        )

    def certificate(
        self, form: FormFactor, date_of_birth: str
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        values = {"1": "試験\u3000太郎", "3": "1", "4": date_of_birth, "5": "東京都千代田区"}
        san = x509.SubjectAlternativeName(
            [x509.OtherName(x509.ObjectIdentifier(_ATTRIBUTE_ARC + k), _utf8(v)) for k, v in values.items()]
        )
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "東京都"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "千代田区"),
                x509.NameAttribute(NameOID.COMMON_NAME, "ZZ" + os.urandom(6).hex().upper()),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=1800))
            .add_extension(_key_usage(signing=True, ca=False), critical=True)
            .add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(POLICY[form]), None)]),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()), critical=False
            )
            .add_extension(san, critical=False)
            .sign(self.root_key, hashes.SHA256())
        )
        return certificate, key

    def verification(self, form: FormFactor, date_of_birth: str, *, at: datetime = NOW) -> JPKIVerification:
        """A real :class:`JPKIVerification` of a signature by a fresh signing certificate."""
        certificate, key = self.certificate(form, date_of_birth)
        data = os.urandom(32)
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        result = self.verifier.verify_signature(
            data=data, signature=signature, certificate=certificate, at=at
        )
        assert result.form_factor is form
        return result
