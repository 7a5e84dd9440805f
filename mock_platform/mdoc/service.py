"""MdocService: the mock's issuer of the iPhone attribute credential (``org.iso.23220.1.jp.mnc``).

Lifecycle (domain-lifecycle.md §3, domain-mdoc.md):

* **When a credential exists.** Only for an iPhone registration in state ``registered`` (the §3 add flow
  completed and provisioned). The device binds its *device key* (an EC P-256 key of the phone's secure
  element — not the JPKI RSA keys) with ``POST /iphone/additions/{id}/credential``; from then on it fetches
  its current credential with ``GET``. Android registrations answer ``ATTRIBUTE_PROOF_UNSUPPORTED``.
* **Re-issue before expiry.** A credential is valid for ``credential_validity`` (30 days), but never past
  the holder's next age change (so a signed ``age_over_NN``/``age_in_years`` stays true), the document
  signer's or the phone user-authentication certificate's notAfter. ``expectedUpdate`` lies
  ``renew_before`` (7 days; at most half the validity) before ``validUntil``; a fetch at or after it
  returns a freshly signed credential with new salts and ages computed at that instant.
* **Invalidation.** Deletion (3-E/3-F: registration ``revoked``), hotline suspension (``suspended``; a
  resumed phone is re-registered and binds a new key), card renewal, or a change of the basic four
  attributes invalidates the binding and so every credential issued under it. The state is *derived*
  from the lifecycle tables whenever a credential is fetched or its status read, and then stamped on the
  binding (status, reason, time of the lifecycle event): no lifecycle path can forget to tell the issuer.
  After an attribute change the platform refuses to issue again for that registration (the user re-adds
  the card, §4), matching the phone's signing certificate, which is revoked and not re-issued.
* **Status.** :meth:`MdocService.status` / :meth:`credential_status` (admin routes): ``none``, ``valid``,
  ``expired``, ``superseded``, ``invalidated`` with its reason. An mdoc carries no status list: an RP
  cannot see an invalidation inside a DeviceResponse; the device simulator checks with the platform before
  presenting (as Wallet removes a deleted card) — see ``docs/mock_mdoc.md``.

No module-level state; keys persisted in ``mdoc_signers`` like the CA keys (clear PKCS#8 PEM: a mock).
Logs carry public ids, reasons and counts only, never an element value.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..ca.attributes import DateOfBirth
from ..ca.keys import load_private_key_pem, private_key_to_pem
from ..clock import Clock, require_aware, whole_seconds
from ..db import (
    Database,
    DeviceRecord,
    IssuedCertificateRecord,
    MdocBindingRecord,
    MdocCredentialRecord,
    MdocSignerRecord,
    ResidentRecord,
    SmartphoneRegistrationRecord,
)
from ..issuance.errors import NotReadyError, UnknownRegistrationError, WrongDeviceError
from ..issuance.states import Platform, RegistrationState
from .cbor import encode
from .cose import cose_key, public_key_from_cose
from .elements import DOC_TYPE, HolderData, holder_elements, next_age_change
from .errors import (
    AttributeProofUnsupportedError,
    CredentialInvalidatedError,
    InvalidDeviceKeyError,
    NoCredentialError,
)
from .issuer import Validity, build_issuer_signed
from .pki import SignerCurve, build_document_signer, build_iaca

logger = logging.getLogger(__name__)

S = RegistrationState
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class MdocConfig:
    """Issuer behaviour.

    Attributes:
        curve: IACA and document signer curve: P-256 (ES256, default) or P-384 (ES384).
        credential_validity: validUntil − signed, before the caps (next age change, signer, phone
            certificate).
        renew_before: how long before validUntil the credential is re-issued (``expectedUpdate``).
    """

    curve: SignerCurve = SignerCurve.P256
    credential_validity: timedelta = field(default=timedelta(days=30))
    renew_before: timedelta = field(default=timedelta(days=7))


class CredentialStatus(StrEnum):
    NONE = "none"
    VALID = "valid"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    INVALIDATED = "invalidated"


class InvalidationReason(StrEnum):
    DELETED = "deleted"  # 3-E / 3-F (registration revoked)
    SUSPENDED = "suspended"  # hotline, lost or stolen phone (5-B)
    ATTRIBUTES_CHANGED = "attributes_changed"  # basic four attributes changed at the counter
    CARD_RENEWED = "card_renewed"  # FAQ 4
    ENDED = "ended"  # any other end of the registration
    DEVICE_KEY_REPLACED = "device_key_replaced"  # the device bound a new key
    ADMIN = "admin"  # an explicit admin call


@dataclass(frozen=True, slots=True)
class CredentialView:
    """An issued credential as handed to the device (``issuer_signed``: encoded IssuerSigned CBOR)."""

    credential_id: str
    registration_id: str
    doc_type: str
    issuer_signed: bytes
    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime


@dataclass(frozen=True, slots=True)
class CredentialStatusView:
    """Status of a registration's (or one) credential: no personal data."""

    registration_id: str
    status: CredentialStatus
    reason: InvalidationReason | None = None
    invalidated_at: datetime | None = None
    credential_id: str | None = None
    doc_type: str | None = None
    signed: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    expected_update: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Signer:
    id: int
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


