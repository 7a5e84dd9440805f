"""The in-process mock platform that the lifecycle, mdoc, OIDC, eKYC, platform-API, example and race tests
share (a top-level module next to ``lifecycle_support``; conftests put this folder on ``sys.path``).

* :func:`ca_template_fixture` — a session fixture: a SQLite file with the tables and the CA generations
  (made once: the four CA keys are RSA-2048), which each app copies;
* :func:`key_pool_fixture` — a session fixture: ``size`` pre-generated RSA-2048 keys for cards and phones
  (key generation dominates the run time), handed out through :class:`lifecycle_support.KeyPool`;
* :func:`running_mock` — the real app of :func:`mock_platform.app.create_app` on a copy of the template,
  in test mode, on a :class:`MockClock`, with argon2 at cheap test parameters, behind a ``TestClient``;
* :func:`mock_app_fixture` — a module fixture around :func:`running_mock` (one app per test module:
  loading the CA keys costs ~0.4 s; each test enrols its own residents and uses fresh device ids);
* :func:`world_fixture` / :func:`world_at_now` — the :class:`lifecycle_support.World` of a test, the
  module's clock set back to :data:`lifecycle_support.NOW` first.

The factories return pytest fixtures named by the conftest variable they are assigned to, so every folder
keeps its own fixture names (``kyc_template``, ``mdoc_keys``, …) and its own temporary folder names.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

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

#: The mock's origin inside the TestClient.
MOCK_BASE_URL = "http://jlis-mock.test"

#: What a mock fixture yields: its TestClient and its clock.
Platform = tuple[TestClient, MockClock]


def ca_template_fixture(folder: str, *, now: datetime = NOW) -> Any:
    """A session fixture returning the path of ``<tmp>/<folder>N/mock.sqlite3``: the mock's tables and
    CA generations, made at ``now``. Copy it, never open it in place."""

    @pytest.fixture(scope="session")
    def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp(folder) / "mock.sqlite3"
        database = Database(f"sqlite:///{path}")
        CAService.create(database, MockClock(now))
        database.dispose()
        return path

    return template


def key_pool_fixture(size: int) -> Any:
    """A session fixture returning ``size`` fresh RSA-2048 private keys."""

    @pytest.fixture(scope="session")
    def keys() -> list[PrivateKey]:
        return [generate_private_key(KeyType.RSA_2048) for _ in range(size)]

    return keys


@contextmanager
def running_mock(
    template: Path,
    folder: Path,
    *,
    base_url: str = MOCK_BASE_URL,
    settings: Mapping[str, Any] | None = None,
    **app_options: Any,
) -> Iterator[Platform]:
    """The mock app on a copy of ``template`` in ``folder``, its clock at NOW, behind a TestClient that
    answers a server error with a 500 instead of raising.

    ``settings`` are extra :class:`Settings` fields (``oidc_issuer=…``); ``app_options`` go to
    :func:`create_app` (``oidc_config``, ``mdoc_config``, ``webhook_client``, …).
    """
    path = folder / "mock.sqlite3"
    shutil.copy(template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        # The mock's public origin is the TestClient's (the platform token endpoint's expected audience).
        Settings(
            database_url="sqlite://", test_mode=True, **{"public_base_url": base_url, **(settings or {})}
        ),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
        **app_options,
    )
    with TestClient(app, base_url=base_url, raise_server_exceptions=False) as client:
        yield client, clock
    database.dispose()


def mock_app_fixture(template: str, folder: str, **options: Any) -> Any:
    """A module fixture yielding :data:`Platform`: :func:`running_mock` on the session template named
    ``template`` (a fixture name), in a temporary folder ``<folder>N``; ``options`` as for
    :func:`running_mock`."""

    @pytest.fixture(scope="module")
    def platform(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Platform]:
        template_path = request.getfixturevalue(template)
        with running_mock(template_path, tmp_path_factory.mktemp(folder), **options) as app:
            yield app

    return platform


def world_at_now(client: TestClient, clock: MockClock, keys: list[PrivateKey]) -> World:
    """A :class:`World` on a shared app: the clock set back to NOW, keys handed out from the start."""
    clock.set(NOW)
    return World(client, clock, KeyPool(keys))


def world_fixture(platform: str, keys: str) -> Any:
    """A test fixture: :func:`world_at_now` on the fixtures named ``platform`` (a :data:`Platform`) and
    ``keys`` (a key pool)."""

    @pytest.fixture
    def world(request: pytest.FixtureRequest) -> World:
        client, clock = request.getfixturevalue(platform)
        return world_at_now(client, clock, request.getfixturevalue(keys))

    return world
