"""PlatformService: what the mock platform operator (プラットフォーム事業者) offers relying parties.

* **Access tokens** (OAuth 2.0 client credentials, RFC 6749 §4.4, with private_key_jwt client
  authentication, RFC 7523 §2.2): opaque, 5 minutes, stored as SHA-256 only.
* **Signature verification** (署名検証) and **login verification** (利用者証明) by the mock's own
  :class:`~mock_platform.platform_api.verification.PlatformVerifier`.
* **Login challenges**: the *platform* issues the nonce (32 random bytes, 5 minutes, bound to the RP);
  a verification consumes it whatever the outcome (fail closed), so a replayed nonce is refused.
* **User ID** (利用者ID): per RP, ``RelyingPartyRegistry.subject_for(rp, resident.public_id)`` — a keyed
  hash of the mock's resident identity, so the signing and user-authentication certificates of one person
  give the same value across card renewals and device changes; never the resident id or a My Number.
  A *link* (RP, resident) is recorded when the RP verifies one of the person's certificates or the person
  consents to the RP; status queries, attribute queries and webhooks are limited to linked persons.
* **Consent** (同意) to give an RP the latest basic four attributes: recorded per (RP, resident), given or
  withdrawn by the holder by signing a platform challenge with the user-authentication key
  (:func:`consent_message`); :meth:`PlatformService.latest_attributes` needs it (else ``CONSENT_REQUIRED``).

Every state change is one transaction; uniqueness (tokens, challenges, links, consents) is in the schema.
Nothing here logs personal attributes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..ca.service import CAService
from ..clock import Clock
from ..db import Base, Database, OwnedCertificateRecord, ResidentRecord, UTCDateTime
from ..rp_auth import RelyingParty, RelyingPartyRegistry
from .verification import (
    AttributeFacts,
    CertificateFacts,
    PlatformVerifier,
    RevocationFacts,
    SignatureFacts,
    load_certificate,
)

#: Domain separation of what a holder signs to give or withdraw consent.
CONSENT_CONTEXT = b"myna-mock/platform-consent/v1\x00"


def consent_message(action: str, client_id: str, nonce: bytes) -> bytes:
    """The bytes a holder signs with the user-authentication key to ``grant``/``withdraw`` consent."""
    return CONSENT_CONTEXT + action.encode("ascii") + b"\x00" + client_id.encode("utf-8") + b"\x00" + nonce


# --------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------


class PlatformAccessTokenRecord(Base):
    """An issued bearer token (RFC 6750), SHA-256 only."""

    __tablename__ = "platform_access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformChallengeRecord(Base):
    """A platform-issued nonce: a login challenge or a consent challenge, single use."""

    __tablename__ = "platform_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformUserLinkRecord(Base):
    """An RP knows a person under ``user_id`` (one row per (RP, resident); the id is derived, not stored
    for lookup only: it is what the RP sends back)."""

    __tablename__ = "platform_user_links"
    __table_args__ = (
        UniqueConstraint("client_id", "resident_id", name="uq_platform_link_resident"),
        UniqueConstraint("client_id", "user_id", name="uq_platform_link_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformConsentRecord(Base):
    """The holder's consent to give one RP the latest basic four attributes (granted or withdrawn)."""

    __tablename__ = "platform_consents"
    __table_args__ = (UniqueConstraint("client_id", "resident_id", name="uq_platform_consent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------------------------------------
# Values and errors
# --------------------------------------------------------------------------------------------------------


class ChallengePurpose(StrEnum):
    AUTHENTICATION = "authentication"
    CONSENT = "consent"


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"


class PlatformServiceError(Exception):
    """A refused request: ``status`` (HTTP) and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    challenge_id: str
    nonce: bytes
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthenticationFacts:
    certificate: CertificateFacts
    revocation: RevocationFacts
    verified_at: datetime
    user_id: str | None


@dataclass(frozen=True, slots=True)
class LatestAttributes:
    user_id: str
    attributes: AttributeFacts
    as_of: datetime


@dataclass(frozen=True, slots=True)
class ConsentState:
    client_id: str
    relying_party_name: str
    status: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    """Lifetimes of tokens and challenges."""

    access_token_lifetime: timedelta = timedelta(minutes=5)
    challenge_lifetime: timedelta = timedelta(minutes=5)


def _sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class PlatformService:
    """The platform operator API's logic over the mock's database, CAs and RP registry.

    Args:
        database: the mock's database (tables created if missing).
        clock: "now".
        ca: the CA service (certificates, revocation, OCSP).
        registry: the relying parties.
        config: lifetimes; default :class:`PlatformConfig`.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        ca: CAService,
        registry: RelyingPartyRegistry,
        config: PlatformConfig | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._ca = ca
        self._registry = registry
        self._config = config if config is not None else PlatformConfig()
        self._verifier = PlatformVerifier(ca, clock)
        database.create_all()

    @property
    def database(self) -> Database:
        return self._db

    @property
    def ca(self) -> CAService:
        return self._ca

    @property
    def registry(self) -> RelyingPartyRegistry:
        return self._registry

    @property
    def verifier(self) -> PlatformVerifier:
        return self._verifier

    # -- access tokens -------------------------------------------------------------------------------------

    def issue_token(self, rp: RelyingParty) -> AccessToken:
        """A new opaque bearer token for ``rp`` (expired tokens are purged on the way)."""
        now = self._clock.now()
        value = secrets.token_urlsafe(32)
        lifetime = self._config.access_token_lifetime
        with self._db.transaction() as session:
            session.execute(
                delete(PlatformAccessTokenRecord).where(PlatformAccessTokenRecord.expires_at < now)
            )
            session.add(
                PlatformAccessTokenRecord(
                    token_sha256=_sha256_hex(value),
                    client_id=rp.client_id,
                    expires_at=now + lifetime,
                    created_at=now,
                )
            )
        return AccessToken(value, int(lifetime.total_seconds()))

    def bearer(self, token: str) -> RelyingParty | None:
        """The RP of an unexpired bearer token, else ``None``."""
        now = self._clock.now()
        with self._db.transaction() as session:
            record = session.scalar(
                select(PlatformAccessTokenRecord).where(
                    PlatformAccessTokenRecord.token_sha256 == _sha256_hex(token)
                )
            )
            if record is None or record.expires_at <= now:
                return None
            client_id = record.client_id
        return self._registry.get(client_id)

    # -- signatures ----------------------------------------------------------------------------------------

    def verify_signature(
        self, rp: RelyingParty, *, data: bytes, signature: bytes, certificate_der: bytes
    ) -> tuple[SignatureFacts, str | None]:
        """Verify a raw signature; link the holder to ``rp``. Raises :class:`PlatformVerificationError`."""
        facts = self._verifier.verify_signature(
            data=data, signature=signature, certificate_der=certificate_der
        )
        return facts, self._link(rp, facts.certificate.serial_hex)

    def verify_cms(
        self, rp: RelyingParty, *, signed_data: bytes, content: bytes | None, certificate_der: bytes | None
    ) -> tuple[SignatureFacts, str | None]:
        """Verify a CMS SignedData; link the holder to ``rp``."""
        facts = self._verifier.verify_cms(
            signed_data=signed_data, content=content, certificate_der=certificate_der
        )
        return facts, self._link(rp, facts.certificate.serial_hex)

    # -- challenges and logins -----------------------------------------------------------------------------

    def new_challenge(self, client_id: str, purpose: ChallengePurpose) -> IssuedChallenge:
        """A fresh single-use nonce for ``client_id`` (login) or for consent to ``client_id``."""
        now = self._clock.now()
        challenge = IssuedChallenge(
            "chl_" + secrets.token_urlsafe(18), secrets.token_bytes(32), now + self._config.challenge_lifetime
        )
        with self._db.transaction() as session:
            session.add(
                PlatformChallengeRecord(
                    public_id=challenge.challenge_id,
                    client_id=client_id,
                    purpose=purpose.value,
                    nonce=challenge.nonce,
                    expires_at=challenge.expires_at,
                    created_at=now,
                )
            )
        return challenge

    def _consume(self, challenge_id: str, client_id: str, purpose: ChallengePurpose) -> bytes:
        """Mark the challenge used (atomically, whatever follows) and return its nonce."""
        now = self._clock.now()
        with self._db.transaction() as session:
            record = session.scalar(
                select(PlatformChallengeRecord).where(PlatformChallengeRecord.public_id == challenge_id)
            )
            if record is None or record.purpose != purpose.value:
                raise PlatformServiceError(422, "CHALLENGE_UNKNOWN", "no such challenge")
            claimed = session.execute(
                update(PlatformChallengeRecord)
                .where(PlatformChallengeRecord.id == record.id, PlatformChallengeRecord.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            nonce, owner, expires_at = record.nonce, record.client_id, record.expires_at
        if claimed != 1:
            raise PlatformServiceError(409, "CHALLENGE_REPLAYED", "the challenge was already used")
        if owner != client_id:
            raise PlatformServiceError(
                422, "CHALLENGE_MISMATCH", "the challenge was issued for another client"
            )
        if now > expires_at:
            raise PlatformServiceError(422, "CHALLENGE_EXPIRED", "the challenge has expired")
        return nonce

    def verify_authentication(
        self, rp: RelyingParty, *, challenge_id: str, signature: bytes, certificate_der: bytes
    ) -> AuthenticationFacts:
        """Verify a login (challenge consumed first). Raises the service or verification error."""
        load_certificate(certificate_der)  # malformed input does not burn the challenge
        nonce = self._consume(challenge_id, rp.client_id, ChallengePurpose.AUTHENTICATION)
        facts, revocation, now = self._verifier.verify_authentication(
            challenge=nonce, signature=signature, certificate_der=certificate_der
        )
        return AuthenticationFacts(facts, revocation, now, self._link(rp, facts.serial_hex))

    # -- status and attributes -----------------------------------------------------------------------------

    def certificate_status(
        self, rp: RelyingParty, serial_number: int
    ) -> tuple[CertificateFacts, RevocationFacts]:
        """Status now (現況確認) of a certificate whose holder is linked to ``rp``."""
        serial_hex = format(serial_number, "x")
        with self._db.transaction() as session:
            linked = session.scalar(
                select(PlatformUserLinkRecord.id)
                .join(
                    OwnedCertificateRecord,
                    OwnedCertificateRecord.resident_id == PlatformUserLinkRecord.resident_id,
                )
                .where(
                    OwnedCertificateRecord.serial_hex == serial_hex,
                    PlatformUserLinkRecord.client_id == rp.client_id,
                )
                .limit(1)
            )
        if linked is None:
            raise PlatformServiceError(
                404, "UNKNOWN_CERTIFICATE", "no certificate of a person linked to this client"
            )
        certificate = self._ca.certificate(serial_number)
        state = self._ca.certificate_state(serial_number)
        facts = CertificateFacts(
            certificate=certificate,
            serial_number=serial_number,
            issuer=certificate.issuer.rfc4514_string(),
            sha256_fingerprint=hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            kind=state.kind,
            form_factor=state.form_factor,
        )
        return facts, self._verifier.revocation(certificate)

    def latest_attributes(self, rp: RelyingParty, user_id: str) -> LatestAttributes:
        """The person's current basic four attributes (最新の基本4情報); needs a granted consent."""
        with self._db.transaction() as session:
            link = self._link_by_user(session, rp, user_id)
            consent = session.scalar(
                select(PlatformConsentRecord).where(
                    PlatformConsentRecord.client_id == rp.client_id,
                    PlatformConsentRecord.resident_id == link.resident_id,
                )
            )
            if consent is None or consent.status != "granted":
                raise PlatformServiceError(
                    403, "CONSENT_REQUIRED", "the holder has not consented to this client"
                )
            resident = session.get_one(ResidentRecord, link.resident_id)
            attributes = AttributeFacts(
                name=resident.name,
                name_substitute_positions=resident.name_substitute_positions,
                gender=resident.gender,
                date_of_birth=resident.date_of_birth,
                address=resident.address,
                address_substitute_positions=resident.address_substitute_positions,
            )
            as_of = resident.updated_at
        return LatestAttributes(user_id, attributes, as_of)

    def user_id_for(self, rp: RelyingParty, resident_public_id: str) -> str:
        """The RP's user ID of a resident (tests and the consent answer)."""
        return self._registry.subject_for(rp, resident_public_id)

    # -- consent (holder side) -----------------------------------------------------------------------------

    def set_consent(
        self,
        *,
        challenge_id: str,
        client_id: str,
        action: ConsentAction,
        signature: bytes,
        certificate_der: bytes,
    ) -> ConsentState:
        """The holder gives or withdraws consent for ``client_id``: a user-authentication signature over
        :func:`consent_message` of a consent challenge issued for that client."""
        rp = self._registry.get(client_id)
        if rp is None:
            raise PlatformServiceError(404, "UNKNOWN_CLIENT", "no relying party with that client_id")
        load_certificate(certificate_der)
        nonce = self._consume(challenge_id, client_id, ChallengePurpose.CONSENT)
        facts, _, now = self._verifier.verify_authentication(
            challenge=consent_message(action.value, client_id, nonce),
            signature=signature,
            certificate_der=certificate_der,
        )
        resident_pk = self._owner(facts.serial_hex)
        if resident_pk is None:
            raise PlatformServiceError(422, "NO_HOLDER", "the certificate belongs to no registered person")
        status = "granted" if action is ConsentAction.GRANT else "withdrawn"
        for _ in range(2):  # a concurrent first insert: retry once as an update
            try:
                with self._db.transaction() as session:
                    record = session.scalar(
                        select(PlatformConsentRecord).where(
                            PlatformConsentRecord.client_id == client_id,
                            PlatformConsentRecord.resident_id == resident_pk,
                        )
                    )
                    if record is None:
                        session.add(
                            PlatformConsentRecord(
                                client_id=client_id, resident_id=resident_pk, status=status, updated_at=now
                            )
                        )
                    else:
                        record.status = status
                        record.updated_at = now
                break
            except IntegrityError:
                continue
        if action is ConsentAction.GRANT:
            self._link(rp, facts.serial_hex)
        return ConsentState(client_id, rp.name, status, now)

    # -- links ---------------------------------------------------------------------------------------------

    def _owner(self, serial_hex: str) -> int | None:
        with self._db.transaction() as session:
            return session.scalar(
                select(OwnedCertificateRecord.resident_id).where(
                    OwnedCertificateRecord.serial_hex == serial_hex
                )
            )

    def _link(self, rp: RelyingParty, serial_hex: str) -> str | None:
        """Record (idempotently) that ``rp`` knows the owner of ``serial_hex``; its user ID, or ``None``
        for a certificate without a registered holder (issued through the admin API)."""
        now = self._clock.now()
        with self._db.transaction() as session:
            resident = session.scalar(
                select(ResidentRecord)
                .join(OwnedCertificateRecord, OwnedCertificateRecord.resident_id == ResidentRecord.id)
                .where(OwnedCertificateRecord.serial_hex == serial_hex)
            )
            if resident is None:
                return None
            owner, public_id = resident.id, resident.public_id
        user_id = self._registry.subject_for(rp, public_id)
        try:
            with self._db.transaction() as session:
                exists = session.scalar(
                    select(PlatformUserLinkRecord.id).where(
                        PlatformUserLinkRecord.client_id == rp.client_id,
                        PlatformUserLinkRecord.resident_id == owner,
                    )
                )
                if exists is None:
                    session.add(
                        PlatformUserLinkRecord(
                            client_id=rp.client_id, resident_id=owner, user_id=user_id, created_at=now
                        )
                    )
        except IntegrityError:
            pass  # linked concurrently: the same row
        return user_id

    def _link_by_user(self, session: Session, rp: RelyingParty, user_id: str) -> PlatformUserLinkRecord:
        link = session.scalar(
            select(PlatformUserLinkRecord).where(
                PlatformUserLinkRecord.client_id == rp.client_id, PlatformUserLinkRecord.user_id == user_id
            )
        )
        if link is None:
            raise PlatformServiceError(
                404, "UNKNOWN_USER", "no person with that user ID is linked to this client"
            )
        return link
