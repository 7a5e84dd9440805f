"""CAService: the in-process facade of the mock J-LIS CAs (issue, revoke, hold, release, CRL, OCSP).

The HTTP routes are thin wrappers over this class, and demos/tests may drive it directly. It owns no
global state: everything hangs off the :class:`~mock_platform.db.Database` and
:class:`~mock_platform.clock.Clock` it is built with.

State model of an issued certificate (persisted, one transaction per change, audited in
``certificate_events``)::

    good ──revoke(reason)──▶ revoked            (permanent)
    good ──hold()──────────▶ on_hold ──release()──▶ good
                             on_hold ──revoke(reason≠certificateHold)──▶ revoked

Anything else raises an :class:`~mock_platform.ca.errors.InvalidTransitionError` subclass
(``ALREADY_REVOKED``, ``ALREADY_ON_HOLD``, ``NOT_ON_HOLD``).

Revocation visibility: OCSP answers from the current state at once (J-LIS OCSP data is ≤ 15 minutes
old; the mock has no lag); CRLs show the state at their issue time (daily schedule or forced).
The mock does not model time travel backwards: after moving a :class:`MockClock` back, a revocation
whose time is still in the future is simply not reported yet.

Logs name serial numbers, kinds and reasons only — never attributes or certificate contents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..clock import Clock, require_aware, whole_seconds
from ..db import (
    CAGenerationRecord,
    CertificateEventRecord,
    CRLRecord,
    Database,
    IssuedCertificateRecord,
    OCSPResponderRecord,
    PendingCAActionRecord,
    serial_to_hex,
)
from .attributes import AttributeEncoding, BasicFourAttributes, DateOfBirth
from .authority import CAGeneration, GenerationPlan, create_generation, select_issuing_generation
from .builder import build_end_entity_certificate, compute_validity, crl_url, random_subject_id
from .crl import CRLSchedule, RevokedEntry, build_crl
from .errors import (
    AlreadyOnHoldError,
    AlreadyRevokedError,
    CRLContentionError,
    InvalidAttributesError,
    InvalidRevocationRequestError,
    InvalidTransitionError,
    NotOnHoldError,
    UnknownCAError,
    UnknownCertificateError,
)
from .keys import (
    KeyType,
    PublicKey,
    check_public_key,
    generate_private_key,
    load_private_key_pem,
    private_key_to_pem,
)
from .ocsp import (
    OCSPRequestError,
    OCSPSigner,
    ResponderIdType,
    SingleStatus,
    build_ocsp_responder_certificate,
    build_ocsp_response,
    find_issuer,
    parse_ocsp_request,
    unsuccessful_response,
)
from .profile import (
    DEFAULT_POLICY_TABLE,
    CertificateKind,
    FormFactor,
    Locality,
    PolicyTable,
    RevocationReason,
)

logger = logging.getLogger(__name__)

_SERIAL_ATTEMPTS = 3
#: Forced CRL issues that lose the CRL number to a concurrent issuer retry with the next one.
_CRL_NUMBER_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class CAConfig:
    """Behaviour switches of the mock CAs (frozen; derive variants with :func:`dataclasses.replace`).

    Attributes:
        policy_table: (kind, form factor) → certificatePolicies OID.
        generation_plan: CA generations created at first start, relative to the clock.
        crl_schedule: daily CRL issue time and nextUpdate grace.
        ocsp_validity: nextUpdate − thisUpdate of OCSP responses (J-LIS: data ≤ 15 minutes old).
        ocsp_delegated_responder: sign OCSP responses with a delegated responder certificate (EKU
            id-kp-OCSPSigning + ocsp-nocheck) instead of the CA key.
        ocsp_responder_id: byKey (default) or byName.
        ocsp_responder_lifetime: validity of each delegated responder certificate (renewed on demand).
        crl_http_base_url: when set, issued certificates get a second CRL distribution point
            ``<base>/crl/<purpose>/<generation>.crl`` (J-LIS certificates have none).
        ocsp_url: when set, issued certificates get an AIA OCSP URL (J-LIS certificates have none).
        encode_unspecified_reason: write reasonCode ``unspecified`` explicitly in CRL entries and OCSP
            revocationReason (default, as platforms expose it); ``False`` omits it as RFC 5280 §5.3.1
            recommends.
    """

    policy_table: PolicyTable = DEFAULT_POLICY_TABLE
    generation_plan: GenerationPlan = field(default_factory=GenerationPlan)
    crl_schedule: CRLSchedule = field(default_factory=CRLSchedule)
    ocsp_validity: timedelta = timedelta(minutes=15)
    ocsp_delegated_responder: bool = False
    ocsp_responder_id: ResponderIdType = ResponderIdType.BY_KEY
    ocsp_responder_lifetime: timedelta = timedelta(days=90)
    crl_http_base_url: str | None = None
    ocsp_url: str | None = None
    encode_unspecified_reason: bool = True


class CertificateStatus(StrEnum):
    """Revocation state of an issued certificate (also the database values)."""

    GOOD = "good"
    REVOKED = "revoked"
    ON_HOLD = "on_hold"  # revoked with reason certificateHold; releasable


class PendingAction(StrEnum):
    """What a row of the CA outbox asks for (:meth:`CAService.defer`)."""

    REVOKE = "revoke"
    HOLD = "hold"
    RELEASE = "release"


#: Called by :meth:`CAService.defer` with ``(session, serial_hex, action, reason)`` inside the caller's
#: state-change transaction (the platform API records its webhook events there: same commit or none).
DeferListener = Callable[[Session, str, PendingAction, "RevocationReason | None"], None]


@dataclass(frozen=True, slots=True)
class CACertificateInfo:
    """A CA generation's public side (no key)."""

    purpose: CertificateKind
    generation: int
    certificate: x509.Certificate
    sha256_fingerprint: str
    subject_key_identifier: str  # lower-case hex

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """The result of an issuance."""

    certificate: x509.Certificate
    serial_number: int
    subject_id: str
    kind: CertificateKind
    form_factor: FormFactor
    issuer_purpose: CertificateKind
    issuer_generation: int

    @property
    def serial_hex(self) -> str:
        return serial_to_hex(self.serial_number)

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class CertificateState:
    """Revocation state of one issued certificate (no personal data)."""

    serial_number: int
    kind: CertificateKind
    form_factor: FormFactor
    subject_id: str
    issuer_purpose: CertificateKind
    issuer_generation: int
    status: CertificateStatus
    revocation_reason: RevocationReason | None
    revoked_at: datetime | None
    invalidity_date: datetime | None
    not_before: datetime
    not_after: datetime
    issued_at: datetime

    @property
    def serial_hex(self) -> str:
        return serial_to_hex(self.serial_number)


