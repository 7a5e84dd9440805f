"""The confirmation-record repository on a real PostgreSQL server.

``make test`` starts a throw-away cluster and exports ``MYNA_TEST_POSTGRES_URL``; the ``postgres_url``
fixture (tests/conftest.py) skips without one and fails under ``MYNA_RP_REQUIRE_POSTGRES=1`` (CI). Each
test works in an empty schema of its own (``postgres_schema_url``).
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from kyc_support import T0, synthetic_record
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from myna_rp.errors import RecordStoreError
from myna_rp.kyc import RecordRetention, RetentionProfile, SQLRecordRepository, load_jsonl
from myna_rp.kyc.repository import ENDS_TABLE, RECORDS_TABLE
from myna_rp.revocation import CertStatus


def test_postgres_append_read_retention_export(postgres_schema_url: str) -> None:
    with SQLRecordRepository(postgres_schema_url) as repository:
        assert repository.engine.dialect.name == "postgresql"
        kept = synthetic_record(customer_reference="acct-pg", certificate_der=b"\x30\x00")
        telecom = synthetic_record(customer_reference="acct-pg", profile=RetentionProfile.TELECOM)
        repository.append(kept)
        repository.append(telecom)
        assert repository.get(kept.record_id) == kept
        assert repository.records() == [kept, telecom]
        assert repository.retention(kept) == RecordRetention(RetentionProfile.BANK, None, None)
        repository.end_relationship(
            "acct-pg", ended_on=date(2026, 12, 31), recorded_at=T0 + timedelta(days=1)
        )
        assert repository.retention(kept).retain_until == date(2033, 12, 31)
        assert repository.retention(telecom).retain_until == date(2029, 12, 31)
        stream = io.StringIO()
        assert repository.export_jsonl(stream) == 2
        assert load_jsonl(stream.getvalue().splitlines()) == [kept, telecom]
        # Timestamps come back aware UTC, the same instants.
        [row] = repository.relationship_ends("acct-pg")
        assert row.recorded_at == T0 + timedelta(days=1)
        assert row.recorded_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {RECORDS_TABLE} SET customer_reference = 'someone-else'",
        f"DELETE FROM {RECORDS_TABLE}",
        f"TRUNCATE {RECORDS_TABLE}",
        f"UPDATE {ENDS_TABLE} SET ended_on = '2099-01-01'",
        f"DELETE FROM {ENDS_TABLE}",
        f"TRUNCATE {ENDS_TABLE}",
    ],
)
def test_postgres_refuses_update_delete_truncate(postgres_schema_url: str, statement: str) -> None:
    with SQLRecordRepository(postgres_schema_url) as repository:
        record = synthetic_record()
        repository.append(record)
        repository.end_relationship(record.customer_reference, ended_on=date(2027, 1, 31), recorded_at=T0)
        with pytest.raises(DBAPIError, match="append-only"), repository.engine.begin() as connection:
            connection.execute(text(statement))
        assert repository.records() == [record]
        assert len(repository.relationship_ends(record.customer_reference)) == 1


def test_postgres_atomic_and_concurrent(postgres_schema_url: str) -> None:
    # Several repositories (as several workers would) create the schema at once, then append at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        repositories = list(pool.map(lambda _: SQLRecordRepository(postgres_schema_url), range(4)))
    try:
        records = [synthetic_record(customer_reference=f"acct-{i}") for i in range(20)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: repositories[i % 4].append(records[i]), range(20)))
        stored = repositories[0].records()
        assert sorted(str(r.record_id) for r in stored) == sorted(str(r.record_id) for r in records)
        with pytest.raises(RecordStoreError):
            repositories[1].append(records[0])  # duplicate id
        with pytest.raises(RecordStoreError):
            repositories[2].append(synthetic_record(status=CertStatus.ON_HOLD))  # CHECK constraint
        assert len(repositories[3].records()) == 20
    finally:
        for repository in repositories:
            repository.close()
