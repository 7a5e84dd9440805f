"""eKYC with the signing certificate (署名用電子証明書による本人確認), end to end.

The method of 犯罪収益移転防止法施行規則 第6条第1項第1号ワ: the customer sends data signed with the JPKI
signing certificate together with the certificate; the business confirms that the signature verifies with
the certificate and that the certificate is not revoked, and at once makes a confirmation record (確認記録,
同法 第6条第1項, 同法施行規則 第20条).

:class:`KycService` orchestrates it:

1. :meth:`~KycService.start` issues a single-use challenge (purpose ``"kyc.sign"``) bound to the session;
2. :meth:`~KycService.complete` consumes it (exactly once; ``CHALLENGE_*`` errors propagate and a failed
   attempt burns the challenge), has the signature verified by the configured
   :class:`~myna_rp.kyc.verification.SignatureVerification` (direct, platform or OIDC), checks — whatever
   the mode, failing closed — that the certificate is a signing certificate, that its revocation status is
   GOOD and about this certificate, that the signed content is the challenge, that the verification was
   made while the challenge was live and that the **revocation evidence is fresh relative to the
   challenge** (see below), then appends a :class:`~myna_rp.kyc.record.ConfirmationRecord` to the
   repository and returns it.

Nothing is recorded when any step fails.

Fresh revocation evidence
-------------------------

An OCSP answer may be cached until its nextUpdate (RFC 6960 §4.2.2.1; about 15 minutes for J-LIS), so a
verifier that reuses one would confirm a certificate that was revoked after an *earlier* check (a customer
who moved, 異動等失効, minutes ago). The law asks to confirm the certificate is not revoked when the
customer sends it, so the service requires, in every mode:

* an OCSP answer **produced** (``producedAt``; ``thisUpdate`` when the source gave none) no earlier than
  ``challenge.issued_at - revocation_skew`` (default 1 minute): a query made for this challenge, not a
  cached one. Data lag inside the responder (J-LIS: at most 15 minutes) is the source's, as accepted by the
  law; an answer *reused by the RP* is not;
* a CRL answer whose ``thisUpdate`` is no older than ``crl_max_age`` (default 25 hours: J-LIS issues the
  CRL daily) before the challenge. A CRL cannot be fresher than its issue; use OCSP (``REQUIRE`` consults
  it first) to see revocations of the last hours.

Anything else is ``REVOCATION_UNAVAILABLE`` (fail closed). In direct mode build the verifier's
:class:`~myna_rp.revocation.RevocationChecker` with ``cache=FreshOCSPCache(clock)``
(:class:`~myna_rp.kyc.FreshOCSPCache`), which never reuses an OCSP answer; with the default in-memory cache
the second eKYC of one certificate within an answer's lifetime is refused with that reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from datetime import UTC, date, timedelta
from uuid import uuid4

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from ..challenge import Challenge, ChallengeStore
from ..clock import Clock, SystemClock, require_aware
from ..encoding import load_certificate, single_der
from ..errors import (
    CertificateRevokedError,
    ConfigurationError,
    MalformedInputError,
    Reason,
    RevocationUnavailableError,
    VerificationError,
)
from ..identity import IdentityVerification
from ..jpki.profile import CertificateKind
from ..revocation.status import CertStatus
from .record import (
    ConfirmationRecord,
    KycMethod,
    RelationshipEnd,
    RetentionProfile,
    VerifierIdentity,
    validate_customer_reference,
)
from .repository import ConfirmationRecordRepository
from .verification import (
    CMSSignature,
    PreVerified,
    RawSignature,
    SignatureVerification,
    SignedEvidence,
    require_fresh_revocation,
    wrong_kind,
)

KYC_PURPOSE = "kyc.sign"
_LOG = logging.getLogger("myna_rp.kyc")


class KycService:
    """The signing-certificate eKYC flow: challenge → signature → verification → confirmation record.

    Args:
        challenges: the single-use challenge store (memory, SQLite or Redis: see :mod:`myna_rp.challenge`).
        verifier: the verification step (:class:`~myna_rp.kyc.DirectVerification`,
            :class:`~myna_rp.kyc.PlatformVerification` or :class:`~myna_rp.kyc.OIDCVerification`).
        records: where confirmation records are appended.
        verifier_identity: who makes the confirmation (the RP and its operator or service account).
        profile: the retention profile (:attr:`RetentionProfile.BANK` or :attr:`RetentionProfile.TELECOM`).
        clock: the source of ``recorded_at`` and of the freshness check.
        keep_certificate: also keep the certificate's DER in the record (off by default: the summary —
            serial, issuer, fingerprint, validity — identifies it).
        challenge_ttl: the challenges' lifetime (the store's default when ``None``).
        max_clock_skew: tolerance between the verifier's clock and ours when checking that the
            verification was made while the challenge was live.
        revocation_skew: how much earlier than the challenge's ``issued_at`` an OCSP answer may have been
            produced (clock differences with the responder); small on purpose (default 1 minute).
        crl_max_age: how much earlier than the challenge's ``issued_at`` a CRL answer's ``thisUpdate`` may
            be (default 25 hours: J-LIS issues the CRL daily); ``None`` refuses CRL evidence altogether.

    Raises:
        ConfigurationError: a verifier that does not implement :class:`SignatureVerification`; a negative
            ``revocation_skew`` or a non-positive ``crl_max_age``.
    """

    def __init__(
        self,
        *,
        challenges: ChallengeStore,
        verifier: SignatureVerification,
        records: ConfirmationRecordRepository,
        verifier_identity: VerifierIdentity,
        profile: RetentionProfile,
        clock: Clock | None = None,
        keep_certificate: bool = False,
        challenge_ttl: timedelta | None = None,
        max_clock_skew: timedelta = timedelta(minutes=5),
        revocation_skew: timedelta = timedelta(minutes=1),
        crl_max_age: timedelta | None = timedelta(hours=25),
    ) -> None:
        if not isinstance(verifier, SignatureVerification):
            raise ConfigurationError("verifier must implement SignatureVerification (mode, verify)")
        if not isinstance(revocation_skew, timedelta) or revocation_skew < timedelta(0):
            raise ConfigurationError("revocation_skew must be a non-negative timedelta")
        if crl_max_age is not None and (
            not isinstance(crl_max_age, timedelta) or crl_max_age <= timedelta(0)
        ):
            raise ConfigurationError("crl_max_age must be a positive timedelta or None")
        self._challenges = challenges
        self._verifier = verifier
        self._records = records
        self._identity = verifier_identity
        self._profile = profile
        self._clock: Clock = clock or SystemClock()
        self._keep_certificate = keep_certificate
        self._ttl = challenge_ttl
        self._skew = max_clock_skew
        self._revocation_skew = revocation_skew
        self._crl_max_age = crl_max_age

    @property
    def profile(self) -> RetentionProfile:
        return self._profile

    @property
    def records(self) -> ConfirmationRecordRepository:
        return self._records

    def start(self, session_id: str) -> Challenge:
        """Issue the challenge the customer signs (purpose ``"kyc.sign"``), bound to ``session_id``.

        The client signs ``challenge.value`` (32 bytes) — raw, as CMS, or through an OIDC sign transaction
        over ``SHA-256(challenge.value)`` — and sends it back with ``challenge.id``
        (:meth:`Challenge.value_from_id` decodes it) or the value.

        Raises:
            ChallengeError: MALFORMED_INPUT for a bad session id; CHALLENGE_UNKNOWN if the store fails.
        """
        return self._challenges.issue(session_id=session_id, purpose=KYC_PURPOSE, ttl=self._ttl)

    def complete(
        self,
        session_id: str,
        challenge_value: bytes,
        *,
        customer_reference: str,
        signature: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
        cms: bytes | None = None,
        verification: IdentityVerification | None = None,
        holder_user_id: str | None = None,
    ) -> ConfirmationRecord:
        """Finish the eKYC: consume the challenge, verify, record.

        Give exactly one kind of evidence: ``signature`` + ``certificate`` (raw), ``cms`` (SignedData over
        the challenge, ``certificate`` optional), or ``verification`` (the OIDC sign transaction's result,
        ``certificate`` optional — needed only with ``keep_certificate``).

        Args:
            session_id: the session the challenge was issued to.
            challenge_value: the 32 challenge bytes the customer signed.
            customer_reference: the RP's customer or account id (never a My Number).
            holder_user_id: when given, the verifier's ``user_id`` for the signing certificate (platform
                mode: the platform's 利用者ID; OIDC: the pairwise ``sub``) must equal it — e.g. the user ID
                the platform returned for the user-authentication certificate presented in the same
                session, so both certificates are proven to be one holder's. Checked before anything is
                recorded; a result without a ``user_id`` (direct mode) fails it.

        Returns:
            The stored :class:`ConfirmationRecord`.

        Raises:
            MalformedInputError: evidence missing or ambiguous; a bad customer reference (nothing consumed).
            ChallengeError: CHALLENGE_UNKNOWN / REPLAYED / EXPIRED / MISMATCH.
            VerificationError: SIGNATURE_INVALID (also: the signed content is not the challenge),
                WRONG_CERTIFICATE_KIND, UNTRUSTED_ISSUER, CERTIFICATE_EXPIRED, …
            CertificateRevokedError: CERTIFICATE_REVOKED / CERTIFICATE_ON_HOLD.
            RevocationUnavailableError: no GOOD answer, one not made while the challenge was live, or
                revocation evidence older than the challenge (a reused OCSP answer; see the module
                docstring).
            PlatformError: from the platform adapter.
            RecordStoreError: the record could not be stored (nothing stored).
            VerificationError: HOLDER_MISMATCH — ``holder_user_id`` given and not the signer's.
        """
        validate_customer_reference(customer_reference)
        evidence = _evidence(signature, certificate, cms, verification)
        challenge = self._challenges.consume(challenge_value, session_id=session_id, purpose=KYC_PURPOSE)
        result = self._verifier.verify(challenge.value, evidence)
        self._check(result, challenge)
        if holder_user_id is not None and (
            result.user_id is None
            or not hmac.compare_digest(result.user_id.encode("utf-8"), holder_user_id.encode("utf-8"))
        ):
            raise VerificationError(
                "the signing certificate's holder is not the holder expected in this session (another "
                "person's certificate, e.g. a relayed challenge)",
                reason=Reason.HOLDER_MISMATCH,
            )
        der = self._certificate_der(evidence, result) if self._keep_certificate else None
        record = ConfirmationRecord(
            record_id=uuid4(),
            method=KycMethod.JPKI_SIGNING_CERTIFICATE,
            verified_at=result.verified_at.astimezone(UTC),
            recorded_at=require_aware(self._clock.now()).astimezone(UTC),
            verified_by=self._identity,
            mode=result.mode,
            customer_reference=customer_reference,
            challenge_id=challenge.id,
            attributes=result.attributes,
            certificate=result.certificate,
            revocation=result.revocation,
            retention=self._profile,
            certificate_der=der,
            user_id=result.user_id,
        )
        self._records.append(record)
        _LOG.info("confirmation record %s stored (mode %s)", record.record_id, record.mode.value)
        return record

    def end_relationship(self, customer_reference: str, ended_on: date) -> RelationshipEnd:
        """Append "the relationship ended on ``ended_on``": the records' retention deadline becomes
        ``profile.retain_until(ended_on)`` (7 years for banks, 3 for telecom).

        ``ended_on`` is a :class:`datetime.date` in Japan time (契約が終了した日), not before the day of
        the customer's first confirmation record (see :meth:`SQLRecordRepository.end_relationship
        <myna_rp.kyc.SQLRecordRepository.end_relationship>`).

        Raises:
            MalformedInputError: a bad reference, a ``datetime``, no record for this customer, or a day
                before its first record.
            RecordStoreError: the database failed (nothing stored).
        """
        return self._records.end_relationship(
            customer_reference, ended_on=ended_on, recorded_at=require_aware(self._clock.now())
        )

    # -- checks applied to every mode ---------------------------------------------------------------

    def _check(self, result: IdentityVerification, challenge: Challenge) -> None:
        if result.mode is not self._verifier.mode:
            raise VerificationError(
                f"the {self._verifier.mode.value} verifier returned a {result.mode.value} result",
                reason=Reason.MALFORMED_INPUT,
            )
        if result.certificate.kind is not CertificateKind.SIGNING:
            raise wrong_kind()
        status = result.revocation
        if status.serial_number != result.certificate.serial_number:
            raise RevocationUnavailableError("the revocation evidence is about another certificate")
        if status.status is CertStatus.REVOKED:
            raise CertificateRevokedError(
                "the signing certificate is revoked", status=status, reason=Reason.CERTIFICATE_REVOKED
            )
        if status.status is CertStatus.ON_HOLD:
            raise CertificateRevokedError(
                "the signing certificate is on hold", status=status, reason=Reason.CERTIFICATE_ON_HOLD
            )
        if status.status is not CertStatus.GOOD:
            raise RevocationUnavailableError(
                f"revocation status {status.status.value}: eKYC needs a GOOD answer (fail closed)"
            )
        if not hmac.compare_digest(result.signed_content, challenge.value):
            raise VerificationError(
                "the signature does not cover the issued challenge", reason=Reason.SIGNATURE_INVALID
            )
        now = require_aware(self._clock.now())
        if not challenge.issued_at - self._skew <= result.verified_at <= now + self._skew:
            raise RevocationUnavailableError(
                "the verification was not made while the challenge was live: its revocation answer "
                "does not cover this signature"
            )
        require_fresh_revocation(
            status,
            challenge.issued_at,
            revocation_skew=self._revocation_skew,
            crl_max_age=self._crl_max_age,
        )

    def _certificate_der(self, evidence: SignedEvidence, result: IdentityVerification) -> bytes:
        """The DER of the verified certificate, found in the evidence by its fingerprint (fail closed)."""
        candidates: list[bytes] = []
        if isinstance(evidence, CMSSignature):
            der = single_der(evidence.signed_data, labels=("CMS", "PKCS7"), what="CMS SignedData")
            with contextlib.suppress(ValueError):  # no certificates inside: the caller must pass one
                candidates += [c.public_bytes(Encoding.DER) for c in pkcs7.load_der_pkcs7_certificates(der)]
        if evidence.certificate is not None:
            candidates.append(load_certificate(evidence.certificate).public_bytes(Encoding.DER))
        for candidate in candidates:
            if hashlib.sha256(candidate).hexdigest() == result.certificate.fingerprint_sha256:
                return candidate
        raise MalformedInputError(
            "keep_certificate is on but the verified certificate was not supplied with the evidence"
        )


def _evidence(
    signature: bytes | None,
    certificate: bytes | x509.Certificate | None,
    cms: bytes | None,
    verification: IdentityVerification | None,
) -> SignedEvidence:
    given = sum(x is not None for x in (signature, cms, verification))
    if given != 1:
        raise MalformedInputError("give exactly one of signature (+ certificate), cms or verification")
    if signature is not None:
        if certificate is None:
            raise MalformedInputError("a raw signature needs its certificate")
        return RawSignature(signature, certificate)
    if cms is not None:
        return CMSSignature(cms, certificate)
    assert verification is not None
    return PreVerified(verification, certificate)
