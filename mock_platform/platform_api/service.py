"""PlatformService: what the mock platform operator (プラットフォーム事業者) offers relying parties.

* **Access tokens** (OAuth 2.0 client credentials, RFC 6749 §4.4, with private_key_jwt client
  authentication, RFC 7523 §2.2): opaque, 5 minutes, stored as SHA-256 only.
* **Signature verification** (署名検証) and **login verification** (利用者証明) by the mock's own
  :class:`~mock_platform.platform_api.verification.PlatformVerifier`.
* **Login challenges**: the *platform* issues the nonce (32 random bytes, 5 minutes, bound to the RP);
  a verification by its owner consumes it whatever the outcome (fail closed), so a replayed nonce is
  refused; another RP presenting it gets ``CHALLENGE_MISMATCH`` without burning it. Challenges expired for
  longer than :attr:`PlatformConfig.purge_after` are purged when new ones are issued.
* **User ID** (利用者ID): per RP, ``RelyingPartyRegistry.subject_for(rp, resident.public_id)`` — a keyed
  hash of the mock's resident identity, so the signing and user-authentication certificates of one person
  give the same value across card renewals and device changes; never the resident id or a My Number.
  A *link* (RP, resident) is recorded when the RP verifies one of the person's certificates or the person
  consents to the RP; status queries, attribute queries and webhooks are limited to linked persons.
* **Consent** (同意) to give an RP the latest basic four attributes: recorded per (RP, resident);
  :meth:`PlatformService.latest_attributes` needs it (else ``CONSENT_REQUIRED``). It is given or withdrawn
  only through the holder's own channel to the platform (the platform's app,
  :mod:`mock_platform.device.platform_holder`), never by a signature an RP could have asked for:

  1. the app names the holder's token (card id, or handset + registration id — identifiers RPs never see)
     and asks for a consent challenge for (RP, action) (:meth:`PlatformService.new_consent_challenge`;
     at most :attr:`PlatformConfig.max_open_consent_challenges` open per token);
  2. the token's user-authentication key signs :func:`consent_message`, a structure that starts with
     :data:`CONSENT_CONTEXT` — domain separation: the device simulator's login signing refuses such data,
     the platform's login verification and the SDK's (``JPKIVerifier.verify_authentication``,
     ``PlatformClient``) refuse such challenges, and platform nonces never have the prefix;
  3. the app posts the signature *and the user-authentication PIN*, which the platform checks against its
     PIN records with the lockout rules (:meth:`PlatformService.set_consent`). A login signature, even
     over consent-shaped bytes, never suffices: the PIN entry happens in the platform's app, not at the RP.

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
from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..ca.service import CAService, CertificateStatus
from ..ca.token import CONSENT_STRUCTURE_PREFIX
from ..clock import Clock
from ..db import (
    Base,
    CardRecord,
    Database,
    DeviceRecord,
    OwnedCertificateRecord,
    ResidentRecord,
    SmartphoneRegistrationRecord,
    UTCDateTime,
)
from ..issuance.pins import PinKind
from ..issuance.service import LifecycleService
from ..issuance.states import CardState, RegistrationState
from ..rp_auth import RelyingParty, RelyingPartyRegistry
from .verification import (
    AttributeFacts,
    CertificateFacts,
    PlatformVerifier,
    RevocationFacts,
    SignatureFacts,
    load_certificate,
)

#: Domain separation of what a holder signs to give or withdraw consent. Its first part is
#: :data:`~mock_platform.ca.token.CONSENT_STRUCTURE_PREFIX`, which login signing and login verification
#: refuse (the SDK keeps its own copy, ``myna_rp.jpki.verifier.CONSENT_STRUCTURE_PREFIX``).
CONSENT_CONTEXT = CONSENT_STRUCTURE_PREFIX + b"v2\x00"


def consent_message(action: str, client_id: str, nonce: bytes) -> bytes:
    """The bytes a holder signs with the user-authentication key to ``grant``/``withdraw`` consent:
    :data:`CONSENT_CONTEXT` ‖ action ‖ 0x00 ‖ client_id (UTF-8) ‖ 0x00 ‖ the consent challenge's nonce."""
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
    """A platform-issued login nonce, single use (``purpose`` ``authentication``)."""

    __tablename__ = "platform_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformConsentChallengeRecord(Base):
    """A consent challenge, bound to the RP, the action and the holder's token (its user-authentication
    certificate), single use. Issued to the holder's own app only."""

    __tablename__ = "platform_consent_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True, default=None)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("smartphone_registrations.id"), index=True, default=None
    )
    certificate_serial: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
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
class HolderToken:
    """The holder's token as the platform's app names it (identifiers RPs never see).

    Attributes:
        method: ``card`` (the physical card) or ``smartphone`` (the phone's own certificates).
        card_id: the card's id (``card``).
        device_id, registration_id: the handset and its registration (``smartphone``).
    """

    method: str
    card_id: str | None = None
    device_id: str | None = None
    registration_id: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedConsentChallenge:
    challenge_id: str
    nonce: bytes
    expires_at: datetime
    client_id: str
    relying_party_name: str
    action: ConsentAction