class MdocService:
    """Issuer of the attribute credential over one database and clock (see the module docstring)."""

    def __init__(self, database: Database, clock: Clock, config: MdocConfig | None = None) -> None:
        self._db = database
        self._clock = clock
        self._config = config if config is not None else MdocConfig()

    @classmethod
    def create(cls, database: Database, clock: Clock, config: MdocConfig | None = None) -> MdocService:
        """Create missing tables and the IACA on first start."""
        database.create_all()
        service = cls(database, clock, config)
        service.bootstrap()
        return service

    @property
    def config(self) -> MdocConfig:
        return self._config

    def _now(self) -> datetime:
        return whole_seconds(require_aware(self._clock.now()))

    # ------------------------------------------------------------------ PKI

    def bootstrap(self) -> None:
        """Create the IACA of the configured curve if missing (idempotent, safe under a concurrent start)."""
        self._iaca()

    def _iaca(self) -> _Signer:
        curve = self._config.curve.value
        for _ in range(_ATTEMPTS):
            with self._db.transaction() as session:
                record = session.scalars(
                    select(MdocSignerRecord)
                    .where(MdocSignerRecord.role == "iaca", MdocSignerRecord.curve == curve)
                    .order_by(MdocSignerRecord.sequence.desc())
                    .limit(1)
                ).first()
            if record is not None:
                return _signer(record)
            now = self._now()
            key = self._config.curve.generate()
            certificate = build_iaca(key, self._config.curve, not_before=now)
            try:
                with self._db.transaction() as session:
                    session.add(_signer_record("iaca", curve, 1, None, certificate, key, now))
                logger.info("created mdoc IACA (%s)", curve)
            except IntegrityError:
                continue  # created concurrently: read it
        raise RuntimeError("could not create the mdoc IACA")  # pragma: no cover

    def iaca_certificate(self) -> x509.Certificate:
        """The IACA root of the configured curve (the RP's trust anchor)."""
        return self._iaca().certificate

    def iaca_certificates(self) -> list[x509.Certificate]:
        """Every IACA root the mock ever created (all curves), oldest first."""
        self._iaca()
        with self._db.transaction() as session:
            records = session.scalars(
                select(MdocSignerRecord).where(MdocSignerRecord.role == "iaca").order_by(MdocSignerRecord.id)
            ).all()
            return [x509.load_der_x509_certificate(r.certificate_der) for r in records]

    def _document_signer(self, now: datetime, needed_until: datetime) -> _Signer:
        """A document signer valid over ``[now, needed_until]`` (capped by the IACA), created if needed."""
        iaca = self._iaca()
        curve = self._config.curve.value
        needed_until = min(needed_until, iaca.certificate.not_valid_after_utc)
        for _ in range(_ATTEMPTS):
            with self._db.transaction() as session:
                record = session.scalars(
                    select(MdocSignerRecord)
                    .where(
                        MdocSignerRecord.role == "document_signer",
                        MdocSignerRecord.curve == curve,
                        MdocSignerRecord.issuer_id == iaca.id,
                        MdocSignerRecord.not_before <= now,
                        MdocSignerRecord.not_after >= needed_until,
                    )
                    .order_by(MdocSignerRecord.sequence.desc())
                    .limit(1)
                ).first()
                sequence = 1 + (
                    session.scalar(
                        select(func.max(MdocSignerRecord.sequence)).where(
                            MdocSignerRecord.role == "document_signer", MdocSignerRecord.curve == curve
                        )
                    )
                    or 0
                )
            if record is not None:
                return _signer(record)
            key = self._config.curve.generate()
            certificate = build_document_signer(
                key.public_key(),
                iaca.certificate,
                iaca.key,
                self._config.curve,
                not_before=now,
                sequence=sequence,
            )
            try:
                with self._db.transaction() as session:
                    session.add(
                        _signer_record("document_signer", curve, sequence, iaca.id, certificate, key, now)
                    )
                logger.info("created mdoc document signer #%d (%s)", sequence, curve)
            except IntegrityError:
                continue
        raise RuntimeError("could not create a document signer")  # pragma: no cover

    # ------------------------------------------------------------------ credential

    def fetch(
        self,
        registration_id: str,
        *,
        device_id: str,
        device_public_key: ec.EllipticCurvePublicKey | None = None,
    ) -> CredentialView:
        """The device's current credential, issued or re-issued as needed.

        Args:
            registration_id: the iPhone addition.
            device_id: the handset making the call (must be the registration's).
            device_public_key: binds this key first (``POST``); ``None`` uses the bound key (``GET``).

        Raises:
            AttributeProofUnsupportedError: an Android registration.
            NotReadyError: the addition is not usable yet.
            NoCredentialError: ``GET`` before any key was bound.
            CredentialInvalidatedError: deleted, suspended, attributes changed… (``reason`` member).
            InvalidDeviceKeyError: not a P-256 key.
        """
        if device_public_key is not None and not isinstance(device_public_key.curve, ec.SECP256R1):
            raise InvalidDeviceKeyError("the device key must be an EC P-256 key")
        now = self._now()
        needed_until = now + self._config.credential_validity
        signer = self._document_signer(now, needed_until)
        for attempt in range(_ATTEMPTS):
            try:
                with self._db.transaction() as session:
                    view, issued = self._fetch(
                        session, registration_id, device_id, device_public_key, signer, now
                    )
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue  # a concurrent bind won: read again
            if issued:
                logger.info("issued mdoc credential %s for %s", view.credential_id, registration_id)
            return view
        raise RuntimeError("unreachable")  # pragma: no cover

    def _fetch(
        self,
        session: Session,
        registration_id: str,
        device_id: str,
        device_public_key: ec.EllipticCurvePublicKey | None,
        signer: _Signer,
        now: datetime,
    ) -> tuple[CredentialView, bool]:
        reg = _registration(session, registration_id)
        device = session.get_one(DeviceRecord, reg.device_id)
        if not secrets.compare_digest(device.device_id.encode(), device_id.encode()):
            raise WrongDeviceError("this step must be done on the handset of the registration")
        if reg.platform != Platform.IPHONE.value:
            raise AttributeProofUnsupportedError(
                "Android carries no attribute proof; use the signing certificate's attributes instead",
                fallback="jpki_signing_certificate",
            )
        resident = session.get_one(ResidentRecord, reg.resident_id)
        binding = _latest_binding(session, reg.id)
        if binding is not None:
            _sync(binding, reg, resident)
        if reg.state != S.REGISTERED.value:
            if reg.state in (S.PENDING.value, S.APPLIED.value) or reg.state.startswith("awaiting"):
                raise NotReadyError("the iPhone's My Number Card is not usable yet", state=reg.state)
            reason = binding.invalidation_reason if binding is not None else _reason_for_state(reg.state)
            raise CredentialInvalidatedError(
                f"no credential: the registration is {reg.state}", reason=reason, state=reg.state
            )
        key_cose = encode(cose_key(device_public_key)) if device_public_key is not None else None
        if binding is not None and binding.status == "active":
            if key_cose is not None and binding.device_key_cose != key_cose:
                _invalidate(binding, InvalidationReason.DEVICE_KEY_REPLACED, now)
                session.flush()
                binding = None
        elif binding is not None:  # invalidated
            refused = (
                binding.invalidation_reason == InvalidationReason.ATTRIBUTES_CHANGED.value
                and binding.registered_at == reg.registered_at
            )
            if key_cose is None or refused:
                raise CredentialInvalidatedError(
                    "the attribute credential was invalidated"
                    + ("; re-add the card to this iPhone" if refused else "; bind the device key again"),
                    reason=binding.invalidation_reason,
                )
            binding = None
        if binding is None:
            if key_cose is None:
                raise NoCredentialError("no device key is bound: POST the device key first")
            assert reg.registered_at is not None
            binding = MdocBindingRecord(
                public_id=_new_id("mdb"),
                registration_id=reg.id,
                active_registration_id=reg.id,
                device_key_cose=key_cose,
                attributes_version=resident.attributes_version,
                registered_at=reg.registered_at,
                status="active",
                created_at=now,
            )
            session.add(binding)
            session.flush()
        current = _latest_credential(session, binding.id)
        if current is not None and current.valid_from <= now < current.expected_update:
            return _view(current, reg.public_id), False
        record = self._issue(session, reg, resident, binding, signer, now)
        return _view(record, reg.public_id), True

    def _issue(
        self,
        session: Session,
        reg: SmartphoneRegistrationRecord,
        resident: ResidentRecord,
        binding: MdocBindingRecord,
        signer: _Signer,
        now: datetime,
    ) -> MdocCredentialRecord:
        holder = _holder(resident)
        until = min(now + self._config.credential_validity, signer.certificate.not_valid_after_utc)
        birth = holder.birth_date
        if birth is not None:
            until = min(until, next_age_change(birth, now))
        if reg.user_authentication_serial is not None:
            phone_not_after = session.scalar(
                select(IssuedCertificateRecord.not_after).where(
                    IssuedCertificateRecord.serial_hex == reg.user_authentication_serial
                )
            )
            if phone_not_after is not None:
                until = min(until, phone_not_after)
        until = whole_seconds(until)
        margin = min(self._config.renew_before, (until - now) / 2)
        validity = Validity(now, now, until, whole_seconds(until - margin))
        device_key = public_key_from_cose(_decode_cose_key(binding.device_key_cose))
        issuer_signed = build_issuer_signed(
            doc_type=DOC_TYPE,
            elements=holder_elements(holder, now),
            device_key=device_key,
            validity=validity,
            signer_key=signer.key,
            signer_certificate_der=signer.der,
        )
        record = MdocCredentialRecord(
            public_id=_new_id("mdc"),
            binding_id=binding.id,
            signer_id=signer.id,
            doc_type=DOC_TYPE,
            issuer_signed=issuer_signed,
            signed_at=validity.signed,
            valid_from=validity.valid_from,
            valid_until=validity.valid_until,
            expected_update=validity.expected_update,
            created_at=now,
        )
        session.add(record)
        session.flush()
        return record

    # ------------------------------------------------------------------ status and admin

    def status(self, registration_id: str) -> CredentialStatusView:
        """The registration's credential status (derived from the lifecycle, then stamped)."""
        now = self._now()
        with self._db.transaction() as session:
            reg = _registration(session, registration_id)
            if reg.platform != Platform.IPHONE.value:
                raise AttributeProofUnsupportedError(
                    "Android carries no attribute proof", fallback="jpki_signing_certificate"
                )
            binding = _latest_binding(session, reg.id)
            if binding is None:
                return CredentialStatusView(reg.public_id, CredentialStatus.NONE)
            _sync(binding, reg, session.get_one(ResidentRecord, reg.resident_id))
            current = _latest_credential(session, binding.id)
            return _status_view(reg.public_id, binding, current, current, now)

    def credential_status(self, credential_id: str) -> CredentialStatusView:
        """The status of one issued credential (``superseded`` once a newer one was issued)."""
        now = self._now()
        with self._db.transaction() as session:
            record = session.scalars(
                select(MdocCredentialRecord).where(MdocCredentialRecord.public_id == credential_id)
            ).one_or_none()
            if record is None:
                raise UnknownCredentialError("no such credential")
            binding = session.get_one(MdocBindingRecord, record.binding_id)
            reg = session.get_one(SmartphoneRegistrationRecord, binding.registration_id)
            _sync(binding, reg, session.get_one(ResidentRecord, reg.resident_id))
            latest = _latest_credential(session, binding.id)
            return _status_view(reg.public_id, binding, record, latest, now)

    def invalidate(self, registration_id: str) -> CredentialStatusView:
        """Admin: invalidate the registration's live binding (reason ``admin``)."""
        now = self._now()
        with self._db.transaction() as session:
            reg = _registration(session, registration_id)
            binding = _latest_binding(session, reg.id)
            if binding is not None and binding.status == "active":
                _invalidate(binding, InvalidationReason.ADMIN, now)
        logger.info("mdoc credential of %s invalidated by an admin call", registration_id)
        return self.status(registration_id)


