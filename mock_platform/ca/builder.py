"""End-entity certificate builder: the JPKI profile by default, every part overridable for negative tests.

Profile (domain-jpki.md, observed on real certificates unless marked):

* subject ``C=JP`` (PrintableString), on signing certificates ``L=<prefecture>, L=<municipality>``, then
  ``CN=<opaque random identifier>`` (UTF8String; the CN is *not* the holder's name);
* RSA-2048 keys (ECDSA P-256 accepted too), signed sha256WithRSAEncryption by the issuing root;
* keyUsage critical — signing: digitalSignature + nonRepudiation; user authentication: digitalSignature;
* no extendedKeyUsage;
* certificatePolicies with the (kind, form factor) OID of a :class:`~mock_platform.ca.profile.PolicyTable`
  (non-critical: **assumed**);
* issuerAltName directoryName ``C=JP, O=公的個人認証サービス``;
* authorityKeyIdentifier (keyIdentifier = issuer SKI) and subjectKeyIdentifier (RFC 5280 §4.2.1.1–2);
* cRLDistributionPoints with a **directoryName** fullName, optionally followed by an HTTP URL (the mock's
  own addition: J-LIS certificates carry none);
* no authorityInfoAccess unless an OCSP URL is given (J-LIS certificates carry none);
* signing certificates only: the basic four attributes as subjectAltName otherNames
  (:mod:`mock_platform.ca.attributes`);
* validity 00:00:00 JST of the issuance day → 23:59:59 JST of the holder's 5th birthday after issuance,
  capped by the card's expiry (:func:`compute_validity`).

:func:`build_end_entity_certificate` takes each profile element as an explicit keyword. The sentinel
:data:`PROFILE` means "the profile value"; ``None`` means "omit this extension"; any other value replaces
it. The same function builds the delegated OCSP responder certificates
(:func:`mock_platform.ca.ocsp.build_ocsp_responder_certificate`) and the fixture generator's rogue
certificates, so there is one encoding of the profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from ..clock import end_of_day_jst, jst_date, require_aware, start_of_day_jst, whole_seconds
from .attributes import AttributeEncoding, BasicFourAttributes, DateOfBirth
from .authority import CAGeneration
from .errors import InvalidAttributesError, InvalidValidityError
from .keys import PublicKey
from .profile import (
    DEFAULT_POLICY_TABLE,
    CertificateKind,
    FormFactor,
    Locality,
    PolicyTable,
    crl_distribution_point_name,
    jpki_service_name,
    profile_key_usage,
)


class _Profile(Enum):
    PROFILE = "profile"


#: Sentinel for "use the JPKI profile value" in :func:`build_end_entity_certificate` overrides.
PROFILE: Literal[_Profile.PROFILE] = _Profile.PROFILE

#: Birthdays counted for the certificate term (domain-jpki.md: "to the holder's 5th birthday after issuance").
CERTIFICATE_TERM_BIRTHDAYS = 5


def _on_or_feb28(year: int, month: int, day: int) -> date:
    """``date(year, month, day)``; 29 February in a common year becomes 28 February (assumed:
    the earlier, conservative choice — J-LIS's rule for leap-day births is not public)."""
    if month == 2 and day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, month, day)


def nth_birthday_after(date_of_birth: DateOfBirth, day: date, n: int = CERTIFICATE_TERM_BIRTHDAYS) -> date:
    """The ``n``-th birthday strictly after ``day``.

    When the month or day of birth is unknown (zeros in ``EYYYYMMDD``) the anniversary of ``day`` stands
    in for the birthday (**assumed**), i.e. the result is ``day`` + ``n`` years.
    """
    if n < 1:
        raise ValueError("n must be ≥ 1")
    if date_of_birth.month is None or date_of_birth.day is None:
        month, dom = day.month, day.day
    else:
        month, dom = date_of_birth.month, date_of_birth.day
    first_year = day.year if _on_or_feb28(day.year, month, dom) > day else day.year + 1
    return _on_or_feb28(first_year + n - 1, month, dom)