@dataclass(frozen=True, slots=True)
class CRLInfo:
    """One issued CRL."""

    purpose: CertificateKind
    generation: int
    crl_number: int
    this_update: datetime
    next_update: datetime | None
    der: bytes = field(repr=False)
    forced: bool


class CAService:
    """The mock J-LIS: CA generations, end-entity issuance, revocation state, CRLs and OCSP.

    Args:
        database: where CA keys, issued certificates and CRLs live (tables must exist, see :meth:`create`).
        clock: the time source for every decision.
        config: behaviour switches (:class:`CAConfig`).

    Construction does no I/O; :meth:`create` also creates tables and bootstraps the CAs. The loaded CA
    generations are cached on the instance (they do not change after bootstrap); everything else is read
    from the database on each call, so several service instances (processes) can share one database.
    """

    def __init__(self, database: Database, clock: Clock, config: CAConfig | None = None) -> None:
        self._db = database
        self._clock = clock
        self._config = config if config is not None else CAConfig()
        self._generations: tuple[tuple[int, CAGeneration], ...] = ()
        self._defer_listeners: list[DeferListener] = []

    @classmethod
    def create(cls, database: Database, clock: Clock, config: CAConfig | None = None) -> CAService:
        """Create tables if missing, create the CA generations on first start, return the service."""
        database.create_all()
        service = cls(database, clock, config)
        service.bootstrap()
        return service

    @property
    def config(self) -> CAConfig:
        return self._config

    @property
    def clock(self) -> Clock:
        return self._clock

    # ------------------------------------------------------------------ CA generations

    def bootstrap(self) -> None:
        """Create every purpose's generations from the plan if that purpose has none (idempotent).

        Windows are relative to the clock's *now* at the first start; later starts reuse the stored CAs.
        Safe against a concurrent start in another process (unique (purpose, generation)).
        """
        now = require_aware(self._clock.now())
        for purpose in CertificateKind:
            with self._db.transaction() as session:
                exists = session.scalars(
                    select(CAGenerationRecord.id).where(CAGenerationRecord.purpose == purpose.value).limit(1)
                ).first()
            if exists is not None:
                continue
            created = []
            for number, spec in enumerate(self._config.generation_plan.generations, start=1):
                start, end = spec.window(now)
                created.append(create_generation(purpose, number, not_before=start, not_after=end))
            try:
                with self._db.transaction() as session:
                    for generation in created:
                        session.add(_generation_record(generation, now))
            except IntegrityError:
                logger.info("CA bootstrap for %s raced with another process; using its CAs", purpose.value)
            else:
                logger.info("bootstrapped %d %s CA generation(s)", len(created), purpose.value)
        self._generations = ()
        self._loaded_generations()

    def _loaded_generations(self) -> tuple[tuple[int, CAGeneration], ...]:
        if not self._generations:
            with self._db.transaction() as session:
                records = session.scalars(
                    select(CAGenerationRecord).order_by(
                        CAGenerationRecord.purpose, CAGenerationRecord.generation
                    )
                ).all()
                self._generations = tuple((record.id, _generation_from_record(record)) for record in records)
        return self._generations

    def _generation(self, purpose: CertificateKind, generation: int) -> tuple[int, CAGeneration]:
        for ca_id, candidate in self._loaded_generations():
            if candidate.purpose is purpose and candidate.generation == generation:
                return ca_id, candidate
        raise UnknownCAError(f"no {purpose.value} CA generation {generation}")

    def _generation_by_id(self, ca_id: int) -> CAGeneration:
        for candidate_id, candidate in self._loaded_generations():
            if candidate_id == ca_id:
                return candidate
        raise UnknownCAError(f"no CA with id {ca_id}")

    def ca_certificates(self) -> list[CACertificateInfo]:
        """Every CA generation (both purposes), ordered by purpose then generation."""
        return [_ca_info(generation) for _, generation in self._loaded_generations()]

    def ca_certificate(self, purpose: CertificateKind, generation: int) -> CACertificateInfo:
        """One CA generation. Raises :class:`UnknownCAError`."""
        return _ca_info(self._generation(purpose, generation)[1])

    def export_ca_generation_for_tests(self, purpose: CertificateKind, generation: int) -> CAGeneration:
        """The CA generation *with its private key*. **Test-only** (fixture generators forge with it)."""
        return self._generation(purpose, generation)[1]

    # ------------------------------------------------------------------ issuance

    def issue_certificate(
        self,
        *,
        public_key: PublicKey,
        kind: CertificateKind,
        date_of_birth: DateOfBirth,
        form_factor: FormFactor = FormFactor.CARD,
        attributes: BasicFourAttributes | None = None,
        locality: Locality | None = None,
        card_expiry: date | None = None,
        not_after_cap: datetime | None = None,
        attribute_encoding: AttributeEncoding = AttributeEncoding.UTF8_STRING,
        session: Session | None = None,
    ) -> IssuedCertificate:
        """Issue an end-entity certificate now (per the clock) from the newest valid CA generation.

        Args:
            public_key: the holder's key (RSA 2048–4096 with e = 65537, or EC P-256).
            kind: signing or user authentication.
            date_of_birth: drives the term (5th birthday after issuance). For signing certificates it must
                equal ``attributes.date_of_birth``.
            form_factor: card / Android / iPhone (policy OID).
            attributes: the basic four attributes (signing only; required there).
            locality: the two ``L=`` values (signing only; required there).
            card_expiry: the card's expiry date; caps notAfter at 23:59:59 JST that day. For smartphone
                certificates pass the card certificate's expiry (they never outlast it).
            not_after_cap: an additional exact cap.
            attribute_encoding: UTF8String (real) or OCTET STRING otherName values.
            session: record the certificate inside the caller's open transaction (it exists only if
                that transaction commits: the lifecycle issues and records a certificate atomically, so a
                crash can never leave a certificate nobody owns); default: its own transaction.

        Returns:
            the certificate and its identifiers.

        Raises:
            UnsupportedKeyTypeError, InvalidAttributesError, InvalidValidityError, NoIssuingCAError.
        """
        check_public_key(public_key)
        if attributes is not None and attributes.date_of_birth != date_of_birth:
            raise InvalidAttributesError("date_of_birth differs from the attribute date of birth")
        now = require_aware(self._clock.now())
        generations = self._loaded_generations()
        issuer = select_issuing_generation((g for _, g in generations), kind, now)
        ca_id = next(ca_id for ca_id, g in generations if g is issuer)
        caps = [issuer.not_after] + ([not_after_cap] if not_after_cap is not None else [])
        not_before, not_after = compute_validity(
            now, date_of_birth, card_expiry=card_expiry, not_after_cap=min(caps)
        )
        subject_id = random_subject_id()
        crl_http = (
            crl_url(self._config.crl_http_base_url, issuer.purpose, issuer.generation)
            if self._config.crl_http_base_url
            else None
        )
        for attempt in range(1, _SERIAL_ATTEMPTS + 1):
            serial_number = x509.random_serial_number()
            certificate = build_end_entity_certificate(
                issuer=issuer,
                public_key=public_key,
                kind=kind,
                form_factor=form_factor,
                not_before=not_before,
                not_after=not_after,
                attributes=attributes,
                locality=locality,
                subject_id=subject_id,
                serial_number=serial_number,
                attribute_encoding=attribute_encoding,
                policy_table=self._config.policy_table,
                crl_http_url=crl_http,
                ocsp_url=self._config.ocsp_url,
            )
            record = IssuedCertificateRecord(
                serial_hex=serial_to_hex(serial_number),
                ca_id=ca_id,
                kind=kind.value,
                form_factor=form_factor.value,
                subject_id=subject_id,
                certificate_der=certificate.public_bytes(serialization.Encoding.DER),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
                issued_at=now,
                status=CertificateStatus.GOOD.value,
                updated_at=now,
            )
            if session is not None:
                # inside the caller's transaction: no savepoint (pysqlite), so check the serial first
                taken = session.scalars(
                    select(IssuedCertificateRecord.id).where(
                        IssuedCertificateRecord.serial_hex == record.serial_hex
                    )
                ).first()
                if taken is not None:
                    continue  # pragma: no cover - a 159-bit random serial collision
                _insert_issued(session, record, now)
            else:
                try:
                    with self._db.transaction() as own:
                        _insert_issued(own, record, now)
                except IntegrityError:
                    if attempt == _SERIAL_ATTEMPTS:
                        raise
                    continue
            logger.info(
                "issued %s/%s certificate serial=%s from %s",
                kind.value,
                form_factor.value,
                serial_to_hex(serial_number),
                issuer.label,
            )
            return IssuedCertificate(
                certificate=certificate,
                serial_number=serial_number,
                subject_id=subject_id,
                kind=kind,
                form_factor=form_factor,
                issuer_purpose=issuer.purpose,
                issuer_generation=issuer.generation,
            )
        raise RuntimeError("no free serial number")  # pragma: no cover

    # ------------------------------------------------------------------ revocation state

    def certificate_state(self, serial_number: int) -> CertificateState:
        """The current state of an issued certificate. Raises :class:`UnknownCertificateError`."""
        self._loaded_generations()  # never load CAs inside another open transaction
        with self._db.transaction() as session:
            return self._state(self._record(session, serial_number))

    def certificate(self, serial_number: int) -> x509.Certificate:
        """The issued certificate itself. Raises :class:`UnknownCertificateError`."""
        with self._db.transaction() as session:
            return x509.load_der_x509_certificate(self._record(session, serial_number).certificate_der)

    def revoke(
        self,
        serial_number: int,
        reason: RevocationReason,
        *,
        invalidity_date: datetime | None = None,
        session: Session | None = None,
    ) -> CertificateState:
        """Revoke (or, for ``certificateHold``, hold) a certificate now.

        Args:
            serial_number: the certificate's serial.
            reason: one of :class:`RevocationReason`; certificateHold puts it on hold.
            invalidity_date: RFC 5280 §5.3.2 (aware, not after now; not with certificateHold).

        Raises:
            UnknownCertificateError; AlreadyRevokedError; AlreadyOnHoldError (hold twice);
            InvalidRevocationRequestError (bad invalidity date).

        ``session``: apply inside the caller's open transaction (the outbox, :meth:`apply_pending_actions`).
        """
        if reason is RevocationReason.CERTIFICATE_HOLD:
            if invalidity_date is not None:
                raise InvalidRevocationRequestError("invalidityDate does not apply to certificateHold")
            return self.hold(serial_number, session=session)
        self._loaded_generations()  # never load CAs inside another open transaction
        now = whole_seconds(require_aware(self._clock.now()))  # X.509 times carry whole seconds
        if invalidity_date is not None:
            invalidity_date = whole_seconds(require_aware(invalidity_date, "invalidity date"))
            if invalidity_date > now:
                raise InvalidRevocationRequestError("the invalidity date lies in the future")
        with self._in(session) as session:
            record = self._record(session, serial_number, for_update=True)
            if record.status == CertificateStatus.REVOKED:
                raise AlreadyRevokedError("the certificate is already revoked")
            record.status = CertificateStatus.REVOKED.value
            record.revocation_reason = reason.value
            record.revoked_at = now
            record.invalidity_date = invalidity_date
            record.updated_at = now
            session.add(
                CertificateEventRecord(certificate_id=record.id, event="revoked", reason=reason.value, at=now)
            )
            state = self._state(record)
        logger.info("revoked serial=%s reason=%s", serial_to_hex(serial_number), reason.value)
        return state

    def hold(self, serial_number: int, *, session: Session | None = None) -> CertificateState:
        """Put a good certificate on hold (revoked with reason certificateHold, releasable).

        Raises:
            UnknownCertificateError; AlreadyRevokedError; AlreadyOnHoldError.
        """
        self._loaded_generations()  # never load CAs inside another open transaction
        now = whole_seconds(require_aware(self._clock.now()))
        with self._in(session) as session:
            record = self._record(session, serial_number, for_update=True)
            if record.status == CertificateStatus.REVOKED:
                raise AlreadyRevokedError("the certificate is already revoked")
            if record.status == CertificateStatus.ON_HOLD:
                raise AlreadyOnHoldError("the certificate is already on hold")
            record.status = CertificateStatus.ON_HOLD.value
            record.revocation_reason = RevocationReason.CERTIFICATE_HOLD.value
            record.revoked_at = now
            record.updated_at = now
            session.add(
                CertificateEventRecord(
                    certificate_id=record.id,
                    event="held",
                    reason=RevocationReason.CERTIFICATE_HOLD.value,
                    at=now,
                )
            )
            state = self._state(record)
        logger.info("held serial=%s", serial_to_hex(serial_number))
        return state

    def release(self, serial_number: int, *, session: Session | None = None) -> CertificateState:
        """Release a hold: the certificate is good again (OCSP at once, CRL from its next issue).

        Raises:
            UnknownCertificateError; NotOnHoldError (not on hold, including revoked).
        """
        self._loaded_generations()  # never load CAs inside another open transaction
        now = whole_seconds(require_aware(self._clock.now()))
        with self._in(session) as session:
            record = self._record(session, serial_number, for_update=True)
            if record.status != CertificateStatus.ON_HOLD:
                raise NotOnHoldError("the certificate is not on hold")
            record.status = CertificateStatus.GOOD.value
            record.revocation_reason = None
            record.revoked_at = None
            record.invalidity_date = None
            record.updated_at = now
            session.add(CertificateEventRecord(certificate_id=record.id, event="released", at=now))
            state = self._state(record)
        logger.info("released hold on serial=%s", serial_to_hex(serial_number))
        return state

    @contextmanager
    def _in(self, session: Session | None) -> Iterator[Session]:
        """The caller's open transaction, or a new one of our own."""
        if session is not None:
            yield session
            return
        with self._db.transaction() as own:
            yield own

    # ------------------------------------------------------------------ the outbox

    def add_defer_listener(self, listener: DeferListener) -> None:
        """Call ``listener`` for every later :meth:`defer`, in the deferring transaction (raising rolls it
        back: an observer that must not miss a revocation fails the state change with it)."""
        self._defer_listeners.append(listener)

    def defer(
        self,
        session: Session,
        serial_hex: str,
        action: PendingAction,
        reason: RevocationReason | None = None,
    ) -> None:
        """Record, in the caller's state-change transaction, a CA action that must follow its commit.

        The caller then runs :meth:`apply_pending_actions` after the commit; if the process dies first,
        the next start (or any later drain) applies it. Actions of one serial apply in insertion order.
        """
        if action is PendingAction.REVOKE and reason in (None, RevocationReason.CERTIFICATE_HOLD):
            raise ValueError("a deferred revocation needs a reason other than certificateHold")
        session.add(
            PendingCAActionRecord(
                serial_hex=serial_hex,
                action=action.value,
                reason=reason.value if reason is not None else None,
                created_at=whole_seconds(require_aware(self._clock.now())),
            )
        )
        for listener in self._defer_listeners:
            listener(session, serial_hex, action, reason)

    def apply_pending_actions(self, serial_hex: str | None = None) -> int:
        """Apply the outbox (oldest first; only ``serial_hex``'s rows if given); the number applied.

        Each row is claimed by deleting it in the transaction that applies it, so concurrent drains (other
        requests, other processes) never apply a row twice nor out of order. Idempotent: an action whose
        target state already holds (already revoked, not on hold…) just removes its row. A database error
        leaves the remaining rows for a later drain (logged, never raised: the state change that asked
        for them has committed).
        """
        self._loaded_generations()  # never load CAs inside another open transaction
        applied = 0
        try:
            with self._db.transaction() as session:
                query = select(PendingCAActionRecord.id).order_by(PendingCAActionRecord.id)
                if serial_hex is not None:
                    query = query.where(PendingCAActionRecord.serial_hex == serial_hex)
                row_ids = list(session.scalars(query))
            for row_id in row_ids:
                with self._db.transaction() as session:
                    row = session.get(PendingCAActionRecord, row_id)
                    claimed = session.execute(
                        delete(PendingCAActionRecord).where(PendingCAActionRecord.id == row_id)
                    ).rowcount  # type: ignore[attr-defined]
                    if row is None or claimed != 1:
                        continue  # another drain applied it
                    serial = int(row.serial_hex, 16)
                    try:
                        if row.action == PendingAction.REVOKE.value:
                            assert row.reason is not None
                            self.revoke(serial, RevocationReason(row.reason), session=session)
                        elif row.action == PendingAction.HOLD.value:
                            self.hold(serial, session=session)
                        else:
                            self.release(serial, session=session)
                    except (InvalidTransitionError, UnknownCertificateError) as skipped:
                        logger.info("outbox %s serial=%s: %s", row.action, row.serial_hex, skipped)
                applied += 1
        except SQLAlchemyError:
            logger.warning("CA outbox drain interrupted; the remaining actions stay pending", exc_info=True)
        return applied

    def _record(
        self, session: Session, serial_number: int, *, for_update: bool = False
    ) -> IssuedCertificateRecord:
        if serial_number < 0:
            raise UnknownCertificateError("no certificate with that serial number")
        query = select(IssuedCertificateRecord).where(
            IssuedCertificateRecord.serial_hex == serial_to_hex(serial_number)
        )
        if for_update:
            query = query.with_for_update()
        record = session.scalars(query).one_or_none()
        if record is None:
            raise UnknownCertificateError("no certificate with that serial number")
        return record

    def _state(self, record: IssuedCertificateRecord) -> CertificateState:
        issuer = self._generation_by_id(record.ca_id)
        return CertificateState(
            serial_number=int(record.serial_hex, 16),
            kind=CertificateKind(record.kind),
            form_factor=FormFactor(record.form_factor),
            subject_id=record.subject_id,
            issuer_purpose=issuer.purpose,
            issuer_generation=issuer.generation,
            status=CertificateStatus(record.status),
            revocation_reason=RevocationReason(record.revocation_reason)
            if record.revocation_reason
            else None,
            revoked_at=record.revoked_at,
            invalidity_date=record.invalidity_date,
            not_before=record.not_before,
            not_after=record.not_after,
            issued_at=record.issued_at,
        )

    def _wire_reason(self, reason: str | None) -> RevocationReason | None:
        if reason is None:
            return None
        value = RevocationReason(reason)
        if value is RevocationReason.UNSPECIFIED and not self._config.encode_unspecified_reason:
            return None
        return value

    # ------------------------------------------------------------------ CRLs

    def current_crl(self, purpose: CertificateKind, generation: int) -> CRLInfo:
        """The latest CRL of a generation, issuing a new one first if the daily schedule says it is due.

        Raises:
            UnknownCAError.
        """
        ca_id, ca = self._generation(purpose, generation)
        self.apply_pending_actions()
        now = require_aware(self._clock.now())
        for _ in range(2):  # a concurrent issuer may win the CRL number: read its CRL instead
            with self._db.transaction() as session:
                latest = self._latest_crl(session, ca_id)
                if latest is not None and not self._config.crl_schedule.is_due(latest.this_update, now):
                    return _crl_info(ca, latest)
            try:
                return self._issue_crl(ca_id, ca, now, forced=False, omit_next_update=False)
            except IntegrityError:
                continue
        raise RuntimeError("could not issue or read a CRL")  # pragma: no cover

    def issue_crls(
        self,
        purpose: CertificateKind | None = None,
        *,
        generation: int | None = None,
        omit_next_update: bool = False,
    ) -> list[CRLInfo]:
        """Force a CRL issue now for every generation (optionally one purpose, or one generation).

        Args:
            purpose: restrict to one purpose.
            generation: restrict to one generation number (needs ``purpose``).
            omit_next_update: issue CRLs without nextUpdate (negative scenarios).

        Raises:
            UnknownCAError: ``generation`` does not exist; ValueError: ``generation`` without ``purpose``.
        """
        if generation is not None and purpose is None:
            raise ValueError("a generation number needs a purpose")
        self.apply_pending_actions()  # a CRL shows every committed state change
        now = require_aware(self._clock.now())
        if generation is not None and purpose is not None:
            targets = [self._generation(purpose, generation)]
        else:
            targets = [
                (i, g) for i, g in self._loaded_generations() if purpose is None or g.purpose is purpose
            ]
        return [self._force_crl(i, g, now, omit_next_update=omit_next_update) for i, g in targets]

    def _force_crl(self, ca_id: int, ca: CAGeneration, now: datetime, *, omit_next_update: bool) -> CRLInfo:
        """A forced issue; a concurrent issuer that took the CRL number makes it take the next one."""
        for _ in range(_CRL_NUMBER_ATTEMPTS):
            try:
                return self._issue_crl(ca_id, ca, now, forced=True, omit_next_update=omit_next_update)
            except IntegrityError:
                continue  # uq_crl_ca_number: read the new latest number and try again
        raise CRLContentionError(f"could not allocate a CRL number for {ca.label}")

    def _latest_crl(self, session: Session, ca_id: int) -> CRLRecord | None:
        return session.scalars(
            select(CRLRecord).where(CRLRecord.ca_id == ca_id).order_by(CRLRecord.crl_number.desc()).limit(1)
        ).first()

    def _issue_crl(
        self, ca_id: int, ca: CAGeneration, now: datetime, *, forced: bool, omit_next_update: bool
    ) -> CRLInfo:
        with self._db.transaction() as session:
            latest = self._latest_crl(session, ca_id)
            this_update = whole_seconds(now)
            if latest is not None and latest.this_update > this_update:
                this_update = latest.this_update  # a concurrent issuer got ahead: never go back in time
            next_update = None if omit_next_update else self._config.crl_schedule.next_update_for(this_update)
            if (
                not forced
                and latest is not None
                and not self._config.crl_schedule.is_due(latest.this_update, this_update)
            ):
                # Another request issued the scheduled CRL since the caller looked: serve that one.
                return _crl_info(ca, latest)
            number = 1 if latest is None else latest.crl_number + 1
            records = session.scalars(
                select(IssuedCertificateRecord)
                .where(IssuedCertificateRecord.ca_id == ca_id)
                .where(IssuedCertificateRecord.status != CertificateStatus.GOOD.value)
                .order_by(IssuedCertificateRecord.id)
            ).all()
            entries = [
                RevokedEntry(
                    serial_number=int(r.serial_hex, 16),
                    revocation_time=r.revoked_at,
                    reason=self._wire_reason(r.revocation_reason),
                    invalidity_date=r.invalidity_date,
                )
                for r in records
                if r.revoked_at is not None and r.revoked_at <= this_update
            ]
            crl = build_crl(
                issuer=ca,
                crl_number=number,
                this_update=this_update,
                next_update=next_update,
                entries=entries,
            )
            record = CRLRecord(
                ca_id=ca_id,
                crl_number=number,
                this_update=this_update,
                next_update=next_update,
                crl_der=crl.public_bytes(serialization.Encoding.DER),
                forced=forced,
            )
            session.add(record)
        logger.info(
            "issued CRL %s #%d (%d entries, %s)",
            ca.label,
            number,
            len(entries),
            "forced" if forced else "scheduled",
        )
        return _crl_info(ca, record)

    # ------------------------------------------------------------------ OCSP

    def ocsp_respond(
        self,
        request_der: bytes,
        *,
        delegated: bool | None = None,
        responder_id: ResponderIdType | None = None,
    ) -> bytes:
        """Answer a DER OCSPRequest with a DER OCSPResponse (never raises for bad input).

        Args:
            request_der: the request bytes.
            delegated: override :attr:`CAConfig.ocsp_delegated_responder` for this call.
            responder_id: override :attr:`CAConfig.ocsp_responder_id` for this call.

        Returns:
            a successful response, or ``malformedRequest``/``unauthorized`` (:mod:`mock_platform.ca.ocsp`).
        """
        try:
            parsed = parse_ocsp_request(request_der)
        except OCSPRequestError as rejected:
            logger.info("OCSP request rejected (%s): %s", rejected.status.name, rejected.message)
            return unsuccessful_response(rejected.status)
        generations = self._loaded_generations()
        issuer = find_issuer(parsed.cert_id, (g for _, g in generations))
        if issuer is None:
            logger.info("OCSP request for an issuer that is none of the mock's CAs")
            return unsuccessful_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        ca_id = next(ca_id for ca_id, g in generations if g is issuer)
        now = whole_seconds(require_aware(self._clock.now()))
        use_delegated = self._config.ocsp_delegated_responder if delegated is None else delegated
        serial_hex = serial_to_hex(parsed.cert_id.serial_number)
        with self._db.transaction() as session:
            status = self._ocsp_status(session, ca_id, parsed.cert_id.serial_number, now)
            pending = session.scalars(
                select(PendingCAActionRecord.id)
                .where(PendingCAActionRecord.serial_hex == serial_hex)
                .limit(1)
            ).first()
            signer = (
                self._delegated_signer(session, ca_id, issuer, now)
                if use_delegated
                else OCSPSigner(issuer.certificate, issuer.private_key)
            )
        if pending is not None:  # a committed state change whose CA action has not run yet (a crash)
            self.apply_pending_actions(serial_hex)
            with self._db.transaction() as session:
                status = self._ocsp_status(session, ca_id, parsed.cert_id.serial_number, now)
        return build_ocsp_response(
            cert_id=parsed.cert_id,
            status=status,
            signer=signer,
            this_update=now,
            next_update=now + self._config.ocsp_validity,
            produced_at=now,
            responder_id=responder_id if responder_id is not None else self._config.ocsp_responder_id,
            nonce=parsed.nonce,
        )

    def _ocsp_status(self, session: Session, ca_id: int, serial_number: int, now: datetime) -> SingleStatus:
        record = session.scalars(
            select(IssuedCertificateRecord).where(
                IssuedCertificateRecord.serial_hex == serial_to_hex(serial_number)
            )
        ).one_or_none()
        if record is None or record.ca_id != ca_id:
            return SingleStatus.unknown()
        if record.status == CertificateStatus.GOOD or record.revoked_at is None or record.revoked_at > now:
            return SingleStatus.good()
        return SingleStatus.revoked(record.revoked_at, self._wire_reason(record.revocation_reason))

    def _delegated_signer(
        self, session: Session, ca_id: int, issuer: CAGeneration, now: datetime
    ) -> OCSPSigner:
        """A responder certificate of ``issuer`` valid for this whole response, creating one if needed."""
        horizon = now + self._config.ocsp_validity
        record = session.scalars(
            select(OCSPResponderRecord)
            .where(OCSPResponderRecord.ca_id == ca_id)
            .where(OCSPResponderRecord.not_before <= now)
            .where(OCSPResponderRecord.not_after >= horizon)
            .order_by(OCSPResponderRecord.not_after.desc())
            .limit(1)
        ).first()
        if record is None:
            key = generate_private_key(KeyType.RSA_2048)
            not_before = now - timedelta(hours=1)  # tolerate verifiers whose clocks run a little behind
            not_after = min(now + self._config.ocsp_responder_lifetime, issuer.not_after)
            certificate = build_ocsp_responder_certificate(
                issuer=issuer, public_key=key.public_key(), not_before=not_before, not_after=not_after
            )
            record = OCSPResponderRecord(
                ca_id=ca_id,
                serial_hex=serial_to_hex(certificate.serial_number),
                certificate_der=certificate.public_bytes(serialization.Encoding.DER),
                private_key_pem=private_key_to_pem(key),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
            )
            session.add(record)
            logger.info("issued delegated OCSP responder certificate for %s", issuer.label)
            return OCSPSigner(certificate, key, (certificate,))
        certificate = x509.load_der_x509_certificate(record.certificate_der)
        return OCSPSigner(certificate, load_private_key_pem(record.private_key_pem), (certificate,))