@dataclass(frozen=True, slots=True)
class _ResolvedToken:
    resident_id: int
    card_pk: int | None
    card_public_id: str | None
    registration_pk: int | None
    user_authentication_serial: str


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    """Lifetimes, limits and the public token endpoint.

    Attributes:
        token_endpoint: the token endpoint URL as clients address it; client assertions must name it in
            ``aud`` (RFC 7523 §3 item 3). Configured (``Settings.public_base_url``), never taken from the
            request's ``Host`` header.
        access_token_lifetime: bearer token lifetime.
        challenge_lifetime: login and consent challenge lifetime.
        max_open_consent_challenges: open (unused, unexpired) consent challenges per holder token.
        purge_after: challenges expired for longer than this are deleted when new ones are issued.
    """

    token_endpoint: str = "http://127.0.0.1:8700/platform/v1/token"  # noqa: S105 - a URL
    access_token_lifetime: timedelta = timedelta(minutes=5)
    challenge_lifetime: timedelta = timedelta(minutes=5)
    max_open_consent_challenges: int = 3
    purge_after: timedelta = timedelta(hours=1)


def _sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class PlatformService:
    """The platform operator API's logic over the mock's database, CAs and RP registry.

    Args:
        database: the mock's database (tables created if missing).
        clock: "now".
        ca: the CA service (certificates, revocation, OCSP).
        registry: the relying parties.
        config: lifetimes, limits, the token endpoint; default :class:`PlatformConfig`.
        lifecycle: the PIN records and their lockout rules (holder consent); without it consent cannot
            be given (``CONSENT_UNAVAILABLE``).
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        ca: CAService,
        registry: RelyingPartyRegistry,
        config: PlatformConfig | None = None,
        *,
        lifecycle: LifecycleService | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._ca = ca
        self._registry = registry
        self._config = config if config is not None else PlatformConfig()
        self._lifecycle = lifecycle
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

    @property
    def config(self) -> PlatformConfig:
        return self._config

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

    def new_challenge(
        self, client_id: str, purpose: ChallengePurpose = ChallengePurpose.AUTHENTICATION
    ) -> IssuedChallenge:
        """A fresh single-use login nonce for ``client_id`` (challenges expired for longer than
        :attr:`PlatformConfig.purge_after` are purged on the way).

        Raises:
            ValueError: ``purpose`` is ``CONSENT`` (consent challenges: :meth:`new_consent_challenge`).
        """
        if purpose is not ChallengePurpose.AUTHENTICATION:
            raise ValueError("consent challenges are issued by new_consent_challenge (holder channel)")
        now = self._clock.now()
        challenge = IssuedChallenge(
            "chl_" + secrets.token_urlsafe(18), secrets.token_bytes(32), now + self._config.challenge_lifetime
        )
        with self._db.transaction() as session:
            session.execute(
                delete(PlatformChallengeRecord).where(
                    PlatformChallengeRecord.expires_at < now - self._config.purge_after
                )
            )
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
        """Check the challenge is ``client_id``'s, then mark it used (atomically, whatever follows) and
        return its nonce. Another client's attempt does not burn it."""
        now = self._clock.now()
        with self._db.transaction() as session:
            record = session.scalar(
                select(PlatformChallengeRecord).where(PlatformChallengeRecord.public_id == challenge_id)
            )
            if record is None or record.purpose != purpose.value:
                raise PlatformServiceError(422, "CHALLENGE_UNKNOWN", "no such challenge")
            if not secrets.compare_digest(record.client_id.encode(), client_id.encode()):
                # Checked before the claim: another RP that learnt the id cannot burn the owner's login.
                raise PlatformServiceError(
                    422, "CHALLENGE_MISMATCH", "the challenge was issued for another client"
                )
            claimed = session.execute(
                update(PlatformChallengeRecord)
                .where(PlatformChallengeRecord.id == record.id, PlatformChallengeRecord.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            nonce, expires_at = record.nonce, record.expires_at
        if claimed != 1:
            raise PlatformServiceError(409, "CHALLENGE_REPLAYED", "the challenge was already used")
        if now > expires_at:
            raise PlatformServiceError(422, "CHALLENGE_EXPIRED", "the challenge has expired")
        if nonce.startswith(CONSENT_STRUCTURE_PREFIX):
            # Domain separation (never true of a platform nonce): a login never verifies a consent structure.
            raise PlatformServiceError(
                422, "CHALLENGE_MISMATCH", "a consent structure is not a login challenge"
            )
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

    def new_consent_challenge(
        self, *, client_id: str, action: ConsentAction, token: HolderToken
    ) -> IssuedConsentChallenge:
        """A consent challenge for the holder's own app: bound to ``client_id``, ``action`` and the token's
        current user-authentication certificate; single use, :attr:`PlatformConfig.challenge_lifetime`.

        Expired challenges (beyond :attr:`PlatformConfig.purge_after`) are purged on the way; at most
        :attr:`PlatformConfig.max_open_consent_challenges` may be open per token.

        Raises:
            PlatformServiceError: ``UNKNOWN_CLIENT`` (404), ``UNKNOWN_TOKEN`` (404), ``WRONG_DEVICE``
                (403), ``TOKEN_NOT_USABLE`` (409), ``TOO_MANY_CHALLENGES`` (429), ``CONSENT_UNAVAILABLE``
                (503: no PIN records wired in).
        """
        rp = self._registry.get(client_id)
        if rp is None:
            raise PlatformServiceError(404, "UNKNOWN_CLIENT", "no relying party with that client_id")
        if self._lifecycle is None:
            raise PlatformServiceError(503, "CONSENT_UNAVAILABLE", "holder consent is not configured")
        resolved = self._resolve_token(token)
        now = self._clock.now()
        challenge_id = "cch_" + secrets.token_urlsafe(18)
        nonce = secrets.token_bytes(32)
        expires_at = now + self._config.challenge_lifetime
        owner = (
            PlatformConsentChallengeRecord.card_id == resolved.card_pk
            if resolved.card_pk is not None
            else PlatformConsentChallengeRecord.registration_id == resolved.registration_pk
        )
        with self._db.transaction() as session:
            session.execute(
                delete(PlatformConsentChallengeRecord).where(
                    PlatformConsentChallengeRecord.expires_at < now - self._config.purge_after
                )
            )
            open_count = session.scalar(
                select(func.count(PlatformConsentChallengeRecord.id)).where(
                    owner,
                    PlatformConsentChallengeRecord.used_at.is_(None),
                    PlatformConsentChallengeRecord.expires_at > now,
                )
            )
            if (open_count or 0) >= self._config.max_open_consent_challenges:
                raise PlatformServiceError(
                    429, "TOO_MANY_CHALLENGES", "too many open consent challenges for this token"
                )
            session.add(
                PlatformConsentChallengeRecord(
                    public_id=challenge_id,
                    client_id=client_id,
                    action=action.value,
                    resident_id=resolved.resident_id,
                    card_id=resolved.card_pk,
                    registration_id=resolved.registration_pk,
                    certificate_serial=resolved.user_authentication_serial,
                    nonce=nonce,
                    expires_at=expires_at,
                    created_at=now,
                )
            )
        return IssuedConsentChallenge(challenge_id, nonce, expires_at, client_id, rp.name, action)

    def set_consent(self, *, challenge_id: str, signature: bytes, pin: str) -> ConsentState:
        """The holder gives or withdraws consent: the user-authentication signature over
        :func:`consent_message` of the challenge, by the token it was issued for, and that token's
        user-authentication PIN (checked with the lockout rules after the signature, as on a card).

        The challenge is consumed once the signature verified (a wrong PIN then needs a new challenge).

        Raises:
            PlatformServiceError: ``CHALLENGE_UNKNOWN`` (422), ``CHALLENGE_EXPIRED`` (422),
                ``CHALLENGE_REPLAYED`` (409), ``UNKNOWN_CLIENT`` (404), ``CONSENT_UNAVAILABLE`` (503).
            PlatformVerificationError: ``SIGNATURE_INVALID``, ``CERTIFICATE_REVOKED`` … (422).
            LifecycleError: ``PIN_INCORRECT`` (403, ``remaining_tries``), ``PIN_LOCKED`` (423).
        """
        if self._lifecycle is None:
            raise PlatformServiceError(503, "CONSENT_UNAVAILABLE", "holder consent is not configured")
        now = self._clock.now()
        with self._db.transaction() as session:
            record = session.scalar(
                select(PlatformConsentChallengeRecord).where(
                    PlatformConsentChallengeRecord.public_id == challenge_id
                )
            )
            if record is None:
                raise PlatformServiceError(422, "CHALLENGE_UNKNOWN", "no such consent challenge")
            pk, client_id, action = record.id, record.client_id, ConsentAction(record.action)
            serial, nonce, expires_at = record.certificate_serial, record.nonce, record.expires_at
            card_pk, registration_pk, resident_pk = record.card_id, record.registration_id, record.resident_id
            used = record.used_at is not None
            card_public_id = session.get_one(CardRecord, card_pk).public_id if card_pk is not None else None
        if used:
            raise PlatformServiceError(409, "CHALLENGE_REPLAYED", "the challenge was already used")
        if now > expires_at:
            raise PlatformServiceError(422, "CHALLENGE_EXPIRED", "the challenge has expired")
        rp = self._registry.get(client_id)
        if rp is None:
            raise PlatformServiceError(404, "UNKNOWN_CLIENT", "no relying party with that client_id")
        # Possession: the bound token's key signed this challenge's consent structure (certificate good).
        self._ca.apply_pending_actions(serial)
        certificate_der = self._ca.certificate(int(serial, 16)).public_bytes(Encoding.DER)
        facts, _, now = self._verifier.verify_authentication(
            challenge=consent_message(action.value, client_id, nonce),
            signature=signature,
            certificate_der=certificate_der,
        )
        with self._db.transaction() as session:
            claimed = session.execute(
                update(PlatformConsentChallengeRecord)
                .where(
                    PlatformConsentChallengeRecord.id == pk, PlatformConsentChallengeRecord.used_at.is_(None)
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            raise PlatformServiceError(409, "CHALLENGE_REPLAYED", "the challenge was already used")
        # Knowledge: the PIN, entered in the platform's app (never at an RP), with the lockout rules.
        if card_public_id is not None:
            self._lifecycle.verify_card_pin(card_public_id, PinKind.CARD_USER_AUTHENTICATION, pin)
        else:
            # The lifecycle's own counter logic (as the OpenID provider uses it for phone PINs).
            self._lifecycle._check_pin(
                PinKind.PHONE_USER_AUTHENTICATION, pin, registration_id=registration_pk
            )
        status = "granted" if action is ConsentAction.GRANT else "withdrawn"
        for _ in range(2):  # a concurrent first insert: retry once as an update
            try:
                with self._db.transaction() as session:
                    consent = session.scalar(
                        select(PlatformConsentRecord).where(
                            PlatformConsentRecord.client_id == client_id,
                            PlatformConsentRecord.resident_id == resident_pk,
                        )
                    )
                    if consent is None:
                        session.add(
                            PlatformConsentRecord(
                                client_id=client_id, resident_id=resident_pk, status=status, updated_at=now
                            )
                        )
                    else:
                        consent.status = status
                        consent.updated_at = now
                break
            except IntegrityError:
                continue
        if action is ConsentAction.GRANT:
            self._link(rp, facts.serial_hex)
        return ConsentState(client_id, rp.name, status, now)

    def _resolve_token(self, token: HolderToken) -> _ResolvedToken:
        """The resident and user-authentication certificate behind the app's token (usable now)."""
        for value in (token.card_id, token.device_id, token.registration_id):
            if value is not None and not (1 <= len(value) <= 64 and value.isascii() and value.isprintable()):
                raise PlatformServiceError(404, "UNKNOWN_TOKEN", "no such card or handset")
        with self._db.transaction() as session:
            if token.method == "card":
                card = (
                    session.scalar(select(CardRecord).where(CardRecord.public_id == token.card_id))
                    if token.card_id
                    else None
                )
                if card is None:
                    raise PlatformServiceError(404, "UNKNOWN_TOKEN", "no such card")
                if card.state != CardState.ACTIVE.value or card.user_authentication_serial is None:
                    raise PlatformServiceError(409, "TOKEN_NOT_USABLE", f"the card is {card.state}")
                resolved = _ResolvedToken(
                    card.resident_id, card.id, card.public_id, None, card.user_authentication_serial
                )
            elif token.method == "smartphone":
                reg = (
                    session.scalar(
                        select(SmartphoneRegistrationRecord).where(
                            SmartphoneRegistrationRecord.public_id == token.registration_id
                        )
                    )
                    if token.registration_id
                    else None
                )
                if reg is None:
                    raise PlatformServiceError(404, "UNKNOWN_TOKEN", "no such smartphone registration")
                device = session.get_one(DeviceRecord, reg.device_id)
                if not secrets.compare_digest(device.device_id.encode(), (token.device_id or "").encode()):
                    raise PlatformServiceError(
                        403, "WRONG_DEVICE", "this registration belongs to another handset"
                    )
                if reg.state != RegistrationState.REGISTERED.value or reg.user_authentication_serial is None:
                    raise PlatformServiceError(
                        409, "TOKEN_NOT_USABLE", f"the smartphone registration is {reg.state}"
                    )
                resolved = _ResolvedToken(reg.resident_id, None, None, reg.id, reg.user_authentication_serial)
            else:
                raise PlatformServiceError(422, "MALFORMED_INPUT", "method must be card or smartphone")
        state = self._ca.certificate_state(int(resolved.user_authentication_serial, 16))
        if state.status is not CertificateStatus.GOOD:
            raise PlatformServiceError(
                409, "TOKEN_NOT_USABLE", "the user-authentication certificate is not good"
            )
        return resolved

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
