"""Persistence: SQLite file in WAL mode, state survives restarts, aware UTC timestamps, settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mockpki_helpers import NOW
from sqlalchemy import text

from mock_platform.app import ca_config_from_settings, create_app
from mock_platform.ca.ocsp import ResponderIdType
from mock_platform.ca.profile import CertificateKind, RevocationReason
from mock_platform.ca.service import CAService, IssuedCertificate
from mock_platform.clock import JST, MockClock, SystemClock
from mock_platform.db import Database, IssuedCertificateRecord, UTCDateTime, serial_to_hex
from mock_platform.settings import Settings

Issue = Callable[..., IssuedCertificate]


def test_file_database_uses_wal_and_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "var" / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.create_all()
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    database.dispose()
    assert path.exists()


def test_state_survives_a_restart(db_path: Path, clock: MockClock, issue: Issue, service: CAService) -> None:
    fingerprints = [info.sha256_fingerprint for info in service.ca_certificates()]
    issued = issue()
    service.issue_crls(CertificateKind.SIGNING, generation=2)
    service.revoke(issued.serial_number, RevocationReason.SUPERSEDED)

    reopened = Database(f"sqlite:///{db_path}")
    again = CAService.create(reopened, MockClock(NOW + timedelta(days=400)))  # no new CAs at a later start
    assert [info.sha256_fingerprint for info in again.ca_certificates()] == fingerprints
    state = again.certificate_state(issued.serial_number)
    assert state.status == "revoked"
    assert state.revocation_reason is RevocationReason.SUPERSEDED
    assert state.revoked_at == NOW
    assert state.revoked_at.tzinfo is not None
    assert again.certificate(issued.serial_number) == issued.certificate
    assert again.issue_crls(CertificateKind.SIGNING, generation=2)[0].crl_number == 2  # continues
    reopened.dispose()


def test_schema_invariants(database: Database, issue: Issue) -> None:
    issued = issue()
    with pytest.raises(Exception, match="UNIQUE"), database.transaction() as session:  # noqa: PT012
        record = session.get(IssuedCertificateRecord, 1)
        assert record is not None
        session.add(
            IssuedCertificateRecord(
                serial_hex=serial_to_hex(issued.serial_number),
                ca_id=record.ca_id,
                kind="signing",
                form_factor="card",
                subject_id="X",
                certificate_der=b"",
                not_before=NOW,
                not_after=NOW,
                issued_at=NOW,
                status="good",
                updated_at=NOW,
            )
        )
    with pytest.raises(Exception, match="CHECK"), database.transaction() as session:  # noqa: PT012
        record = session.get(IssuedCertificateRecord, 1)
        assert record is not None
        record.status = "revoked"  # without revoked_at
    with pytest.raises(ValueError, match="positive"):
        serial_to_hex(-1)


def test_utc_datetime_type_rejects_naive() -> None:
    column = UTCDateTime()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]
    stored = column.process_bind_param(datetime(2026, 1, 1, 9, 0, tzinfo=JST), None)  # type: ignore[arg-type]
    assert stored == datetime(2026, 1, 1, 0, 0)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNA_MOCK_TEST_MODE", "true")
    monkeypatch.setenv("MYNA_MOCK_OCSP_DELEGATED_RESPONDER", "1")
    monkeypatch.setenv("MYNA_MOCK_OCSP_RESPONDER_ID", "by_name")
    monkeypatch.setenv("MYNA_MOCK_CRL_HTTP_BASE_URL", "http://127.0.0.1:8700")
    monkeypatch.setenv("MYNA_MOCK_INITIAL_CLOCK", "2026-11-29T12:00:00+09:00")
    settings = Settings()
    assert settings.test_mode
    assert settings.database_url == "sqlite:///./var/mock_platform.sqlite3"
    config = ca_config_from_settings(settings)
    assert config.ocsp_delegated_responder
    assert config.ocsp_responder_id is ResponderIdType.BY_NAME
    assert config.ocsp_validity == timedelta(minutes=15)
    assert settings.clock_start(NOW - timedelta(days=1)) == NOW
    monkeypatch.setenv("MYNA_MOCK_CRL_HTTP_BASE_URL", "ftp://x")
    with pytest.raises(ValueError, match="http"):
        Settings()
    monkeypatch.delenv("MYNA_MOCK_CRL_HTTP_BASE_URL")
    monkeypatch.setenv("MYNA_MOCK_INITIAL_CLOCK", "2026-11-29T12:00:00")
    with pytest.raises(ValueError, match="timezone"):
        Settings()


def test_create_app_chooses_the_clock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    app = create_app(Settings(database_url=url, test_mode=True, initial_clock=NOW))
    assert isinstance(app.state.clock, MockClock)
    assert app.state.clock.now() == NOW
    assert app.state.ca_service.clock is app.state.clock
    assert "/admin/clock" in app.openapi()["paths"]
    production = create_app(Settings(database_url=url))
    assert isinstance(production.state.clock, SystemClock)
    assert "/admin/clock" not in production.openapi()["paths"]
