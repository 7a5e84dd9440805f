"""Where confirmation records (確認記録) live: a small interface and its SQLAlchemy 2 implementation.

Records are **append-only**: the interface has no update or delete, and the database refuses them too —
SQLite triggers ``RAISE(ABORT)`` on ``UPDATE``/``DELETE`` and on an ``INSERT`` whose key already exists
(``INSERT OR REPLACE`` would otherwise delete and rewrite a row without firing the delete trigger);
PostgreSQL a trigger function raising ``restrict_violation`` on ``UPDATE``/``DELETE`` (row level, which
also covers ``INSERT … ON CONFLICT DO UPDATE`` and ``MERGE``) and ``TRUNCATE`` (statement level). The end
of a customer relationship, which starts the retention period (犯罪収益移転防止法 第6条第2項), is itself an
appended event (:class:`~myna_rp.kyc.record.RelationshipEnd`); the deadline is computed, never written
into a record.

Each append is one transaction: a record is stored whole or not at all, and any database failure becomes
:class:`~myna_rp.errors.RecordStoreError` with nothing written. Before it is written, a record's JSON
document is read back and compared with the record, so what is stored always reads back as the record.

SQLite by default (a file path, or any SQLAlchemy URL); PostgreSQL by URL
(``postgresql+psycopg://…``, the psycopg driver installed separately). Purging records after their
deadline is deliberately not offered: it is an administrative act (drop the trigger under change control).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable
from uuid import UUID, uuid4

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from ..clock import require_aware
from ..errors import MalformedInputError, RecordStoreError
from .record import (
    JST,
    ConfirmationRecord,
    RecordRetention,
    RelationshipEnd,
    record_to_json_line,
    retention_for,
    validate_customer_reference,
)


@runtime_checkable
class ConfirmationRecordRepository(Protocol):
    """Append-only storage of confirmation records and relationship-end events.

    Every method raises :class:`~myna_rp.errors.RecordStoreError` when the storage fails; nothing is
    half-written.
    """

    def append(self, record: ConfirmationRecord) -> None:
        """Store ``record`` (whole, in one transaction). A record id already stored is refused."""
        ...

    def get(self, record_id: UUID) -> ConfirmationRecord | None:
        """The record with this id, or ``None``."""
        ...

    def records(
        self, *, customer_reference: str | None = None, user_id: str | None = None
    ) -> list[ConfirmationRecord]:
        """All records in append order; only one customer's, or one platform/OIDC user id's, when given."""
        ...

    def end_relationship(
        self, customer_reference: str, *, ended_on: date, recorded_at: datetime
    ) -> RelationshipEnd:
        """Append the event "the relationship with this customer ended on ``ended_on``".

        ``ended_on`` is a calendar day (a :class:`datetime.date`, not a ``datetime``) in Japan time, not
        before the day the customer's first confirmation record was made; the customer must have one.
        Otherwise :class:`~myna_rp.errors.MalformedInputError` and nothing is stored.
        """
        ...

    def relationship_ends(self, customer_reference: str) -> list[RelationshipEnd]:
        """The customer's relationship-end events, in append order."""
        ...

    def retention(self, record: ConfirmationRecord) -> RecordRetention:
        """The record's retention: unknown until the relationship ends, then the profile's deadline."""
        ...

    def export_jsonl(self, stream: TextIO, *, customer_reference: str | None = None) -> int:
        """Write one JSON line per record (keys sorted, ISO 8601 datetimes) with its computed
        ``retention_status``; return the number of records written."""
        ...


class _UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned aware UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return require_aware(value).astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


RECORDS_TABLE = "kyc_confirmation_records"
ENDS_TABLE = "kyc_relationship_ends"

