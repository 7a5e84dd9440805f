"""The verification step of eKYC as one protocol with three tiny adapters.

:class:`~myna_rp.kyc.KycService` does not care who checks the signature and the certificate's revocation:
the RP itself (:class:`DirectVerification`, wrapping :class:`~myna_rp.jpki.JPKIVerifier`), a platform
operator (:class:`PlatformVerification`, wrapping any client with ``verify_signature(...) ->
IdentityVerification``, e.g. :class:`myna_rp.platform.PlatformClient`), or the Digital Authentication App's
sign transaction (:class:`OIDCVerification`, which accepts the :class:`~myna_rp.identity.IdentityVerification`
the OIDC sign-transaction helper produced). Each adapter returns an ``IdentityVerification``; the service
then applies the same fail-closed checks to every mode (signing certificate, revocation GOOD, signed content
is the challenge).

What the customer sends is one of three evidence shapes: :class:`RawSignature` (signature + certificate),
:class:`CMSSignature` (RFC 5652 SignedData) or :class:`PreVerified` (an OIDC sign-transaction result).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from cryptography import x509

from ..clock import Clock
from ..encoding import load_certificate
from ..errors import (
    ConfigurationError,
    MalformedInputError,
    MynaRPError,
    Reason,
    RevocationUnavailableError,
    VerificationError,
)
from ..identity import IdentityVerification, VerificationMode
from ..jpki.profile import CertificateKind, PolicyRules, classify
from ..jpki.verifier import JPKIVerification, JPKIVerifier
from ..revocation.cache import MemoryRevocationCache
from ..revocation.crl import CRLIndex
from ..revocation.policy import RevocationPolicy
from ..revocation.status import RevocationSource, RevocationStatus


@dataclass(frozen=True, slots=True)
class RawSignature:
    """A raw signature (RSA PKCS#1 v1.5 or ECDSA over SHA-256 of the challenge) and the signer's certificate
    (DER, PEM or parsed)."""

    signature: bytes
    certificate: bytes | x509.Certificate

    def __repr__(self) -> str:
        return "RawSignature(<signature>, <certificate>)"


@dataclass(frozen=True, slots=True)
class CMSSignature:
    """A CMS SignedData (RFC 5652, DER or PEM) over the challenge, attached or detached; ``certificate``
    when the SignedData does not carry the signer's certificate."""

    signed_data: bytes
    certificate: bytes | x509.Certificate | None = None

    def __repr__(self) -> str:
        return "CMSSignature(<signed data>)"


@dataclass(frozen=True, slots=True)
class PreVerified:
    """A verification already made elsewhere: the OIDC sign transaction (デジタル認証アプリ).

    Attributes:
        verification: the result of the sign transaction; its ``signed_content`` must be the challenge.
        certificate: the signing certificate the provider returned, needed only when the service keeps
            certificates (its SHA-256 must equal ``verification.certificate.fingerprint_sha256``).
    """

    verification: IdentityVerification
    certificate: bytes | x509.Certificate | None = None


SignedEvidence = RawSignature | CMSSignature | PreVerified


@runtime_checkable
class SignatureVerification(Protocol):
    """Verifies a customer's signature over a challenge and the certificate's revocation.

    ``verify`` returns an :class:`IdentityVerification` whose ``signed_content`` is what was signed, and
    raises a :class:`~myna_rp.errors.MynaRPError` (with its ``reason``) on any failure. Implementations
    need not re-check what :class:`~myna_rp.kyc.KycService` checks for every mode (kind, revocation
    status, signed content), but must not weaken the revocation check.
    """

    @property
    def mode(self) -> VerificationMode: ...

    def verify(self, challenge: bytes, evidence: SignedEvidence) -> IdentityVerification: ...


def require_ekyc_policy(policy: RevocationPolicy) -> RevocationPolicy:
    """Return ``policy`` if it checks revocation and fails hard; raise :class:`ConfigurationError` otherwise.

    犯罪収益移転防止法施行規則 第6条第1項第1号ワ requires confirming the certificate is not revoked, so a
    policy that skips the check (``UNSAFE_SKIP``) or lets a certificate pass without an answer
    (``hard_fail=False``) is refused. ``REQUIRE``, ``PREFER_OCSP_THEN_CRL``, ``CRL_ONLY`` and variants of
    them restricted to some sources qualify.
    """
    if not policy.check or not policy.hard_fail or not policy.sources:
        raise ConfigurationError(
            f"revocation policy {policy.name} does not fail hard: eKYC needs RevocationPolicy.REQUIRE "
            "(or another hard-fail policy)"
        )
    return policy


class FreshOCSPCache:
    """A :class:`~myna_rp.revocation.RevocationCache` that keeps CRLs but never an OCSP answer.

    Build the eKYC verifier's checker with it (``RevocationChecker(..., cache=FreshOCSPCache(clock))``):
    an OCSP answer may otherwise be reused until its nextUpdate (RFC 6960 §4.2.2.1; 15 minutes for J-LIS),
    so a certificate revoked after an earlier check (a move, 異動等失効; a phone reported lost) would still
    pass, and :class:`~myna_rp.kyc.KycService` refuses such a reused answer (``REVOCATION_UNAVAILABLE``).
    With this cache every verification asks the responder afresh — one round trip, cheap next to a
    customer's signature. CRLs (large, issued daily) are kept in memory until their nextUpdate.

    Args:
        clock: the time source of the CRL entries' expiry.
        max_crl_entries: most indexed CRLs kept (least recently used evicted first; each can be large).
    """

    def __init__(self, clock: Clock, *, max_crl_entries: int = 8) -> None:
        self._crls = MemoryRevocationCache(clock=clock, max_crl_entries=max_crl_entries)

    def get_ocsp(self, key: bytes) -> RevocationStatus | None:
        """Always ``None``: no OCSP answer is ever reused."""
        return None

    def put_ocsp(self, key: bytes, status: RevocationStatus, *, expires_at: datetime) -> None:
        """Drops the answer."""
        return None

    def get_crl(self, key: bytes) -> CRLIndex | None:
        return self._crls.get_crl(key)

    def put_crl(self, key: bytes, index: CRLIndex, *, expires_at: datetime) -> None:
        self._crls.put_crl(key, index, expires_at=expires_at)


def require_fresh_revocation(
    status: RevocationStatus,
    issued_at: datetime,
    *,
    revocation_skew: timedelta = timedelta(minutes=1),
    crl_max_age: timedelta | None = timedelta(hours=25),
) -> None:
    """Fail closed unless ``status`` was obtained for a challenge issued at ``issued_at``.

    * OCSP: produced (``producedAt``; ``thisUpdate`` when absent) no earlier than ``issued_at -
      revocation_skew``. An answer made for an earlier check and reused from a cache (RFC 6960 §4.2.2.1
      allows reuse until nextUpdate) would miss a revocation in between — a customer who moved
      (異動等失効) or a phone reported lost minutes ago. The responder's own data lag (J-LIS: at most
      15 minutes) is the source's and is accepted.
    * CRL: ``thisUpdate`` no earlier than ``issued_at - crl_max_age`` (J-LIS issues the CRL daily: 25 hours
      by default); ``crl_max_age=None`` refuses CRL evidence.
    * anything else (no source): refused.

    Raises:
        RevocationUnavailableError: the evidence is older than that (``REVOCATION_UNAVAILABLE``).
    """
    if status.source is RevocationSource.OCSP:
        made = status.produced_at if status.produced_at is not None else status.this_update
        if made is None or made < issued_at - revocation_skew:
            raise RevocationUnavailableError(
                "the OCSP answer was produced before this challenge was issued (a cached answer): the "
                "check needs revocation evidence obtained for this signature — build the verifier's "
                "RevocationChecker with cache=FreshOCSPCache(clock) (myna_rp.kyc)"
            )
        return
    if status.source is RevocationSource.CRL and crl_max_age is not None:
        if status.this_update is None or status.this_update < issued_at - crl_max_age:
            raise RevocationUnavailableError(
                "the CRL is older than accepted (crl_max_age before the challenge): fetch the current "
                "CRL, or use OCSP"
            )
        return
    source = status.source.value if status.source is not None else "none"
    raise RevocationUnavailableError(f"revocation evidence from source {source} is not accepted here")


def wrong_kind() -> VerificationError:
    """The error for a certificate other than the signing certificate (e.g. user authentication)."""
    return VerificationError(
        "eKYC needs the signing certificate (署名用電子証明書); the user authentication certificate "
        "carries no identity data",
        reason=Reason.WRONG_CERTIFICATE_KIND,
    )


def _identity(result: JPKIVerification, mode: VerificationMode) -> IdentityVerification:
    if result.certificate_kind is not CertificateKind.SIGNING or result.attributes is None:
        raise wrong_kind()
    return IdentityVerification.from_jpki(result, mode=mode)


class DirectVerification:
    """The RP verifies itself with a :class:`JPKIVerifier` (certified verifiers, 署名検証者).

    Args:
        verifier: a verifier whose revocation policy fails hard (:func:`require_ekyc_policy`).

    Raises:
        ConfigurationError: at construction, and again per call, when the policy is weaker.
    """

    mode = VerificationMode.DIRECT

    def __init__(self, verifier: JPKIVerifier) -> None:
        require_ekyc_policy(verifier.policy)
        self._verifier = verifier

    def verify(self, challenge: bytes, evidence: SignedEvidence) -> IdentityVerification:
        """Verify a raw or CMS signature over ``challenge`` (CMS: detached, or attached content that must
        equal the challenge). Raises the verifier's errors; WRONG_CERTIFICATE_KIND for a non-signing
        certificate; MalformedInputError for a :class:`PreVerified`."""
        require_ekyc_policy(self._verifier.policy)
        if isinstance(evidence, RawSignature):
            result = self._verifier.verify_signature(
                data=challenge, signature=evidence.signature, certificate=evidence.certificate
            )
        elif isinstance(evidence, CMSSignature):
            result = self._verifier.verify_cms(
                evidence.signed_data, content=challenge, certificate=evidence.certificate
            )
        else:
            raise MalformedInputError("direct verification needs a raw or CMS signature")
        return _identity(result, self.mode)


@runtime_checkable
class PlatformSignatureVerifier(Protocol):
    """What :class:`PlatformVerification` needs of a platform operator client (プラットフォーム事業者):
    the same keyword call as :meth:`JPKIVerifier.verify_signature`, answering an IdentityVerification."""

    def verify_signature(
        self, *, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> IdentityVerification: ...


@runtime_checkable
class PlatformCMSVerifier(Protocol):
    """Optional: a platform client that also verifies CMS SignedData (as :meth:`JPKIVerifier.verify_cms`)."""

    def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
    ) -> IdentityVerification: ...


class PlatformVerification:
    """A platform operator verifies the signature and the revocation (for RPs that are not certified
    verifiers). Takes :class:`RawSignature`, and :class:`CMSSignature` when the client has ``verify_cms``.

    A certificate of the wrong kind (the user-authentication certificate) is refused locally with
    WRONG_CERTIFICATE_KIND before the platform is called, as in direct mode; anything else about the
    certificate is left to the platform's verdict.

    Args:
        client: e.g. :class:`myna_rp.platform.PlatformClient`.
        policy_rules: the policy-OID table used for that local kind check (defaults as the verifier's).
    """

    mode = VerificationMode.PLATFORM

    def __init__(self, client: PlatformSignatureVerifier, *, policy_rules: PolicyRules | None = None) -> None:
        self._client = client
        self._rules = policy_rules or PolicyRules()

    def verify(self, challenge: bytes, evidence: SignedEvidence) -> IdentityVerification:
        """Ask the platform to verify ``evidence`` over ``challenge`` (CMS: detached, or attached content
        that must equal the challenge). Raises WRONG_CERTIFICATE_KIND for a user-authentication
        certificate, the client's errors (PlatformError, VerificationError…), and MalformedInputError for
        an evidence shape the client cannot take."""
        if not isinstance(evidence, PreVerified) and evidence.certificate is not None:
            self._refuse_wrong_kind(evidence.certificate)
        if isinstance(evidence, RawSignature):
            return self._client.verify_signature(
                data=challenge, signature=evidence.signature, certificate=evidence.certificate
            )
        if isinstance(evidence, CMSSignature) and isinstance(self._client, PlatformCMSVerifier):
            return self._client.verify_cms(
                evidence.signed_data, content=challenge, certificate=evidence.certificate
            )
        raise MalformedInputError("this platform client takes a raw signature and its certificate")

    def _refuse_wrong_kind(self, certificate: bytes | x509.Certificate) -> None:
        try:
            kind = classify(load_certificate(certificate), self._rules).kind
        except MynaRPError:
            return  # not even a JPKI leaf: the platform gives the verdict (and refuses it)
        if kind is not CertificateKind.SIGNING:
            raise wrong_kind()


class OIDCVerification:
    """The Digital Authentication App's sign transaction (デジタル認証アプリ, OpenID Connect) verified the
    signature; this adapter hands its result on.

    How the signature commits to the challenge: the RP creates the sign transaction with the SHA-256
    digest of the challenge value (optionally wrapped as an RFC 8017 §9.2 DigestInfo). A PKCS#1 v1.5 or
    ECDSA signature over that digest *is* a signature over the challenge bytes, so the helper verifies it
    with ``data=challenge`` and its result's ``signed_content`` is the challenge itself — which the
    service then checks, as for every mode.
    """

    mode = VerificationMode.OIDC

    def verify(self, challenge: bytes, evidence: SignedEvidence) -> IdentityVerification:
        """Return the pre-verified result. Raises MalformedInputError for another evidence shape or a
        result not produced in OIDC mode."""
        if not isinstance(evidence, PreVerified):
            raise MalformedInputError("OIDC verification takes the sign transaction's IdentityVerification")
        if evidence.verification.mode is not VerificationMode.OIDC:
            raise MalformedInputError(
                f"expected an OIDC sign-transaction result, got mode {evidence.verification.mode.value}"
            )
        return evidence.verification
