"""Confirmation records and their SQLite repository: retention (bank 7 years, telecom 3 years after the
relationship ends, 民法 140/143 counting), append-only in the database, atomic appends, JSON lines export."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from kyc_support import RP, T0, synthetic_record
from lifecycle_support import HANAKO, World
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from myna_rp.challenge import MemoryChallengeStore
from myna_rp.errors import MalformedInputError, Reason, RecordStoreError
from myna_rp.kyc import (
    RECORD_FORMAT,
    ConfirmationRecord,
    ConfirmationRecordRepository,
    DirectVerification,
    KycService,
    RecordRetention,
    RetentionProfile,
    SQLRecordRepository,
    load_jsonl,
    looks_like_individual_number,
    record_to_json_line,
)
from myna_rp.kyc.repository import ENDS_TABLE, RECORDS_TABLE
from myna_rp.revocation import CertStatus

BANK, TELECOM = RetentionProfile.BANK, RetentionProfile.TELECOM

# --------------------------------------------------------------------------------------------- retention


@pytest.mark.parametrize(
    ("ended_on", "bank", "telecom"),
    [
        (date(2026, 3, 31), date(2033, 3, 31), date(2029, 3, 31)),  # fiscal year end
        (date(2026, 11, 29), date(2033, 11, 29), date(2029, 11, 29)),
        (date(2026, 12, 31), date(2033, 12, 31), date(2029, 12, 31)),  # period starts 1 Jan
        (date(2028, 2, 28), date(2035, 2, 28), date(2031, 2, 28)),  # starts 29 Feb: ends end of Feb
        (date(2028, 2, 29), date(2035, 2, 28), date(2031, 2, 28)),  # starts 1 Mar: ends the day before
        (date(2025, 2, 28), date(2032, 2, 29), date(2028, 2, 29)),  # starts 1 Mar: leap day is the eve
    ],
)
def test_retention_deadline_bank_vs_telecom(ended_on: date, bank: date, telecom: date) -> None:
    assert BANK.years_after_relationship_end == 7
    assert TELECOM.years_after_relationship_end == 3
    assert BANK.retain_until(ended_on) == bank
    assert TELECOM.retain_until(ended_on) == telecom


def test_retention_is_unknown_until_the_relationship_ends(tmp_path: Path) -> None:
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        bank = synthetic_record(customer_reference="acct-1", profile=BANK)
        telecom = synthetic_record(customer_reference="acct-1", profile=TELECOM)
        other = synthetic_record(customer_reference="acct-2", profile=BANK)
        for record in (bank, telecom, other):
            repository.append(record)
            assert repository.retention(record) == RecordRetention(record.retention, None, None)

        repository.end_relationship("acct-1", ended_on=date(2027, 3, 31), recorded_at=T0 + timedelta(days=1))
        assert repository.retention(bank) == RecordRetention(BANK, date(2027, 3, 31), date(2034, 3, 31))
        assert repository.retention(telecom) == RecordRetention(TELECOM, date(2027, 3, 31), date(2030, 3, 31))
        assert repository.retention(other).retain_until is None  # another customer

        # A correction is a later event, never an update: the latest applicable event decides.
        repository.end_relationship("acct-1", ended_on=date(2027, 4, 30), recorded_at=T0 + timedelta(days=2))
        assert repository.retention(bank).retain_until == date(2034, 4, 30)
        assert [e.ended_on for e in repository.relationship_ends("acct-1")] == [
            date(2027, 3, 31),
            date(2027, 4, 30),
        ]

        # The customer comes back: a record made after the end is open again.
        later = synthetic_record(customer_reference="acct-1", recorded_at=T0 + timedelta(days=400))
        repository.append(later)
        assert repository.retention(later) == RecordRetention(BANK, None, None)
        assert repository.retention(bank).retain_until == date(2034, 4, 30)


def test_service_end_relationship_uses_its_profile(
    world: World, challenges: MemoryChallengeStore, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    records = {}
    for profile in (BANK, TELECOM):
        service = KycService(
            challenges=challenges,
            verifier=DirectVerification(world.verifier()),
            records=repository,
            verifier_identity=RP,
            profile=profile,
            clock=world.clock,
        )
        challenge = service.start(f"s-{profile.name}")
        records[profile.name] = service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference=f"contract-{profile.name}",
            signature=token.sign(challenge.value),
            certificate=token.certificate,
        )
        world.advance(days=30)
        ended = service.end_relationship(f"contract-{profile.name}", date(2030, 6, 30))
        assert ended.recorded_at == world.clock.now()
    assert records["bank"].method_legal_basis.startswith("犯罪収益移転防止法施行規則")
    assert records["telecom"].method_legal_basis.startswith("携帯電話不正利用防止法施行規則")
    assert repository.retention(records["bank"]).retain_until == date(2037, 6, 30)
    assert repository.retention(records["telecom"]).retain_until == date(2033, 6, 30)


# --------------------------------------------------------------------------------------------- append-only


def test_repository_has_no_update_or_delete_api(tmp_path: Path) -> None:
    repository = SQLRecordRepository(tmp_path / "r.sqlite3")
    assert isinstance(repository, ConfirmationRecordRepository)
    public = [name for name in dir(repository) if not name.startswith("_")]
    assert not [n for n in public if n.startswith(("update", "delete", "remove", "replace", "purge"))]
    repository.close()


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {RECORDS_TABLE} SET customer_reference = 'someone-else'",
        f"UPDATE {RECORDS_TABLE} SET document = '{{}}'",
        f"DELETE FROM {RECORDS_TABLE}",
        f"UPDATE {ENDS_TABLE} SET ended_on = '2099-01-01'",
        f"DELETE FROM {ENDS_TABLE}",
    ],
)
def test_sqlite_refuses_update_and_delete(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "r.sqlite3"
    repository = SQLRecordRepository(path)
    record = synthetic_record()
    repository.append(record)
    repository.end_relationship(record.customer_reference, ended_on=date(2027, 1, 31), recorded_at=T0)
    # Through SQLAlchemy on the repository's own engine …
    with pytest.raises(DBAPIError, match="append-only"), repository.engine.begin() as connection:
        connection.execute(text(statement))
    repository.close()
    # … and through a plain sqlite3 connection: the triggers live in the database file.
    raw = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)
    finally:
        raw.close()
    with SQLRecordRepository(path) as reopened:  # re-opening keeps the data and the triggers
        assert reopened.records() == [record]
        assert reopened.retention(record).retain_until == date(2034, 1, 31)


def test_records_by_customer_and_by_user_id(tmp_path: Path) -> None:
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        a = synthetic_record(customer_reference="acct-a", user_id="platform-user-1")
        b = synthetic_record(customer_reference="acct-b", user_id="platform-user-2")
        c = synthetic_record(customer_reference="acct-a", user_id=None)
        for record in (a, b, c):
            repository.append(record)
        assert repository.records() == [a, b, c]
        assert repository.records(customer_reference="acct-a") == [a, c]
        assert repository.records(user_id="platform-user-2") == [b]
        assert repository.records(customer_reference="acct-a", user_id="platform-user-2") == []
        assert repository.records(customer_reference="nobody") == []


def test_schema_creation_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    first = SQLRecordRepository(path)
    record = synthetic_record()
    first.append(record)
    second = SQLRecordRepository(path)  # creates nothing twice, sees the first one's record
    assert second.records() == [record]
    first.close()
    second.close()


# --------------------------------------------------------------------------------------------- atomicity


def test_duplicate_and_invalid_records_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with SQLRecordRepository(f"sqlite:///{tmp_path / 'r.sqlite3'}") as repository:
        record = synthetic_record()
        repository.append(record)
        with pytest.raises(RecordStoreError) as raised:
            repository.append(record)  # same record id
        assert raised.value.reason is Reason.RECORD_STORE_ERROR
        # The database refuses a record whose certificate was not confirmed GOOD (CHECK constraint).
        revoked = synthetic_record(status=CertStatus.REVOKED)
        with pytest.raises(RecordStoreError):
            repository.append(revoked)
        assert repository.records() == [record]
        assert repository.get(revoked.record_id) is None


def test_a_failing_store_leaves_nothing_and_the_service_raises_record_store_error(
    world: World, challenges: MemoryChallengeStore, tmp_path: Path
) -> None:
    path = tmp_path / "r.sqlite3"
    repository = SQLRecordRepository(path)
    service = KycService(
        challenges=challenges,
        verifier=DirectVerification(world.verifier()),
        records=repository,
        verifier_identity=RP,
        profile=BANK,
        clock=world.clock,
    )
    raw = sqlite3.connect(path)
    raw.execute(  # the disk "fails" on insert, after the transaction began
        f"CREATE TRIGGER fail_insert BEFORE INSERT ON {RECORDS_TABLE} "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    raw.commit()
    token = world.person(HANAKO).card.signing
    challenge = service.start("s-fail")
    with pytest.raises(RecordStoreError) as raised:
        service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference="c",
            signature=token.sign(challenge.value),
            certificate=token.certificate,
        )
    assert raised.value.reason is Reason.RECORD_STORE_ERROR
    assert raw.execute(f"SELECT COUNT(*) FROM {RECORDS_TABLE}").fetchone() == (0,)
    raw.close()
    assert repository.records() == []
    repository.close()


def test_unreachable_store_raises_record_store_error(tmp_path: Path) -> None:
    with pytest.raises(RecordStoreError):
        SQLRecordRepository(tmp_path)  # a folder, not a database file
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RecordStoreError):
        SQLRecordRepository(tmp_path / "file" / "r.sqlite3")
    with SQLRecordRepository(tmp_path / "new" / "folder" / "r.sqlite3") as created:  # folders are made
        assert created.records() == []
    with pytest.raises(RecordStoreError):
        SQLRecordRepository("nosuchdialect://x/y")


# --------------------------------------------------------------------------------------------- JSON


def test_json_lines_export_round_trip(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    made = []
    for token_sign, certificate, customer in (
        (person.card.signing.sign, person.card.signing.certificate, "acct-card"),
        (phone.sign, phone.signing_certificate, "acct-phone"),
    ):
        challenge = service.start(f"s-{customer}")
        made.append(
            service.complete(
                challenge.session_id,
                challenge.value,
                customer_reference=customer,
                signature=token_sign(challenge.value),
                certificate=certificate,
            )
        )
    repository.end_relationship("acct-card", ended_on=date(2027, 3, 31), recorded_at=world.clock.now())

    stream = io.StringIO()
    assert repository.export_jsonl(stream) == 2
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert stream.getvalue().endswith("\n")
    documents = [json.loads(line) for line in lines]
    for line, document in zip(lines, documents, strict=True):
        # Stable key order at every level, UTF-8 text as is, compact.
        assert line == json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert document["format"] == RECORD_FORMAT
        assert HANAKO["name"] in line
        datetime.fromisoformat(document["recorded_at"])
        assert document["recorded_at"].endswith("+00:00")
        assert document["attributes"]["date_of_birth"] == "1985-07-04"
        assert document["attributes"]["date_of_birth_raw"] == "319850704"
        assert document["certificate"]["der_base64"] is None
        assert document["revocation"]["status"] == "good"
    assert documents[0]["retention_status"] == {
        "relationship_ended_on": "2027-03-31",
        "retain_until": "2034-03-31",
    }
    assert documents[1]["retention_status"] == {"relationship_ended_on": None, "retain_until": None}
    assert [d["certificate"]["form_factor"] for d in documents] == ["card", "android"]

    assert load_jsonl(lines) == made
    assert load_jsonl(io.StringIO(stream.getvalue())) == made
    only_phone = io.StringIO()
    assert repository.export_jsonl(only_phone, customer_reference="acct-phone") == 1
    assert load_jsonl(only_phone.getvalue().splitlines()) == [made[1]]


def test_record_json_round_trip_of_every_field() -> None:
    record = synthetic_record(certificate_der=b"\x30\x03\x02\x01\x01", user_id="pairwise-sub-1")
    line = record_to_json_line(record)
    document = json.loads(line)
    assert document["user_id"] == "pairwise-sub-1"
    assert document["certificate"]["der_base64"] == "MAMCAQE="
    assert document["certificate"]["serial_number_hex"] == "123456789abcdef0123456789abcdef0"
    assert document["revocation"]["crl_number"] == str(2**100 + 7)
    assert document["attributes"]["date_of_birth"] is None  # partial date of birth: raw only
    assert document["attributes"]["date_of_birth_raw"] == "420010600"
    assert ConfirmationRecord.from_json(document) == record
    # Datetimes given in JST are stored as the same instant in UTC.
    jst = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    shifted = synthetic_record(recorded_at=jst)
    assert json.loads(record_to_json_line(shifted))["recorded_at"] == "2026-11-29T12:00:00+00:00"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(format="something/2"),
        lambda d: d.pop("attributes"),
        lambda d: d["attributes"].update(gender="9"),
        lambda d: d.update(recorded_at="2026-11-29T12:00:00"),  # naive
        lambda d: d["certificate"].update(der_base64="***"),
        lambda d: d.update(customer_reference="123456789018"),  # a My Number
    ],
)
def test_damaged_documents_are_refused(damage: object) -> None:
    document = synthetic_record().to_json()
    damage(document)  # type: ignore[operator]
    with pytest.raises(MalformedInputError):
        ConfirmationRecord.from_json(document)


def test_my_number_check_digit() -> None:
    # 番号法施行令 第8条: 123456789018 is the commonly published valid sample.
    assert looks_like_individual_number("123456789018")
    assert looks_like_individual_number("1234-5678-9018")
    assert not looks_like_individual_number("123456789017")
    assert not looks_like_individual_number("12345678901")
    assert not looks_like_individual_number("acct-123456789018")
    with pytest.raises(MalformedInputError):
        synthetic_record(customer_reference="123456789018")


def test_repr_redacts_personal_data() -> None:
    record = synthetic_record(customer_reference="acct-secret-77")
    text_ = repr(record)
    for personal in ("見本", "千代田", "420010600", "acct-secret-77"):
        assert personal not in text_
    assert "ConfirmationRecord(record_id=" in text_
