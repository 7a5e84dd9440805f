"""One error tree for the SDK.

Every error carries a machine-readable :class:`Reason`; callers branch on ``error.reason``, never on
the message text. Messages never contain personal attributes or a My Number (個人番号).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a verification failed. Values are stable strings (used in JSON output and HTTP problems)."""

    MALFORMED_INPUT = "MALFORMED_INPUT"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"
    WRONG_CERTIFICATE_KIND = "WRONG_CERTIFICATE_KIND"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    CERTIFICATE_ON_HOLD = "CERTIFICATE_ON_HOLD"
    REVOCATION_UNAVAILABLE = "REVOCATION_UNAVAILABLE"
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    # --- attribute proofs (ISO/IEC 18013-5 mdoc; myna_rp.mdoc, myna_rp.age) ---
    ISSUER_SIGNATURE_INVALID = "ISSUER_SIGNATURE_INVALID"  # issuerAuth COSE_Sign1 does not verify (§9.1.2.4)
    DOCTYPE_MISMATCH = "DOCTYPE_MISMATCH"  # MSO docType differs from the document's (§9.3.1 step 5)
    DIGEST_MISMATCH = "DIGEST_MISMATCH"  # an IssuerSignedItemBytes digest differs from the MSO (§9.3.1)
    DIGEST_MISSING = "DIGEST_MISSING"  # a disclosed element has no digest in valueDigests (§9.3.1)
    MSO_NOT_VALID = "MSO_NOT_VALID"  # validityInfo does not cover now, or `signed` outside the DS validity
    DEVICE_AUTH_INVALID = "DEVICE_AUTH_INVALID"  # deviceSignature/deviceMac does not verify (§9.1.3)
    ENVELOPE_INVALID = "ENVELOPE_INVALID"  # an HPKE envelope (Apple, DC API) cannot be opened
    ATTRIBUTE_PROOF_UNSUPPORTED = "ATTRIBUTE_PROOF_UNSUPPORTED"  # e.g. Android: no mdoc on the device
    AGE_NOT_DISCLOSED = "AGE_NOT_DISCLOSED"  # no verified element decides the age question
    INDIVIDUAL_NUMBER_REFUSED = "INDIVIDUAL_NUMBER_REFUSED"  # individual_number_unicode without opt-in
    AGE_EVIDENCE_INCONSISTENT = "AGE_EVIDENCE_INCONSISTENT"  # signed age elements contradict each other
    # --- single-use challenges (myna_rp.challenge) ---
    CHALLENGE_UNKNOWN = "CHALLENGE_UNKNOWN"  # never issued by this store (or already purged)
    CHALLENGE_REPLAYED = "CHALLENGE_REPLAYED"  # already consumed once
    CHALLENGE_EXPIRED = "CHALLENGE_EXPIRED"  # past its TTL
    CHALLENGE_MISMATCH = "CHALLENGE_MISMATCH"  # issued for another session or purpose
    # --- platform operator API and OpenID Connect (myna_rp.platform) ---
    PLATFORM_UNAVAILABLE = "PLATFORM_UNAVAILABLE"  # timeout, connection error, 5xx, 429 after retries
    PLATFORM_RESPONSE_INVALID = "PLATFORM_RESPONSE_INVALID"  # bad JSON, wrong content type, too large
    PLATFORM_REJECTED = "PLATFORM_REJECTED"  # a 4xx problem answer from the platform
    CLIENT_AUTHENTICATION_FAILED = "CLIENT_AUTHENTICATION_FAILED"  # our client credentials were refused
    CONSENT_REQUIRED = "CONSENT_REQUIRED"  # the holder has not consented (or withdrew consent)
    OIDC_STATE_MISMATCH = "OIDC_STATE_MISMATCH"  # callback state differs from the one sent
    OIDC_NONCE_MISMATCH = "OIDC_NONCE_MISMATCH"  # ID token nonce differs from the one sent
    OIDC_TOKEN_INVALID = "OIDC_TOKEN_INVALID"  # noqa: S105 - ID token signature/alg/iss/aud/exp/iat check failed
    OIDC_PROVIDER_ERROR = "OIDC_PROVIDER_ERROR"  # the provider answered with an OAuth error
    WEBHOOK_SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"  # signature missing or wrong
    WEBHOOK_REPLAYED = "WEBHOOK_REPLAYED"  # an event id seen before, or timestamp outside the window
    # --- eKYC (myna_rp.kyc) ---
    RECORD_STORE_ERROR = "RECORD_STORE_ERROR"  # a confirmation record could not be stored
    HOLDER_MISMATCH = "HOLDER_MISMATCH"  # certificates presented together belong to different holders


