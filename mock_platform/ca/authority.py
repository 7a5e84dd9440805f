"""J-LIS-like root CAs: one self-signed root per purpose and generation, no intermediates.

Facts mirrored from the real roots (domain-jpki.md, ``signca03.cer``/``authca03.cer``):

* every generation of a purpose has the **same subject DN** (:func:`~mock_platform.ca.profile.ca_subject`),
  so relying parties must select the issuer by key (AKI/signature), never by name;
* RSA-2048, sha256WithRSAEncryption, basicConstraints ``cA`` critical, keyUsage keyCertSign + cRLSign
  critical, subjectKeyIdentifier; the real roots also carry a subjectAltName directoryName
  ``C=JP, O=公的個人認証サービス`` and a cRLDistributionPoints directoryName equal to their own DN, and no
  authorityKeyIdentifier — the mock copies that (``jpki_extras=True``);
* generations are about 10 years long and overlap (01: 2015–2025, 02: 2019–2029, 03: 2023–2033);
  notAfter is 23:59:59 JST.

New end-entity certificates are issued by the newest generation valid at issuance time
(:func:`select_issuing_generation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ..clock import end_of_day_jst, jst_date, require_aware, whole_seconds
from .errors import NoIssuingCAError
from .keys import KeyType, PrivateKey, generate_private_key
from .profile import CertificateKind, ca_subject, jpki_service_name, key_usage


@dataclass(frozen=True, slots=True)
class CAGeneration:
    """One root CA: its purpose, generation number, certificate and private key.

    Attributes:
        purpose: signing or user authentication.
        generation: 1, 2, … (the mock's counterpart of J-LIS "CA01", "CA02"); rogue roots use other numbers.
        certificate: the self-signed root certificate.
        private_key: the CA key. Never logged or printed (``repr`` hides it).
    """

    purpose: CertificateKind
    generation: int
    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)

    @property
    def subject(self) -> x509.Name:
        return self.certificate.subject

    @property
    def subject_key_identifier(self) -> bytes:
        """The SKI extension value (20 bytes, RFC 5280 §4.2.1.2 method 1)."""
        return self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def sha256_fingerprint(self) -> str:
        """Lower-case hex SHA-256 of the certificate DER."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def label(self) -> str:
        """``<purpose>-g<generation>``, e.g. ``signing-g2`` (file names, logs)."""
        return f"{self.purpose.value}-g{self.generation}"

    def is_valid_at(self, instant: datetime) -> bool:
        """Whether ``instant`` lies within [notBefore, notAfter] (RFC 5280 §4.1.2.5, inclusive)."""
        return self.not_before <= require_aware(instant) <= self.not_after


def build_root_certificate(
    *,
    purpose: CertificateKind,
    private_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    serial_number: int | None = None,
    subject: x509.Name | None = None,
    jpki_extras: bool = True,
) -> x509.Certificate:
    """A self-signed root in the J-LIS shape.

    Args:
        purpose: selects the subject DN (unless ``subject`` overrides it).
        private_key: RSA-2048 for J-LIS likeness; the signature is sha256WithRSAEncryption
            (ecdsa-with-SHA256 for an EC key).
        not_before, not_after: aware datetimes (fractions of seconds are dropped).
        serial_number: positive, ≤ 20 octets; random by default (RFC 5280 §4.1.2.2).
        subject: override (rogue-root scenarios keep the default: same DN, other key).
        jpki_extras: add the subjectAltName and cRLDistributionPoints directoryNames of the real roots.

    Raises:
        ValueError: naive datetimes or ``not_after`` before ``not_before``.
    """
    start, end = whole_seconds(not_before), whole_seconds(not_after)
    if end < start:
        raise ValueError("root notAfter precedes notBefore")
    name = subject if subject is not None else ca_subject(purpose)
    public_key = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial_number if serial_number is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if jpki_extras:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DirectoryName(jpki_service_name())]), critical=False
        ).add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
            ),
            critical=False,
        )
    return builder.sign(private_key, hashes.SHA256())