class UnknownCredentialError(NoCredentialError):
    code, status, title = "UNKNOWN_CREDENTIAL", 404, "Unknown attribute credential"


# ----------------------------------------------------------------------------------------- helpers


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _signer(record: MdocSignerRecord) -> _Signer:
    key = load_private_key_pem(record.private_key_pem)
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # pragma: no cover - only EC keys are stored
        raise TypeError("an mdoc signer key must be EC")
    return _Signer(record.id, x509.load_der_x509_certificate(record.certificate_der), key)


def _signer_record(
    role: str,
    curve: str,
    sequence: int,
    issuer_id: int | None,
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    now: datetime,
) -> MdocSignerRecord:
    return MdocSignerRecord(
        role=role,
        curve=curve,
        sequence=sequence,
        issuer_id=issuer_id,
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        private_key_pem=private_key_to_pem(key),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        created_at=now,
    )


def _registration(session: Session, registration_id: str) -> SmartphoneRegistrationRecord:
    record = session.scalars(
        select(SmartphoneRegistrationRecord).where(SmartphoneRegistrationRecord.public_id == registration_id)
    ).one_or_none()
    if record is None:
        raise UnknownRegistrationError("no such application or registration")
    return record


def _latest_binding(session: Session, registration_pk: int) -> MdocBindingRecord | None:
    return session.scalars(
        select(MdocBindingRecord)
        .where(MdocBindingRecord.registration_id == registration_pk)
        .order_by(MdocBindingRecord.id.desc())
        .limit(1)
    ).first()


