"""Persistence: SQLAlchemy 2 typed models and a :class:`Database` handle (SQLite file by default).

Design:

* One :class:`Database` object per application (made by :func:`create_app` or a test); no module-level
  engine or session.
* Every state change runs in one transaction (:meth:`Database.transaction`): a failing step leaves
  nothing half-written.
* Invariants live in the schema (unique serials, unique (CA, CRL number), one row per (purpose,
  generation)), so they hold across processes and under concurrency.
* All timestamps are stored as UTC and come back timezone-aware (:class:`UTCDateTime`), on SQLite and
  PostgreSQL alike.
* Serial numbers (up to 159 bits, more than a SQL BIGINT) are stored as lower-case hex without leading
  zeros (:func:`serial_to_hex`).
* SQLite runs in WAL mode with foreign keys on and a busy timeout, so the HTTP server and a CLI can share
  the file.

CA things live in their own models. Later issues (residents, devices, PIN counters, lifecycle) add their
own models to the same :data:`Base.metadata`; tables are created with ``metadata.create_all`` at start-up.
Private keys are stored as unencrypted PKCS#8 PEM: this is a mock, never a CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

CERTIFICATE_STATUSES = ("good", "revoked", "on_hold")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as aware UTC. Naive input raises ValueError."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def serial_to_hex(serial_number: int) -> str:
    """Canonical storage/display form of a serial: lower-case hex, no prefix, no leading zeros."""
    if serial_number < 0:
        raise ValueError("serial numbers are positive")
    return format(serial_number, "x")


# Arbitrary, fixed: the advisory-lock key that serialises schema creation (PostgreSQL).
_DDL_LOCK_KEY = 0x6D796E61


class Base(DeclarativeBase):
    """Declarative base of every mock-platform model."""


class CAGenerationRecord(Base):
    """One root CA generation of one purpose: certificate and key."""

    __tablename__ = "ca_generations"
    __table_args__ = (UniqueConstraint("purpose", "generation", name="uq_ca_purpose_generation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer)
    subject_key_identifier: Mapped[str] = mapped_column(String(64), unique=True)
    sha256_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OCSPResponderRecord(Base):
    """A delegated OCSP responder certificate (and key) issued by one CA generation."""

    __tablename__ = "ocsp_responders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("ca_generations.id"), index=True)
    serial_hex: Mapped[str] = mapped_column(String(42), unique=True)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuedCertificateRecord(Base):
    """An end-entity certificate issued by the mock and its revocation state.

    ``status`` is ``good``, ``revoked`` (permanent) or ``on_hold`` (certificateHold, releasable).
    ``subject_id`` is the opaque CN, never a personal attribute; the DER holds the attributes of a signing
    certificate, which is why no log line ever prints it.
    """

    __tablename__ = "issued_certificates"
    __table_args__ = (
        CheckConstraint("status IN ('good', 'revoked', 'on_hold')", name="ck_certificate_status"),
        CheckConstraint(
            "(status = 'good') = (revoked_at IS NULL)", name="ck_certificate_revoked_at_iff_not_good"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial_hex: Mapped[str] = mapped_column(String(42), unique=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("ca_generations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    form_factor: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="good")
    revocation_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    ca: Mapped[CAGenerationRecord] = relationship()
    events: Mapped[list[CertificateEventRecord]] = relationship(
        back_populates="certificate", order_by="CertificateEventRecord.id"
    )


class CertificateEventRecord(Base):
    """Audit trail of one certificate: issued, revoked, held, released (reason and time; no personal data)."""

    __tablename__ = "certificate_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("issued_certificates.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    certificate: Mapped[IssuedCertificateRecord] = relationship(back_populates="events")


class CRLRecord(Base):
    """One issued CRL of one CA generation (numbers strictly increase per generation)."""

    __tablename__ = "crls"
    __table_args__ = (UniqueConstraint("ca_id", "crl_number", name="uq_crl_ca_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("ca_generations.id"), index=True)
    crl_number: Mapped[int] = mapped_column(Integer)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    crl_der: Mapped[bytes] = mapped_column(LargeBinary)
    forced: Mapped[bool] = mapped_column(default=False)


class PendingCAActionRecord(Base):
    """The CA outbox: a revocation-state change that a committed state change requires.

    A lifecycle step that ends, suspends, resumes or supersedes something inserts these rows in the *same*
    transaction as its state change; after the commit they are applied (``revoke``/``hold``/``release`` of
    one serial) and deleted, each row in one transaction with its effect (claimed by deleting it). A
    process killed in between leaves the rows here; the next start (or any later drain, in any process
    sharing the database) applies them, so revocation always converges to the committed state.
    """

    __tablename__ = "pending_ca_actions"
    __table_args__ = (
        CheckConstraint("action IN ('revoke', 'hold', 'release')", name="ck_pending_ca_action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial_hex: Mapped[str] = mapped_column(String(42), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _is_sqlite_memory(url: URL) -> bool:
    return _is_sqlite(url) and url.database in (None, "", ":memory:")


class Database:
    """Engine + session factory for one database URL.

    Args:
        url: an SQLAlchemy URL: ``sqlite:///./var/mock_platform.sqlite3`` (the parent folder is
            created), ``sqlite://`` (in-memory, one shared connection: tests), or
            ``postgresql+psycopg://…`` (the driver must be installed separately).
        echo: log SQL (never enable with real data: the mock stores certificate DER).

    Raises:
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        engine_options: dict[str, Any] = {"echo": echo}
        if _is_sqlite_memory(parsed):
            engine_options.update(connect_args={"check_same_thread": False}, poolclass=StaticPool)
        elif _is_sqlite(parsed) and parsed.database:
            Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        self.url = parsed
        self.engine: Engine = create_engine(parsed, **engine_options)
        if _is_sqlite(parsed):
            event.listen(self.engine, "connect", _sqlite_pragmas(wal=not _is_sqlite_memory(parsed)))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create every table of :data:`Base.metadata` that does not exist yet.

        Several mock instances may start at once on one PostgreSQL database: the DDL runs in one
        transaction under a transaction-scoped advisory lock, so the second instance waits and then finds
        the tables (SQLite serialises writers by itself).
        """
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
            Base.metadata.create_all(connection)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)})"


def _sqlite_pragmas(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


# ---------------------------------------------------------------------------------------------------------
# Lifecycle of the smartphone card (mock_platform.issuance): residents, cards, PINs, smartphone
# registrations, one-time card challenges, certificates per owner and push notices.
#
# Invariants held by the schema (so they survive concurrency and several processes):
#
# * one person per *slot*: ``smartphone_registrations.slot_resident_id`` is UNIQUE and NULL when the
#   registration does not (or no longer) occupy the person's single smartphone slot (FAQ 2);
# * one person per device: ``slot_device_id`` is UNIQUE likewise;
# * one device-change (4-B) application per old registration: ``replaces_id`` is UNIQUE;
# * one live card per resident: ``cards.slot_resident_id`` UNIQUE;
# * one PIN record per (card, kind) and per (registration, kind);
# * a card challenge is used at most once (``used_at`` set in the consuming transaction).
#
# NULLs never collide in a UNIQUE constraint (SQLite and PostgreSQL alike), which is what makes the
# nullable-slot pattern portable without partial indexes.
# ---------------------------------------------------------------------------------------------------------


class ResidentRecord(Base):
    """A synthetic resident: the basic four attributes and the locality of the signing certificate.

    Personal data: never logged, never returned by list endpoints.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_substitute_positions: Mapped[str] = mapped_column(String(100), default="")
    gender: Mapped[str] = mapped_column(String(1))
    date_of_birth: Mapped[str] = mapped_column(String(9))
    address: Mapped[str] = mapped_column(String(200))
    address_substitute_positions: Mapped[str] = mapped_column(String(200), default="")
    prefecture: Mapped[str] = mapped_column(String(64))
    municipality: Mapped[str] = mapped_column(String(64))
    attributes_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardRecord(Base):
    """A physical My Number Card and its current certificates (serials in hex)."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'suspended', 'retired')", name="ck_card_state"),
        CheckConstraint(
            "(state = 'retired') = (slot_resident_id IS NULL)", name="ck_card_slot_iff_not_retired"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    slot_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    card_expiry: Mapped[date | None] = mapped_column(Date, default=None)
    signing_serial: Mapped[str | None] = mapped_column(String(42), default=None)
    user_authentication_serial: Mapped[str | None] = mapped_column(String(42), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceRecord(Base):
    """A handset known to the platform (an app instance identifier chosen by the device)."""

    __tablename__ = "devices"
    __table_args__ = (CheckConstraint("platform IN ('android', 'iphone')", name="ck_device_platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmartphoneRegistrationRecord(Base):
    """One application (Android, §2 / 4-B) or addition (iPhone, §3), from start to its end.

    ``state`` values and their transitions: :class:`mock_platform.issuance.states.RegistrationState`.
    """

    __tablename__ = "smartphone_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    flow: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    wants_signing: Mapped[bool] = mapped_column(default=True)
    wants_user_authentication: Mapped[bool] = mapped_column(default=True)
    signing_public_key_pem: Mapped[str | None] = mapped_column(Text, default=None)
    user_authentication_public_key_pem: Mapped[str | None] = mapped_column(Text, default=None)
    signing_serial: Mapped[str | None] = mapped_column(String(42), default=None)
    user_authentication_serial: Mapped[str | None] = mapped_column(String(42), default=None)
    slot_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    slot_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), unique=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("smartphone_registrations.id"), unique=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    usable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PinRecord(Base):
    """A salted PIN/password hash (argon2id, PHC string) with its retry counter.

    Exactly one owner: a card (card PINs) or a smartphone registration (phone PINs).
    """

    __tablename__ = "pins"
    __table_args__ = (
        UniqueConstraint("card_id", "kind", name="uq_pin_card_kind"),
        UniqueConstraint("registration_id", "kind", name="uq_pin_registration_kind"),
        CheckConstraint("(card_id IS NULL) <> (registration_id IS NULL)", name="ck_pin_one_owner"),
        CheckConstraint("failures >= 0", name="ck_pin_failures"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), default=None, index=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("smartphone_registrations.id"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(255))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    max_failures: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardChallengeRecord(Base):
    """A one-time nonce the card signs to prove it was read (NFC) in a flow."""

    __tablename__ = "card_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OwnedCertificateRecord(Base):
    """Which resident (and card or smartphone registration) an issued certificate belongs to."""

    __tablename__ = "owned_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial_hex: Mapped[str] = mapped_column(String(42), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), default=None)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("smartphone_registrations.id"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    form_factor: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NoticeRecord(Base):
    """A push notice for a device, visible from ``deliver_at`` on (no personal data)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("smartphone_registrations.id"), default=None
    )
    kind: Mapped[str] = mapped_column(String(32))
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------------------------------------------------
# Attribute credential (mdoc) of the iPhone My Number Card (mock_platform.mdoc).
#
# * ``mdoc_signers``: the IACA root(s) and document signers, keys stored like the CA keys;
# * ``mdoc_bindings``: a device key bound to an iPhone registration (the holder key of its credentials);
#   ``active_registration_id`` is UNIQUE and NULL once invalidated: at most one live binding per
#   registration, held by the schema (the nullable-slot pattern above);
# * ``mdoc_credentials``: each issued IssuerSigned (re-issued before expiry: several per binding).
# ---------------------------------------------------------------------------------------------------------


