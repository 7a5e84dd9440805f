"""Shared test fixtures: external vectors location and the generated JPKI scenario set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _vectors_dir() -> Path:
    env = os.environ.get("MYNA_RP_VECTORS")
    return Path(env) if env else ROOT.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """Path to ../shared/vectors. Skips with a visible reason when absent; fails when
    MYNA_RP_REQUIRE_VECTORS=1 (CI), so a missing folder never passes silently."""
    path = _vectors_dir()
    if not (path / "README.md").is_file():
        message = f"external vectors not found at {path} (set MYNA_RP_VECTORS or place ../shared/vectors)"
        if os.environ.get("MYNA_RP_REQUIRE_VECTORS") == "1":
            pytest.fail(message + "; MYNA_RP_REQUIRE_VECTORS=1 makes this an error")
        pytest.skip(message)
    return path
