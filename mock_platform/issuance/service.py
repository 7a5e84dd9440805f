"""LifecycleService: the smartphone-card lifecycle of the official guide over the mock CAs.

Residents and cards (municipal counter, hotline), Android smartphone certificates (§2, 4-B), the iPhone
My Number Card (§3), the cross rules (FAQ 1–6, §4, §5-B) and push notices. The HTTP routes
(:mod:`mock_platform.routes.lifecycle`, :mod:`mock_platform.routes.smartphone`) are thin wrappers.

Design
------

* **No module-level state.** Everything hangs off the injected :class:`Database`, :class:`Clock` and
  :class:`CAService`; several service instances (processes) may share one database.
* **Keys never reach the server.** Cards and phones send public keys; the card proves it was read by
  signing a one-time challenge (:func:`card_read_message`) with its signing key (the signing password
  unlocks it on a real card).
* **One transaction per state change.** Each step validates, then commits its state change in one
  transaction guarded by ``UPDATE … WHERE state = <expected>`` (so a concurrent step cannot apply twice).
  Certificates are issued by :class:`CAService` *inside* that transaction (``session=``), so they exist
  only if it commits: a lost race or a crash leaves no certificate nobody owns. Revocations, holds and
  releases that follow a state change are rows of the CA outbox inserted in the same transaction
  (:meth:`CAService.defer`) and applied right after the commit (:meth:`CAService.apply_pending_actions`,
  idempotent); what a killed process left is applied at the next start-up (:meth:`settle`) or by any
  later drain. Register/provision retried on a ``registered`` registration answer the same certificates.
* **Invariants in the schema.** One smartphone per person and one person per smartphone are UNIQUE
  slot columns (see :mod:`mock_platform.db`); a losing racer gets ``DEVICE_ALREADY_REGISTERED``.
* **PIN counters** are changed with atomic ``UPDATE … SET failures = failures + 1`` statements in their
  own transaction, so a wrong entry counts even though the step fails, and two concurrent wrong entries
  both count. The argon2id verification runs outside any transaction.
* **iPhone usable time.** An iPhone addition is ``pending`` until its usable time (notice + lag). Its
  certificates are issued only when the device provisions them at or after that time (Wallet fetching
  the credential): before it there is nothing an RP could verify, and the provisioning call answers
  ``NOT_READY``. (CAService fixes notBefore at the start of the JST issuance day, so issuing early with
  notBefore = usable time is not available without changing the CA layer.)
* **Privacy.** Logs carry public ids, states, kinds and serials — never attributes, PINs or passwords.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..ca.attributes import BasicFourAttributes, DateOfBirth, Gender
from ..ca.keys import PublicKey, check_public_key, load_public_key_pem, public_key_pem
from ..ca.profile import CertificateKind, FormFactor, Locality, RevocationReason
from ..ca.service import CAService, CertificateStatus, IssuedCertificate, PendingAction
from ..clock import Clock, require_aware, whole_seconds
from ..db import (
    CardChallengeRecord,
    CardRecord,
    Database,
    DeviceRecord,
    NoticeRecord,
    OwnedCertificateRecord,
    PinRecord,
    ResidentRecord,
    SmartphoneRegistrationRecord,
)
from .errors import (
    CardNotUsableError,
    CardReadFailedError,
    ChallengeExpiredError,
    DeviceAlreadyRegisteredError,
    InvalidPasswordFormatError,
    InvalidRequestError,
    KeyReusedError,
    LifecycleError,
    LivenessFailedError,
    NoCertificateChosenError,
    NoRegistrationToChangeError,
    NotReadyError,
    PasswordMismatchError,
    PinIncorrectError,
    PinLockedError,
    PlatformMismatchError,
    StepOutOfOrderError,
    TermsNotAcceptedError,
    UnknownCardError,
    UnknownChallengeError,
    UnknownDeviceError,
    UnknownRegistrationError,
    UnknownResidentError,
    WrongDeviceError,
)
from .pins import PinHasher, PinKind
from .rules import LifecycleRules
from .states import (
    CANCELLABLE,
    CardState,
    Flow,
    NoticeKind,
    Platform,
    RegistrationState,
    check_transition,
)

logger = logging.getLogger(__name__)

S = RegistrationState

#: Domain-separation prefix of what the card signs to prove it was read.
CARD_READ_CONTEXT = b"myna-mock/card-read/v1\x00"


def card_read_message(challenge_id: str, nonce: bytes) -> bytes:
    """The bytes a card signs (SHA-256, its signing key) to answer challenge ``challenge_id``."""
    return CARD_READ_CONTEXT + challenge_id.encode("ascii") + b"\x00" + nonce


class CardAlreadyIssuedError(LifecycleError):
    code, status, title = "CARD_ALREADY_ISSUED", 409, "The resident already has a card"


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Behaviour of the lifecycle.

    Attributes:
        rules: notice and usable-time rules.
        pin_hasher: the argon2id hasher (OWASP parameters by default).
        lost_card_suspends_phone: whether a lost-card suspension also suspends the phone (the guide does
            not say; default: no, the phone keeps its certificates).
        lost_phone_signing_reason: CRL reason for the phone signing certificate revoked by the hotline.
    """

    rules: LifecycleRules = field(default_factory=LifecycleRules)
    pin_hasher: PinHasher = field(default_factory=PinHasher)
    lost_card_suspends_phone: bool = False
    lost_phone_signing_reason: RevocationReason = RevocationReason.KEY_COMPROMISE


# ----------------------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class ResidentView:
    resident_id: str
    attributes_version: int
    card_ids: tuple[str, ...]
    registration_id: str | None  # the registration occupying the smartphone slot, if any


@dataclass(frozen=True, slots=True)
class CertificateView:
    kind: CertificateKind
    form_factor: FormFactor
    serial: str
    certificate_pem: str | None  # present where the certificate is handed over


@dataclass(frozen=True, slots=True)
class CardView:
    card_id: str
    resident_id: str
    state: CardState
    card_expiry: date | None
    certificates: tuple[CertificateView, ...]


@dataclass(frozen=True, slots=True)
class ChallengeView:
    challenge_id: str
    nonce: bytes
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RegistrationView:
    registration_id: str
    platform: Platform
    flow: Flow
    state: RegistrationState
    device_id: str
    card_id: str
    wants_signing: bool
    wants_user_authentication: bool
    applied_at: datetime | None
    notice_at: datetime | None
    usable_at: datetime | None
    registered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    replaces_id: str | None
    certificates: tuple[CertificateView, ...]


@dataclass(frozen=True, slots=True)
class NoticeView:
    notice_id: int
    kind: NoticeKind
    registration_id: str | None
    deliver_at: datetime


@dataclass(frozen=True, slots=True)
class CardRead:
    """What the app sends after reading the card: the challenge id and the card's signature."""

    challenge_id: str
    signature: bytes


# ----------------------------------------------------------------------------------------- service


