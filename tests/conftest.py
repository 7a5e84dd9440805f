"""Shared test fixtures: external vectors location, the generated JPKI scenario set, and the test
PostgreSQL server (``postgres_url``, ``postgres_schema_url``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

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


# --------------------------------------------------------------------------------------------- PostgreSQL

POSTGRES_URL_VARIABLE = "MYNA_TEST_POSTGRES_URL"


def _postgres_unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL not available: {reason} (`make test` starts one with scripts/test-postgres.sh)"
    if os.environ.get("MYNA_RP_REQUIRE_POSTGRES") == "1":
        pytest.fail(message + "; MYNA_RP_REQUIRE_POSTGRES=1 makes this an error", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the test PostgreSQL server (``MYNA_TEST_POSTGRES_URL``, set by ``make test``).

    Skips with a visible reason when the variable is unset, the psycopg driver is missing or the server
    does not answer; fails instead when ``MYNA_RP_REQUIRE_POSTGRES=1`` (CI). The database is shared by the
    whole session: a test that creates tables uses :func:`postgres_schema_url` (a schema of its own).
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not url:
        _postgres_unavailable(f"{POSTGRES_URL_VARIABLE} is not set")
    try:
        import psycopg  # noqa: F401  (the driver the URL names)
        from sqlalchemy import create_engine, text
    except ImportError as exc:
        _postgres_unavailable(f"driver not installed ({exc})")
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
        _postgres_unavailable(f"cannot connect to {engine.url.render_as_string(hide_password=True)} ({exc})")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL on :func:`postgres_url` whose ``search_path`` is a fresh, empty schema; dropped afterwards.

    Every connection made from this URL (any engine, thread or process) sees only that schema, so a test
    can ``create_all`` and race freely without touching other tests. Dispose your engines before the test
    ends (the schema is dropped with ``CASCADE`` and a lock timeout).
    """
    from sqlalchemy import create_engine, make_url, text

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield (
            make_url(postgres_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