def create_generation(
    purpose: CertificateKind,
    generation: int,
    *,
    not_before: datetime,
    not_after: datetime,
    private_key: PrivateKey | None = None,
    jpki_extras: bool = True,
) -> CAGeneration:
    """Generate (or take) a key and self-sign a root: a ready :class:`CAGeneration`."""
    key = private_key if private_key is not None else generate_private_key(KeyType.RSA_2048)
    certificate = build_root_certificate(
        purpose=purpose, private_key=key, not_before=not_before, not_after=not_after, jpki_extras=jpki_extras
    )
    return CAGeneration(purpose=purpose, generation=generation, certificate=certificate, private_key=key)


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """When one generation exists, relative to the bootstrap instant.

    Attributes:
        start_offset: notBefore = bootstrap instant + ``start_offset`` (negative = in the past).
        lifetime: notAfter = 23:59:59 JST of the day before (notBefore + ``lifetime``) in JST.
    """

    start_offset: timedelta
    lifetime: timedelta = timedelta(days=3652)  # ~10 years, like J-LIS generations

    def window(self, bootstrap_at: datetime) -> tuple[datetime, datetime]:
        """``(notBefore, notAfter)`` for a bootstrap at ``bootstrap_at``."""
        start = whole_seconds(require_aware(bootstrap_at) + self.start_offset)
        end = end_of_day_jst(jst_date(start + self.lifetime) - timedelta(days=1))
        return start, end


@dataclass(frozen=True, slots=True)
class GenerationPlan:
    """The CA generations created per purpose on first start (generation numbers 1, 2, … in order).

    The default gives two overlapping ~10-year generations: generation 1 started 6 years before the
    bootstrap and ends 4 years after it; generation 2 started 2 years before and ends 8 years after, so at
    bootstrap time both are valid and new certificates come from generation 2, while certificates issued
    more than 2 years ago (back-dated with a :class:`~mock_platform.clock.MockClock`) come from generation 1.
    """

    generations: tuple[GenerationSpec, ...] = (
        GenerationSpec(start_offset=-timedelta(days=6 * 365 + 1)),
        GenerationSpec(start_offset=-timedelta(days=2 * 365)),
    )

    def __post_init__(self) -> None:
        if not self.generations:
            raise ValueError("a GenerationPlan needs at least one generation")


def select_issuing_generation(
    generations: Iterable[CAGeneration], purpose: CertificateKind, at: datetime
) -> CAGeneration:
    """The newest (highest-numbered) generation of ``purpose`` valid at ``at``.

    Raises:
        NoIssuingCAError: none is valid at ``at``.
    """
    candidates = [g for g in generations if g.purpose is purpose and g.is_valid_at(at)]
    if not candidates:
        raise NoIssuingCAError(f"no {purpose.value} CA generation is valid at the issuance time")
    return max(candidates, key=lambda g: g.generation)


def issuer_key_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the subjectPublicKey BIT STRING value (RFC 6960 §4.1.1 issuerKeyHash)."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _hash(algorithm, _subject_public_key_bits(spki))


def issuer_name_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the DER-encoded subject Name (RFC 6960 §4.1.1 issuerNameHash)."""
    return _hash(algorithm, certificate.subject.public_bytes())


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    return hashlib.new(algorithm.name, data).digest()


def _subject_public_key_bits(spki_der: bytes) -> bytes:
    """The BIT STRING contents (without the unused-bits octet) of a DER SubjectPublicKeyInfo."""
    offset, _ = _read_header(spki_der, 0)  # outer SEQUENCE
    offset, length = _read_header(spki_der, offset)  # AlgorithmIdentifier SEQUENCE
    offset += length
    if spki_der[offset] != 0x03:
        raise ValueError("SubjectPublicKeyInfo without a BIT STRING")
    offset, length = _read_header(spki_der, offset)
    return spki_der[offset + 1 : offset + length]


def _read_header(der: bytes, offset: int) -> tuple[int, int]:
    """Return (content offset, content length) of the TLV at ``offset`` (DER definite lengths)."""
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, first
    count = first & 0x7F
    return offset + 2 + count, int.from_bytes(der[offset + 2 : offset + 2 + count], "big")
