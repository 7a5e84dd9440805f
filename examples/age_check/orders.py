"""The order store: what the shop keeps about an age check — and nothing else.

A row holds the order id, the answer (over the minimum age: yes/no), the evidence type
(``age_over_NN`` / ``birth_date`` / ``age_in_years`` from the mdoc, ``jpki_date_of_birth`` from the JPKI
fallback), when it was checked, and when the order was placed. No name, address, date of birth,
certificate, DeviceResponse or device identifier is ever stored: the store's schema has no column for
them.

Backends: :class:`MemoryOrderStore` (default) and :class:`SQLiteOrderStore` (stdlib ``sqlite3``, WAL,
one connection per call, so several worker processes on one host share it). The decision is written once
(``UPDATE … WHERE over IS NULL``): two racing completions cannot both decide an order.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from myna_rp.clock import require_aware
from myna_rp.errors import ConfigurationError

from .errors import (
    AgeCheckRequiredError,
    CheckoutAlreadyDecidedError,
    OrderStoreUnavailableError,
    UnknownCheckoutError,
)

#: The evidence types the store accepts (``age_over_NN`` for any two digits as well).
EVIDENCE_TYPES = frozenset({"birth_date", "age_in_years", "jpki_date_of_birth"})


def _valid_evidence(evidence: str) -> bool:
    if evidence in EVIDENCE_TYPES:
        return True
    return len(evidence) == 11 and evidence.startswith("age_over_") and evidence[9:].isdigit()


class OrderStatus(StrEnum):
    AGE_CHECK_REQUIRED = "age_check_required"
    APPROVED = "approved"  # verified: at least the minimum age
    REFUSED = "refused"  # verified: under the minimum age
    PLACED = "placed"


@dataclass(frozen=True, slots=True)
class AgeCheckRecord:
    """The whole memory of an age check.

    Attributes:
        order_id: the checkout's id.
        over: ``True`` when the customer is at least the minimum age.
        evidence: ``age_over_NN``, ``birth_date``, ``age_in_years`` or ``jpki_date_of_birth``.
        checked_at: when the evidence was verified (aware).
    """

    order_id: str
    over: bool
    evidence: str
    checked_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.checked_at)
        if not _valid_evidence(self.evidence):
            raise ValueError(f"unknown evidence type {self.evidence!r}")


@dataclass(frozen=True, slots=True)
class Order:
    """A checkout: its id, the age check (once decided) and when it was placed."""

    order_id: str
    age_check: AgeCheckRecord | None = None
    placed_at: datetime | None = None

    @property
    def status(self) -> OrderStatus:
        if self.placed_at is not None:
            return OrderStatus.PLACED
        if self.age_check is None:
            return OrderStatus.AGE_CHECK_REQUIRED
        return OrderStatus.APPROVED if self.age_check.over else OrderStatus.REFUSED


class OrderStore(Protocol):
    """Where checkouts live. Every method is atomic; errors are :mod:`examples.age_check.errors`."""

    def open(self, order_id: str) -> Order:
        """Create an undecided checkout (the id must be new)."""
        ...

    def get(self, order_id: str) -> Order:
        """The checkout. Raises UnknownCheckoutError."""
        ...

    def record_age_check(self, record: AgeCheckRecord) -> Order:
        """Decide the age check once. Raises UnknownCheckoutError, CheckoutAlreadyDecidedError."""
        ...

    def place(self, order_id: str, at: datetime) -> Order:
        """Place an approved order (idempotent). Raises UnknownCheckoutError, AgeCheckRequiredError."""
        ...

    def orders(self) -> list[Order]:
        """Every checkout (for inspection: an operator, or a test proving nothing personal is kept)."""
        ...


def _placeable(order: Order) -> None:
    if order.age_check is None or not order.age_check.over:
        raise AgeCheckRequiredError(
            "this order needs a passed age check before it can be placed", order_status=order.status.value
        )


class MemoryOrderStore:
    """Checkouts in a dict behind a lock (one process)."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._lock = threading.Lock()

    def open(self, order_id: str) -> Order:
        with self._lock:
            if order_id in self._orders:
                raise ValueError("order id already used")
            order = self._orders[order_id] = Order(order_id)
            return order

    def get(self, order_id: str) -> Order:
        with self._lock:
            return self._get(order_id)

    def _get(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise UnknownCheckoutError("no checkout with this id")
        return order

    def record_age_check(self, record: AgeCheckRecord) -> Order:
        with self._lock:
            order = self._get(record.order_id)
            if order.age_check is not None:
                raise CheckoutAlreadyDecidedError("this checkout's age check is already decided")
            order = self._orders[record.order_id] = replace(order, age_check=record)
            return order

    def place(self, order_id: str, at: datetime) -> Order:
        require_aware(at)
        with self._lock:
            order = self._get(order_id)
            _placeable(order)
            if order.placed_at is None:
                order = self._orders[order_id] = replace(order, placed_at=at)
            return order

    def orders(self) -> list[Order]:
        with self._lock:
            return list(self._orders.values())


_SCHEMA = """
CREATE TABLE IF NOT EXISTS age_check_orders (
    order_id   TEXT PRIMARY KEY,
    over       INTEGER CHECK (over IN (0, 1)),
    evidence   TEXT,
    checked_at TEXT,
    placed_at  TEXT,
    CHECK ((over IS NULL) = (evidence IS NULL) AND (over IS NULL) = (checked_at IS NULL))
)
"""


class SQLiteOrderStore:
    """Checkouts in a SQLite file (``sqlite3``, WAL); safe for several processes on one host.

    Args:
        path: the database file (its folder is created).
        timeout: seconds to wait for a lock held by another process.

    Raises:
        ConfigurationError: the file or its folder cannot be created or set up.

    Every method raises :class:`~examples.age_check.errors.OrderStoreUnavailableError` (503) when SQLite
    fails (a lock held longer than ``timeout``, a full disk, a corrupt row); nothing is half-written.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self._path = Path(path)
        self._timeout = timeout
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # journal_mode cannot change inside a transaction: set it on a plain connection first.
            plain = sqlite3.connect(self._path, timeout=timeout, isolation_level=None)
            try:
                plain.execute("PRAGMA journal_mode=WAL").fetchall()
            finally:
                plain.close()
            with self._connect() as connection:
                connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error, OrderStoreUnavailableError) as exc:
            raise ConfigurationError(f"cannot open the order database {self._path}") from exc

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT`` on a fresh connection; any ``sqlite3.Error`` (locked,
        disk full, file gone) becomes :class:`OrderStoreUnavailableError` with nothing written."""
        try:
            connection = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise OrderStoreUnavailableError("the order database cannot be opened") from exc
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                if connection.in_transaction:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise OrderStoreUnavailableError("the order database is unavailable (locked or failing)") from exc
        finally:
            connection.close()

    @staticmethod
    def _row(row: tuple[str, int | None, str | None, str | None, str | None]) -> Order:
        try:
            order_id, over, evidence, checked_at, placed_at = row
            record = None
            if over is not None and evidence is not None and checked_at is not None:
                record = AgeCheckRecord(order_id, bool(over), evidence, datetime.fromisoformat(checked_at))
            placed = datetime.fromisoformat(placed_at) if placed_at is not None else None
            return Order(order_id, record, placed)
        except (ValueError, TypeError) as exc:  # a row another program wrote: fail closed, typed
            raise OrderStoreUnavailableError("a stored order cannot be read back") from exc

    def _select(self, connection: sqlite3.Connection, order_id: str) -> Order:
        row = connection.execute(
            "SELECT order_id, over, evidence, checked_at, placed_at FROM age_check_orders WHERE order_id = ?",
            (order_id,),
        ).fetchone()
        if row is None:
            raise UnknownCheckoutError("no checkout with this id")
        return self._row(row)

    def open(self, order_id: str) -> Order:
        with self._connect() as connection:
            try:
                connection.execute("INSERT INTO age_check_orders (order_id) VALUES (?)", (order_id,))
            except sqlite3.IntegrityError as exc:
                raise ValueError("order id already used") from exc
        return Order(order_id)

    def get(self, order_id: str) -> Order:
        with self._connect() as connection:
            return self._select(connection, order_id)

    def record_age_check(self, record: AgeCheckRecord) -> Order:
        with self._connect() as connection:
            updated = connection.execute(
                "UPDATE age_check_orders SET over = ?, evidence = ?, checked_at = ? "
                "WHERE order_id = ? AND over IS NULL",
                (int(record.over), record.evidence, record.checked_at.isoformat(), record.order_id),
            ).rowcount
            if updated != 1:
                self._select(connection, record.order_id)  # raises UnknownCheckoutError
                raise CheckoutAlreadyDecidedError("this checkout's age check is already decided")
            return self._select(connection, record.order_id)

    def place(self, order_id: str, at: datetime) -> Order:
        require_aware(at)
        with self._connect() as connection:
            order = self._select(connection, order_id)
            _placeable(order)
            if order.placed_at is None:
                connection.execute(
                    "UPDATE age_check_orders SET placed_at = ? WHERE order_id = ?", (at.isoformat(), order_id)
                )
                order = replace(order, placed_at=at)
            return order

    def orders(self) -> list[Order]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT order_id, over, evidence, checked_at, placed_at FROM age_check_orders ORDER BY rowid"
            ).fetchall()
        return [self._row(row) for row in rows]
