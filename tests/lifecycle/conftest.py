"""Fixtures of the lifecycle tests: see lifecycle_support.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lifecycle_support import NOW, KeyPool, World

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings

POOL_SIZE = 24


@pytest.fixture(scope="session")
def lifecycle_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lifecycle-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def key_material() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@contextmanager
def _platform(template: Path, folder: Path) -> Iterator[tuple[TestClient, MockClock]]:
    path = folder / "mock.sqlite3"
    shutil.copy(template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )
    with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as test_client:
        yield test_client, clock
    database.dispose()


@pytest.fixture(scope="module")
def shared_platform(
    lifecycle_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    """One app per test module (loading the CA keys costs ~0.4 s). Tests stay independent: each enrols
    its own residents and uses fresh device ids; the clock is set back to NOW before each test."""
    with _platform(lifecycle_template, tmp_path_factory.mktemp("lifecycle")) as platform:
        yield platform


@pytest.fixture
def world(shared_platform: tuple[TestClient, MockClock], key_material: list[PrivateKey]) -> World:
    client, clock = shared_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(key_material))


@pytest.fixture
def fresh_world(lifecycle_template: Path, tmp_path: Path, key_material: list[PrivateKey]) -> Iterator[World]:
    """A platform of its own (CRL numbering, counts over the whole database)."""
    with _platform(lifecycle_template, tmp_path) as (client, clock):
        yield World(client, clock, KeyPool(key_material))
