"""The mock platform on a real PostgreSQL server (the engine several mock instances share state through).

``make test`` starts a throw-away cluster on 127.0.0.1 (``scripts/test-postgres.sh``) and exports its URL;
the ``postgres_url`` fixture skips these tests when there is none (fails under
``MYNA_RP_REQUIRE_POSTGRES=1``, as in CI). Each test gets an empty schema of its own
(``postgres_schema_url``), so the app bootstraps its CAs there from scratch.

What is proved over PostgreSQL: tables and constraints are created, the CA bootstrap is persistent and
idempotent (also when several processes start at once), certificates are issued, held, released and
revoked, OCSP answers follow at once and CRLs at their issue — each answer validated by the SDK's own
verifiers — timestamps round-trip as aware UTC, and the row locks and unique constraints keep concurrent
writers consistent.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from mock_platform.app import create_app
from mock_platform.ca.profile import CertificateKind
from mock_platform.ca.profile import RevocationReason as MockReason
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.db import CRLRecord, Database, IssuedCertificateRecord
from mock_platform.settings import Settings
from myna_rp.revocation import (
    CertStatus,
    RevocationPolicy,
    RevocationReason,
    build_ocsp_request,
    validate_crl,
    validate_ocsp_response,
)

#: 2026-11-29 12:00 JST, as in the other mock-platform tests.
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)

SIGNING_REQUEST: dict[str, Any] = {
    "kind": "signing",
    "form_factor": "android",
    "date_of_birth": "319850704",
    "card_expiry": "2034-07-04",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
    "attributes": {"name": "試験　花子", "gender": "2", "address": "東京都千代田区試験町一丁目99番99号"},
}
AUTH_REQUEST: dict[str, Any] = {
    "kind": "user_authentication",
    "form_factor": "iphone",
    "date_of_birth": "319850704",
    "card_expiry": "2034-07-04",
}


class Platform:
    """One mock app on a PostgreSQL schema, its clock and a client; helpers that go through HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clock = MockClock(NOW)
        self.app: FastAPI = create_app(Settings(database_url=url, test_mode=True), clock=self.clock)
        self.client = TestClient(self.app)
        self.token = TokenSimulator.generate()
        self._roots: dict[tuple[str, int], x509.Certificate] = {}

    @property
    def database(self) -> Database:
        database: Database = self.app.state.ca_service._db
        return database

    def root(self, purpose: str, generation: int) -> x509.Certificate:
        key = (purpose, generation)
        if key not in self._roots:
            response = self.client.get(f"/ca/{purpose}/{generation}.cer")
            assert response.status_code == 200, response.text
            self._roots[key] = x509.load_der_x509_certificate(response.content)
        return self._roots[key]

    def issue(self, request: dict[str, Any]) -> tuple[x509.Certificate, x509.Certificate, dict[str, Any]]:
        response = self.client.post(
            "/admin/certificates", json={**request, "public_key_pem": self.token.public_key_pem()}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        certificate = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
        issuer = self.root(body["issuer"]["purpose"], body["issuer"]["generation"])
        return certificate, issuer, body

    def ocsp_status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> Any:
        request = build_ocsp_request(certificate, issuer)
        response = self.client.post(
            "/ocsp", content=request.der, headers={"content-type": "application/ocsp-request"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/ocsp-response"
        return validate_ocsp_response(
            response.content,
            certificate,
            issuer,
            at=self.clock.now(),
            policy=RevocationPolicy.REQUIRE,
            expected_nonce=request.nonce,
        )

    def close(self) -> None:
        self.client.close()
        self.database.dispose()


@pytest.fixture
def platform(postgres_schema_url: str) -> Iterator[Platform]:
    platform = Platform(postgres_schema_url)
    try:
        yield platform
    finally:
        platform.close()


def test_tables_live_in_postgres_with_their_constraints(platform: Platform) -> None:
    engine = platform.database.engine
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    assert schema.startswith("t_")  # the test's own schema, not public
    inspector = inspect(engine)
    tables = set(inspector.get_table_names(schema=schema))
    assert {
        "ca_generations",
        "issued_certificates",
        "certificate_events",
        "crls",
        "ocsp_responders",
    } <= tables
    uniques = {c["name"] for c in inspector.get_unique_constraints("crls", schema=schema)}
    assert "uq_crl_ca_number" in uniques
    checks = {c["name"] for c in inspector.get_check_constraints("issued_certificates", schema=schema)}
    assert {"ck_certificate_status", "ck_certificate_revoked_at_iff_not_good"} <= checks


def test_ca_bootstrap_is_persistent_and_idempotent(platform: Platform) -> None:
    listing = platform.client.get("/ca")
    assert listing.status_code == 200
    first = {(ca["purpose"], ca["generation"]): ca["sha256_fingerprint"] for ca in listing.json()}
    assert {purpose for purpose, _ in first} == {"signing", "user_authentication"}
    assert len(first) >= 2

    # A second instance on the same database (another process, or a restart a year later) reuses them.
    later = create_app(
        Settings(database_url=platform.url, test_mode=True), clock=MockClock(NOW + timedelta(days=365))
    )
    try:
        with TestClient(later) as client:
            again = {
                (ca["purpose"], ca["generation"]): ca["sha256_fingerprint"] for ca in client.get("/ca").json()
            }
    finally:
        later.state.ca_service._db.dispose()
    assert again == first
    with platform.database.transaction() as session:
        count = session.scalar(text("SELECT count(*) FROM ca_generations"))
    assert count == len(first)


def test_issue_revoke_ocsp_and_crl_over_postgres(platform: Platform) -> None:
    signing, signing_ca, body = platform.issue(SIGNING_REQUEST)
    auth, auth_ca, _ = platform.issue(AUTH_REQUEST)

    # Fresh certificates: GOOD from the SDK's own OCSP validation.
    assert platform.ocsp_status(signing, signing_ca).status is CertStatus.GOOD
    assert platform.ocsp_status(auth, auth_ca).status is CertStatus.GOOD

    # Timestamps come back aware UTC from PostgreSQL, equal to the certificate's.
    state = platform.client.get(f"/admin/certificates/{body['serial']}").json()
    assert datetime.fromisoformat(state["not_before"]) == signing.not_valid_before_utc
    assert datetime.fromisoformat(state["issued_at"]) == NOW
    assert state["status"] == "good"

    # Hold and release the user-authentication certificate: OCSP follows at once.
    auth_serial = format(auth.serial_number, "x")
    platform.clock.advance(timedelta(minutes=1))
    held = platform.client.post(
        f"/admin/certificates/{auth_serial}/revoke", json={"reason": "certificateHold"}
    )
    assert held.status_code == 200, held.text
    assert platform.ocsp_status(auth, auth_ca).status is CertStatus.ON_HOLD
    released = platform.client.post(f"/admin/certificates/{auth_serial}/release")
    assert released.status_code == 200, released.text
    assert platform.ocsp_status(auth, auth_ca).status is CertStatus.GOOD

    # The current CRL (the first scheduled one, issued on this first request) lists nothing yet.
    purpose, generation = body["issuer"]["purpose"], body["issuer"]["generation"]
    before = platform.client.get(f"/crl/{purpose}/{generation}.crl")
    assert before.status_code == 200
    before_index = validate_crl(
        before.content, signing_ca, at=platform.clock.now(), policy=RevocationPolicy.REQUIRE
    )
    assert signing.serial_number not in before_index

    # Revoke the signing certificate (affiliationChanged: an attribute changed): OCSP says so at once.
    platform.clock.advance(timedelta(minutes=1))
    revoked_at = platform.clock.now().replace(microsecond=0)
    revoked = platform.client.post(
        f"/admin/certificates/{body['serial']}/revoke", json={"reason": "affiliationChanged"}
    )
    assert revoked.status_code == 200, revoked.text
    assert datetime.fromisoformat(revoked.json()["revoked_at"]) == revoked_at
    status = platform.ocsp_status(signing, signing_ca)
    assert status.status is CertStatus.REVOKED
    assert status.reason is RevocationReason.AFFILIATION_CHANGED
    assert status.revocation_time == revoked_at
    twice = platform.client.post(
        f"/admin/certificates/{body['serial']}/revoke", json={"reason": "keyCompromise"}
    )
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")

    # The CRL changes only at its next issue (here a forced one), validated by the SDK.
    unchanged = platform.client.get(f"/crl/{purpose}/{generation}.crl")
    assert unchanged.content == before.content
    platform.clock.advance(timedelta(seconds=5))
    issued = platform.client.post("/admin/crl/issue", json={"purpose": purpose})
    assert issued.status_code == 200, issued.text
    after = platform.client.get(f"/crl/{purpose}/{generation}.crl")
    index = validate_crl(
        after.content,
        signing_ca,
        at=platform.clock.now(),
        policy=RevocationPolicy.REQUIRE,
        previous_number=before_index.crl_number,
    )
    assert signing.serial_number in index
    assert auth.serial_number not in index  # released holds leave the CRL
    entry = index.lookup(signing.serial_number)
    assert entry.status is CertStatus.REVOKED
    assert entry.reason is RevocationReason.AFFILIATION_CHANGED
    assert entry.revocation_time == revoked_at
    assert index.crl_number is not None
    assert before_index.crl_number is not None
    assert index.crl_number > before_index.crl_number


def test_unique_serial_is_enforced_by_postgres(platform: Platform) -> None:
    _, _, body = platform.issue(AUTH_REQUEST)
    with pytest.raises(IntegrityError), platform.database.transaction() as session:  # noqa: PT012
        original = session.scalars(
            select(IssuedCertificateRecord).where(IssuedCertificateRecord.serial_hex == body["serial"])
        ).one()
        session.add(
            IssuedCertificateRecord(
                serial_hex=original.serial_hex,
                ca_id=original.ca_id,
                kind=original.kind,
                form_factor=original.form_factor,
                subject_id="duplicate",
                certificate_der=original.certificate_der,
                not_before=original.not_before,
                not_after=original.not_after,
                issued_at=original.issued_at,
                status="good",
                updated_at=original.updated_at,
            )
        )
    with platform.database.transaction() as session:
        count = session.scalar(
            select(text("count(*)"))
            .select_from(IssuedCertificateRecord)
            .where(IssuedCertificateRecord.serial_hex == body["serial"])
        )
    assert count == 1  # the failed transaction left nothing behind


def test_concurrent_revocations_of_one_certificate_have_one_winner(platform: Platform) -> None:
    _, _, body = platform.issue(AUTH_REQUEST)
    service = platform.app.state.ca_service
    serial = int(body["serial"], 16)

    def revoke(_: int) -> str:
        try:
            service.revoke(serial, MockReason.KEY_COMPROMISE)
        except Exception as exc:  # noqa: BLE001 - the loser's error type is what we look at
            return type(exc).__name__
        return "revoked"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(revoke, range(8)))
    assert outcomes.count("revoked") == 1, outcomes
    assert set(outcomes) - {"revoked"} == {"AlreadyRevokedError"}
    with platform.database.transaction() as session:
        events = session.scalar(text("SELECT count(*) FROM certificate_events WHERE event = 'revoked'"))
    assert events == 1


def test_concurrent_scheduled_crl_requests_issue_one_crl(platform: Platform) -> None:
    """Readers racing for the daily CRL on PostgreSQL: one issue, everyone served the same CRL."""
    service = platform.app.state.ca_service
    service.issue_crls(CertificateKind.SIGNING, generation=2)  # CRL #1 exists
    platform.clock.advance(timedelta(days=1))  # the next daily issue is now due

    def fetch(_: int) -> int:
        return int(service.current_crl(CertificateKind.SIGNING, 2).crl_number)

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(fetch, range(16)))
    assert set(numbers) == {2}, numbers
    with platform.database.transaction() as session:
        crls = session.scalars(
            select(CRLRecord.crl_number).where(CRLRecord.ca_id == _ca_id(session, 2))
        ).all()
    assert sorted(crls) == [1, 2]


def _ca_id(session: Any, generation: int) -> int:
    row = session.execute(
        text("SELECT id FROM ca_generations WHERE purpose = 'signing' AND generation = :g"), {"g": generation}
    ).scalar_one()
    return int(row)


def _start_instance(url: str, barrier: Any, results: Any) -> None:
    """In a separate process: start a mock app on ``url`` (bootstrapping if first) and report its CAs."""
    barrier.wait(timeout=60)  # every process reaches the start line together
    app = create_app(Settings(database_url=url, test_mode=True), clock=MockClock(NOW))
    try:
        service = app.state.ca_service
        results.put(
            sorted(
                (info.purpose.value, info.generation, info.sha256_fingerprint)
                for info in service.ca_certificates()
            )
        )
    finally:
        app.state.ca_service._db.dispose()


def _start_together(url: str, count: int) -> list[list[tuple[str, int, str]]]:
    # fork: no re-import in the children (spawn costs seconds); the parent holds no connection to hand on.
    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier = context.Barrier(count)
    results = context.Queue()
    processes = [context.Process(target=_start_instance, args=(url, barrier, results)) for _ in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    exit_codes = [process.exitcode for process in processes]
    assert exit_codes == [0] * count, f"mock instances that failed to start: {exit_codes}"
    return [results.get(timeout=5) for _ in processes]


def _assert_one_ca_set(url: str, seen: list[list[tuple[str, int, str]]]) -> None:
    assert all(one == seen[0] for one in seen)
    database = Database(url)
    try:
        with database.transaction() as session:
            rows = session.execute(text("SELECT purpose, generation FROM ca_generations")).all()
    finally:
        database.dispose()
    assert len(rows) == len(seen[0]) == len(set(rows))


def test_several_processes_bootstrap_one_set_of_cas(postgres_schema_url: str) -> None:
    """Mock instances started at once on one database (tables present) agree on one CA set."""
    database = Database(postgres_schema_url)
    database.create_all()
    database.dispose()
    _assert_one_ca_set(postgres_schema_url, _start_together(postgres_schema_url, 3))


def test_several_processes_start_on_an_empty_database(postgres_schema_url: str) -> None:
    """Mock instances started at once on an *empty* PostgreSQL database: creating the tables races too."""
    _assert_one_ca_set(postgres_schema_url, _start_together(postgres_schema_url, 3))
