"""A small JPKI-shaped test PKI built with ``cryptography`` (tests only).

The shapes follow domain-jpki.md: one self-signed root per purpose whose DN carries the purpose OU, no
intermediates; end-entity certificates with ``C=JP, L=<prefecture>, L=<municipality>, CN=<opaque id>``,
a critical keyUsage (signing = digitalSignature + nonRepudiation, user authentication = digitalSignature),
a J-LIS certificatePolicies OID, the basic four attributes as subjectAltName otherNames (signing only) and
a **directoryName** cRLDistributionPoint (J-LIS partitions its CRL by municipality).

Keys are EC P-256 (the SDK accepts them, and they are fast to generate). Also here: OCSP responses and
CRLs signed by a root, and a certificate with a duplicated extension (asn1crypto, re-signed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)

SIGNING_OU = "JPKI for digital signature"
USER_AUTHENTICATION_OU = "JPKI for user authentication"
SIGNING_POLICY = "1.2.392.200149.8.5.1.1.20"
USER_AUTHENTICATION_POLICY = "1.2.392.200149.8.5.1.3.30"
ATTRIBUTE_ARC = "1.2.392.200149.8.5.5."

# The holder's personal data: tests check that none of it leaks through repr().
NAME = "試験　花子"
ADDRESS = "東京都千代田区試験町１－２－３"
DATE_OF_BIRTH = "419900101"
PREFECTURE = "東京都"
MUNICIPALITY = "千代田区"


@dataclass(frozen=True)
class Party:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def root_name(ou: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems"
            ),
        ]
    )


def crl_dp_name(municipality: str, ou: str = SIGNING_OU) -> x509.Name:
    """A J-LIS-style CRL distribution point directoryName (one partition per municipality)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, PREFECTURE),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP"),
        ]
    )


def make_root(
    ou: str = SIGNING_OU,
    *,
    not_before: datetime = NOW - timedelta(days=3 * 365),
    not_after: datetime = NOW + timedelta(days=7 * 365),
) -> Party:
    key = ec_key()
    name = root_name(ou)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Party(cert, key)


def _key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _utf8(text: str) -> bytes:
    return bytes(core.UTF8String(text).dump())


def basic_four(
    name: str = NAME, address: str = ADDRESS, date_of_birth: str = DATE_OF_BIRTH, gender: str = "2"
) -> x509.SubjectAlternativeName:
    values = {"1": name, "3": gender, "4": date_of_birth, "5": address}
    return x509.SubjectAlternativeName(
        [x509.OtherName(x509.ObjectIdentifier(ATTRIBUTE_ARC + k), _utf8(v)) for k, v in values.items()]
    )


def make_leaf(
    issuer: Party | None,
    *,
    signing: bool = True,
    policy_oid: str | None = None,
    serial: int | None = None,
    municipality: str = MUNICIPALITY,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=5 * 365),
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Party:
    """A JPKI end-entity certificate issued by ``issuer`` (self-signed when ``issuer`` is ``None``)."""
    key = key or ec_key()
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if signing:
        attributes += [
            x509.NameAttribute(NameOID.LOCALITY_NAME, PREFECTURE),
            x509.NameAttribute(NameOID.LOCALITY_NAME, municipality),
        ]
    subject = x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, "ZZ0123456789ABC")])
    policy = policy_oid or (SIGNING_POLICY if signing else USER_AUTHENTICATION_POLICY)
    signer_key = issuer.key if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=signing), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.DirectoryName(crl_dp_name(municipality))],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
        )
    )
    if signing:
        builder = builder.add_extension(basic_four(), critical=False)
    return Party(builder.sign(signer_key, hashes.SHA256()), key)


def with_duplicated_key_usage(leaf: Party, issuer: Party) -> bytes:
    """``leaf``'s certificate with its keyUsage extension appearing twice (RFC 5280 §4.2 forbids it),
    re-signed by ``issuer`` so that only the duplicate is wrong. DER."""
    parsed = ax509.Certificate.load(leaf.der)
    tbs = parsed["tbs_certificate"]
    extensions = list(tbs["extensions"])
    key_usage = next(e for e in extensions if e["extn_id"].native == "key_usage")
    tbs["extensions"] = ax509.Extensions([*extensions, ax509.Extension.load(key_usage.dump())])
    tbs_der = tbs.dump(force=True)
    signature = issuer.key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    certificate = ax509.Certificate(
        {
            "tbs_certificate": ax509.TbsCertificate.load(tbs_der),
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature_value": signature,
        }
    )
    return bytes(certificate.dump())


# -- revocation data --------------------------------------------------------------------------------


def make_ocsp(
    leaf: Party,
    issuer: Party,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    reason: x509.ReasonFlags | None = None,
    revocation_time: datetime | None = None,
    this_update: datetime = NOW - timedelta(minutes=10),
    next_update: datetime = NOW + timedelta(hours=12),
) -> bytes:
    """One single response signed by the issuer itself (no delegated responder). DER."""
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=(revocation_time or this_update - timedelta(hours=1)) if revoked else None,
            revocation_reason=reason if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
    )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def make_crl(
    issuer: Party,
    *,
    number: int,
    revoked: tuple[tuple[int, x509.ReasonFlags], ...] = (),
    partition: x509.Name | None = None,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime = NOW + timedelta(hours=23),
) -> x509.CertificateRevocationList:
    """A complete CRL of ``issuer``; with ``partition``, an issuingDistributionPoint (critical) whose
    fullName is that directoryName (a J-LIS municipality partition)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    )
    if partition is not None:
        builder = builder.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.DirectoryName(partition)],
                relative_name=None,
                only_contains_user_certs=False,
                only_contains_ca_certs=False,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    for serial, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(this_update - timedelta(days=1))
            .add_extension(x509.CRLReason(reason), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(issuer.key, hashes.SHA256())


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)
