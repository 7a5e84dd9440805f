"""One result shape for identity verification, whichever way it was done.

A relying party verifies a holder's signing certificate (署名用電子証明書) directly with
:class:`~myna_rp.jpki.JPKIVerifier`, through a platform operator's API (プラットフォーム事業者,
:mod:`myna_rp.platform`), or through the Digital Authentication App's OpenID Connect sign transaction
(デジタル認証アプリ). All three end in an :class:`IdentityVerification`, so that an RP switches mode by
changing one line and the eKYC code (:mod:`myna_rp.kyc`) does not care which mode produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .clock import require_aware
from .errors import Reason, VerificationError
from .jpki.attributes import BasicFourAttributes
from .jpki.profile import CertificateKind, FormFactor
from .jpki.verifier import CertificateCheck, JPKIAuthentication, JPKIVerification
from .revocation.status import RevocationStatus


class VerificationMode(StrEnum):
    """Who checked the certificate: the RP itself, a platform operator, or the OpenID provider."""

    DIRECT = "direct"
    PLATFORM = "platform"
    OIDC = "oidc"


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What a confirmation record (確認記録) keeps about the certificate, without the certificate itself.

    Attributes:
        serial_number: the certificate's serial (RFC 5280 §4.1.2.2).
        issuer: the issuer DN as an RFC 4514 string.
        fingerprint_sha256: lowercase hex SHA-256 of the certificate's DER (64 characters).
        not_before, not_after: the validity period (aware UTC).
        kind: signing or user authentication.
        form_factor: card, Android, iPhone or unknown.
    """

    serial_number: int
    issuer: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    kind: CertificateKind
    form_factor: FormFactor

    def __post_init__(self) -> None:
        require_aware(self.not_before)
        require_aware(self.not_after)
        if len(self.fingerprint_sha256) != 64 or self.fingerprint_sha256 != self.fingerprint_sha256.lower():
            raise ValueError("fingerprint_sha256 must be 64 lowercase hex characters")

    @classmethod
    def from_check(cls, check: CertificateCheck) -> CertificateSummary:
        """The summary of a directly verified certificate."""
        cert = check.certificate
        return cls(
            serial_number=cert.serial_number,
            issuer=cert.issuer.rfc4514_string(),
            fingerprint_sha256=check.certificate_sha256,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            kind=check.certificate_kind,
            form_factor=check.form_factor,
        )


@dataclass(frozen=True, slots=True)
class IdentityVerification:
    """A verified signature by a signing certificate, with the holder's basic four attributes (基本4情報).

    Attributes:
        mode: who verified the certificate and its revocation.
        attributes: the basic four attributes as carried in the certificate.
        certificate: serial, issuer, fingerprint, validity, kind and form factor.
        revocation: the revocation evidence for the certificate (OCSP or CRL).
        verified_at: the time the verification was made for (aware).
        signed_content: the bytes the holder signed (the RP's challenge or document).
        user_id: the holder's stable identifier for this RP when a platform (利用者ID, linking the signing
            and user-authentication certificates across renewals and device changes) or an OpenID
            provider (pairwise ``sub``) supplied one; ``None`` in direct mode. Ignored by
            :meth:`same_identity_as`.
        ocsp_response: the DER OCSPResponse (RFC 6960 §4.2.1) the platform operator based its revocation
            answer on, when it sent one (platform mode), else ``None``: evidence for a confirmation record
            (確認記録). Ignored by :meth:`same_identity_as`.

    Two results for the same person and certificate compare equal on :meth:`same_identity_as`, whatever
    their modes and times.
    """

    mode: VerificationMode
    attributes: BasicFourAttributes
    certificate: CertificateSummary
    revocation: RevocationStatus
    verified_at: datetime
    signed_content: bytes
    user_id: str | None = None
    ocsp_response: bytes | None = None

    def __post_init__(self) -> None:
        require_aware(self.verified_at)

    def __repr__(self) -> str:
        # No personal data in logs.
        return (
            f"IdentityVerification(mode={self.mode.value}, serial={self.certificate.serial_number}, "
            f"revocation={self.revocation.status.value})"
        )

    @classmethod
    def from_jpki(
        cls, verification: JPKIVerification, *, mode: VerificationMode = VerificationMode.DIRECT
    ) -> IdentityVerification:
        """Wrap a :class:`JPKIVerification` of a signing certificate.

        Raises:
            VerificationError: ``WRONG_CERTIFICATE_KIND`` — the verification is not of a signing
                certificate (署名用電子証明書), so it carries no basic four attributes.
        """
        if verification.attributes is None:
            raise VerificationError(
                "only a signing certificate carries the basic four attributes",
                reason=Reason.WRONG_CERTIFICATE_KIND,
            )
        return cls(
            mode=mode,
            attributes=verification.attributes,
            certificate=CertificateSummary.from_check(verification.check),
            revocation=verification.check.revocation,
            verified_at=verification.check.verified_at,
            signed_content=verification.signed_content,
        )

    def same_identity_as(self, other: IdentityVerification) -> bool:
        """True when both name the same holder, certificate and revocation status (mode and time aside)."""
        return (
            self.attributes == other.attributes
            and self.certificate == other.certificate
            and self.revocation.status == other.revocation.status
            and self.revocation.serial_number == other.revocation.serial_number
        )


@dataclass(frozen=True, slots=True)
class AuthenticationVerification:
    """A verified login with the user-authentication certificate (利用者証明用電子証明書), either mode.

    Holds no personal data (the certificate carries none).

    Attributes:
        mode: who verified the certificate and its revocation.
        user_id: the holder's stable identifier for this RP. Platform mode: the platform's user ID (the
            same for the holder's signing and user-authentication certificates, across renewals and
            device changes). Direct mode: :attr:`JPKIAuthentication.subject_id` (a keyed hash of the
            certificate subject: stable for one certificate only).
        certificate: serial, issuer, fingerprint, validity, kind and form factor.
        revocation: the revocation evidence for the certificate.
        verified_at: the time the verification was made for (aware).
        challenge: the nonce the holder signed.
        ocsp_response: the platform's DER OCSPResponse (RFC 6960) behind :attr:`revocation`, when sent
            (platform mode), else ``None``.
    """

    mode: VerificationMode
    user_id: str
    certificate: CertificateSummary
    revocation: RevocationStatus
    verified_at: datetime
    challenge: bytes
    ocsp_response: bytes | None = None

    def __post_init__(self) -> None:
        require_aware(self.verified_at)

    def __repr__(self) -> str:
        return (
            f"AuthenticationVerification(mode={self.mode.value}, serial={self.certificate.serial_number}, "
            f"revocation={self.revocation.status.value})"
        )

    @classmethod
    def from_jpki(
        cls,
        authentication: JPKIAuthentication,
        *,
        challenge: bytes,
        mode: VerificationMode = VerificationMode.DIRECT,
    ) -> AuthenticationVerification:
        """Wrap a direct :class:`JPKIAuthentication` (``challenge``: the nonce that was verified)."""
        return cls(
            mode=mode,
            user_id=authentication.subject_id,
            certificate=CertificateSummary.from_check(authentication.check),
            revocation=authentication.check.revocation,
            verified_at=authentication.check.verified_at,
            challenge=challenge,
        )
