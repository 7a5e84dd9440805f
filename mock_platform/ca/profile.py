"""The JPKI certificate profile as data: DNs, OIDs, certificate kinds, form factors, reason codes.

This is the mock platform's own encoding of the facts in ``docs/domain-jpki.md`` (shared docs); it never
imports :mod:`myna_rp`, so a misreading on either side is caught by the other.

Sources and status of each fact:

* CA subject DNs, ``C`` as PrintableString and the other attributes as UTF8String: observed on the real
  roots (``signca03.cer``/``authca03.cer``, J-LIS).
* End-entity profile (subject ``C=JP, [L=prefecture, L=municipality,] CN=<opaque id>``, keyUsage,
  no EKU, policy OIDs for cards, issuerAltName, directoryName cRLDistributionPoints): observed on real
  certificates (the J-LIS profile specification is not public).
* Smartphone policy OIDs: **assumed**. One secondary source reports ``1.2.392.200149.8.5.1.1.40`` for
  the smartphone signing certificate; the others are this mock's inventions. They live in a
  :class:`PolicyTable` so a deployment (and the SDK) can configure them.
* CRLReason codes: RFC 5280 §5.3.1, restricted to those a platform operator exposes (domain-jpki.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

#: The J-LIS JPKI arc (公的個人認証サービス).
JPKI_ARC = "1.2.392.200149.8.5"

# subjectAltName otherName type-ids of the basic four attributes (基本4情報), domain-jpki.md.
# Real certificates show .5 = address (one public OID table swaps .5 and .6: it is wrong).
OID_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_NAME_SUBSTITUTE_POSITIONS = ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_GENDER = ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_DATE_OF_BIRTH = ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_ADDRESS_SUBSTITUTE_POSITIONS = ObjectIdentifier("1.2.392.200149.8.5.5.6")

JLIS_OU = "Japan Agency for Local Authority Information Systems"
#: ``O`` of the issuerAltName directoryName on end-entity certificates (and the SAN of the real roots).
JPKI_SERVICE_ORGANIZATION = "公的個人認証サービス"


class CertificateKind(StrEnum):
    """The two JPKI certificates. Also names the CA *purpose* (one hierarchy per kind)."""

    SIGNING = "signing"  # 署名用電子証明書
    USER_AUTHENTICATION = "user_authentication"  # 利用者証明用電子証明書

    @property
    def organizational_unit(self) -> str:
        """The purpose ``OU`` in the CA DN (observed on the real roots)."""
        if self is CertificateKind.SIGNING:
            return "JPKI for digital signature"
        return "JPKI for user authentication"


class FormFactor(StrEnum):
    """Where the private key lives: the card, or a smartphone (スマホ用電子証明書)."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def application_name(self) -> str:
        """The token application name (domain-jpki.md: the applet/app identifier per form factor)."""
        return {
            FormFactor.CARD: "JPKIAPICCTOKEN2",
            FormFactor.ANDROID: "JPKIAPGPSETOKEN",
            FormFactor.IPHONE: "JPKIAPIOSTOKEN",
        }[self]


class RevocationReason(StrEnum):
    """RFC 5280 §5.3.1 CRLReason values a platform operator exposes (domain-jpki.md).

    Values are the RFC 5280 ASN.1 identifiers, the same strings the SDK uses.
    ``removeFromCRL``, ``privilegeWithdrawn`` and ``aACompromise`` are deliberately absent: J-LIS does
    not use them, and the mock drops a released hold from the next full CRL instead of listing it with
    removeFromCRL (RFC 5280 §5.3.1 permits either for full CRLs).
    """

    UNSPECIFIED = "unspecified"  # e.g. destroyed before delivery
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"  # 異動等失効: a basic-four attribute changed
    SUPERSEDED = "superseded"  # renewed
    CESSATION_OF_OPERATION = "cessationOfOperation"  # no longer needed
    CERTIFICATE_HOLD = "certificateHold"  # temporary hold (一時保留), may be released

    @property
    def reason_flag(self) -> x509.ReasonFlags:
        """The :class:`cryptography.x509.ReasonFlags` member for this reason."""
        return x509.ReasonFlags(self.value)

    @classmethod
    def from_reason_flag(cls, flag: x509.ReasonFlags) -> RevocationReason:
        """Inverse of :attr:`reason_flag`; raises :class:`ValueError` for reasons outside this set."""
        return cls(flag.value)


def ca_subject(purpose: CertificateKind) -> x509.Name:
    """The subject (= issuer) DN shared by every generation of a purpose's root.

    ``C=JP, O=JPKI, OU=<purpose OU>, OU=Japan Agency for Local Authority Information Systems`` with ``C``
    as PrintableString and the rest UTF8String, byte-identical to the real J-LIS roots.
    """
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, purpose.organizational_unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS_OU),
        ]
    )


