"""Fixtures for the SDK ↔ mock-platform integration tests (see integration_support.py for the design).

Cost control: the four CA keys (RSA-2048) are generated once per session into a template SQLite file;
``mock`` gives each test a copy, a fresh app and a fresh MockClock at NOW, so tests never see each
other's revocations, CRL numbers or clock moves (loading the four CA keys still costs ~0.2 s per app);
modules whose tests move no clock and need no CRL-number history override ``mock`` with ``shared_mock``
(one app per module, traffic log cleared per test). Token keys are generated once per session and reused (each
test still enrolls its own certificates).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from integration_support import NOW, MockPlatform

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType
from mock_platform.ca.profile import FormFactor
from mock_platform.ca.service import CAConfig, CAService
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.settings import Settings


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("integration-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    """One event loop thread for every sync→ASGI bridge of the session."""
    with start_blocking_portal() as blocking_portal:
        yield blocking_portal


def _platform(
    template: Path,
    directory: Path,
    portal: BlockingPortal,
    config: CAConfig | None = None,
    **settings: object,
) -> Generator[MockPlatform, None, None]:
    path = directory / "mock.sqlite3"
    shutil.copy(template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True, **settings),  # type: ignore[arg-type]
        clock=clock,
        database=database,
        config=config,
    )
    platform = MockPlatform(app, clock, portal)
    try:
        yield platform
    finally:
        platform.close()
        database.dispose()


@pytest.fixture
def mock(template_database: Path, tmp_path: Path, portal: BlockingPortal) -> Iterator[MockPlatform]:
    """A fresh mock J-LIS (default settings, test mode) with the SDK plumbing pointed at it."""
    yield from _platform(template_database, tmp_path, portal)


@pytest.fixture(scope="module")
def module_mock(
    template_database: Path, tmp_path_factory: pytest.TempPathFactory, portal: BlockingPortal
) -> Iterator[MockPlatform]:
    """One mock per module, for tests that neither move the clock nor depend on CRL numbers (loading the
    four CA keys costs ~0.2 s per app). Use through :func:`shared_mock`, which clears the traffic log."""
    yield from _platform(template_database, tmp_path_factory.mktemp("module-mock"), portal)


@pytest.fixture
def shared_mock(module_mock: MockPlatform) -> MockPlatform:
    """The module's mock, its traffic log emptied; the clock must still be at NOW."""
    assert module_mock.clock.now() == NOW, "a test on the shared mock moved the clock"
    module_mock.wire.clear()
    return module_mock


@pytest.fixture
def make_mock(
    template_database: Path, tmp_path: Path, portal: BlockingPortal
) -> Iterator[Callable[..., MockPlatform]]:
    """``make_mock(config=CAConfig(...), **settings)``: a mock with other settings (closed at teardown)."""
    opened: list[Generator[MockPlatform, None, None]] = []

    def make(config: CAConfig | None = None, **settings: object) -> MockPlatform:
        directory = tmp_path / f"mock-{len(opened)}"
        directory.mkdir()
        generator = _platform(template_database, directory, portal, config, **settings)
        opened.append(generator)
        return next(generator)

    yield make
    for generator in opened:
        generator.close()


@pytest.fixture(scope="session")
def tokens() -> dict[str, TokenSimulator]:
    """Token keys by role. RSA-2048 for cards (J-LIS), EC P-256 where the SDK must also cope."""
    return {
        "card_signing": TokenSimulator.generate(KeyType.RSA_2048),
        "card_auth": TokenSimulator.generate(KeyType.RSA_2048),
        "card_auth_other": TokenSimulator.generate(KeyType.RSA_2048),
        "android_rsa": TokenSimulator.generate(KeyType.RSA_2048, form_factor=FormFactor.ANDROID),
        "android_ec": TokenSimulator.generate(KeyType.EC_P256, form_factor=FormFactor.ANDROID),
        "iphone_ec": TokenSimulator.generate(KeyType.EC_P256, form_factor=FormFactor.IPHONE),
    }
