"""Certification path validation through ``cryptography.x509.verification`` with a JPKI extension policy.

JPKI has one self-signed root per purpose and generation and no intermediates (domain-jpki.md), but the
validator accepts intermediates so that other hierarchies (test suites, a platform's own CA) work too.
Candidate issuers are tried by signature, so several generations sharing one subject DN are handled:
the issuer is the one whose key verifies, never the first one with a matching name (RFC 5280 §6.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
)
from cryptography.x509.verification import (
    VerificationError as _CryptographyVerificationError,
)

from ..errors import Reason, VerificationError
from .truststore import TrustStore

MAX_CHAIN_DEPTH = 4


def _require_ca(_policy: Policy, _cert: x509.Certificate, value: x509.BasicConstraints) -> None:
    if not value.ca:
        raise ValueError("issuer is not a CA (basicConstraints cA is false)")


def _require_cert_sign(_policy: Policy, _cert: x509.Certificate, value: x509.KeyUsage | None) -> None:
    if value is not None and not value.key_cert_sign:
        raise ValueError("issuer keyUsage lacks keyCertSign")


def _aki_unless_self_issued(_policy: Policy, cert: x509.Certificate, value: object | None) -> None:
    # RFC 5280 §4.2.1.1: every certificate but a self-signed one MUST carry an AKI.
    if value is None and cert.issuer != cert.subject:
        raise ValueError("CA certificate that is not self-issued lacks authorityKeyIdentifier")


def _ee_key_usage(_policy: Policy, _cert: x509.Certificate, value: x509.KeyUsage) -> None:
    if not value.digital_signature:
        raise ValueError("end-entity keyUsage lacks digitalSignature")
    _no_cert_sign(_policy, _cert, value)


def _no_cert_sign(_policy: Policy, _cert: x509.Certificate, value: x509.KeyUsage | None) -> None:
    if value is not None and value.key_cert_sign:
        raise ValueError("end-entity keyUsage asserts keyCertSign")  # RFC 5280 §4.2.1.3


def _not_a_ca(_policy: Policy, _cert: x509.Certificate, value: x509.BasicConstraints | None) -> None:
    if value is not None and value.ca:
        raise ValueError("end-entity certificate is a CA")


def _ca_policy() -> ExtensionPolicy:
    return (
        ExtensionPolicy.permit_all()
        # RFC 5280 MUSTs that the J-LIS roots meet (checked against the real roots in tests).
        .require_present(x509.BasicConstraints, Criticality.CRITICAL, _require_ca)
        .require_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, _aki_unless_self_issued)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _require_cert_sign)
        .may_be_present(x509.NameConstraints, Criticality.CRITICAL, None)
        .may_be_present(x509.AuthorityInformationAccess, Criticality.NON_CRITICAL, None)
    )


def _ee_policy(*, require_key_usage: bool) -> ExtensionPolicy:
    policy = (
        ExtensionPolicy.permit_all()
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _not_a_ca)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.AuthorityInformationAccess, Criticality.NON_CRITICAL, None)
        .require_not_present(x509.NameConstraints)
    )
    if require_key_usage:
        return policy.require_present(x509.KeyUsage, Criticality.AGNOSTIC, _ee_key_usage)
    return policy.may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _no_cert_sign)


def jpki_extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """The (CA, end-entity) extension policies for JPKI.

    CA (RFC 5280 §4.2): basicConstraints critical with cA true; subjectKeyIdentifier present and
    non-critical; authorityKeyIdentifier non-critical and present unless self-issued; keyUsage, when
    present, with keyCertSign; nameConstraints only critical. The J-LIS roots carry no AKI and no EKU, so
    the Web PKI defaults (which demand them) do not fit.
    End entity: keyUsage present with digitalSignature and without keyCertSign; not a CA; no
    nameConstraints; AKI/SKI/AIA non-critical when present; no EKU required (JPKI leaves have none).
    Everything else the JPKI profile needs (policy OIDs, nonRepudiation, keyUsage criticality) is checked
    by :func:`myna_rp.jpki.profile.classify`, which gives finer reasons.
    """
    return _ca_policy(), _ee_policy(require_key_usage=True)


def generic_extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """The same CA policy with an end-entity policy that does not demand keyUsage (RFC 5280 allows its
    absence); used for conformance suites whose leaves are not JPKI leaves."""
    return _ca_policy(), _ee_policy(require_key_usage=False)


@dataclass(frozen=True, slots=True)
class _ValidatedPath:
    chain: tuple[x509.Certificate, ...]
    not_before: datetime  # the latest notBefore of the chain
    not_after: datetime  # the earliest notAfter of the chain


class PathValidator:
    """Validates a leaf to one of the anchors of a :class:`TrustStore`. Build once, reuse; thread-safe.

    Validated paths are memoised (bounded, ``cache_size`` entries, 0 to disable). This is exact, not a
    heuristic: for a fixed trust store and policy, the outcome of RFC 5280 path validation depends on time
    only through the validity periods of the chain's certificates, so a path found valid stays valid for
    every time inside the intersection of those periods, and a cached path is reused only there. Failures
    are never cached. Revocation is not part of this and is checked on every verification.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        policies: tuple[ExtensionPolicy, ExtensionPolicy] | None = None,
        max_chain_depth: int = MAX_CHAIN_DEPTH,
        cache_size: int = 4096,
    ) -> None:
        self._trust = trust
        self._ca_policy, self._ee_policy = policies or jpki_extension_policies()
        self._max_chain_depth = max_chain_depth
        self._cache_size = cache_size
        self._cache: dict[tuple[x509.Certificate, ...], _ValidatedPath] = {}

    def validate(
        self,
        leaf: x509.Certificate,
        *,
        at: datetime,
        intermediates: Sequence[x509.Certificate] = (),
    ) -> tuple[x509.Certificate, ...]:
        """Return the validated chain, leaf first, trust anchor last.

        Raises:
            VerificationError: reason UNTRUSTED_ISSUER when no path to an anchor is valid at ``at``
                (unknown issuer, bad signature on a certificate, an expired CA, a rejected extension).
        """
        key = (leaf, *intermediates)  # certificates hash and compare by their DER
        cached = self._cache.get(key)
        if cached is not None and cached.not_before <= at <= cached.not_after:
            return cached.chain
        verifier = (
            PolicyBuilder()
            .store(self._trust.store)
            .time(at.astimezone(UTC).replace(tzinfo=None))
            .max_chain_depth(self._max_chain_depth)
            .extension_policies(ca_policy=self._ca_policy, ee_policy=self._ee_policy)
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(leaf, list(intermediates))
        except _CryptographyVerificationError as exc:
            raise VerificationError(
                f"no valid certification path to a trust anchor: {exc}", reason=Reason.UNTRUSTED_ISSUER
            ) from exc
        chain = tuple(verified.chain)
        if self._cache_size:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[key] = _ValidatedPath(
                chain,
                max(c.not_valid_before_utc for c in chain),
                min(c.not_valid_after_utc for c in chain),
            )
        return chain
