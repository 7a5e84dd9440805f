"""Fixtures of the mock mdoc tests: the real app in-process (TestClient) on a MockClock, fast PINs, a key
pool, and the lifecycle tests' :class:`World` harness (``tests/lifecycle/lifecycle_support.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import NOW, KeyPool, World
from mdoc_support import platform

from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database

POOL_SIZE = 16


@pytest.fixture(scope="session")
def mdoc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mdoc-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def mdoc_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def shared_mdoc_platform(
    mdoc_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    with platform(mdoc_template, tmp_path_factory.mktemp("mdoc")) as shared:
        yield shared


@pytest.fixture
def world(shared_mdoc_platform: tuple[TestClient, MockClock], mdoc_keys: list[PrivateKey]) -> World:
    client, clock = shared_mdoc_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(mdoc_keys))