_metadata = MetaData()
_records = Table(
    RECORDS_TABLE,
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("customer_reference", String(255), nullable=False, index=True),
    Column("user_id", String(255), nullable=True, index=True),
    Column("method", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("verified_at", _UTCDateTime, nullable=False),
    Column("recorded_at", _UTCDateTime, nullable=False),
    Column("certificate_serial_hex", String(42), nullable=False),
    Column("certificate_fingerprint_sha256", String(64), nullable=False, index=True),
    Column("revocation_status", String(16), nullable=False),
    Column("retention_profile", String(64), nullable=False),
    Column("document", Text, nullable=False),
    # Only a certificate confirmed not revoked may be the basis of a record.
    CheckConstraint("revocation_status = 'good'", name="ck_kyc_records_revocation_good"),
)
_ends = Table(
    ENDS_TABLE,
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("customer_reference", String(255), nullable=False, index=True),
    Column("ended_on", Date, nullable=False),
    Column("recorded_at", _UTCDateTime, nullable=False),
)

_CHUNK = 500
# Arbitrary, fixed: serialises schema creation across processes (PostgreSQL advisory lock).
_DDL_LOCK_KEY = 0x6B796331


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The columns with a UNIQUE or PRIMARY KEY constraint per append-only table: the keys an
#: ``INSERT OR REPLACE`` could collide with.
_UNIQUE_COLUMNS = {RECORDS_TABLE: ("seq", "record_id"), ENDS_TABLE: ("seq", "event_id")}


def sqlite_append_only_triggers(table: str, unique_columns: Sequence[str]) -> list[str]:
    """The SQLite triggers that make ``table`` append-only (literal SQL; names are our own constants).

    ``BEFORE UPDATE`` and ``BEFORE DELETE`` abort. That is not enough: ``INSERT OR REPLACE`` / ``REPLACE``
    resolves a key conflict by deleting the old row *without* firing delete triggers (SQLite's recursive
    triggers are off by default), so a ``BEFORE INSERT`` trigger also aborts when a row with one of the
    ``unique_columns`` already exists. An upsert (``ON CONFLICT DO UPDATE``) fires the update trigger.
    The abort is an SQLite constraint error (``sqlite3.IntegrityError``).

    Raises:
        ValueError: a name that is not a plain SQL identifier (they are pasted into the SQL).
    """
    if not all(_IDENTIFIER.fullmatch(name) for name in (table, *unique_columns)) or not unique_columns:
        raise ValueError("table and column names must be plain SQL identifiers")
    clash = " OR ".join(f"{column} = NEW.{column}" for column in unique_columns)
    return [
        *(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ),
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "  # noqa: S608 - our constants
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def _sqlite_triggers(table: str) -> list[str]:
    return sqlite_append_only_triggers(table, _UNIQUE_COLUMNS[table])


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kyc_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$
"""


def _pg_triggers(table: str) -> list[tuple[str, str]]:
    return [
        (
            f"{table}_no_change",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kyc_refuse_change()",
        ),
        (
            f"{table}_no_truncate",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION kyc_refuse_change()",
        ),
    ]


def _sqlite_pragmas(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout=5000")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return on_connect


def _engine_for(target: str | os.PathLike[str]) -> Engine:
    raw = os.fspath(target)
    url = make_url(raw) if "://" in raw else make_url(f"sqlite:///{raw}")
    options: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    memory = sqlite and url.database in (None, "", ":memory:")
    if memory:  # one shared connection, or each connection would see its own empty database
        options.update(connect_args={"check_same_thread": False}, poolclass=StaticPool)
    if sqlite and not memory and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas(wal=not memory))
    return engine


class SQLRecordRepository:
    """:class:`ConfirmationRecordRepository` on SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

    Args:
        target: a file path (SQLite; missing parent folders are created), an SQLAlchemy URL
            (``sqlite:///…``, ``sqlite://`` in memory, ``postgresql+psycopg://…``) or an
            :class:`~sqlalchemy.Engine` (not disposed by :meth:`close`).
        create_schema: create the tables and the append-only triggers when missing (idempotent, safe for
            several processes at once on PostgreSQL).

    Raises:
        RecordStoreError: a bad URL, an unreachable database, or a schema that cannot be created.
    """

    def __init__(self, target: str | os.PathLike[str] | Engine, *, create_schema: bool = True) -> None:
        try:
            if isinstance(target, Engine):
                self._engine, self._owned = target, False
            else:
                self._engine, self._owned = _engine_for(target), True
            if create_schema:
                self.create_schema()
        except (SQLAlchemyError, ArgumentError, ValueError, OSError) as exc:
            raise RecordStoreError(f"cannot open the record store ({type(exc).__name__})") from exc

    @property
    def engine(self) -> Engine:
        return self._engine

    def __repr__(self) -> str:
        return f"SQLRecordRepository({self._engine.url.render_as_string(hide_password=True)})"

    def __enter__(self) -> SQLRecordRepository:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Dispose of the engine this repository created (an engine passed in is left alone)."""
        if self._owned:
            self._engine.dispose()

    def create_schema(self) -> None:
        """Create the tables and the append-only triggers if missing, in one transaction.

        Raises:
            RecordStoreError: the database fails.
        """
        with self._transaction("the record store schema could not be created") as connection:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
            _metadata.create_all(connection)
            for table in (RECORDS_TABLE, ENDS_TABLE):
                if dialect == "sqlite":
                    for statement in _sqlite_triggers(table):
                        connection.execute(text(statement))
                elif dialect == "postgresql":
                    connection.execute(text(_PG_FUNCTION))
                    for name, statement in _pg_triggers(table):
                        exists = connection.execute(
                            text("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND tgname = :n"),
                            {"t": table, "n": name},
                        ).first()
                        if exists is None:
                            connection.execute(text(statement))
                # Other engines: append-only is enforced by this class's API only.

    # -- writes -----------------------------------------------------------------------------------

    def append(self, record: ConfirmationRecord) -> None:
        """Store ``record`` in one transaction.

        Raises:
            RecordStoreError: the record does not serialise faithfully, its id is already stored, or the
                database fails; nothing is written.
        """
        try:
            document = record_to_json_line(record)
            if ConfirmationRecord.from_json(json.loads(document)) != record:
                raise RecordStoreError("the record does not read back as written; not stored")
        except (MalformedInputError, ValueError, TypeError) as exc:
            raise RecordStoreError(f"the record cannot be serialised ({type(exc).__name__})") from exc
        row = {
            "record_id": str(record.record_id),
            "customer_reference": record.customer_reference,
            "user_id": record.user_id,
            "method": record.method.value,
            "mode": record.mode.value,
            "verified_at": record.verified_at,
            "recorded_at": record.recorded_at,
            "certificate_serial_hex": format(record.certificate.serial_number, "x"),
            "certificate_fingerprint_sha256": record.certificate.fingerprint_sha256,
            "revocation_status": record.revocation.status.value,
            "retention_profile": record.retention.name,
            "document": document,
        }
        with self._transaction("the confirmation record could not be stored") as connection:
            connection.execute(insert(_records), row)

    def end_relationship(
        self, customer_reference: str, *, ended_on: date, recorded_at: datetime
    ) -> RelationshipEnd:
        """Append a relationship-end event (corrections are later events; nothing is overwritten).

        ``ended_on`` (契約が終了した日) is a calendar day in Japan time (JST, UTC+9: the day the law
        counts from). It must be a :class:`datetime.date` — a ``datetime`` is refused rather than
        truncated in some time zone — and not earlier than the JST day on which the customer's first
        confirmation record was made: a relationship cannot end before it began, and such a date would put
        the retention deadline (``retain_until``) in the past. A later day (a closing already scheduled)
        is accepted.

        Raises:
            MalformedInputError: a bad customer reference; ``ended_on`` not a date (or a datetime); no
                confirmation record for this customer; ``ended_on`` before its first record's day.
            RecordStoreError: the database fails; nothing is written.
        """
        validate_customer_reference(customer_reference)
        ended = RelationshipEnd(uuid4(), customer_reference, ended_on, require_aware(recorded_at))
        with self._transaction("the relationship end could not be stored") as connection:
            first = connection.execute(
                select(func.min(_records.c.recorded_at)).where(
                    _records.c.customer_reference == customer_reference
                )
            ).scalar_one_or_none()
            if first is None:
                raise MalformedInputError(
                    "no confirmation record for this customer reference: nothing to end"
                )
            began = require_aware(first).astimezone(JST).date()
            if ended_on < began:
                raise MalformedInputError(
                    f"ended_on {ended_on.isoformat()} is before the customer's first confirmation record "
                    f"({began.isoformat()}, Japan time): a relationship cannot end before it began"
                )
            connection.execute(
                insert(_ends),
                {
                    "event_id": str(ended.event_id),
                    "customer_reference": ended.customer_reference,
                    "ended_on": ended.ended_on,
                    "recorded_at": ended.recorded_at,
                },
            )
        return ended

    # -- reads ------------------------------------------------------------------------------------

    def get(self, record_id: UUID) -> ConfirmationRecord | None:
        """The record with ``record_id``, or ``None``. Raises RecordStoreError on a database failure."""
        with self._transaction("the record store could not be read") as connection:
            document = connection.execute(
                select(_records.c.document).where(_records.c.record_id == str(record_id))
            ).scalar_one_or_none()
        return None if document is None else _load(document)

    def records(
        self, *, customer_reference: str | None = None, user_id: str | None = None
    ) -> list[ConfirmationRecord]:
        """Records in append order; only those of ``customer_reference`` and/or ``user_id`` when given."""
        return list(self._iter_records(customer_reference, user_id))

    def relationship_ends(self, customer_reference: str) -> list[RelationshipEnd]:
        """The customer's relationship-end events in append order."""
        return self._ends_where(customer_reference)

    def retention(self, record: ConfirmationRecord) -> RecordRetention:
        """The record's retention from the latest applicable relationship-end event (see
        :func:`~myna_rp.kyc.record.retention_for`)."""
        return retention_for(record, self._ends_where(record.customer_reference))

    def export_jsonl(self, stream: TextIO, *, customer_reference: str | None = None) -> int:
        """Write the records as JSON lines to ``stream`` (text, UTF-8 characters kept as is).

        Each line is :meth:`ConfirmationRecord.to_json` with keys sorted at every level, plus
        ``retention_status``: ``{"relationship_ended_on": date|null, "retain_until": date|null}`` as
        known at export time. Returns the number of lines written.
        """
        ends: dict[str, list[RelationshipEnd]] = {}
        for ended in self._ends_where(customer_reference):
            ends.setdefault(ended.customer_reference, []).append(ended)
        count = 0
        for record in self._iter_records(customer_reference):
            state = retention_for(record, ends.get(record.customer_reference, ()))
            extra = {
                "retention_status": {
                    "relationship_ended_on": _date_or_none(state.relationship_ended_on),
                    "retain_until": _date_or_none(state.retain_until),
                }
            }
            stream.write(record_to_json_line(record, extra=extra) + "\n")
            count += 1
        return count

    # -- helpers ----------------------------------------------------------------------------------

    def _transaction(self, message: str) -> AbstractContextManager[Connection]:
        return _transaction(self._engine, message)

    def _iter_records(
        self, customer_reference: str | None, user_id: str | None = None
    ) -> Iterator[ConfirmationRecord]:
        query = select(_records.c.document).order_by(_records.c.seq)
        if customer_reference is not None:
            query = query.where(_records.c.customer_reference == customer_reference)
        if user_id is not None:
            query = query.where(_records.c.user_id == user_id)
        with self._transaction("the record store could not be read") as connection:
            # Streamed in chunks (a server-side cursor on PostgreSQL): exports need not fit in memory.
            for document in connection.execution_options(yield_per=_CHUNK).execute(query).scalars():
                yield _load(document)

    def _ends_where(self, customer_reference: str | None) -> list[RelationshipEnd]:
        query = select(_ends).order_by(_ends.c.seq)
        if customer_reference is not None:
            query = query.where(_ends.c.customer_reference == customer_reference)
        with self._transaction("the record store could not be read") as connection:
            rows = connection.execute(query).mappings().all()
        return [
            RelationshipEnd(
                UUID(row["event_id"]), row["customer_reference"], row["ended_on"], row["recorded_at"]
            )
            for row in rows
        ]


@contextmanager
def _transaction(engine: Engine, message: str) -> Iterator[Connection]:
    """``engine.begin()`` (commit, or rollback on any exception) with database errors as RecordStoreError."""
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise RecordStoreError(f"{message} ({type(exc).__name__})") from exc


def _load(document: str) -> ConfirmationRecord:
    try:
        return ConfirmationRecord.from_json(json.loads(document))
    except (MalformedInputError, ValueError) as exc:
        raise RecordStoreError("a stored confirmation record cannot be read back") from exc


def _date_or_none(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def load_jsonl(lines: Sequence[str] | TextIO) -> list[ConfirmationRecord]:
    """Read records back from :meth:`SQLRecordRepository.export_jsonl` output (blank lines skipped).

    Raises:
        MalformedInputError: a line is not a record document.
    """
    records: list[ConfirmationRecord] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as exc:
            raise MalformedInputError("a JSON line does not parse") from exc
        if not isinstance(document, dict):
            raise MalformedInputError("a JSON line is not an object")
        records.append(ConfirmationRecord.from_json(document))
    return records