class MynaRPError(Exception):
    """Base of every error raised by :mod:`myna_rp`.

    Attributes:
        reason: the machine-readable :class:`Reason`.
        message: a human sentence, free of personal data.
    """

    default_reason: Reason = Reason.MALFORMED_INPUT

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason if reason is not None else self.default_reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"


class MalformedInputError(MynaRPError):
    """Input bytes could not be parsed (bad DER/PEM/CMS, wrong structure, size limits)."""

    default_reason = Reason.MALFORMED_INPUT


class ConfigurationError(MynaRPError):
    """The SDK was built with an unusable configuration (no trust anchors, bad pin, …)."""

    default_reason = Reason.CONFIGURATION_ERROR


class VerificationError(MynaRPError):
    """A well-formed input failed a security check. ``reason`` says which.

    Attributes:
        chain: the validated certification path (leaf first) when the failure came after path
            validation (revocation), else empty. Lets callers log which certificate failed.
    """

    default_reason = Reason.SIGNATURE_INVALID

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message, reason=reason)
        self.chain: tuple[object, ...] = ()


class CertificateRevokedError(VerificationError):
    """The certificate is revoked (RFC 5280 §5.3.1) or on hold (certificateHold).

    Attributes:
        status: the :class:`myna_rp.revocation.RevocationStatus` that decided it.
    """

    default_reason = Reason.CERTIFICATE_REVOKED

    def __init__(self, message: str, *, status: object, reason: Reason | None = None) -> None:
        super().__init__(message, reason=reason)
        self.status = status