def compute_validity(
    issued_at: datetime,
    date_of_birth: DateOfBirth,
    *,
    card_expiry: date | None = None,
    not_after_cap: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The ``(notBefore, notAfter)`` of a certificate issued at ``issued_at`` (both aware UTC).

    * notBefore = 00:00:00 JST of the issuance day (JST calendar);
    * notAfter = 23:59:59 JST of the holder's 5th birthday after the issuance day
      (:func:`nth_birthday_after`), or 23:59:59 JST of ``card_expiry`` if earlier, or ``not_after_cap``
      (e.g. the issuing root's notAfter, or the card certificate's notAfter for a smartphone
      certificate) if earlier still.

    Raises:
        InvalidValidityError: notAfter would precede ``issued_at`` (card or cap already expired).
        ValueError: naive datetimes.
    """
    issued_day = jst_date(require_aware(issued_at))
    not_before = start_of_day_jst(issued_day)
    not_after = end_of_day_jst(nth_birthday_after(date_of_birth, issued_day))
    if card_expiry is not None:
        not_after = min(not_after, end_of_day_jst(card_expiry))
    if not_after_cap is not None:
        not_after = min(not_after, whole_seconds(require_aware(not_after_cap)))
    if not_after < issued_at:
        raise InvalidValidityError("the validity period would end before the issuance time")
    return not_before, not_after


def random_subject_id() -> str:
    """An opaque subject CN: 32 upper-case hex digits from a CSPRNG (the real CN format is not public)."""
    return secrets.token_hex(16).upper()


def end_entity_subject(subject_id: str, locality: Locality | None) -> x509.Name:
    """``C=JP[, L=<prefecture>, L=<municipality>], CN=<subject_id>`` (C PrintableString, rest UTF8String)."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if locality is not None:
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality.prefecture))
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality.municipality))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, subject_id))
    return x509.Name(attributes)


