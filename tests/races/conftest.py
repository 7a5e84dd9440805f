"""Fixtures of the race and crash tests: a CA template database and a pool of RSA keys (see race_support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from race_support import NOW

from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database

#: 2 card keys + 2 keys for each of 20 handsets would be 42; handsets share keys round-robin beyond this.
POOL_SIZE = 24


@pytest.fixture(scope="session")
def race_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the tables and the CA generations (made at NOW), copied by each test."""
    path = tmp_path_factory.mktemp("race-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def race_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]
