"""eKYC with the JPKI signing certificate (署名用電子証明書による本人確認) and its confirmation records
(確認記録).

* :class:`KycService` — challenge → signature → verification under a hard-fail revocation policy →
  :class:`ConfirmationRecord` (犯罪収益移転防止法 第6条, 同法施行規則 第6条第1項第1号ワ, 第20条).
* The verification step: :class:`SignatureVerification` with the adapters :class:`DirectVerification`
  (:class:`~myna_rp.jpki.JPKIVerifier`, its checker built with :class:`FreshOCSPCache`),
  :class:`PlatformVerification` (a platform operator client) and
  :class:`OIDCVerification` (the Digital Authentication App's sign transaction).
* Storage: :class:`ConfirmationRecordRepository` and :class:`SQLRecordRepository` (SQLite default,
  PostgreSQL by URL), append-only in code and in the database, exportable as JSON lines.
* Retention: :class:`RetentionProfile` (``BANK`` 7 years, ``TELECOM`` 3 years after the relationship
  ends), relationship ends as appended :class:`RelationshipEnd` events.

Guide: docs/kyc.md.
"""

from .record import (
    RECORD_FORMAT,
    ConfirmationRecord,
    KycMethod,
    RecordRetention,
    RelationshipEnd,
    RetentionProfile,
    VerifierIdentity,
    contains_individual_number,
    looks_like_individual_number,
    record_to_json_line,
    retention_for,
)
from .repository import ConfirmationRecordRepository, SQLRecordRepository, load_jsonl
from .service import KYC_PURPOSE, KycService
from .verification import (
    CMSSignature,
    DirectVerification,
    FreshOCSPCache,
    OIDCVerification,
    PlatformCMSVerifier,
    PlatformSignatureVerifier,
    PlatformVerification,
    PreVerified,
    RawSignature,
    SignatureVerification,
    SignedEvidence,
    require_ekyc_policy,
    require_fresh_revocation,
)

__all__ = [
    "KYC_PURPOSE",
    "RECORD_FORMAT",
    "CMSSignature",
    "ConfirmationRecord",
    "ConfirmationRecordRepository",
    "DirectVerification",
    "FreshOCSPCache",
    "KycMethod",
    "KycService",
    "OIDCVerification",
    "PlatformCMSVerifier",
    "PlatformSignatureVerifier",
    "PlatformVerification",
    "PreVerified",
    "RawSignature",
    "RecordRetention",
    "RelationshipEnd",
    "RetentionProfile",
    "SQLRecordRepository",
    "SignatureVerification",
    "SignedEvidence",
    "VerifierIdentity",
    "contains_individual_number",
    "load_jsonl",
    "looks_like_individual_number",
    "record_to_json_line",
    "require_ekyc_policy",
    "require_fresh_revocation",
    "retention_for",
]
