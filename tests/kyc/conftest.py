"""Fixtures of the eKYC tests: the mock platform in-process (the lifecycle tests' :class:`World` harness:
real app, TestClient, MockClock, fast PINs, a key pool), and on the relying party's side the SDK only —
:class:`~myna_rp.kyc.KycService` with a memory challenge store on the platform's clock, a SQLite record
repository in the test's temporary folder, and the SDK's :class:`~myna_rp.jpki.JPKIVerifier` (path + OCSP
through the same TestClient, hard-fail)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import World
from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, world_fixture

from myna_rp.challenge import MemoryChallengeStore
from myna_rp.kyc import DirectVerification, KycService, RetentionProfile, SQLRecordRepository

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kyc_support import BASE_URL, OIDC_ISSUER, REDIRECT, RP, Registered

POOL_SIZE = 12

kyc_template = ca_template_fixture("kyc-template")
kyc_keys = key_pool_fixture(POOL_SIZE)
#: One app per module; each test enrols its own residents and phones, the clock is reset to NOW.
kyc_platform = mock_app_fixture(
    "kyc_template", "kyc", base_url=BASE_URL, settings={"oidc_issuer": OIDC_ISSUER}
)
world = world_fixture("kyc_platform", "kyc_keys")


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