def build_end_entity_certificate(
    *,
    issuer: CAGeneration,
    public_key: PublicKey,
    kind: CertificateKind,
    not_before: datetime,
    not_after: datetime,
    form_factor: FormFactor = FormFactor.CARD,
    attributes: BasicFourAttributes | None = None,
    locality: Locality | None = None,
    subject_id: str | None = None,
    serial_number: int | None = None,
    attribute_encoding: AttributeEncoding = AttributeEncoding.UTF8_STRING,
    policy_table: PolicyTable = DEFAULT_POLICY_TABLE,
    crl_http_url: str | None = None,
    ocsp_url: str | None = None,
    subject: x509.Name | Literal[_Profile.PROFILE] = PROFILE,
    key_usage: x509.KeyUsage | Literal[_Profile.PROFILE] | None = PROFILE,
    key_usage_critical: bool = True,
    policy_oids: Sequence[ObjectIdentifier | str] | Literal[_Profile.PROFILE] | None = PROFILE,
    policies_critical: bool = False,
    extended_key_usage: Sequence[ObjectIdentifier] | None = None,
    subject_alt_name: x509.SubjectAlternativeName | Literal[_Profile.PROFILE] | None = PROFILE,
    issuer_alt_name: bool = True,
    crl_distribution_point: x509.Name | Literal[_Profile.PROFILE] | None = PROFILE,
    authority_key_identifier: x509.AuthorityKeyIdentifier | Literal[_Profile.PROFILE] | None = PROFILE,
    subject_key_identifier: bool = True,
    basic_constraints: x509.BasicConstraints | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Build and sign one end-entity certificate.

    Args:
        issuer: the signing root (its key signs; its subject becomes the issuer DN; its SKI the AKI).
        public_key: the holder's key (RSA or EC P-256; not checked here so negative tests can vary it).
        kind: signing or user authentication (selects keyUsage, policy, SAN, locality by default).
        not_before, not_after: the exact validity (aware; fractions dropped). Use :func:`compute_validity`
            for the profile's term. Not capped here.
        form_factor: selects the policy OID from ``policy_table``.
        attributes: the basic four attributes; required for signing certificates (unless
            ``subject_alt_name`` overrides), rejected for user-authentication ones.
        locality: the two ``L=`` values; required for signing certificates (unless ``subject`` overrides).
        subject_id: the CN (default :func:`random_subject_id`).
        serial_number: positive ≤ 20 octets (default random, 159 bits; RFC 5280 §4.1.2.2).
        attribute_encoding: UTF8String (real) or OCTET STRING otherName values.
        crl_http_url: appended as a second DistributionPoint (URI) after the directoryName one.
        ocsp_url: adds authorityInfoAccess id-ad-ocsp (off by default, as on J-LIS certificates).
        subject, key_usage, policy_oids, subject_alt_name, crl_distribution_point,
        authority_key_identifier: :data:`PROFILE`, ``None`` (omit) or a replacement value.
        key_usage_critical, policies_critical: criticality of those extensions.
        extended_key_usage: add an EKU (the profile has none).
        issuer_alt_name, subject_key_identifier: include those extensions.
        basic_constraints: add one (the profile has none on end entities).
        extra_extensions: ``(value, critical)`` pairs appended last.

    Raises:
        InvalidAttributesError: attributes/locality missing on a signing certificate or present on a
            user-authentication one (when the profile values are used).
        ValueError: naive datetimes, notAfter before notBefore, duplicate extensions.
    """
    start, end = whole_seconds(not_before), whole_seconds(not_after)
    if end < start:
        raise ValueError("notAfter precedes notBefore")
    is_signing = kind is CertificateKind.SIGNING

    if subject is PROFILE:
        if is_signing and locality is None:
            raise InvalidAttributesError("a signing certificate needs the prefecture and municipality")
        subject = end_entity_subject(subject_id or random_subject_id(), locality if is_signing else None)
    if subject_alt_name is PROFILE:
        if is_signing:
            if attributes is None:
                raise InvalidAttributesError("a signing certificate needs the basic four attributes")
            subject_alt_name = attributes.subject_alt_name(attribute_encoding)
        else:
            if attributes is not None:
                raise InvalidAttributesError("user-authentication certificates carry no personal data")
            subject_alt_name = None
    if key_usage is PROFILE:
        key_usage = profile_key_usage(kind)
    if policy_oids is PROFILE:
        policy_oids = [policy_table.oid_for(kind, form_factor)]
    if crl_distribution_point is PROFILE:
        crl_distribution_point = crl_distribution_point_name(kind, locality if is_signing else None)
    if authority_key_identifier is PROFILE:
        authority_key_identifier = x509.AuthorityKeyIdentifier(
            key_identifier=issuer.subject_key_identifier,
            authority_cert_issuer=None,
            authority_cert_serial_number=None,
        )

    extensions: list[tuple[x509.ExtensionType, bool]] = []
    if basic_constraints is not None:
        extensions.append((basic_constraints, True))
    if key_usage is not None:
        extensions.append((key_usage, key_usage_critical))
    if extended_key_usage is not None:
        extensions.append((x509.ExtendedKeyUsage(list(extended_key_usage)), False))
    if policy_oids is not None:
        policies = [
            x509.PolicyInformation(oid if isinstance(oid, ObjectIdentifier) else ObjectIdentifier(oid), None)
            for oid in policy_oids
        ]
        extensions.append((x509.CertificatePolicies(policies), policies_critical))
    if subject_alt_name is not None:
        extensions.append((subject_alt_name, False))
    if issuer_alt_name:
        extensions.append((x509.IssuerAlternativeName([x509.DirectoryName(jpki_service_name())]), False))
    if authority_key_identifier is not None:
        extensions.append((authority_key_identifier, False))
    if subject_key_identifier:
        extensions.append((x509.SubjectKeyIdentifier.from_public_key(public_key), False))
    points: list[x509.DistributionPoint] = []
    if crl_distribution_point is not None:
        points.append(x509.DistributionPoint([x509.DirectoryName(crl_distribution_point)], None, None, None))
    if crl_http_url is not None:
        points.append(
            x509.DistributionPoint([x509.UniformResourceIdentifier(crl_http_url)], None, None, None)
        )
    if points:
        extensions.append((x509.CRLDistributionPoints(points), False))
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        extensions.append((x509.AuthorityInformationAccess([access]), False))
    extensions.extend(extra_extensions)

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial_number if serial_number is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(issuer.private_key, hashes.SHA256())


def crl_url(base_url: str, purpose: CertificateKind, generation: int) -> str:
    """``<base>/crl/<purpose>/<generation>.crl``: where the mock serves a generation's CRL over HTTP."""
    return f"{base_url.rstrip('/')}/crl/{purpose.value}/{generation}.crl"
