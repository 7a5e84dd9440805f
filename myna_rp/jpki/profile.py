"""The JPKI end-entity certificate profile: which kind of certificate, on which form factor.

Sources: domain-jpki.md ("The two certificates", "Smartphone certificates"). The kind comes from the
certificatePolicies OID *and* the keyUsage (both must agree); the form factor comes from policy-OID rules
that the caller may replace, because the smartphone OIDs are not published by J-LIS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from cryptography import x509

from ..errors import MalformedInputError, Reason, VerificationError


class CertificateKind(StrEnum):
    """署名用電子証明書 (signing) or 利用者証明用電子証明書 (user authentication)."""

    SIGNING = "signing"
    USER_AUTHENTICATION = "user_authentication"


class FormFactor(StrEnum):
    """Where the private key lives: the card, an Android handset's secure element, an iPhone."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One certificatePolicies OID and what it means."""

    kind: CertificateKind
    form_factor: FormFactor
    note: str = ""


def _default_rules() -> Mapping[str, PolicyRule]:
    s, u = CertificateKind.SIGNING, CertificateKind.USER_AUTHENTICATION
    return MappingProxyType(
        {
            # Observed on real cards.
            "1.2.392.200149.8.5.1.1.20": PolicyRule(s, FormFactor.CARD, "signing, card (observed)"),
            "1.2.392.200149.8.5.1.0.20": PolicyRule(s, FormFactor.CARD, "signing, J-LIS test hierarchy"),
            "1.2.392.200149.8.5.1.3.30": PolicyRule(
                u, FormFactor.CARD, "user authentication, card (observed)"
            ),
            # Assumed: one secondary source reports .1.1.40 for smartphone signing certificates (Android
            # only at the time). The iPhone and smartphone user-authentication OIDs are not public; these
            # values are the mock platform's assumption. Replace them with PolicyRules.from_mapping().
            "1.2.392.200149.8.5.1.1.40": PolicyRule(s, FormFactor.ANDROID, "signing, Android (assumed)"),
            "1.2.392.200149.8.5.1.3.40": PolicyRule(u, FormFactor.ANDROID, "user auth, Android (assumed)"),
            "1.2.392.200149.8.5.1.1.50": PolicyRule(s, FormFactor.IPHONE, "signing, iPhone (assumed)"),
            "1.2.392.200149.8.5.1.3.50": PolicyRule(u, FormFactor.IPHONE, "user auth, iPhone (assumed)"),
        }
    )


_ARCS = (
    ("1.2.392.200149.8.5.1.1.", CertificateKind.SIGNING),
    ("1.2.392.200149.8.5.1.3.", CertificateKind.USER_AUTHENTICATION),
)


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """Immutable policy-OID → (kind, form factor) table.

    ``PolicyRules()`` holds the defaults: the observed card OIDs and the *assumed* smartphone OIDs
    (documented in docs/jpki.md). Build another table with :meth:`from_mapping` or :meth:`with_rule`.
    """

    rules: Mapping[str, PolicyRule] = field(default_factory=_default_rules)

    @classmethod
    def from_mapping(cls, rules: Mapping[str, PolicyRule]) -> PolicyRules:
        return cls(MappingProxyType(dict(rules)))

    def with_rule(self, oid: str, rule: PolicyRule) -> PolicyRules:
        merged = dict(self.rules)
        merged[oid] = rule
        return PolicyRules.from_mapping(merged)

    def match(self, policy_oids: Iterable[str]) -> PolicyRule | None:
        """The rule for the known OIDs; raises if they disagree on the kind.

        An OID not in the table but under J-LIS's signing (``1.2.392.200149.8.5.1.1.*``) or user
        authentication (``1.2.392.200149.8.5.1.3.*``) policy arc gives that kind with form factor
        UNKNOWN: the SDK must not depend on the unpublished smartphone OIDs (domain-jpki.md).
        """
        oids = list(policy_oids)
        found = [self.rules[oid] for oid in oids if oid in self.rules]
        if not found:
            found = [
                PolicyRule(kind, FormFactor.UNKNOWN, "J-LIS arc")
                for oid in oids
                for arc, kind in _ARCS
                if oid.startswith(arc)
            ]
        if not found:
            return None
        if len({rule.kind for rule in found}) > 1:
            raise VerificationError(
                "certificate policies name both a signing and a user authentication policy",
                reason=Reason.WRONG_KEY_USAGE,
            )
        forms = {rule.form_factor for rule in found}
        return found[0] if len(forms) == 1 else PolicyRule(found[0].kind, FormFactor.UNKNOWN)