class MdocSignerRecord(Base):
    """An IACA root (``iaca``) or a document signer (``document_signer``): certificate and key."""

    __tablename__ = "mdoc_signers"
    __table_args__ = (
        UniqueConstraint("role", "curve", "sequence", name="uq_mdoc_signer_sequence"),
        CheckConstraint("role IN ('iaca', 'document_signer')", name="ck_mdoc_signer_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    curve: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("mdoc_signers.id"), default=None)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MdocBindingRecord(Base):
    """A device key bound to one iPhone registration, and whether its credentials are still valid."""

    __tablename__ = "mdoc_bindings"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'invalidated')", name="ck_mdoc_binding_status"),
        CheckConstraint(
            "(status = 'active') = (active_registration_id IS NOT NULL)", name="ck_mdoc_binding_slot"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("smartphone_registrations.id"), index=True)
    active_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("smartphone_registrations.id"), unique=True
    )
    device_key_cose: Mapped[bytes] = mapped_column(LargeBinary)
    attributes_version: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    invalidated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    invalidation_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MdocCredentialRecord(Base):
    """One issued credential: the IssuerSigned CBOR (personal data: never logged) and its validity."""

    __tablename__ = "mdoc_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("mdoc_bindings.id"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("mdoc_signers.id"))
    doc_type: Mapped[str] = mapped_column(String(64))
    issuer_signed: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    expected_update: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
