"""The bank's customer store (SQLAlchemy 2 Core; SQLite by default, PostgreSQL by URL).

Tables (all prefixed ``bank_``):

* ``bank_customers`` — one row per customer: the customer id, the **three** attributes an account needs
  (name, address, date of birth — the 本人特定事項 of 犯罪収益移転防止法 第4条第1項第1号 for a natural
  person; gender, the fourth of the basic four attributes, is not kept here: the confirmation record has
  it, the account does not need it), with their substitute-character positions, where they came from and
  when; the signing certificate used at opening (serial, fingerprint); the platform user ID (利用者ID)
  once known; the re-verification flag.
* ``bank_login_credentials`` — user-authentication certificates bound to a customer, by their opaque
  subject id (``JPKIVerifier.subject_id``: a keyed hash of issuer + subject DN, no personal data) — UNIQUE,
  so one certificate logs in to one customer only.
* ``bank_attribute_updates`` — **append-only** (database triggers refuse UPDATE, DELETE and, on SQLite,
  an INSERT OR REPLACE over an existing key): every change of
  a customer's attributes after opening (the latest attributes fetched from the platform with the holder's
  consent), as a JSON document in the spirit of the confirmation record (:class:`AttributeUpdate`).
* ``bank_webhook_events`` — **append-only**: each platform webhook event processed, by its id (UNIQUE: a
  redelivered event is recognised and not processed twice) with its outcome.
* ``bank_account_closures`` — **append-only**: the day an account was closed (UNIQUE per customer); the
  relationship end that starts the records' retention is appended to the confirmation-record repository
  at the same time.
* ``bank_sessions`` — login bearer tokens, SHA-256 only.
* ``bank_secrets`` — the generated login subject-id key when none is configured.

Every write is one transaction; SQLAlchemy errors become :class:`~myna_rp.errors.RecordStoreError`
(nothing written). Customer rows and dataclasses have a ``repr`` without personal data.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, RowMapping, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from myna_rp.clock import require_aware
from myna_rp.errors import RecordStoreError
from myna_rp.kyc.repository import sqlite_append_only_triggers

from .errors import AccountClosedError, AccountExistsError

#: Version of the JSON document of an attribute update (:meth:`AttributeUpdate.to_json`).
ATTRIBUTE_UPDATE_FORMAT = "examples.bank_kyc.attribute_update/1"


# ------------------------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class AccountAttributes:
    """The attributes an account keeps: name, address, date of birth (raw ``EYYYYMMDD``, as in the
    certificate) and the substitute-character positions of name and address (氏名/住所代替文字の使用位置)."""

    name: str
    address: str
    date_of_birth: str
    name_substitute_positions: str = ""
    address_substitute_positions: str = ""

    def __repr__(self) -> str:
        return "AccountAttributes(<personal data>)"

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "name_substitute_positions": self.name_substitute_positions,
            "address": self.address,
            "address_substitute_positions": self.address_substitute_positions,
            "date_of_birth": self.date_of_birth,
        }

    def changed_fields(self, other: AccountAttributes) -> list[str]:
        """The names of the attributes that differ between ``self`` and ``other`` (sorted)."""
        mine, theirs = self.to_json(), other.to_json()
        return sorted(key for key in mine if mine[key] != theirs[key])


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as stored.

    Attributes:
        customer_id: the bank's id (``cus_`` + 22 random base64url characters); the confirmation records'
            ``customer_reference``.
        opened_at: when the account was opened (aware UTC).
        attributes: current name, address, date of birth.
        attributes_source: ``signing_certificate`` (from opening) or ``platform`` (latest attributes).
        attributes_as_of: when those attributes were true (certificate verification time, or the
            platform's ``as_of``).
        opening_record_id: the confirmation record (確認記録) of the account opening.
        signing_serial_hex, signing_fingerprint: the signing certificate used at opening.
        platform_user_id: the platform's stable user ID for this bank (利用者ID), once known.
        reverification_required: set by an attribute-change webhook, cleared by fresh attributes.
        reverification_reason: why it was set (``attributes_changed``), else ``None``.
        flagged_at: when it was set, else ``None``.
    """

    customer_id: str
    opened_at: datetime
    attributes: AccountAttributes
    attributes_source: str
    attributes_as_of: datetime
    opening_record_id: UUID
    signing_serial_hex: str
    signing_fingerprint: str
    platform_user_id: str | None
    reverification_required: bool
    reverification_reason: str | None
    flagged_at: datetime | None

    def __repr__(self) -> str:
        return (
            f"Customer({self.customer_id}, reverification_required={self.reverification_required}, "
            f"attributes_source={self.attributes_source})"
        )