@dataclass(frozen=True, slots=True)
class CertificateProfile:
    """What the profile check found in an end-entity certificate."""

    kind: CertificateKind
    form_factor: FormFactor
    policy_oids: tuple[str, ...]


def _ext(
    certificate: x509.Certificate, cls: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return certificate.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        raise MalformedInputError(f"certificate extension {cls.__name__} cannot be decoded") from exc


def policy_oids_of(certificate: x509.Certificate) -> tuple[str, ...]:
    """The certificatePolicies OIDs of ``certificate`` (empty when the extension is absent)."""
    ext = _ext(certificate, x509.CertificatePolicies)
    if ext is None or not isinstance(ext.value, x509.CertificatePolicies):
        return ()
    return tuple(p.policy_identifier.dotted_string for p in ext.value)


def claimed_profile(certificate: x509.Certificate, rules: PolicyRules) -> PolicyRule | None:
    """What the certificate's policy OIDs *claim* it is, without checking anything else.

    For reporting on a certificate that failed verification; never a basis for a decision.
    Returns ``None`` when no JPKI policy is present or the extension cannot be decoded.
    """
    try:
        return rules.match(policy_oids_of(certificate))
    except (MalformedInputError, VerificationError):
        return None


def classify(certificate: x509.Certificate, rules: PolicyRules) -> CertificateProfile:
    """Check the end-entity profile and tell the kind and form factor.

    Rules (domain-jpki.md): keyUsage present and critical; signing = digitalSignature + nonRepudiation;
    user authentication = digitalSignature without nonRepudiation; a known JPKI policy OID that agrees
    with the key usage; not a CA.

    Raises:
        VerificationError: reason WRONG_KEY_USAGE when any rule is broken.
        MalformedInputError: when an extension cannot be decoded.
    """
    basic = _ext(certificate, x509.BasicConstraints)
    if basic is not None and isinstance(basic.value, x509.BasicConstraints) and basic.value.ca:
        raise VerificationError("a CA certificate cannot sign as a holder", reason=Reason.WRONG_KEY_USAGE)
    ku_ext = _ext(certificate, x509.KeyUsage)
    if ku_ext is None or not isinstance(ku_ext.value, x509.KeyUsage):
        raise VerificationError("keyUsage is missing", reason=Reason.WRONG_KEY_USAGE)
    if not ku_ext.critical:
        raise VerificationError("keyUsage is not critical", reason=Reason.WRONG_KEY_USAGE)
    ku = ku_ext.value
    if not ku.digital_signature:
        raise VerificationError("keyUsage lacks digitalSignature", reason=Reason.WRONG_KEY_USAGE)
    policy_oids = policy_oids_of(certificate)
    rule = rules.match(policy_oids)
    if rule is None:
        raise VerificationError(
            "no JPKI certificate policy: not a signing or user authentication certificate",
            reason=Reason.WRONG_KEY_USAGE,
        )
    if rule.kind is CertificateKind.SIGNING and not ku.content_commitment:
        raise VerificationError("signing certificate lacks nonRepudiation", reason=Reason.WRONG_KEY_USAGE)
    if rule.kind is CertificateKind.USER_AUTHENTICATION and ku.content_commitment:
        raise VerificationError(
            "user authentication certificate asserts nonRepudiation", reason=Reason.WRONG_KEY_USAGE
        )
    return CertificateProfile(kind=rule.kind, form_factor=rule.form_factor, policy_oids=policy_oids)