def _insert_issued(session: Session, record: IssuedCertificateRecord, now: datetime) -> None:
    session.add(record)
    session.flush()
    session.add(CertificateEventRecord(certificate_id=record.id, event="issued", at=now))


def _generation_record(generation: CAGeneration, now: datetime) -> CAGenerationRecord:
    return CAGenerationRecord(
        purpose=generation.purpose.value,
        generation=generation.generation,
        subject_key_identifier=generation.subject_key_identifier.hex(),
        sha256_fingerprint=generation.sha256_fingerprint,
        certificate_der=generation.certificate.public_bytes(serialization.Encoding.DER),
        private_key_pem=private_key_to_pem(generation.private_key),
        not_before=generation.not_before,
        not_after=generation.not_after,
        created_at=now,
    )


def _generation_from_record(record: CAGenerationRecord) -> CAGeneration:
    return CAGeneration(
        purpose=CertificateKind(record.purpose),
        generation=record.generation,
        certificate=x509.load_der_x509_certificate(record.certificate_der),
        private_key=load_private_key_pem(record.private_key_pem),
    )


def _ca_info(generation: CAGeneration) -> CACertificateInfo:
    return CACertificateInfo(
        purpose=generation.purpose,
        generation=generation.generation,
        certificate=generation.certificate,
        sha256_fingerprint=generation.sha256_fingerprint,
        subject_key_identifier=generation.subject_key_identifier.hex(),
    )


def _crl_info(ca: CAGeneration, record: CRLRecord) -> CRLInfo:
    return CRLInfo(
        purpose=ca.purpose,
        generation=ca.generation,
        crl_number=record.crl_number,
        this_update=record.this_update,
        next_update=record.next_update,
        der=record.crl_der,
        forced=record.forced,
    )


__all__ = [
    "CACertificateInfo",
    "CAConfig",
    "CAService",
    "CRLInfo",
    "CertificateState",
    "CertificateStatus",
    "IssuedCertificate",
    "PendingAction",
]