def _latest_credential(session: Session, binding_pk: int) -> MdocCredentialRecord | None:
    return session.scalars(
        select(MdocCredentialRecord)
        .where(MdocCredentialRecord.binding_id == binding_pk)
        .order_by(MdocCredentialRecord.id.desc())
        .limit(1)
    ).first()


def _reason_for_state(state: str) -> str:
    return {
        S.REVOKED.value: InvalidationReason.DELETED.value,
        S.SUSPENDED.value: InvalidationReason.SUSPENDED.value,
        S.CARD_RENEWED.value: InvalidationReason.CARD_RENEWED.value,
    }.get(state, InvalidationReason.ENDED.value)


def _invalidate(binding: MdocBindingRecord, reason: InvalidationReason, at: datetime) -> None:
    binding.status = "invalidated"
    binding.active_registration_id = None
    binding.invalidation_reason = reason.value
    binding.invalidated_at = at


def _sync(binding: MdocBindingRecord, reg: SmartphoneRegistrationRecord, resident: ResidentRecord) -> None:
    """Stamp the invalidation the lifecycle implies, if any (idempotent)."""
    if binding.status != "active":
        return
    reason: InvalidationReason | None = None
    at: datetime | None = None
    if reg.state != S.REGISTERED.value or reg.registered_at != binding.registered_at:
        reason = InvalidationReason(_reason_for_state(reg.state))
        if reg.state in (S.PENDING.value, S.REGISTERED.value):  # resumed after a hotline suspension
            reason = InvalidationReason.SUSPENDED
        at = reg.ended_at or reg.updated_at
    elif resident.attributes_version != binding.attributes_version:
        reason, at = InvalidationReason.ATTRIBUTES_CHANGED, resident.updated_at
    if reason is not None and at is not None:
        _invalidate(binding, reason, at)
        logger.info("mdoc binding %s invalidated (%s)", binding.public_id, reason.value)


