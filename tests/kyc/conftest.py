"""Fixtures of the eKYC tests: the mock platform in-process (the lifecycle tests' :class:`World` harness:
real app, TestClient, MockClock, fast PINs, a key pool), and on the relying party's side the SDK only —
:class:`~myna_rp.kyc.KycService` with a memory challenge store on the platform's clock, a SQLite record
repository in the test's temporary folder, and the SDK's :class:`~myna_rp.jpki.JPKIVerifier` (path + OCSP
through the same TestClient, hard-fail)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import NOW, KeyPool, World

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings
from myna_rp.challenge import MemoryChallengeStore
from myna_rp.kyc import DirectVerification, KycService, RetentionProfile, SQLRecordRepository

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kyc_support import BASE_URL, OIDC_ISSUER, REDIRECT, RP, Registered

POOL_SIZE = 12


@pytest.fixture(scope="session")
def kyc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kyc-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def kyc_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def kyc_platform(
    kyc_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    """One app per module; each test enrols its own residents and phones, the clock is reset to NOW."""
    path = tmp_path_factory.mktemp("kyc") / "mock.sqlite3"
    shutil.copy(kyc_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True, oidc_issuer=OIDC_ISSUER),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client, clock
    database.dispose()


@pytest.fixture
def world(kyc_platform: tuple[TestClient, MockClock], kyc_keys: list[PrivateKey]) -> World:
    client, clock = kyc_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(kyc_keys))


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[SQLRecordRepository]:
    with SQLRecordRepository(tmp_path / "kyc-records.sqlite3") as repo:
        yield repo


@pytest.fixture
def challenges(world: World) -> MemoryChallengeStore:
    return MemoryChallengeStore(clock=world.clock)


@pytest.fixture
def service(world: World, challenges: MemoryChallengeStore, repository: SQLRecordRepository) -> KycService:
    """A bank's eKYC in direct mode (the RP is a certified verifier with its own JPKIVerifier)."""
    return KycService(
        challenges=challenges,
        verifier=DirectVerification(world.verifier()),
        records=repository,
        verifier_identity=RP,
        profile=RetentionProfile.BANK,
        clock=world.clock,
    )


@pytest.fixture
def relying_party(world: World) -> Registered:
    """The bank registered at the mock (API key for platform mode, JWKS for private_key_jwt)."""
    key = ECKey.generate_key("P-256", parameters={"kid": "bank-kyc-1"}, private=True)
    answer = world.client.post(
        "/admin/relying-parties",
        json={
            "name": "Example Bank (kyc tests)",
            "jwks": {"keys": [key.as_dict(private=False)]},
            "generate_api_key": True,
            "redirect_uris": [REDIRECT],
        },
    )
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    return Registered(body["client_id"], body["api_key"], key)