@dataclass(frozen=True, slots=True)
class LoginCredential:
    """A user-authentication certificate bound to a customer (no personal data).

    Attributes:
        subject_id: ``JPKIVerifier.subject_id`` of the certificate (keyed hash, base64url 43 chars).
        certificate_serial_hex: the certificate's serial (to follow a suspension webhook).
        form_factor: ``card``, ``android``, ``iphone`` or ``unknown``.
        bound_at: when it was bound (account opening).
        suspended_at: when the platform reported the phone suspended (lost/stolen), else ``None``.
    """

    subject_id: str
    customer_id: str
    certificate_serial_hex: str
    form_factor: str
    bound_at: datetime
    suspended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """What account opening stores (see :meth:`CustomerStore.create_customer`)."""

    customer_id: str
    opened_at: datetime
    attributes: AccountAttributes
    attributes_as_of: datetime
    opening_record_id: UUID
    signing_serial_hex: str
    signing_fingerprint: str
    platform_user_id: str | None
    login: LoginCredential

    def __repr__(self) -> str:
        return f"NewCustomer({self.customer_id})"


@dataclass(frozen=True, slots=True)
class AttributeUpdate:
    """An appended change of a customer's attributes (in the spirit of a confirmation record, 確認記録).

    Attributes:
        update_id: a random UUID.
        customer_id: whose attributes.
        recorded_at: when the bank recorded it (aware UTC).
        as_of: when the attributes were true according to the source (aware UTC).
        source: ``platform_latest_attributes`` (最新の利用者情報提供, with the holder's consent).
        platform_user_id: the user ID the platform was asked about.
        trigger: ``webhook`` or ``customer_request``; ``trigger_event_id`` the webhook id, when any.
        previous, attributes: before and after; ``changed`` lists the fields that differ.
        organisation, operator_id: who recorded it.
    """

    update_id: UUID
    customer_id: str
    recorded_at: datetime
    as_of: datetime
    source: str
    platform_user_id: str
    trigger: str
    trigger_event_id: str | None
    previous: AccountAttributes
    attributes: AccountAttributes
    organisation: str
    operator_id: str
    changed: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        require_aware(self.recorded_at)
        require_aware(self.as_of)

    def __repr__(self) -> str:
        return f"AttributeUpdate({self.update_id}, customer={self.customer_id}, changed={list(self.changed)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ATTRIBUTE_UPDATE_FORMAT,
            "update_id": str(self.update_id),
            "customer_id": self.customer_id,
            "recorded_at": _iso(self.recorded_at),
            "as_of": _iso(self.as_of),
            "source": self.source,
            "platform_user_id": self.platform_user_id,
            "trigger": {"kind": self.trigger, "event_id": self.trigger_event_id},
            "previous": self.previous.to_json(),
            "attributes": self.attributes.to_json(),
            "changed": list(self.changed),
            "recorded_by": {"organisation": self.organisation, "operator_id": self.operator_id},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AttributeUpdate:
        """Rebuild from :meth:`to_json` output. Raises RecordStoreError on another shape."""
        try:
            if document["format"] != ATTRIBUTE_UPDATE_FORMAT:
                raise ValueError("format")
            return cls(
                update_id=UUID(document["update_id"]),
                customer_id=document["customer_id"],
                recorded_at=_parse_iso(document["recorded_at"]),
                as_of=_parse_iso(document["as_of"]),
                source=document["source"],
                platform_user_id=document["platform_user_id"],
                trigger=document["trigger"]["kind"],
                trigger_event_id=document["trigger"]["event_id"],
                previous=AccountAttributes(**document["previous"]),
                attributes=AccountAttributes(**document["attributes"]),
                changed=tuple(document["changed"]),
                organisation=document["recorded_by"]["organisation"],
                operator_id=document["recorded_by"]["operator_id"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordStoreError(
                f"a stored attribute update cannot be read back ({type(exc).__name__})"
            ) from exc


@dataclass(frozen=True, slots=True)
class WebhookEventRecord:
    """A processed platform webhook event: id, type, the customer it concerned (if any), the outcome."""

    event_id: str
    event_type: str
    received_at: datetime
    customer_id: str | None
    outcome: str


# ------------------------------------------------------------------------------------------- schema


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as naive UTC (SQLite keeps no offset), read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return require_aware(value).astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


_metadata = MetaData()
_customers = Table(
    "bank_customers",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False, unique=True),
    Column("opened_at", _UTCDateTime, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_substitute_positions", String(200), nullable=False),
    Column("address", String(400), nullable=False),
    Column("address_substitute_positions", String(400), nullable=False),
    Column("date_of_birth", String(9), nullable=False),
    Column("attributes_source", String(32), nullable=False),
    Column("attributes_as_of", _UTCDateTime, nullable=False),
    Column("opening_record_id", String(36), nullable=False, unique=True),
    Column("signing_serial_hex", String(42), nullable=False, index=True),
    Column("signing_fingerprint", String(64), nullable=False, unique=True),
    Column("platform_user_id", String(64), nullable=True, unique=True),
    Column("reverification_required", Boolean, nullable=False, default=False),
    Column("reverification_reason", String(64), nullable=True),
    Column("flagged_at", _UTCDateTime, nullable=True),
    Column("updated_at", _UTCDateTime, nullable=False),
)
_logins = Table(
    "bank_login_credentials",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", String(64), nullable=False, unique=True),
    Column("customer_id", String(40), ForeignKey("bank_customers.customer_id"), nullable=False, index=True),
    Column("certificate_serial_hex", String(42), nullable=False, index=True),
    Column("form_factor", String(16), nullable=False),
    Column("bound_at", _UTCDateTime, nullable=False),
    Column("suspended_at", _UTCDateTime, nullable=True),
)
_updates = Table(
    "bank_attribute_updates",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("update_id", String(36), nullable=False, unique=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("recorded_at", _UTCDateTime, nullable=False),
    Column("document", Text, nullable=False),
)
_events = Table(
    "bank_webhook_events",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(100), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("received_at", _UTCDateTime, nullable=False),
    Column("customer_id", String(40), nullable=True, index=True),
    Column("outcome", String(64), nullable=False),
)
_closures = Table(
    "bank_account_closures",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False, unique=True),
    Column("closed_on", Date, nullable=False),
    Column("recorded_at", _UTCDateTime, nullable=False),
)
_sessions = Table(
    "bank_sessions",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("created_at", _UTCDateTime, nullable=False),
    Column("expires_at", _UTCDateTime, nullable=False),
)
_secrets = Table(
    "bank_secrets",
    _metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

#: The append-only tables and their UNIQUE / PRIMARY KEY columns (what INSERT OR REPLACE could hit).
_APPEND_ONLY: dict[str, tuple[str, ...]] = {
    "bank_attribute_updates": ("seq", "update_id"),
    "bank_webhook_events": ("seq", "event_id"),
    "bank_account_closures": ("seq", "customer_id"),
}
_DDL_LOCK_KEY = 0x62616E6B  # "bank": serialises schema creation across processes on PostgreSQL
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION bank_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$
"""


def engine_for(target: str | os.PathLike[str]) -> Engine:
    """An engine for a SQLAlchemy URL or a SQLite file path (parent folder created; WAL, busy timeout).

    ``sqlite://`` (in memory) uses one shared connection, so every user of the engine sees the same data.

    Raises:
        RecordStoreError: a URL SQLAlchemy cannot use.
    """
    raw = os.fspath(target)
    try:
        url = make_url(raw) if "://" in raw else make_url(f"sqlite:///{raw}")
    except ArgumentError as exc:
        raise RecordStoreError("the database URL cannot be parsed") from exc
    options: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    memory = sqlite and url.database in (None, "", ":memory:")
    if memory:
        options.update(connect_args={"check_same_thread": False}, poolclass=StaticPool)
    elif sqlite and url.database:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)
    if sqlite:

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.execute("PRAGMA foreign_keys=ON")
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
            finally:
                cursor.close()

        event.listen(engine, "connect", on_connect)
    return engine


# ------------------------------------------------------------------------------------------- the store


class CustomerStore:
    """Customers, login credentials, appended attribute updates, processed webhook events, sessions.

    Args:
        engine: the database (shared with the confirmation-record repository: one database per bank).
        create_schema: create missing tables and the append-only triggers (idempotent).

    Raises:
        RecordStoreError: the database cannot be reached or the schema cannot be created.
    """

    def __init__(self, engine: Engine, *, create_schema: bool = True) -> None:
        self._engine = engine
        if create_schema:
            self.create_schema()

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        """Create the tables and the append-only triggers when missing, in one transaction."""
        with self._transaction("the customer store schema could not be created") as connection:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
            _metadata.create_all(connection)
            for table, unique_columns in _APPEND_ONLY.items():
                if dialect == "sqlite":
                    # UPDATE, DELETE, and an INSERT OR REPLACE over an existing key (which deletes the old
                    # row without firing the delete trigger) are refused.
                    for statement in sqlite_append_only_triggers(table, unique_columns):
                        connection.execute(text(statement))
                elif dialect == "postgresql":
                    connection.execute(text(_PG_FUNCTION))
                    name = f"{table}_no_change"
                    exists = connection.execute(
                        text("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND tgname = :n"),
                        {"t": table, "n": name},
                    ).first()
                    if exists is None:
                        connection.execute(
                            text(
                                f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} "
                                "FOR EACH ROW EXECUTE FUNCTION bank_refuse_change()"
                            )
                        )

    # -- secrets --------------------------------------------------------------------------------------

    def subject_id_key(self) -> bytes:
        """The login subject-id key kept in the database: read it, or create it once (race-safe).

        Raises:
            RecordStoreError: the database fails.
        """
        name = "login_subject_id_key"
        for _ in range(2):
            with self._transaction("the subject-id key could not be read") as connection:
                value = connection.execute(
                    select(_secrets.c.value).where(_secrets.c.name == name)
                ).scalar_one_or_none()
            if value is not None:
                return bytes(value)
            try:
                with self._engine.begin() as connection:
                    connection.execute(insert(_secrets), {"name": name, "value": secrets.token_bytes(32)})
            except IntegrityError:
                continue  # another worker created it first: read theirs
            except SQLAlchemyError as exc:
                raise RecordStoreError(
                    f"the subject-id key could not be stored ({type(exc).__name__})"
                ) from exc
        raise RecordStoreError("the subject-id key could not be created")

    # -- customers ------------------------------------------------------------------------------------

    def create_customer(self, new: NewCustomer) -> Customer:
        """Store a customer and its login credential in one transaction.

        Raises:
            AccountExistsError: the signing certificate, the login certificate or the platform user ID
                already belongs to a customer (UNIQUE constraints; nothing stored).
            RecordStoreError: the database fails (nothing stored).
        """
        a = new.attributes
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(_customers),
                    {
                        "customer_id": new.customer_id,
                        "opened_at": new.opened_at,
                        "name": a.name,
                        "name_substitute_positions": a.name_substitute_positions,
                        "address": a.address,
                        "address_substitute_positions": a.address_substitute_positions,
                        "date_of_birth": a.date_of_birth,
                        "attributes_source": "signing_certificate",
                        "attributes_as_of": new.attributes_as_of,
                        "opening_record_id": str(new.opening_record_id),
                        "signing_serial_hex": new.signing_serial_hex,
                        "signing_fingerprint": new.signing_fingerprint,
                        "platform_user_id": new.platform_user_id,
                        "reverification_required": False,
                        "reverification_reason": None,
                        "flagged_at": None,
                        "updated_at": new.opened_at,
                    },
                )
                connection.execute(
                    insert(_logins),
                    {
                        "subject_id": new.login.subject_id,
                        "customer_id": new.customer_id,
                        "certificate_serial_hex": new.login.certificate_serial_hex,
                        "form_factor": new.login.form_factor,
                        "bound_at": new.login.bound_at,
                        "suspended_at": None,
                    },
                )
        except IntegrityError as exc:
            raise AccountExistsError(
                "these certificates already belong to a customer of this bank: log in instead"
            ) from exc
        except SQLAlchemyError as exc:
            raise RecordStoreError(f"the customer could not be stored ({type(exc).__name__})") from exc
        customer = self.get(new.customer_id)
        assert customer is not None
        return customer

    def get(self, customer_id: str) -> Customer | None:
        return self._one(_customers.c.customer_id == customer_id)

    def by_signing_fingerprint(self, fingerprint: str) -> Customer | None:
        return self._one(_customers.c.signing_fingerprint == fingerprint)

    def by_signing_serial(self, serial_hex: str) -> Customer | None:
        """The customer who opened with the signing certificate of that serial (lower-case hex)."""
        return self._one(_customers.c.signing_serial_hex == serial_hex.lower())

    def by_platform_user(self, user_id: str) -> Customer | None:
        return self._one(_customers.c.platform_user_id == user_id)

    def by_login_subject(self, subject_id: str) -> Customer | None:
        """The customer a login certificate (by its subject id) is bound to."""
        with self._transaction("the customer store could not be read") as connection:
            customer_id = connection.execute(
                select(_logins.c.customer_id).where(_logins.c.subject_id == subject_id)
            ).scalar_one_or_none()
        return None if customer_id is None else self.get(customer_id)

    def by_login_serial(self, serial_hex: str) -> Customer | None:
        with self._transaction("the customer store could not be read") as connection:
            customer_id = connection.execute(
                select(_logins.c.customer_id).where(_logins.c.certificate_serial_hex == serial_hex.lower())
            ).first()
        return None if customer_id is None else self.get(customer_id[0])

    def login_credentials(self, customer_id: str) -> list[LoginCredential]:
        with self._transaction("the customer store could not be read") as connection:
            rows = (
                connection.execute(
                    select(_logins).where(_logins.c.customer_id == customer_id).order_by(_logins.c.id)
                )
                .mappings()
                .all()
            )
        return [
            LoginCredential(
                subject_id=row["subject_id"],
                customer_id=row["customer_id"],
                certificate_serial_hex=row["certificate_serial_hex"],
                form_factor=row["form_factor"],
                bound_at=row["bound_at"],
                suspended_at=row["suspended_at"],
            )
            for row in rows
        ]

    def count_customers(self) -> int:
        with self._transaction("the customer store could not be read") as connection:
            return len(connection.execute(select(_customers.c.id)).all())

    # -- webhooks and re-verification -----------------------------------------------------------------

    def record_event(
        self,
        *,
        event_id: str,
        event_type: str,
        received_at: datetime,
        customer_id: str | None,
        outcome: str,
        flag_reason: str | None = None,
        platform_user_id: str | None = None,
        suspend_serials: Sequence[str] = (),
    ) -> bool:
        """Record a processed webhook event and apply its effect, in one transaction.

        ``flag_reason`` sets the customer's re-verification flag; ``platform_user_id`` is stored on the
        customer when none is known yet; ``suspend_serials`` marks the matching login credentials
        suspended.

        Returns:
            ``False`` when the event id was recorded before (a redelivery): nothing is changed.

        Raises:
            RecordStoreError: the database fails (nothing written).
        """
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(_events),
                    {
                        "event_id": event_id,
                        "event_type": event_type,
                        "received_at": received_at,
                        "customer_id": customer_id,
                        "outcome": outcome,
                    },
                )
                if customer_id is not None and flag_reason is not None:
                    connection.execute(
                        update(_customers)
                        .where(_customers.c.customer_id == customer_id)
                        .values(
                            reverification_required=True,
                            reverification_reason=flag_reason,
                            flagged_at=received_at,
                            updated_at=received_at,
                        )
                    )
                if customer_id is not None and platform_user_id is not None:
                    connection.execute(
                        update(_customers)
                        .where(
                            _customers.c.customer_id == customer_id,
                            _customers.c.platform_user_id.is_(None),
                        )
                        .values(platform_user_id=platform_user_id)
                    )
                if customer_id is not None and suspend_serials:
                    connection.execute(
                        update(_logins)
                        .where(
                            _logins.c.customer_id == customer_id,
                            _logins.c.certificate_serial_hex.in_([s.lower() for s in suspend_serials]),
                        )
                        .values(suspended_at=received_at)
                    )
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise RecordStoreError(f"the webhook event could not be recorded ({type(exc).__name__})") from exc
        return True

    def event_seen(self, event_id: str) -> bool:
        """True when a webhook event with this id was processed already."""
        return self.event(event_id) is not None

    def event(self, event_id: str) -> WebhookEventRecord | None:
        """The processed webhook event with this id, else ``None``."""
        with self._transaction("the customer store could not be read") as connection:
            row = connection.execute(select(_events).where(_events.c.event_id == event_id)).mappings().first()
        if row is None:
            return None
        return WebhookEventRecord(
            row["event_id"], row["event_type"], row["received_at"], row["customer_id"], row["outcome"]
        )

    def events(self, customer_id: str | None = None) -> list[WebhookEventRecord]:
        query = select(_events).order_by(_events.c.seq)
        if customer_id is not None:
            query = query.where(_events.c.customer_id == customer_id)
        with self._transaction("the customer store could not be read") as connection:
            rows = connection.execute(query).mappings().all()
        return [
            WebhookEventRecord(
                row["event_id"], row["event_type"], row["received_at"], row["customer_id"], row["outcome"]
            )
            for row in rows
        ]

    def apply_attribute_update(self, change: AttributeUpdate) -> Customer:
        """Append ``change`` and make it the customer's current attributes, clearing the re-verification
        flag — one transaction.

        Raises:
            RecordStoreError: the customer is gone or the database fails (nothing written).
        """
        a = change.attributes
        document = json.dumps(change.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        with self._transaction("the attribute update could not be stored") as connection:
            connection.execute(
                insert(_updates),
                {
                    "update_id": str(change.update_id),
                    "customer_id": change.customer_id,
                    "recorded_at": change.recorded_at,
                    "document": document,
                },
            )
            changed = connection.execute(
                update(_customers)
                .where(_customers.c.customer_id == change.customer_id)
                .values(
                    name=a.name,
                    name_substitute_positions=a.name_substitute_positions,
                    address=a.address,
                    address_substitute_positions=a.address_substitute_positions,
                    date_of_birth=a.date_of_birth,
                    attributes_source="platform",
                    attributes_as_of=change.as_of,
                    reverification_required=False,
                    reverification_reason=None,
                    flagged_at=None,
                    updated_at=change.recorded_at,
                )
            ).rowcount
            if changed != 1:
                raise _RollbackError()
        customer = self.get(change.customer_id)
        assert customer is not None
        return customer

    def attribute_updates(self, customer_id: str | None = None) -> list[AttributeUpdate]:
        query = select(_updates.c.document).order_by(_updates.c.seq)
        if customer_id is not None:
            query = query.where(_updates.c.customer_id == customer_id)
        with self._transaction("the customer store could not be read") as connection:
            documents = list(connection.execute(query).scalars())
        return [AttributeUpdate.from_json(json.loads(document)) for document in documents]

    def export_updates_jsonl(self, stream: TextIO) -> int:
        """Write every attribute update as one JSON line (keys sorted). Returns the number of lines."""
        count = 0
        for change in self.attribute_updates():
            stream.write(json.dumps(change.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
        return count

    # -- closing --------------------------------------------------------------------------------------

    def closed_on(self, customer_id: str) -> date | None:
        """The day the customer's account was closed (Japan time), else ``None``."""
        with self._transaction("the customer store could not be read") as connection:
            value = connection.execute(
                select(_closures.c.closed_on).where(_closures.c.customer_id == customer_id)
            ).scalar_one_or_none()
        return value if isinstance(value, date) else None

    def close(self, customer_id: str, *, closed_on: date, recorded_at: datetime) -> None:
        """Append the closure of the account and end its login sessions, in one transaction.

        Raises:
            AccountClosedError: already closed (nothing changed).
            RecordStoreError: the customer does not exist, or the database fails (nothing written).
        """
        try:
            with self._engine.begin() as connection:
                known = connection.execute(
                    select(_customers.c.id).where(_customers.c.customer_id == customer_id)
                ).first()
                if known is None:
                    raise _RollbackError()
                connection.execute(
                    insert(_closures),
                    {"customer_id": customer_id, "closed_on": closed_on, "recorded_at": recorded_at},
                )
                connection.execute(delete(_sessions).where(_sessions.c.customer_id == customer_id))
        except _RollbackError as exc:
            raise RecordStoreError("the account could not be closed (the customer does not exist)") from exc
        except IntegrityError as exc:
            raise AccountClosedError("this account is already closed") from exc
        except SQLAlchemyError as exc:
            raise RecordStoreError(f"the account could not be closed ({type(exc).__name__})") from exc

    # -- sessions -------------------------------------------------------------------------------------

    def create_session(
        self, *, token_sha256: str, customer_id: str, created_at: datetime, expires_at: datetime
    ) -> None:
        with self._transaction("the session could not be stored") as connection:
            connection.execute(
                insert(_sessions),
                {
                    "token_sha256": token_sha256,
                    "customer_id": customer_id,
                    "created_at": created_at,
                    "expires_at": expires_at,
                },
            )

    def session_customer(self, token_sha256: str, now: datetime) -> Customer | None:
        """The customer of a live session, else ``None`` (unknown or expired)."""
        with self._transaction("the customer store could not be read") as connection:
            row = connection.execute(
                select(_sessions.c.customer_id, _sessions.c.expires_at).where(
                    _sessions.c.token_sha256 == token_sha256
                )
            ).first()
        if row is None or require_aware(now) >= row.expires_at:
            return None
        return self.get(row.customer_id)

    # -- helpers --------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, message: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except _RollbackError as exc:
            raise RecordStoreError(f"{message} (the customer does not exist)") from exc
        except SQLAlchemyError as exc:
            raise RecordStoreError(f"{message} ({type(exc).__name__})") from exc

    def _one(self, condition: Any) -> Customer | None:
        with self._transaction("the customer store could not be read") as connection:
            row = connection.execute(select(_customers).where(condition)).mappings().first()
        return None if row is None else _customer(row)


class _RollbackError(Exception):
    """Raised inside a transaction to roll it back."""


def _customer(row: RowMapping) -> Customer:
    return Customer(
        customer_id=row["customer_id"],
        opened_at=row["opened_at"],
        attributes=AccountAttributes(
            name=row["name"],
            address=row["address"],
            date_of_birth=row["date_of_birth"],
            name_substitute_positions=row["name_substitute_positions"],
            address_substitute_positions=row["address_substitute_positions"],
        ),
        attributes_source=row["attributes_source"],
        attributes_as_of=row["attributes_as_of"],
        opening_record_id=UUID(row["opening_record_id"]),
        signing_serial_hex=row["signing_serial_hex"],
        signing_fingerprint=row["signing_fingerprint"],
        platform_user_id=row["platform_user_id"],
        reverification_required=bool(row["reverification_required"]),
        reverification_reason=row["reverification_reason"],
        flagged_at=row["flagged_at"],
    )


def _iso(value: datetime) -> str:
    return require_aware(value).astimezone(UTC).isoformat()


def _parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive datetime in a stored document")
    return parsed.astimezone(UTC)