def jpki_service_name() -> x509.Name:
    """``C=JP, O=公的個人認証サービス``: the issuerAltName directoryName of end-entity certificates."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, JPKI_SERVICE_ORGANIZATION),
        ]
    )


def crl_distribution_point_name(purpose: CertificateKind, locality: Locality | None) -> x509.Name:
    """The directoryName that end-entity certificates carry as cRLDistributionPoints fullName.

    Signing certificates (partitioned by municipality, observed)::

        C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points,
        OU=<prefecture>, CN=<municipality> CRLDP

    (RDNs listed from the root of the DIT; RFC 4514 strings print them the other way round.)
    User-authentication certificates carry no locality, so the mock uses the unpartitioned
    ``C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points`` (**assumed**).
    The mock's own CRLs are full CRLs per CA generation (no issuingDistributionPoint), so this name is
    informational: relying parties configure their revocation sources.
    """
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, purpose.organizational_unit),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
    ]
    if locality is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, locality.prefecture))
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, f"{locality.municipality} CRLDP"))
    return x509.Name(attributes)


@dataclass(frozen=True, slots=True)
class Locality:
    """The two ``L=`` attributes of a signing certificate's subject (prefecture, then municipality).

    Any non-empty UTF-8 text without control characters; the mock's examples use romanized names
    (``Tokyo-to``, ``Chiyoda-ku``). Raises :class:`ValueError` otherwise.
    """

    prefecture: str
    municipality: str

    def __post_init__(self) -> None:
        for label, value in (("prefecture", self.prefecture), ("municipality", self.municipality)):
            if not value or len(value) > 64 or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
                raise ValueError(f"{label} must be 1–64 printable characters")


def profile_key_usage(kind: CertificateKind) -> x509.KeyUsage:
    """keyUsage of the profile (critical): signing = digitalSignature + nonRepudiation
    (contentCommitment); user authentication = digitalSignature."""
    return key_usage(digital_signature=True, content_commitment=kind is CertificateKind.SIGNING)


def key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    data_encipherment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A :class:`cryptography.x509.KeyUsage` with keyword flags (encipherOnly/decipherOnly never set)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=data_encipherment,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class PolicyTable:
    """Which certificatePolicies OID an end-entity certificate of (kind, form factor) carries.

    Attributes:
        entries: ``(kind, form_factor, dotted OID)`` triples; exactly one per pair.

    The :data:`DEFAULT_POLICY_TABLE`:

    ============  ============================  ==================================
    form factor   signing                       user authentication
    ============  ============================  ==================================
    card          1.2.392.200149.8.5.1.1.20     1.2.392.200149.8.5.1.3.30 (observed)
    android       1.2.392.200149.8.5.1.1.40 *   1.2.392.200149.8.5.1.3.40 *
    iphone        1.2.392.200149.8.5.1.1.50 *   1.2.392.200149.8.5.1.3.50 *
    ============  ============================  ==================================

    ``*`` = **assumed**: only ``…1.1.40`` is reported (by one secondary source) for smartphone signing;
    the rest are placeholders chosen by this mock. The SDK must not hard-code them.

    Raises:
        ValueError: a pair is missing or listed twice, or an OID is not dotted-decimal.
    """

    entries: tuple[tuple[CertificateKind, FormFactor, str], ...]

    def __post_init__(self) -> None:
        pairs = [(kind, form) for kind, form, _ in self.entries]
        expected = {(kind, form) for kind in CertificateKind for form in FormFactor}
        if len(pairs) != len(set(pairs)) or set(pairs) != expected:
            raise ValueError("PolicyTable needs exactly one OID per (kind, form factor)")
        for _, _, dotted in self.entries:
            ObjectIdentifier(dotted)  # raises ValueError when not an OID

    def oid_for(self, kind: CertificateKind, form_factor: FormFactor) -> ObjectIdentifier:
        """The policy OID for ``(kind, form_factor)``."""
        for entry_kind, entry_form, dotted in self.entries:
            if entry_kind is kind and entry_form is form_factor:
                return ObjectIdentifier(dotted)
        raise KeyError((kind, form_factor))  # unreachable: __post_init__ checks completeness

    def __iter__(self) -> Iterator[tuple[CertificateKind, FormFactor, str]]:
        return iter(self.entries)


DEFAULT_POLICY_TABLE = PolicyTable(
    entries=(
        (CertificateKind.SIGNING, FormFactor.CARD, "1.2.392.200149.8.5.1.1.20"),
        (CertificateKind.SIGNING, FormFactor.ANDROID, "1.2.392.200149.8.5.1.1.40"),
        (CertificateKind.SIGNING, FormFactor.IPHONE, "1.2.392.200149.8.5.1.1.50"),
        (CertificateKind.USER_AUTHENTICATION, FormFactor.CARD, "1.2.392.200149.8.5.1.3.30"),
        (CertificateKind.USER_AUTHENTICATION, FormFactor.ANDROID, "1.2.392.200149.8.5.1.3.40"),
        (CertificateKind.USER_AUTHENTICATION, FormFactor.IPHONE, "1.2.392.200149.8.5.1.3.50"),
    )
)