class RevocationUnavailableError(VerificationError):
    """No valid revocation answer could be obtained under a hard-fail policy."""

    default_reason = Reason.REVOCATION_UNAVAILABLE

    def __init__(self, message: str, *, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts


# --- revocation (myna_rp.revocation) -------------------------------------------------------------------


class OCSPFailure(StrEnum):
    """Why an OCSP response was not accepted as an answer (RFC 6960). Stable string values."""

    MALFORMED = "MALFORMED"  # not a DER OCSPResponse / BasicOCSPResponse (RFC 6960 §4.2.1)
    RESPONDER_ERROR = "RESPONDER_ERROR"  # responseStatus other than successful (§4.2.1)
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"  # signature or CertID hash algorithm not accepted
    SIGNATURE = "SIGNATURE"  # the signature does not verify with the responder's key (§3.2 (2))
    UNAUTHORISED_SIGNER = "UNAUTHORISED_SIGNER"  # signer neither the CA nor a delegated responder (§4.2.2.2)
    CERTID_MISMATCH = "CERTID_MISMATCH"  # no single response for the certificate asked about (§3.2 (1))
    DUPLICATE_RESPONSE = "DUPLICATE_RESPONSE"  # the same CertID answered more than once
    CONTRADICTORY_RESPONSE = "CONTRADICTORY_RESPONSE"  # the same CertID answered with different statuses
    NOT_YET_VALID = "NOT_YET_VALID"  # thisUpdate after the validation time (+ skew) (§3.2 (4))
    STALE = "STALE"  # past nextUpdate, or older than the policy's max age without nextUpdate (§3.2 (5))
    NONCE_MISMATCH = "NONCE_MISMATCH"  # the echoed nonce differs from the request's (RFC 8954)
    NONCE_MISSING = "NONCE_MISSING"  # no nonce echoed while the policy requires one (RFC 8954)
    UNKNOWN_CRITICAL_EXTENSION = "UNKNOWN_CRITICAL_EXTENSION"  # a critical extension we cannot process


class CRLFailure(StrEnum):
    """Why a CRL was not accepted as an answer (RFC 5280 §5, §6.3). Stable string values."""

    MALFORMED = "MALFORMED"  # not a DER/PEM CertificateList (§5.1)
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    SIGNATURE = "SIGNATURE"  # does not verify with the issuer's (or the CRL signer's) key (§6.3.3 (g))
    ISSUER_MISMATCH = "ISSUER_MISMATCH"  # CRL issuer differs from the certificate issuer (§6.3.3 (b)(1))
    KEY_USAGE = "KEY_USAGE"  # the signer's keyUsage lacks cRLSign (§4.2.1.3, §6.3.3 (f))
    AKI_MISMATCH = "AKI_MISMATCH"  # authorityKeyIdentifier does not name the signer (§5.2.1)
    NOT_YET_VALID = "NOT_YET_VALID"  # thisUpdate after the validation time
    STALE = "STALE"  # past nextUpdate, or older than the policy's max age without nextUpdate (§5.1.2.5)
    UNKNOWN_CRITICAL_EXTENSION = "UNKNOWN_CRITICAL_EXTENSION"  # §5.2: MUST NOT use the CRL
    UNKNOWN_CRITICAL_ENTRY_EXTENSION = "UNKNOWN_CRITICAL_ENTRY_EXTENSION"  # §5.3: MUST NOT use the CRL
    UNSUPPORTED_CRL = "UNSUPPORTED_CRL"  # delta, indirect or reason-partitioned CRLs (§5.2.4, §5.2.5)
    # issuingDistributionPoint does not cover the certificate (§6.3.3 (b)(2))
    SCOPE_MISMATCH = "SCOPE_MISMATCH"
    ROLLBACK = "ROLLBACK"  # cRLNumber lower than one already seen for this issuer (§5.2.3)
    SIGNER_UNTRUSTED = "SIGNER_UNTRUSTED"  # a separate CRL signer whose path does not validate (§6.3.3 (f))
    SIGNER_REVOKED = "SIGNER_REVOKED"  # a separate CRL signer that is itself revoked or unverifiable


class FetchFailure(StrEnum):
    """Why fetching revocation data over HTTP gave no usable bytes. Stable string values."""

    NO_SOURCE = "NO_SOURCE"  # no responder / CRL URL configured or found for this issuer
    TIMEOUT = "TIMEOUT"
    TRANSPORT = "TRANSPORT"  # connection refused/reset, DNS, TLS, protocol errors
    HTTP_STATUS = "HTTP_STATUS"  # a non-200 answer
    CONTENT_TYPE = "CONTENT_TYPE"  # e.g. text/html from a captive portal
    TOO_LARGE = "TOO_LARGE"  # the body exceeded the configured size limit


class RevocationSourceError(VerificationError):
    """One revocation source gave no valid answer. The checker records it and moves on.

    Attributes:
        cause: the specific :class:`OCSPFailure`, :class:`CRLFailure` or :class:`FetchFailure`.
        source_label: where the answer came from (URL, ``evidence[0]``, ``static[1]``, ``cache``), or ``""``.
    """

    default_reason = Reason.REVOCATION_UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        cause: OCSPFailure | CRLFailure | FetchFailure,
        source_label: str = "",
        reason: Reason | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.cause: OCSPFailure | CRLFailure | FetchFailure = cause
        self.source_label = source_label


class OCSPResponseInvalidError(RevocationSourceError):
    """An OCSP response failed a check of RFC 6960 §3.2; ``cause`` is an :class:`OCSPFailure`."""

    def __init__(self, message: str, *, cause: OCSPFailure, source_label: str = "") -> None:
        super().__init__(message, cause=cause, source_label=source_label)
        self.cause: OCSPFailure = cause


class CRLInvalidError(RevocationSourceError):
    """A CRL failed a check of RFC 5280 §6.3.3; ``cause`` is a :class:`CRLFailure`."""

    def __init__(self, message: str, *, cause: CRLFailure, source_label: str = "") -> None:
        super().__init__(message, cause=cause, source_label=source_label)
        self.cause: CRLFailure = cause


class RevocationFetchError(RevocationSourceError):
    """HTTP transport for OCSP/CRL failed; ``cause`` is a :class:`FetchFailure`.

    Attributes:
        status_code: the HTTP status when ``cause`` is HTTP_STATUS, else ``None``.
    """

    def __init__(
        self, message: str, *, cause: FetchFailure, source_label: str = "", status_code: int | None = None
    ) -> None:
        super().__init__(message, cause=cause, source_label=source_label)
        self.cause: FetchFailure = cause
        self.status_code = status_code


# --- attribute proofs (myna_rp.mdoc, myna_rp.age) ------------------------------------------------------


class MdocVerificationError(VerificationError):
    """An mdoc (ISO/IEC 18013-5) DeviceResponse failed a check of §9.3.1; ``reason`` says which
    (ISSUER_SIGNATURE_INVALID, DOCTYPE_MISMATCH, DIGEST_MISMATCH, DIGEST_MISSING, MSO_NOT_VALID,
    DEVICE_AUTH_INVALID, ENVELOPE_INVALID, UNTRUSTED_ISSUER, UNSUPPORTED_ALGORITHM)."""

    default_reason = Reason.DEVICE_AUTH_INVALID


class AttributeProofUnsupported(MynaRPError):  # noqa: N818 - the name the issue and callers use
    """The evidence comes from a device that carries no attribute proof (Android today).

    Attributes:
        fallback: what the caller can do instead, as a stable string (``"jpki_signing_certificate"``:
            ask for a JPKI signature and call ``verify_age(..., allow_jpki_date_of_birth=True)``).
    """

    default_reason = Reason.ATTRIBUTE_PROOF_UNSUPPORTED

    def __init__(self, message: str, *, fallback: str = "jpki_signing_certificate") -> None:
        super().__init__(message)
        self.fallback = fallback


class AgeNotDeterminedError(VerificationError):
    """No verified element answers the age question (none disclosed, or only a partial date of birth)."""

    default_reason = Reason.AGE_NOT_DISCLOSED


class IndividualNumberRefusedError(MynaRPError):
    """``individual_number_unicode`` (個人番号) was requested or returned without the caller's opt-in."""

    default_reason = Reason.INDIVIDUAL_NUMBER_REFUSED


# --- single-use challenges (myna_rp.challenge) ----------------------------------------------------------


class ChallengeError(VerificationError):
    """A challenge could not be consumed: unknown, replayed, expired, or bound to another session/purpose.

    ``reason`` is one of ``CHALLENGE_UNKNOWN``, ``CHALLENGE_REPLAYED``, ``CHALLENGE_EXPIRED``,
    ``CHALLENGE_MISMATCH``. Fails closed: a store that cannot answer raises with ``CHALLENGE_UNKNOWN``.
    """

    default_reason = Reason.CHALLENGE_UNKNOWN


# --- platform operator API and OpenID Connect (myna_rp.platform) ----------------------------------------


class PlatformError(MynaRPError):
    """A platform operator or OpenID provider call failed.

    Attributes:
        status_code: the HTTP status when one was received, else ``None``.
        retry_after: seconds the server asked us to wait (429/503 ``Retry-After``), else ``None``.
        problem_type: the RFC 9457 ``type`` of a problem answer, else ``None``.
    """

    default_reason = Reason.PLATFORM_UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        problem_type: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.status_code = status_code
        self.retry_after = retry_after
        self.problem_type = problem_type


class OIDCError(VerificationError):
    """An OpenID Connect response failed a check (state, nonce, ID token, provider error)."""

    default_reason = Reason.OIDC_TOKEN_INVALID


class WebhookError(VerificationError):
    """A webhook delivery was refused: bad or missing signature, replay, or outside the time window."""

    default_reason = Reason.WEBHOOK_SIGNATURE_INVALID


# --- eKYC (myna_rp.kyc) -----------------------------------------------------------------------------------


class RecordStoreError(MynaRPError):
    """A confirmation record (確認記録) could not be written; nothing was stored."""

    default_reason = Reason.RECORD_STORE_ERROR
