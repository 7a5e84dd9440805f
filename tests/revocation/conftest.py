"""Fixtures for the revocation tests: one generated test PKI per session."""

from __future__ import annotations

import pytest
from revocation_pki import PKI, build_pki


@pytest.fixture(scope="session")
def pki() -> PKI:
    return build_pki()