class LifecycleService:
    """The lifecycle over one database, clock and CA service (see the module docstring)."""

    def __init__(
        self, database: Database, clock: Clock, ca: CAService, config: LifecycleConfig | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._ca = ca
        self._config = config if config is not None else LifecycleConfig()

    @property
    def config(self) -> LifecycleConfig:
        return self._config

    def _now(self) -> datetime:
        return whole_seconds(require_aware(self._clock.now()))

    # ------------------------------------------------------------------ residents and cards (counter)

    def enrol_resident(self, attributes: BasicFourAttributes, locality: Locality) -> ResidentView:
        """Register a synthetic resident (basic four attributes, birthday, locality)."""
        now = self._now()
        with self._db.transaction() as session:
            record = ResidentRecord(
                public_id=_new_id("res"),
                created_at=now,
                updated_at=now,
                **_attribute_columns(attributes, locality),
            )
            session.add(record)
        logger.info("enrolled resident %s", record.public_id)
        return ResidentView(record.public_id, record.attributes_version, (), None)

    def resident(self, resident_id: str) -> ResidentView:
        with self._db.transaction() as session:
            resident = self._resident(session, resident_id)
            cards = session.scalars(
                select(CardRecord.public_id)
                .where(CardRecord.resident_id == resident.id)
                .order_by(CardRecord.id)
            ).all()
            slot = session.scalars(
                select(SmartphoneRegistrationRecord.public_id).where(
                    SmartphoneRegistrationRecord.slot_resident_id == resident.id
                )
            ).one_or_none()
            return ResidentView(resident.public_id, resident.attributes_version, tuple(cards), slot)

    def issue_card(
        self,
        resident_id: str,
        *,
        signing_public_key: PublicKey,
        user_authentication_public_key: PublicKey,
        signing_password: str,
        user_authentication_pin: str,
        card_face_pin: str,
        card_expiry: date | None = None,
    ) -> CardView:
        """Issue a card with its signing and user-authentication certificates and its three PINs."""
        secrets_by_kind = {
            PinKind.CARD_SIGNING: signing_password,
            PinKind.CARD_USER_AUTHENTICATION: user_authentication_pin,
            PinKind.CARD_FACE: card_face_pin,
        }
        for kind, value in secrets_by_kind.items():
            _require_format(kind, value)
        for key in (signing_public_key, user_authentication_public_key):
            check_public_key(key)
        with self._db.transaction() as session:
            resident = self._resident(session, resident_id)
            self._require_no_live_card(session, resident.id)
        hashes_by_kind = {
            kind: self._config.pin_hasher.hash(value) for kind, value in secrets_by_kind.items()
        }
        now = self._now()
        lost_race = CardAlreadyIssuedError("the resident already has a card")
        with _integrity_as(lost_race), self._db.transaction() as session:
            self._require_no_live_card(session, resident.id)
            signing = self._issue_card_certificate(
                session, resident, CertificateKind.SIGNING, signing_public_key, card_expiry
            )
            authentication = self._issue_card_certificate(
                session,
                resident,
                CertificateKind.USER_AUTHENTICATION,
                user_authentication_public_key,
                card_expiry,
            )
            issued = [signing, authentication]
            card = CardRecord(
                public_id=_new_id("card"),
                resident_id=resident.id,
                slot_resident_id=resident.id,
                state=CardState.ACTIVE.value,
                card_expiry=card_expiry,
                signing_serial=signing.serial_hex,
                user_authentication_serial=authentication.serial_hex,
                created_at=now,
                updated_at=now,
            )
            session.add(card)
            session.flush()
            for kind, hashed in hashes_by_kind.items():
                session.add(
                    PinRecord(
                        card_id=card.id,
                        kind=kind.value,
                        hash=hashed,
                        failures=0,
                        max_failures=kind.max_failures,
                        locked=False,
                        updated_at=now,
                    )
                )
            for certificate in issued:
                self._own(session, certificate, resident.id, card_id=card.id)
        logger.info("issued card %s", card.public_id)
        return self._card_view(card, resident.public_id, issued)

    def card(self, card_id: str) -> CardView:
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            resident = session.get_one(ResidentRecord, card.resident_id)
        certificates = [
            CertificateView(kind, FormFactor.CARD, serial, None)
            for kind, serial in (
                (CertificateKind.SIGNING, card.signing_serial),
                (CertificateKind.USER_AUTHENTICATION, card.user_authentication_serial),
            )
            if serial is not None
        ]
        return CardView(
            card.public_id, resident.public_id, CardState(card.state), card.card_expiry, tuple(certificates)
        )

    def reset_pin(self, card_id: str, kind: PinKind, new_value: str) -> None:
        """Counter: set a new card PIN/password and clear its counter and lock."""
        if kind not in (PinKind.CARD_SIGNING, PinKind.CARD_USER_AUTHENTICATION, PinKind.CARD_FACE):
            raise InvalidRequestError("only card PINs are reset at the counter")
        _require_format(kind, new_value)
        hashed = self._config.pin_hasher.hash(new_value)
        now = self._now()
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            session.execute(
                update(PinRecord)
                .where(PinRecord.card_id == card.id, PinRecord.kind == kind.value)
                .values(hash=hashed, failures=0, locked=False, updated_at=now)
            )
        logger.info("reset %s PIN of card %s", kind.value, card_id)

    def change_attributes(
        self,
        resident_id: str,
        attributes: BasicFourAttributes,
        locality: Locality,
        *,
        new_card_signing_public_key: PublicKey,
    ) -> CardView:
        """Counter: a basic-four attribute changed (move, marriage…).

        Every signing certificate of the person (card and phone) is revoked with affiliationChanged;
        user-authentication certificates survive; a new card signing certificate with the new attributes
        is issued to ``new_card_signing_public_key`` (generated on the card).
        """
        check_public_key(new_card_signing_public_key)
        now = self._now()
        with self._db.transaction() as session:
            resident = self._resident(session, resident_id)
            card = self._live_card(session, resident.id)
            for name, value in _attribute_columns(attributes, locality).items():
                setattr(resident, name, value)
            resident.attributes_version += 1
            resident.updated_at = now
            signing_serials = list(
                session.scalars(
                    select(OwnedCertificateRecord.serial_hex).where(
                        OwnedCertificateRecord.resident_id == resident.id,
                        OwnedCertificateRecord.kind == CertificateKind.SIGNING.value,
                    )
                ).all()
            )
            phones = session.scalars(
                select(SmartphoneRegistrationRecord).where(
                    SmartphoneRegistrationRecord.slot_resident_id == resident.id
                )
            ).all()
            for phone in phones:
                if phone.signing_serial is not None:
                    self._notify(session, phone.device_id, phone.id, NoticeKind.SIGNING_REVOKED, now)
            self._defer_revoke(session, signing_serials, RevocationReason.AFFILIATION_CHANGED)
            new_signing = self._issue_card_certificate(
                session, resident, CertificateKind.SIGNING, new_card_signing_public_key, card.card_expiry
            )
            card.signing_serial = new_signing.serial_hex
            card.updated_at = now
            self._own(session, new_signing, resident.id, card_id=card.id)
            live = card
        self._settle()
        logger.info(
            "attributes changed for resident %s (%d signing certificates revoked)",
            resident_id,
            len(signing_serials),
        )
        return self._card_view(live, resident.public_id, [new_signing])

    def renew_card(
        self,
        card_id: str,
        *,
        signing_public_key: PublicKey,
        user_authentication_public_key: PublicKey,
        card_expiry: date | None = None,
    ) -> CardView:
        """Counter: renew the card's certificates (new keys on the card; FAQ 4).

        The old card certificates are revoked (superseded); every smartphone registration made with the
        card ends (``card_renewed``, its certificates revoked as superseded, the slot freed), and the
        phone receives a re-registration notice: the user must register again.
        """
        for key in (signing_public_key, user_authentication_public_key):
            check_public_key(key)
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            if card.state != CardState.ACTIVE.value:
                raise CardNotUsableError("only an active card can be renewed")
            resident = session.get_one(ResidentRecord, card.resident_id)
        expiry = card_expiry if card_expiry is not None else card.card_expiry
        now = self._now()
        with self._db.transaction() as session:
            live = self._card(session, card_id)
            self._guarded_card_update(session, live, CardState.ACTIVE, CardState.ACTIVE, now)
            issued = [
                self._issue_card_certificate(
                    session, resident, CertificateKind.SIGNING, signing_public_key, expiry
                ),
                self._issue_card_certificate(
                    session,
                    resident,
                    CertificateKind.USER_AUTHENTICATION,
                    user_authentication_public_key,
                    expiry,
                ),
            ]
            old_serials = [s for s in (live.signing_serial, live.user_authentication_serial) if s]
            live.signing_serial = issued[0].serial_hex
            live.user_authentication_serial = issued[1].serial_hex
            live.card_expiry = expiry
            live.updated_at = now
            for certificate in issued:
                self._own(session, certificate, resident.id, card_id=live.id)
            phones = session.scalars(
                select(SmartphoneRegistrationRecord).where(
                    SmartphoneRegistrationRecord.card_id == live.id,
                    SmartphoneRegistrationRecord.state.not_in([s.value for s in _FINAL_STATES]),
                )
            ).all()
            for phone in phones:
                old_serials.extend(s for s in (phone.signing_serial, phone.user_authentication_serial) if s)
                self._end(session, phone, S.CARD_RENEWED, "card_renewed", now)
                self._notify(session, phone.device_id, phone.id, NoticeKind.RE_REGISTRATION_REQUIRED, now)
            self._defer_revoke(session, old_serials, RevocationReason.SUPERSEDED)
        self._settle()
        logger.info("renewed card %s (%d smartphone registrations ended)", card_id, len(phones))
        return self._card_view(live, resident.public_id, issued)

    def suspend_card(self, card_id: str) -> CardView:
        """Hotline, lost card (§5-B): user-authentication certificate on hold, signing revoked."""
        now = self._now()
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            self._guarded_card_update(session, card, CardState.ACTIVE, CardState.SUSPENDED, now)
            if card.user_authentication_serial:
                self._defer(session, card.user_authentication_serial, PendingAction.HOLD)
            if card.signing_serial:
                self._defer_revoke(session, [card.signing_serial], RevocationReason.KEY_COMPROMISE)
            if self._config.lost_card_suspends_phone:
                phone = session.scalars(
                    select(SmartphoneRegistrationRecord).where(
                        SmartphoneRegistrationRecord.card_id == card.id,
                        SmartphoneRegistrationRecord.state == S.REGISTERED.value,
                    )
                ).one_or_none()
                if phone is not None:
                    self._suspend_in(session, phone, now)
        self._settle()
        logger.info("hotline suspended card %s", card_id)
        return self.card(card_id)

    def card_found(self, card_id: str, *, new_signing_public_key: PublicKey) -> CardView:
        """Counter, lost card found (§5-B): the hold is released; a new signing certificate is issued."""
        check_public_key(new_signing_public_key)
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            if card.state != CardState.SUSPENDED.value:
                raise StepOutOfOrderError("the card is not suspended", state=card.state)
            resident = session.get_one(ResidentRecord, card.resident_id)
        now = self._now()
        with self._db.transaction() as session:
            live = self._card(session, card_id)
            self._guarded_card_update(session, live, CardState.SUSPENDED, CardState.ACTIVE, now)
            new_signing = self._issue_card_certificate(
                session, resident, CertificateKind.SIGNING, new_signing_public_key, live.card_expiry
            )
            live.signing_serial = new_signing.serial_hex
            self._own(session, new_signing, resident.id, card_id=live.id)
            if live.user_authentication_serial:
                self._defer(session, live.user_authentication_serial, PendingAction.RELEASE)
        self._settle()
        logger.info("card %s found: hold released, new signing certificate", card_id)
        return self._card_view(live, resident.public_id, [new_signing])

    def verify_card_pin(self, card_id: str, kind: PinKind, value: str) -> None:
        """The card's PIN check as the app sees it (e.g. a login with the card's user-authentication PIN).

        Counts a wrong entry, locks at the limit, resets the counter on a correct entry.
        """
        if kind not in (PinKind.CARD_SIGNING, PinKind.CARD_USER_AUTHENTICATION, PinKind.CARD_FACE):
            raise InvalidRequestError("only card PINs are verified on the card")
        with self._db.transaction() as session:
            card = self._card(session, card_id)
        self._check_pin(kind, value, card_id=card.id)

    # ------------------------------------------------------------------ card reads

    def card_challenge(self, card_id: str) -> ChallengeView:
        """A one-time nonce for the card to sign (the NFC read of a flow)."""
        now = self._now()
        nonce = secrets.token_bytes(32)
        with self._db.transaction() as session:
            card = self._card(session, card_id)
            record = CardChallengeRecord(
                public_id=_new_id("chl"),
                card_id=card.id,
                nonce=nonce,
                expires_at=now + self._config.rules.challenge_ttl,
                created_at=now,
            )
            session.add(record)
        return ChallengeView(record.public_id, nonce, record.expires_at)

    def _verify_card_read(self, card: CardRecord, read: CardRead) -> int:
        """Check the card's signature over the challenge; return the challenge's row id (not yet used)."""
        now = self._now()
        with self._db.transaction() as session:
            challenge = session.scalars(
                select(CardChallengeRecord).where(CardChallengeRecord.public_id == read.challenge_id)
            ).one_or_none()
        if challenge is None or challenge.card_id != card.id:
            raise UnknownChallengeError("no such challenge for this card")
        if challenge.used_at is not None or challenge.expires_at < now:
            raise ChallengeExpiredError("the challenge is expired or already used")
        if card.signing_serial is None:
            raise CardNotUsableError("the card has no signing certificate")
        certificate = self._ca.certificate(int(card.signing_serial, 16))
        if not _verify(
            certificate.public_key(), read.signature, card_read_message(challenge.public_id, challenge.nonce)
        ):
            raise CardReadFailedError("the card's signature does not verify")
        return challenge.id

    def _consume_challenge(self, session: Session, challenge_row_id: int, now: datetime) -> None:
        result = session.execute(
            update(CardChallengeRecord)
            .where(CardChallengeRecord.id == challenge_row_id, CardChallengeRecord.used_at.is_(None))
            .values(used_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ChallengeExpiredError("the challenge was already used")

    # ------------------------------------------------------------------ PINs

    def _check_pin(
        self, kind: PinKind, secret: str, *, card_id: int | None = None, registration_id: int | None = None
    ) -> None:
        """Verify a PIN; count a failure (lock at the limit) or reset the counter, in its own transaction."""
        owner = (
            PinRecord.card_id == card_id
            if card_id is not None
            else PinRecord.registration_id == registration_id
        )
        with self._db.transaction() as session:
            record = session.scalars(
                select(PinRecord).where(owner, PinRecord.kind == kind.value)
            ).one_or_none()
        if record is None:
            raise InvalidRequestError(f"no {kind.value} PIN is set for this token")
        if record.locked:
            raise PinLockedError(
                f"the {kind.value} PIN is locked; reset it at the municipal counter", pin=kind.value
            )
        ok = len(secret) <= 64 and self._config.pin_hasher.verify(record.hash, secret)
        now = self._now()
        with self._db.transaction() as session:
            if ok:
                result = session.execute(
                    update(PinRecord)
                    .where(PinRecord.id == record.id, PinRecord.locked.is_(False))
                    .values(failures=0, updated_at=now)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise PinLockedError(f"the {kind.value} PIN is locked", pin=kind.value)
                return
            session.execute(
                update(PinRecord)
                .where(PinRecord.id == record.id, PinRecord.locked.is_(False))
                .values(
                    failures=PinRecord.failures + 1,
                    locked=PinRecord.failures + 1 >= PinRecord.max_failures,
                    updated_at=now,
                )
            )
            after = session.get_one(PinRecord, record.id)
            session.refresh(after)
            failures, limit, locked = after.failures, after.max_failures, after.locked
        logger.info("wrong %s PIN (%d of %d)", kind.value, failures, limit)
        if locked:
            raise PinLockedError(
                f"the {kind.value} PIN is now locked after {limit} wrong entries", pin=kind.value
            )
        raise PinIncorrectError(f"wrong {kind.value} PIN", pin=kind.value, remaining_tries=limit - failures)

    # ------------------------------------------------------------------ Android (§2, 4-B)

    def android_apply(
        self,
        *,
        device_id: str,
        card_id: str,
        card_signing_password: str,
        want_signing: bool,
        want_user_authentication: bool,
        notes_accepted: bool,
        signing_public_key_pem: str | None,
        user_authentication_public_key_pem: str | None,
        device_change: bool = False,
    ) -> RegistrationView:
        """2-C ③–⑥ (or 4-B ③–⑥): card signing password, chosen certificates, notes accepted."""
        if not notes_accepted:
            raise TermsNotAcceptedError("the notes must be accepted (確認しました)")
        if not (want_signing or want_user_authentication):
            raise NoCertificateChosenError("choose at least one smartphone certificate")
        signing_key = _optional_key(want_signing, signing_public_key_pem, "signing")
        auth_key = _optional_key(
            want_user_authentication, user_authentication_public_key_pem, "user_authentication"
        )
        with self._db.transaction() as session:
            card = self._card(session, card_id)
        self._require_fresh_keys(card, signing_key, auth_key)  # before anything is counted or stored
        self._require_card_usable(card)
        self._check_pin(PinKind.CARD_SIGNING, card_signing_password, card_id=card.id)
        device = self._device(device_id, Platform.ANDROID)
        flow = Flow.DEVICE_CHANGE if device_change else Flow.APPLY
        return self._start(card, device, Platform.ANDROID, flow, S.AWAITING_CARD_READ, signing_key, auth_key)

    def register(self, registration_id: str, *, device_id: str) -> RegistrationView:
        """2-E (and 4-B ⑫–⑭, and re-registration after a resume): write the certificates after the notice."""
        now = self._now()
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            if reg.platform != Platform.ANDROID.value:
                raise PlatformMismatchError("an iPhone becomes usable by itself: provision it instead")
            _require_state(reg, S.APPLIED, S.REGISTERED)
        if reg.state == S.REGISTERED.value:  # a retry whose first answer was lost: the same answer
            return self._registered_again(reg)
        assert reg.notice_at is not None
        if now < reg.notice_at:
            raise NotReadyError(
                "registration is possible after the notice", notice_at=reg.notice_at.isoformat()
            )
        return self._issue_and_activate(reg, S.APPLIED, now)

    # ------------------------------------------------------------------ iPhone (§3)

    def iphone_start(
        self,
        *,
        device_id: str,
        card_id: str,
        terms_accepted: bool,
        liveness_passed: bool,
        signing_public_key_pem: str,
        user_authentication_public_key_pem: str,
    ) -> RegistrationView:
        """3-C ②–④: 追加をはじめる, terms accepted, face-movement liveness (simulated result)."""
        if not terms_accepted:
            raise TermsNotAcceptedError("the terms of use must be accepted")
        if not liveness_passed:
            raise LivenessFailedError("the face-movement capture did not pass; nothing was stored")
        signing_key = _optional_key(True, signing_public_key_pem, "signing")
        auth_key = _optional_key(True, user_authentication_public_key_pem, "user_authentication")
        with self._db.transaction() as session:
            card = self._card(session, card_id)
        self._require_fresh_keys(card, signing_key, auth_key)  # before anything is stored
        self._require_card_usable(card)
        device = self._device(device_id, Platform.IPHONE)
        return self._start(
            card, device, Platform.IPHONE, Flow.ADD, S.AWAITING_CARD_FACE_PIN, signing_key, auth_key
        )

    def iphone_card_face_pin(self, registration_id: str, *, device_id: str, pin: str) -> RegistrationView:
        """3-C ⑤: the physical card's card-face input PIN (券面事項入力補助用, 4 digits)."""
        reg = self._load_for_step(registration_id, device_id, S.AWAITING_CARD_FACE_PIN)
        self._check_pin(PinKind.CARD_FACE, pin, card_id=reg.card_id)
        return self._step(reg, S.AWAITING_CARD_FACE_PIN, S.AWAITING_SIGNING_PASSWORD)

    def iphone_signing_password(
        self, registration_id: str, *, device_id: str, password: str
    ) -> RegistrationView:
        """3-C ⑥: the physical card's signing password (the user signs consent to the addition)."""
        reg = self._load_for_step(registration_id, device_id, S.AWAITING_SIGNING_PASSWORD)
        self._check_pin(PinKind.CARD_SIGNING, password, card_id=reg.card_id)
        return self._step(reg, S.AWAITING_SIGNING_PASSWORD, S.AWAITING_CARD_READ)

    def add_to_wallet(self, registration_id: str, *, device_id: str) -> RegistrationView:
        """3-D ⑤⑥ 「Appleウォレットに追加」→「続ける」: pending until the usable time."""
        reg = self._load_for_step(registration_id, device_id, S.AWAITING_WALLET)
        now = self._now()
        notice_at = self._config.rules.notice_time(now)
        usable_at = notice_at + self._config.rules.usable_lag
        with self._db.transaction() as session:
            live = self._guarded(
                session,
                reg,
                S.AWAITING_WALLET,
                S.PENDING,
                now,
                applied_at=now,
                notice_at=notice_at,
                usable_at=usable_at,
            )
            self._notify(session, live.device_id, live.id, NoticeKind.WALLET_USABLE, notice_at)
        logger.info("iPhone addition %s pending until %s", registration_id, usable_at.isoformat())
        return self.registration(registration_id)

    def provision(self, registration_id: str, *, device_id: str) -> RegistrationView:
        """iPhone: fetch the certificates once usable (before the usable time: ``NOT_READY``)."""
        now = self._now()
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            if reg.platform != Platform.IPHONE.value:
                raise PlatformMismatchError("an Android handset registers after the notice instead")
            _require_state(reg, S.PENDING, S.REGISTERED)
        if reg.state == S.REGISTERED.value:  # a retry whose first answer was lost: the same answer
            return self._registered_again(reg)
        assert reg.usable_at is not None
        if now < reg.usable_at:
            raise NotReadyError(
                "the iPhone's My Number Card is still pending", usable_at=reg.usable_at.isoformat()
            )
        return self._issue_and_activate(reg, S.PENDING, now)

    # ------------------------------------------------------------------ shared steps

    def card_read(self, registration_id: str, *, device_id: str, read: CardRead) -> RegistrationView:
        """2-C ⑦⑧ / 3-C ⑦⑧ / 4-B ⑦: the card is read; the slots of person and device are taken here."""
        reg = self._load_for_step(registration_id, device_id, S.AWAITING_CARD_READ)
        with self._db.transaction() as session:
            card = session.get_one(CardRecord, reg.card_id)
        challenge_row = self._verify_card_read(card, read)
        now = self._now()
        try:
            with self._db.transaction() as session:
                self._consume_challenge(session, challenge_row, now)
                slot_resident = None if reg.flow == Flow.DEVICE_CHANGE.value else reg.resident_id
                self._guarded(
                    session,
                    reg,
                    S.AWAITING_CARD_READ,
                    S.AWAITING_PASSWORDS,
                    now,
                    slot_resident_id=slot_resident,
                    slot_device_id=reg.device_id,
                )
        except IntegrityError as exc:
            raise DeviceAlreadyRegisteredError(
                "another handset is registered for this person, or this handset carries another person's card"
            ) from exc
        return self.registration(registration_id)

    def set_passwords(
        self,
        registration_id: str,
        *,
        device_id: str,
        signing_password: str | None,
        signing_password_confirmation: str | None,
        user_authentication_pin: str | None,
        user_authentication_pin_confirmation: str | None,
    ) -> RegistrationView:
        """2-D / 3-D ①–④ / 4-B ⑨⑩: the phone's new passwords, each typed twice.

        Android: the signing password only when the signing certificate was applied for, the PIN only
        when the user-authentication one was. iPhone: both. Bad format or mismatch: nothing is stored.
        """
        reg = self._load_for_step(registration_id, device_id, S.AWAITING_PASSWORDS)
        wanted = {
            PinKind.PHONE_SIGNING: (reg.wants_signing, signing_password, signing_password_confirmation),
            PinKind.PHONE_USER_AUTHENTICATION: (
                reg.wants_user_authentication,
                user_authentication_pin,
                user_authentication_pin_confirmation,
            ),
        }
        chosen: dict[PinKind, str] = {}
        for kind, (needed, value, confirmation) in wanted.items():
            if not needed:
                if value is not None or confirmation is not None:
                    raise InvalidRequestError(f"no {kind.value} is set: that certificate was not applied for")
                continue
            if value is None or confirmation is None:
                raise InvalidRequestError(f"the {kind.value} and its confirmation are required")
            _require_format(kind, value)
            if not secrets.compare_digest(value.encode(), confirmation.encode()):
                raise PasswordMismatchError(f"the {kind.value} and its confirmation differ", pin=kind.value)
            chosen[kind] = value
        hashed = {kind: self._config.pin_hasher.hash(value) for kind, value in chosen.items()}
        now = self._now()
        android = reg.platform == Platform.ANDROID.value
        target = S.APPLIED if android else S.AWAITING_WALLET
        extra: dict[str, object] = {}
        if android:
            extra = {"applied_at": now, "notice_at": self._config.rules.notice_time(now)}
        with self._db.transaction() as session:
            live = self._guarded(session, reg, S.AWAITING_PASSWORDS, target, now, **extra)
            for kind, value in hashed.items():
                session.add(
                    PinRecord(
                        registration_id=live.id,
                        kind=kind.value,
                        hash=value,
                        failures=0,
                        max_failures=kind.max_failures,
                        locked=False,
                        updated_at=now,
                    )
                )
            if android:
                assert live.notice_at is not None
                self._notify(session, live.device_id, live.id, NoticeKind.REGISTRATION_READY, live.notice_at)
        return self.registration(registration_id)

    def cancel(self, registration_id: str, *, device_id: str) -> RegistrationView:
        """Abandon an unfinished application/addition (frees the slots; no certificate was issued)."""
        now = self._now()
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            current = RegistrationState(reg.state)
            if current not in CANCELLABLE or reg.signing_serial or reg.user_authentication_serial:
                raise StepOutOfOrderError(f"cannot cancel in state {current.value}", state=current.value)
            self._end(session, reg, S.CANCELLED, "cancelled", now, expected=current)
        return self.registration(registration_id)

    def stop_with_phone_password(
        self, registration_id: str, *, device_id: str, password: str
    ) -> RegistrationView:
        """2-F ①–⑧ / 3-E (first method): revoke with the phone's own signing password."""
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            _require_state(reg, S.REGISTERED, S.PENDING, S.APPLIED, S.SUSPENDED)
            has_phone_password = session.scalars(
                select(PinRecord.id).where(
                    PinRecord.registration_id == reg.id, PinRecord.kind == PinKind.PHONE_SIGNING.value
                )
            ).first()
        if has_phone_password is None:
            raise InvalidRequestError("this handset has no smartphone signing password: use the card")
        self._check_pin(PinKind.PHONE_SIGNING, password, registration_id=reg.id)
        return self._stop(reg, None)

    def stop_with_card(
        self, registration_id: str, *, device_id: str, card_signing_password: str, read: CardRead
    ) -> RegistrationView:
        """2-F 「お手元のカードを利用する」 / 3-E (second method): revoke by reading the physical card."""
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            _require_state(reg, S.REGISTERED, S.PENDING, S.APPLIED, S.SUSPENDED)
            card = session.get_one(CardRecord, reg.card_id)
        self._check_pin(PinKind.CARD_SIGNING, card_signing_password, card_id=card.id)
        challenge_row = self._verify_card_read(card, read)
        return self._stop(reg, challenge_row)

    def delete_from_other_phone(
        self, *, device_id: str, card_id: str, card_signing_password: str, read: CardRead
    ) -> RegistrationView:
        """3-F: from a handset with no card added, delete the person's card from the other handset."""
        with self._db.transaction() as session:
            card = self._card(session, card_id)
        # the card's password and read come first: nothing about the person is revealed before them
        self._check_pin(PinKind.CARD_SIGNING, card_signing_password, card_id=card.id)
        challenge_row = self._verify_card_read(card, read)
        with self._db.transaction() as session:
            device = session.scalars(
                select(DeviceRecord).where(DeviceRecord.device_id == device_id)
            ).one_or_none()
            if (
                device is not None
                and session.scalars(
                    select(SmartphoneRegistrationRecord.id).where(
                        SmartphoneRegistrationRecord.slot_device_id == device.id
                    )
                ).first()
                is not None
            ):
                raise InvalidRequestError("this handset carries a card: delete on this handset instead (3-E)")
            reg = session.scalars(
                select(SmartphoneRegistrationRecord).where(
                    SmartphoneRegistrationRecord.slot_resident_id == card.resident_id
                )
            ).one_or_none()
        if reg is None:
            raise UnknownRegistrationError("no other handset carries this person's card")
        return self._stop(reg, challenge_row)

    def _stop(self, reg: SmartphoneRegistrationRecord, challenge_row: int | None) -> RegistrationView:
        now = self._now()
        current = RegistrationState(reg.state)
        with self._db.transaction() as session:
            if challenge_row is not None:
                self._consume_challenge(session, challenge_row, now)
            live = self._end(session, reg, S.REVOKED, "stopped_by_user", now, expected=current)
            self._notify(session, live.device_id, live.id, NoticeKind.REVOKED, now)
            self._defer_revoke(
                session,
                [s for s in (live.signing_serial, live.user_authentication_serial) if s],
                RevocationReason.CESSATION_OF_OPERATION,
            )
        self._settle()
        logger.info("registration %s stopped by the user", reg.public_id)
        return self.registration(reg.public_id)

    # ------------------------------------------------------------------ lost phone (§5-B)

    def suspend_smartphone(self, resident_id: str) -> RegistrationView:
        """Hotline, lost/stolen phone (24 h): user-authentication certificate on hold, signing revoked."""
        with self._db.transaction() as session:
            resident = self._resident(session, resident_id)
            reg = session.scalars(
                select(SmartphoneRegistrationRecord).where(
                    SmartphoneRegistrationRecord.slot_resident_id == resident.id,
                    SmartphoneRegistrationRecord.state == S.REGISTERED.value,
                )
            ).one_or_none()
        if reg is None:
            raise UnknownRegistrationError("the person has no registered smartphone")
        return self._suspend_registration(reg.public_id)

    def _suspend_registration(self, registration_id: str) -> RegistrationView:
        now = self._now()
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, None)
            self._suspend_in(session, reg, now)
        self._settle()
        logger.info("hotline suspended registration %s", registration_id)
        return self.registration(registration_id)

    def _suspend_in(self, session: Session, reg: SmartphoneRegistrationRecord, now: datetime) -> None:
        """``registered → suspended``; the hold and the revocation follow through the CA outbox."""
        live = self._guarded(session, reg, S.REGISTERED, S.SUSPENDED, now)
        self._notify(session, live.device_id, live.id, NoticeKind.SUSPENDED, now)
        if live.user_authentication_serial:
            self._defer(session, live.user_authentication_serial, PendingAction.HOLD)
        if live.signing_serial:
            self._defer_revoke(session, [live.signing_serial], self._config.lost_phone_signing_reason)

    def resume(
        self,
        registration_id: str,
        *,
        device_id: str,
        card_signing_password: str,
        read: CardRead,
        signing_public_key_pem: str | None,
    ) -> RegistrationView:
        """The found phone resumes in the app (§5-B): hold released; signing re-issued at re-registration.

        Identified by the physical card (signing password + read). Android goes back to ``applied``
        (notice, then register again); an iPhone back to ``pending`` (usable time, then provision).
        """
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
            _require_state(reg, S.SUSPENDED)
            card = session.get_one(CardRecord, reg.card_id)
        signing_key = _optional_key(reg.wants_signing, signing_public_key_pem, "signing")
        self._require_card_usable(card)
        self._check_pin(PinKind.CARD_SIGNING, card_signing_password, card_id=card.id)
        challenge_row = self._verify_card_read(card, read)
        now = self._now()
        notice_at = self._config.rules.notice_time(now)
        android = reg.platform == Platform.ANDROID.value
        target = S.APPLIED if android else S.PENDING
        with self._db.transaction() as session:
            self._consume_challenge(session, challenge_row, now)
            live = self._guarded(
                session,
                reg,
                S.SUSPENDED,
                target,
                now,
                applied_at=now,
                notice_at=notice_at,
                usable_at=None if android else notice_at + self._config.rules.usable_lag,
                signing_serial=None,
                signing_public_key_pem=_key_pem(signing_key),
            )
            kind = NoticeKind.REGISTRATION_READY if android else NoticeKind.WALLET_USABLE
            self._notify(session, live.device_id, live.id, kind, notice_at)
            if live.user_authentication_serial:
                self._defer(session, live.user_authentication_serial, PendingAction.RELEASE)
        self._settle()
        logger.info("registration %s resumed", registration_id)
        return self.registration(registration_id)

    # ------------------------------------------------------------------ queries

    def registration(self, registration_id: str, *, with_pem: bool = False) -> RegistrationView:
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, None)
            device = session.get_one(DeviceRecord, reg.device_id)
            card = session.get_one(CardRecord, reg.card_id)
            replaces = session.get(SmartphoneRegistrationRecord, reg.replaces_id) if reg.replaces_id else None
        certificates = []
        form_factor = FormFactor(reg.platform)
        for kind, serial in (
            (CertificateKind.SIGNING, reg.signing_serial),
            (CertificateKind.USER_AUTHENTICATION, reg.user_authentication_serial),
        ):
            if serial is not None:
                pem = None
                if with_pem:
                    pem = _pem(self._ca.certificate(int(serial, 16)))
                certificates.append(CertificateView(kind, form_factor, serial, pem))
        return RegistrationView(
            registration_id=reg.public_id,
            platform=Platform(reg.platform),
            flow=Flow(reg.flow),
            state=RegistrationState(reg.state),
            device_id=device.device_id,
            card_id=card.public_id,
            wants_signing=reg.wants_signing,
            wants_user_authentication=reg.wants_user_authentication,
            applied_at=reg.applied_at,
            notice_at=reg.notice_at,
            usable_at=reg.usable_at,
            registered_at=reg.registered_at,
            ended_at=reg.ended_at,
            end_reason=reg.end_reason,
            replaces_id=replaces.public_id if replaces is not None else None,
            certificates=tuple(certificates),
        )

    def notices(self, device_id: str, *, after: int = 0) -> list[NoticeView]:
        """Notices of a device already delivered (``deliver_at`` ≤ now), oldest first, ids > ``after``."""
        now = self._now()
        with self._db.transaction() as session:
            device = session.scalars(
                select(DeviceRecord).where(DeviceRecord.device_id == device_id)
            ).one_or_none()
            if device is None:
                raise UnknownDeviceError("no such device")
            rows = session.execute(
                select(NoticeRecord, SmartphoneRegistrationRecord.public_id)
                .outerjoin(
                    SmartphoneRegistrationRecord,
                    NoticeRecord.registration_id == SmartphoneRegistrationRecord.id,
                )
                .where(
                    NoticeRecord.device_id == device.id,
                    NoticeRecord.id > after,
                    NoticeRecord.deliver_at <= now,
                )
                .order_by(NoticeRecord.id)
            ).all()
            return [NoticeView(n.id, NoticeKind(n.kind), public_id, n.deliver_at) for n, public_id in rows]

    # ------------------------------------------------------------------ internals: flows

    def _start(
        self,
        card: CardRecord,
        device: DeviceRecord,
        platform: Platform,
        flow: Flow,
        first_state: RegistrationState,
        signing_key: PublicKey | None,
        auth_key: PublicKey | None,
    ) -> RegistrationView:
        now = self._now()
        try:
            with self._db.transaction() as session:
                replaces_id = None
                slot_holder = session.scalars(
                    select(SmartphoneRegistrationRecord).where(
                        SmartphoneRegistrationRecord.slot_resident_id == card.resident_id
                    )
                ).one_or_none()
                if flow is Flow.DEVICE_CHANGE:
                    if (
                        slot_holder is None
                        or slot_holder.platform != Platform.ANDROID.value
                        or slot_holder.state != S.REGISTERED.value
                    ):
                        raise NoRegistrationToChangeError("機種変更 needs a registered Android handset")
                    if slot_holder.device_id == device.id:
                        raise InvalidRequestError("機種変更 is applied for on the new handset")
                    replaces_id = slot_holder.id
                elif slot_holder is not None:
                    raise DeviceAlreadyRegisteredError(
                        "this person's card functions are on another handset: remove them first (§4)"
                    )
                device_holder = session.scalars(
                    select(SmartphoneRegistrationRecord.id).where(
                        SmartphoneRegistrationRecord.slot_device_id == device.id
                    )
                ).first()
                if device_holder is not None:
                    raise DeviceAlreadyRegisteredError("this handset already carries a card")
                reg = SmartphoneRegistrationRecord(
                    public_id=_new_id("reg"),
                    resident_id=card.resident_id,
                    card_id=card.id,
                    device_id=device.id,
                    platform=platform.value,
                    flow=flow.value,
                    state=first_state.value,
                    wants_signing=signing_key is not None,
                    wants_user_authentication=auth_key is not None,
                    signing_public_key_pem=_key_pem(signing_key),
                    user_authentication_public_key_pem=_key_pem(auth_key),
                    replaces_id=replaces_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(reg)
        except IntegrityError as exc:
            raise DeviceAlreadyRegisteredError(
                "a device change for this handset is already in progress"
            ) from exc
        logger.info("%s %s started: %s", platform.value, flow.value, reg.public_id)
        return self.registration(reg.public_id)

    def _registered_again(self, reg: SmartphoneRegistrationRecord) -> RegistrationView:
        """Register/provision retried on a registration already ``registered`` (its answer was lost: a
        crash, a dropped connection): the same registration and certificates again, nothing issued.

        Only a request that *finds* the registration registered gets this; concurrent duplicates that
        found it ``applied``/``pending`` still lose the guarded update with ``STEP_OUT_OF_ORDER``.
        """
        logger.info("registration %s: register/provision repeated, same certificates", reg.public_id)
        return self.registration(reg.public_id, with_pem=True)

    def _issue_and_activate(
        self, reg: SmartphoneRegistrationRecord, expected: RegistrationState, now: datetime
    ) -> RegistrationView:
        """``expected → registered`` and the missing smartphone certificates, in one transaction.

        The certificates are issued inside the transaction that records them (and moves the state), so
        they exist only if it commits: a crash or a lost race leaves no certificate behind. A 4-B
        supersede of the old handset defers the old certificates' revocation to the CA outbox.
        """
        with self._db.transaction() as session:
            resident = session.get_one(ResidentRecord, reg.resident_id)
            card = session.get_one(CardRecord, reg.card_id)
        self._require_card_usable(card)
        form_factor = FormFactor(reg.platform)
        wanted = [
            (kind, pem, self._phone_certificate_cap(card, kind))
            for kind, wants, serial, pem in (
                (CertificateKind.SIGNING, reg.wants_signing, reg.signing_serial, reg.signing_public_key_pem),
                (
                    CertificateKind.USER_AUTHENTICATION,
                    reg.wants_user_authentication,
                    reg.user_authentication_serial,
                    reg.user_authentication_public_key_pem,
                ),
            )
            if wants and serial is None and pem is not None
        ]
        issued: list[IssuedCertificate] = []
        try:
            with self._db.transaction() as session:
                values: dict[str, object] = {"registered_at": now}
                if reg.replaces_id is not None:  # 4-B: the old handset's certificates are superseded
                    old = session.get_one(SmartphoneRegistrationRecord, reg.replaces_id)
                    if old.state == S.REGISTERED.value:
                        superseded = [s for s in (old.signing_serial, old.user_authentication_serial) if s]
                        self._end(session, old, S.SUPERSEDED, "device_change", now, expected=S.REGISTERED)
                        self._notify(session, old.device_id, old.id, NoticeKind.SUPERSEDED, now)
                        self._defer_revoke(session, superseded, RevocationReason.SUPERSEDED)
                        session.flush()
                    # otherwise the old handset was stopped meanwhile: take the free slot (or get 409)
                    values["slot_resident_id"] = reg.resident_id
                live = self._guarded(session, reg, expected, S.REGISTERED, now, **values)
                self._end_obsolete_device_changes(session, live, now)
                for kind, pem, cap in wanted:
                    certificate = self._ca.issue_certificate(
                        session=session,
                        public_key=load_public_key_pem(pem),
                        form_factor=form_factor,
                        not_after_cap=cap,
                        **self._certificate_subject(resident, kind, card.card_expiry),
                    )
                    issued.append(certificate)
                    if kind is CertificateKind.SIGNING:
                        live.signing_serial = certificate.serial_hex
                    else:
                        live.user_authentication_serial = certificate.serial_hex
                    self._own(session, certificate, reg.resident_id, registration_id=reg.id)
        except IntegrityError as exc:
            raise DeviceAlreadyRegisteredError(
                "another handset was registered for this person meanwhile"
            ) from exc
        self._settle()
        logger.info("registration %s registered (%d certificates issued)", reg.public_id, len(issued))
        return self.registration(reg.public_id, with_pem=True)

    # ------------------------------------------------------------------ internals: records

    def _resident(self, session: Session, resident_id: str) -> ResidentRecord:
        record = session.scalars(
            select(ResidentRecord).where(ResidentRecord.public_id == resident_id)
        ).one_or_none()
        if record is None:
            raise UnknownResidentError("no such resident")
        return record

    def _card(self, session: Session, card_id: str) -> CardRecord:
        record = session.scalars(select(CardRecord).where(CardRecord.public_id == card_id)).one_or_none()
        if record is None:
            raise UnknownCardError("no such card")
        return record

    def _live_card(self, session: Session, resident_pk: int) -> CardRecord:
        record = session.scalars(
            select(CardRecord).where(CardRecord.slot_resident_id == resident_pk)
        ).one_or_none()
        if record is None:
            raise UnknownCardError("the resident has no card")
        return record

    def _require_no_live_card(self, session: Session, resident_pk: int) -> None:
        if session.scalars(select(CardRecord.id).where(CardRecord.slot_resident_id == resident_pk)).first():
            raise CardAlreadyIssuedError("the resident already has a card: renew it instead")

    def _registration(
        self, session: Session, registration_id: str, device_id: str | None
    ) -> SmartphoneRegistrationRecord:
        record = session.scalars(
            select(SmartphoneRegistrationRecord).where(
                SmartphoneRegistrationRecord.public_id == registration_id
            )
        ).one_or_none()
        if record is None:
            raise UnknownRegistrationError("no such application or registration")
        if device_id is not None:
            device = session.get_one(DeviceRecord, record.device_id)
            if not secrets.compare_digest(device.device_id.encode(), device_id.encode()):
                raise WrongDeviceError("this step must be done on the handset of the application")
        return record

    def _load_for_step(
        self, registration_id: str, device_id: str, expected: RegistrationState
    ) -> SmartphoneRegistrationRecord:
        with self._db.transaction() as session:
            reg = self._registration(session, registration_id, device_id)
        _require_state(reg, expected)
        return reg

    def _step(
        self, reg: SmartphoneRegistrationRecord, expected: RegistrationState, target: RegistrationState
    ) -> RegistrationView:
        with self._db.transaction() as session:
            self._guarded(session, reg, expected, target, self._now())
        return self.registration(reg.public_id)

    def _guarded(
        self,
        session: Session,
        reg: SmartphoneRegistrationRecord,
        expected: RegistrationState,
        target: RegistrationState,
        now: datetime,
        **values: object,
    ) -> SmartphoneRegistrationRecord:
        """``expected → target`` with ``values``, only if the row is still in ``expected`` (else 409)."""
        check_transition(expected, target)
        result = session.execute(
            update(SmartphoneRegistrationRecord)
            .where(
                SmartphoneRegistrationRecord.id == reg.id,
                SmartphoneRegistrationRecord.state == expected.value,
            )
            .values(state=target.value, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StepOutOfOrderError("the application changed meanwhile; reload it", attempted=target.value)
        live = session.get_one(SmartphoneRegistrationRecord, reg.id)
        session.refresh(live)
        return live

    def _end(
        self,
        session: Session,
        reg: SmartphoneRegistrationRecord,
        target: RegistrationState,
        reason: str,
        now: datetime,
        *,
        expected: RegistrationState | None = None,
    ) -> SmartphoneRegistrationRecord:
        return self._guarded(
            session,
            reg,
            expected if expected is not None else RegistrationState(reg.state),
            target,
            now,
            slot_resident_id=None,
            slot_device_id=None,
            replaces_id=None,
            ended_at=now,
            end_reason=reason,
        )

    def _end_obsolete_device_changes(
        self, session: Session, holder: SmartphoneRegistrationRecord, now: datetime
    ) -> None:
        """``holder`` now holds the person's slot: every unfinished 4-B application of the person that
        replaces another handset is obsolete. It ends (``cancelled``, reason ``device_change_obsolete``),
        frees its handset slot and its device gets a ``device_change_ended`` notice — in ``session``, the
        transaction of the state change that made it obsolete.

        An application that replaces ``holder`` itself (``holder`` re-registered after a resume) stays.
        Each update is guarded by the unfinished states: one that moved on concurrently (cancelled,
        registered) is left alone rather than failing the caller's step.
        """
        unfinished = [s.value for s in (S.AWAITING_CARD_READ, S.AWAITING_PASSWORDS, S.APPLIED)]
        candidates = session.scalars(
            select(SmartphoneRegistrationRecord).where(
                SmartphoneRegistrationRecord.resident_id == holder.resident_id,
                SmartphoneRegistrationRecord.flow == Flow.DEVICE_CHANGE.value,
                SmartphoneRegistrationRecord.id != holder.id,
                SmartphoneRegistrationRecord.slot_resident_id.is_(None),
                SmartphoneRegistrationRecord.state.in_(unfinished),
                or_(
                    SmartphoneRegistrationRecord.replaces_id.is_(None),
                    SmartphoneRegistrationRecord.replaces_id != holder.id,
                ),
            )
        ).all()
        for application in candidates:
            check_transition(RegistrationState(application.state), S.CANCELLED)
            result = session.execute(
                update(SmartphoneRegistrationRecord)
                .where(
                    SmartphoneRegistrationRecord.id == application.id,
                    SmartphoneRegistrationRecord.slot_resident_id.is_(None),
                    SmartphoneRegistrationRecord.state.in_(unfinished),
                )
                .values(
                    state=S.CANCELLED.value,
                    updated_at=now,
                    slot_device_id=None,
                    replaces_id=None,
                    ended_at=now,
                    end_reason="device_change_obsolete",
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                self._notify(
                    session, application.device_id, application.id, NoticeKind.DEVICE_CHANGE_ENDED, now
                )
                logger.info(
                    "device change %s ended: %s took the slot", application.public_id, holder.public_id
                )

    def _guarded_card_update(
        self, session: Session, card: CardRecord, expected: CardState, target: CardState, now: datetime
    ) -> None:
        result = session.execute(
            update(CardRecord)
            .where(CardRecord.id == card.id, CardRecord.state == expected.value)
            .values(state=target.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StepOutOfOrderError(f"the card is not {expected.value}", state=card.state)
        session.refresh(card)

    def _device(self, device_id: str, platform: Platform) -> DeviceRecord:
        if not device_id or len(device_id) > 64:
            raise InvalidRequestError("device_id must be 1–64 characters")
        for _ in range(2):
            with self._db.transaction() as session:
                record = session.scalars(
                    select(DeviceRecord).where(DeviceRecord.device_id == device_id)
                ).one_or_none()
            if record is not None:
                if record.platform != platform.value:
                    raise PlatformMismatchError(f"this device is registered as {record.platform}")
                return record
            try:
                with self._db.transaction() as session:
                    record = DeviceRecord(
                        device_id=device_id, platform=platform.value, created_at=self._now()
                    )
                    session.add(record)
                return record
            except IntegrityError:
                continue  # created concurrently: read it
        raise UnknownDeviceError("the device could not be recorded")  # pragma: no cover

    def _notify(
        self,
        session: Session,
        device_pk: int,
        registration_pk: int | None,
        kind: NoticeKind,
        deliver_at: datetime,
    ) -> None:
        session.add(
            NoticeRecord(
                device_id=device_pk,
                registration_id=registration_pk,
                kind=kind.value,
                deliver_at=deliver_at,
                created_at=self._now(),
            )
        )

    def _own(
        self,
        session: Session,
        certificate: IssuedCertificate,
        resident_pk: int,
        *,
        card_id: int | None = None,
        registration_id: int | None = None,
    ) -> None:
        session.add(
            OwnedCertificateRecord(
                serial_hex=certificate.serial_hex,
                resident_id=resident_pk,
                card_id=card_id,
                registration_id=registration_id,
                kind=certificate.kind.value,
                form_factor=certificate.form_factor.value,
                created_at=self._now(),
            )
        )

    def _card_view(
        self, card: CardRecord, resident_public_id: str, issued: Iterable[IssuedCertificate]
    ) -> CardView:
        return CardView(
            card.public_id,
            resident_public_id,
            CardState(card.state),
            card.card_expiry,
            tuple(CertificateView(c.kind, c.form_factor, c.serial_hex, c.certificate_pem) for c in issued),
        )

    # ------------------------------------------------------------------ internals: CA

    def _require_card_usable(self, card: CardRecord) -> None:
        """2-A / 3-A: an active card whose signing certificate is good and within its validity."""
        if card.state != CardState.ACTIVE.value or card.signing_serial is None:
            raise CardNotUsableError(f"the card is {card.state}")
        self._ca.apply_pending_actions(card.signing_serial)  # a revocation a crash left pending
        state = self._ca.certificate_state(int(card.signing_serial, 16))
        now = self._now()
        if state.status is not CertificateStatus.GOOD:
            raise CardNotUsableError("the card's signing certificate is not valid (revoked or on hold)")
        if not state.not_before <= now <= state.not_after:
            raise CardNotUsableError("the card's signing certificate is outside its validity period")

    def _certificate_subject(
        self, resident: ResidentRecord, kind: CertificateKind, card_expiry: date | None
    ) -> dict[str, Any]:
        """The holder-dependent arguments of :meth:`CAService.issue_certificate`."""
        attributes, locality = _resident_attributes(resident)
        signing = kind is CertificateKind.SIGNING
        return {
            "kind": kind,
            "date_of_birth": attributes.date_of_birth,
            "attributes": attributes if signing else None,
            "locality": locality if signing else None,
            "card_expiry": card_expiry,
        }

    def _issue_card_certificate(
        self,
        session: Session,
        resident: ResidentRecord,
        kind: CertificateKind,
        public_key: PublicKey,
        card_expiry: date | None,
    ) -> IssuedCertificate:
        """A card certificate, recorded inside ``session`` (it exists only if that transaction commits)."""
        return self._ca.issue_certificate(
            session=session,
            public_key=public_key,
            form_factor=FormFactor.CARD,
            **self._certificate_subject(resident, kind, card_expiry),
        )

    def _require_fresh_keys(self, card: CardRecord, *keys: PublicKey | None) -> None:
        """2-C / 3-C: keys a real handset never sends are refused (``KEY_REUSED``): one key for both
        certificates, or a key of the card itself (the phone makes its keys in its secure element)."""
        sent = [_spki(key) for key in keys if key is not None]
        if len(set(sent)) != len(sent):
            raise KeyReusedError("the signing and user-authentication keys must be different keys")
        card_keys = {
            _spki(self._ca.certificate(int(serial, 16)).public_key())
            for serial in (card.signing_serial, card.user_authentication_serial)
            if serial is not None
        }
        if card_keys.intersection(sent):
            raise KeyReusedError("a key of the card was sent as a phone key: the phone makes its own keys")

    def _phone_certificate_cap(self, card: CardRecord, kind: CertificateKind) -> datetime | None:
        """FAQ 4: a smartphone certificate never outlasts the card's certificate of the same kind."""
        card_serial = (
            card.signing_serial if kind is CertificateKind.SIGNING else card.user_authentication_serial
        )
        return self._ca.certificate_state(int(card_serial, 16)).not_after if card_serial else None

    # ------------------------------------------------------------------ internals: the CA outbox

    def _defer(self, session: Session, serial: str, action: PendingAction) -> None:
        self._ca.defer(session, serial, action)

    def _defer_revoke(self, session: Session, serials: Iterable[str], reason: RevocationReason) -> None:
        for serial in serials:
            self._ca.defer(session, serial, PendingAction.REVOKE, reason)

    def _settle(self) -> None:
        """Apply the CA outbox after a commit (and of any earlier step a crash interrupted)."""
        self._ca.apply_pending_actions()

    def settle(self) -> int:
        """Apply every pending CA action (start-up: what a killed process left); the number applied."""
        return self._ca.apply_pending_actions()


# ----------------------------------------------------------------------------------------- helpers

_FINAL_STATES = tuple(s for s in RegistrationState if s.is_final)


@contextmanager
def _integrity_as(error: LifecycleError) -> Iterator[None]:
    """Turn a unique-constraint violation (a lost race) into ``error``."""
    try:
        yield
    except IntegrityError as exc:
        raise error from exc


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _require_state(reg: SmartphoneRegistrationRecord, *allowed: RegistrationState) -> None:
    current = RegistrationState(reg.state)
    if current not in allowed:
        raise StepOutOfOrderError(
            f"this step is not possible in state {current.value}",
            state=current.value,
            expected=[s.value for s in allowed],
        )


def _require_format(kind: PinKind, value: str) -> None:
    if not kind.is_valid_format(value):
        raise InvalidPasswordFormatError(
            f"the {kind.value} must be {kind.format_description}", pin=kind.value
        )


def _optional_key(wanted: bool, pem: str | None, label: str) -> PublicKey | None:
    if not wanted:
        if pem is not None:
            raise InvalidRequestError(f"a {label} public key was sent but that certificate was not chosen")
        return None
    if pem is None:
        raise InvalidRequestError(f"the {label} public key is required")
    key = load_public_key_pem(pem)
    check_public_key(key)
    return key


def _key_pem(key: PublicKey | None) -> str | None:
    return public_key_pem(key) if key is not None else None


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key (what two keys are compared by)."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _verify(public_key: object, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _attribute_columns(attributes: BasicFourAttributes, locality: Locality) -> dict[str, str]:
    return {
        "name": attributes.name,
        "name_substitute_positions": attributes.name_substitute_positions,
        "gender": Gender(attributes.gender).value,
        "date_of_birth": attributes.date_of_birth.encode(),
        "address": attributes.address,
        "address_substitute_positions": attributes.address_substitute_positions,
        "prefecture": locality.prefecture,
        "municipality": locality.municipality,
    }


def _resident_attributes(resident: ResidentRecord) -> tuple[BasicFourAttributes, Locality]:
    attributes = BasicFourAttributes(
        name=resident.name,
        gender=Gender(resident.gender),
        date_of_birth=DateOfBirth.parse(resident.date_of_birth),
        address=resident.address,
        name_substitute_positions=resident.name_substitute_positions,
        address_substitute_positions=resident.address_substitute_positions,
    )
    return attributes, Locality(resident.prefecture, resident.municipality)


__all__ = [
    "CARD_READ_CONTEXT",
    "CardAlreadyIssuedError",
    "CardRead",
    "CardView",
    "CertificateView",
    "ChallengeView",
    "LifecycleConfig",
    "LifecycleService",
    "NoticeView",
    "RegistrationView",
    "ResidentView",
    "card_read_message",
]
