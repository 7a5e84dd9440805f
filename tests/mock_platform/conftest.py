"""Fixtures for the mock-platform tests.

The four CA keys are generated once per session into a template SQLite file; each test gets a copy
(fresh state, no key generation), a :class:`MockClock` at :data:`NOW` and a :class:`CAService` on it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from mockpki_helpers import CARD_EXPIRY, NOW, TARO, TARO_DOB, TOKYO

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType
from mock_platform.ca.profile import CertificateKind, FormFactor
from mock_platform.ca.service import CAService, IssuedCertificate
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.settings import Settings


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture
def clock() -> MockClock:
    return MockClock(NOW)


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "mock.sqlite3"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
def database(db_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{db_path}")
    yield db
    db.dispose()


@pytest.fixture
def service(database: Database, clock: MockClock) -> CAService:
    return CAService.create(database, clock)


@pytest.fixture(scope="session")
def rsa_token() -> TokenSimulator:
    return TokenSimulator.generate(KeyType.RSA_2048)


@pytest.fixture(scope="session")
def ec_token() -> TokenSimulator:
    return TokenSimulator.generate(KeyType.EC_P256)


@pytest.fixture
def issue(service: CAService, rsa_token: TokenSimulator) -> Callable[..., IssuedCertificate]:
    """Issue with sensible defaults: ``issue()`` = Taro's card signing certificate."""

    def _issue(
        kind: CertificateKind = CertificateKind.SIGNING,
        form_factor: FormFactor = FormFactor.CARD,
        *,
        token: TokenSimulator | None = None,
        **kwargs: Any,
    ) -> IssuedCertificate:
        signing = kind is CertificateKind.SIGNING
        attributes = kwargs.pop("attributes", TARO if signing else None)
        options: dict[str, Any] = {
            "date_of_birth": attributes.date_of_birth if attributes is not None else TARO_DOB,
            "attributes": attributes,
            "locality": TOKYO if signing else None,
            "card_expiry": CARD_EXPIRY,
        }
        options.update(kwargs)
        return service.issue_certificate(
            public_key=(token or rsa_token).public_key(), kind=kind, form_factor=form_factor, **options
        )

    return _issue


@pytest.fixture
def make_app(database: Database, clock: MockClock) -> Callable[..., FastAPI]:
    """``make_app(test_mode=True, …)``: an app on the test database and clock."""

    def _make(**overrides: Any) -> FastAPI:
        settings = Settings(database_url="sqlite://", **overrides)
        return create_app(settings, clock=clock, database=database)

    return _make