def _decode_cose_key(data: bytes) -> dict[int, object]:
    value = cbor2.loads(data)
    if not isinstance(value, dict):  # pragma: no cover - written by this module
        raise ValueError("stored device key is not a map")
    return value


def _holder(resident: ResidentRecord) -> HolderData:
    birth = DateOfBirth.parse(resident.date_of_birth)
    return HolderData(
        subject_id=resident.public_id,
        name=resident.name,
        address=resident.address,
        gender=resident.gender,
        birth_year=birth.year,
        birth_month=birth.month,
        birth_day=birth.day,
        prefecture=resident.prefecture,
        municipality=resident.municipality,
    )


def _view(record: MdocCredentialRecord, registration_id: str) -> CredentialView:
    return CredentialView(
        credential_id=record.public_id,
        registration_id=registration_id,
        doc_type=record.doc_type,
        issuer_signed=record.issuer_signed,
        signed=record.signed_at,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        expected_update=record.expected_update,
    )


def _status_view(
    registration_id: str,
    binding: MdocBindingRecord,
    record: MdocCredentialRecord | None,
    latest: MdocCredentialRecord | None,
    now: datetime,
) -> CredentialStatusView:
    if binding.status != "active":
        status = CredentialStatus.INVALIDATED
    elif record is None:
        status = CredentialStatus.NONE
    elif latest is not None and latest.id != record.id:
        status = CredentialStatus.SUPERSEDED
    elif not record.valid_from <= now <= record.valid_until:
        status = CredentialStatus.EXPIRED
    else:
        status = CredentialStatus.VALID
    return CredentialStatusView(
        registration_id=registration_id,
        status=status,
        reason=InvalidationReason(binding.invalidation_reason) if binding.invalidation_reason else None,
        invalidated_at=binding.invalidated_at,
        credential_id=record.public_id if record is not None else None,
        doc_type=record.doc_type if record is not None else None,
        signed=record.signed_at if record is not None else None,
        valid_from=record.valid_from if record is not None else None,
        valid_until=record.valid_until if record is not None else None,
        expected_update=record.expected_update if record is not None else None,
    )


__all__ = [
    "CredentialStatus",
    "CredentialStatusView",
    "CredentialView",
    "InvalidationReason",
    "MdocConfig",
    "MdocService",
    "UnknownCredentialError",
]
