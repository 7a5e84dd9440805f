"""Regression tests of the issue-6 review of ``myna_rp.kyc``.

* Revocation evidence must be fresh relative to the challenge (a cached OCSP "good" made for an earlier
  check must not confirm a certificate revoked since), in every mode; ``FreshOCSPCache`` makes direct
  mode ask afresh (the documented recipe).
* The append-only tables cannot be rewritten with SQLite ``INSERT OR REPLACE`` / ``REPLACE`` / an upsert
  (raw ``sqlite3``), nor on PostgreSQL with ``INSERT … ON CONFLICT DO UPDATE``.
* ``end_relationship`` refuses a ``datetime``, an end before the customer's first record, a customer
  without records.
* A My Number cannot be smuggled into a customer reference (full-width digits, Unicode hyphens, prefixes).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from kyc_support import RP, T0, synthetic_record
from lifecycle_support import HANAKO, MOVED, OCSP_ONLY, World
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from myna_rp.challenge import MemoryChallengeStore
from myna_rp.errors import (
    CertificateRevokedError,
    MalformedInputError,
    Reason,
    RevocationUnavailableError,
)
from myna_rp.identity import IdentityVerification, VerificationMode
from myna_rp.jpki import JPKIVerifier
from myna_rp.kyc import (
    DirectVerification,
    FreshOCSPCache,
    KycService,
    OIDCVerification,
    RetentionProfile,
    SQLRecordRepository,
    contains_individual_number,
    looks_like_individual_number,
)
from myna_rp.kyc.record import validate_customer_reference
from myna_rp.kyc.repository import ENDS_TABLE, RECORDS_TABLE
from myna_rp.revocation import OCSPClient, RevocationChecker, RevocationSource

# --------------------------------------------------------------------------------------------- freshness


def fresh_verifier(world: World) -> JPKIVerifier:
    """The documented direct-mode recipe: the checker never reuses an OCSP answer."""
    checker = RevocationChecker(
        ocsp=OCSPClient(world.client, {root.subject: "/ocsp" for root in world.roots}, sleep=lambda _: None),
        cache=FreshOCSPCache(world.clock),
        clock=world.clock,
    )
    return JPKIVerifier(world.trust, revocation=checker, policy=OCSP_ONLY, clock=world.clock)


def kyc_with(world: World, repository: SQLRecordRepository, verifier: JPKIVerifier) -> KycService:
    return KycService(
        challenges=MemoryChallengeStore(clock=world.clock),
        verifier=DirectVerification(verifier),
        records=repository,
        verifier_identity=RP,
        profile=RetentionProfile.BANK,
        clock=world.clock,
    )


def test_kyc_review_cached_good_answer_does_not_confirm_a_certificate_revoked_since(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    """The `service` fixture's verifier has the default (reusing) OCSP cache: the second eKYC after the
    move is refused (REVOCATION_UNAVAILABLE), not recorded — before the fix it was recorded."""
    person = world.person(HANAKO)
    old = person.card.signing
    first = service.start("s-first")
    service.complete(
        first.session_id,
        first.value,
        customer_reference="acct-1",
        signature=old.sign(first.value),
        certificate=old.certificate,
    )
    world.counter.change_attributes(person.card, MOVED)  # 異動等失効: the old certificate is revoked now
    world.advance(minutes=10)  # still inside the cached answer's nextUpdate (15 minutes)
    second = service.start("s-second")
    with pytest.raises(RevocationUnavailableError) as raised:
        service.complete(
            second.session_id,
            second.value,
            customer_reference="acct-2",
            signature=old.sign(second.value),
            certificate=old.certificate,
        )
    assert raised.value.reason is Reason.REVOCATION_UNAVAILABLE
    assert "FreshOCSPCache" in raised.value.message
    assert [r.customer_reference for r in repository.records()] == ["acct-1"]


def test_kyc_review_fresh_ocsp_cache_sees_the_revocation(
    world: World, repository: SQLRecordRepository
) -> None:
    service = kyc_with(world, repository, fresh_verifier(world))
    person = world.person(HANAKO)
    old = person.card.signing
    for attempt in ("s-1", "s-2"):  # the same certificate twice in a row: fresh answers both times
        challenge = service.start(attempt)
        record = service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference=f"acct-{attempt}",
            signature=old.sign(challenge.value),
            certificate=old.certificate,
        )
        assert record.revocation.produced_at is not None
        assert record.revocation.produced_at >= challenge.issued_at - timedelta(seconds=1)
    world.counter.change_attributes(person.card, MOVED)
    world.advance(minutes=1)
    challenge = service.start("s-3")
    with pytest.raises(CertificateRevokedError) as raised:
        service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference="acct-3",
            signature=old.sign(challenge.value),
            certificate=old.certificate,
        )
    assert raised.value.reason is Reason.CERTIFICATE_REVOKED
    assert len(repository.records()) == 2


def test_kyc_review_freshness_applies_in_every_mode(world: World, repository: SQLRecordRepository) -> None:
    """OIDC mode (a pre-verified result the service cannot re-query): an OCSP answer produced before the
    challenge, or a CRL older than crl_max_age, is refused; fresh ones pass."""
    service = KycService(
        challenges=MemoryChallengeStore(clock=world.clock),
        verifier=OIDCVerification(),
        records=repository,
        verifier_identity=RP,
        profile=RetentionProfile.BANK,
        clock=world.clock,
    )
    token = world.person(HANAKO).card.signing

    def pre_verified(challenge_value: bytes) -> IdentityVerification:
        checked = fresh_verifier(world).verify_signature(
            data=challenge_value, signature=token.sign(challenge_value), certificate=token.certificate
        )
        return IdentityVerification.from_jpki(checked, mode=VerificationMode.OIDC)

    def attempt(session: str, change: object) -> object:
        challenge = service.start(session)
        verification = pre_verified(challenge.value)
        assert callable(change)
        return service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference=f"acct-{session}",
            verification=change(verification, challenge.issued_at),
        )

    def ocsp_made(seconds_before: int) -> object:
        def change(v: IdentityVerification, issued: datetime) -> IdentityVerification:
            made = issued - timedelta(seconds=seconds_before)
            return replace(v, revocation=replace(v.revocation, produced_at=made, this_update=made))

        return change

    def crl_of(age: timedelta) -> object:
        def change(v: IdentityVerification, issued: datetime) -> IdentityVerification:
            status = replace(
                v.revocation,
                source=RevocationSource.CRL,
                produced_at=None,
                this_update=issued - age,
                next_update=issued + timedelta(hours=2),
            )
            return replace(v, revocation=status)

        return change

    with pytest.raises(RevocationUnavailableError):
        attempt("old-ocsp", ocsp_made(10 * 60))  # a 10-minute-old answer: reused, refused
    attempt("skewed-ocsp", ocsp_made(30))  # within revocation_skew (1 minute): accepted
    with pytest.raises(RevocationUnavailableError):
        attempt("old-crl", crl_of(timedelta(hours=26)))
    attempt("daily-crl", crl_of(timedelta(hours=20)))
    assert [r.customer_reference for r in repository.records()] == ["acct-skewed-ocsp", "acct-daily-crl"]


def test_kyc_review_freshness_settings_are_checked(world: World, repository: SQLRecordRepository) -> None:
    from myna_rp.errors import ConfigurationError

    common = {
        "challenges": MemoryChallengeStore(clock=world.clock),
        "verifier": OIDCVerification(),
        "records": repository,
        "verifier_identity": RP,
        "profile": RetentionProfile.BANK,
    }
    with pytest.raises(ConfigurationError):
        KycService(**common, revocation_skew=timedelta(seconds=-1))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        KycService(**common, crl_max_age=timedelta(0))  # type: ignore[arg-type]


def test_kyc_review_fresh_cache_never_keeps_ocsp(world: World) -> None:
    cache = FreshOCSPCache(world.clock)
    status = synthetic_record().revocation
    cache.put_ocsp(b"k", status, expires_at=world.clock.now() + timedelta(hours=1))
    assert cache.get_ocsp(b"k") is None


# --------------------------------------------------------------------------------------------- append-only

_COLUMNS = (
    "seq, record_id, customer_reference, user_id, method, mode, verified_at, recorded_at, "
    "certificate_serial_hex, certificate_fingerprint_sha256, revocation_status, retention_profile, document"
)


@pytest.mark.parametrize(
    "verb",
    [
        "INSERT OR REPLACE INTO",
        "REPLACE INTO",
        "INSERT OR IGNORE INTO",
    ],
)
def test_kyc_review_sqlite_refuses_replace_of_a_record(tmp_path: Path, verb: str) -> None:
    path = tmp_path / "r.sqlite3"
    with SQLRecordRepository(path) as repository:
        record = synthetic_record(customer_reference="cust-A")
        repository.append(record)
    raw = sqlite3.connect(path)
    try:
        row = raw.execute(f"SELECT {_COLUMNS} FROM {RECORDS_TABLE}").fetchone()
        forged = row[12].replace("見本　花子", "改竄　太郎")
        assert forged != row[12]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(
                f"{verb} {RECORDS_TABLE} ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                (*row[:12], forged),
            )
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):  # same record id, a new seq
            raw.execute(
                f"{verb} {RECORDS_TABLE} ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                (row[0] + 100, *row[1:12], forged),
            )
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # an upsert fires the UPDATE trigger
            raw.execute(
                f"INSERT INTO {RECORDS_TABLE} ({_COLUMNS}) VALUES ({', '.join('?' * 13)}) "
                "ON CONFLICT(seq) DO UPDATE SET document = excluded.document",
                (*row[:12], forged),
            )
        raw.commit()
    finally:
        raw.close()
    with SQLRecordRepository(path) as reopened:
        assert reopened.records() == [record]


def test_kyc_review_sqlite_refuses_replace_of_a_relationship_end(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with SQLRecordRepository(path) as repository:
        record = synthetic_record(customer_reference="cust-A")
        repository.append(record)
        repository.end_relationship("cust-A", ended_on=date(2030, 1, 31), recorded_at=T0 + timedelta(days=1))
    raw = sqlite3.connect(path)
    try:
        row = raw.execute(
            f"SELECT seq, event_id, customer_reference, ended_on, recorded_at FROM {ENDS_TABLE}"
        ).fetchone()
        for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(
                    f"{verb} {ENDS_TABLE} (seq, event_id, customer_reference, ended_on, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (row[0], row[1], row[2], "2099-12-31", row[4]),
                )
        raw.commit()
    finally:
        raw.close()
    with SQLRecordRepository(path) as reopened:
        assert [e.ended_on for e in reopened.relationship_ends("cust-A")] == [date(2030, 1, 31)]
        assert reopened.retention(record).retain_until == date(2037, 1, 31)
        # Appending still works (the trigger only refuses existing keys).
        reopened.append(synthetic_record(customer_reference="cust-B"))
        assert len(reopened.records()) == 2


def test_kyc_review_existing_database_gets_the_insert_trigger(tmp_path: Path) -> None:
    """A database created before the fix (only UPDATE/DELETE triggers) gets the new trigger on open."""
    path = tmp_path / "r.sqlite3"
    with SQLRecordRepository(path):
        pass
    raw = sqlite3.connect(path)
    raw.execute(f"DROP TRIGGER {RECORDS_TABLE}_no_replace")
    raw.commit()
    raw.close()
    with SQLRecordRepository(path) as reopened:
        reopened.append(synthetic_record())
    raw = sqlite3.connect(path)
    try:
        names = {n for (n,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    finally:
        raw.close()
    assert f"{RECORDS_TABLE}_no_replace" in names
    assert f"{ENDS_TABLE}_no_replace" in names


def test_kyc_review_postgres_upsert_is_refused(postgres_schema_url: str) -> None:
    """PostgreSQL has no REPLACE; ``INSERT … ON CONFLICT DO UPDATE`` fires the row-level UPDATE trigger."""
    with SQLRecordRepository(postgres_schema_url) as repository:
        record = synthetic_record(customer_reference="cust-pg")
        repository.append(record)
        repository.end_relationship("cust-pg", ended_on=date(2030, 1, 31), recorded_at=T0 + timedelta(days=1))
        upserts = [
            f"INSERT INTO {RECORDS_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {RECORDS_TABLE} "
            "ON CONFLICT (seq) DO UPDATE SET document = '{}'",
            f"INSERT INTO {RECORDS_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {RECORDS_TABLE} "
            "ON CONFLICT (record_id) DO UPDATE SET customer_reference = 'someone-else'",
            f"INSERT INTO {ENDS_TABLE} (seq, event_id, customer_reference, ended_on, recorded_at) "
            f"SELECT seq, event_id, customer_reference, ended_on, recorded_at FROM {ENDS_TABLE} "
            "ON CONFLICT (seq) DO UPDATE SET ended_on = DATE '2099-12-31'",
        ]
        for statement in upserts:
            with pytest.raises(DBAPIError, match="append-only"), repository.engine.begin() as connection:
                connection.execute(text(statement))
        assert repository.records() == [record]
        assert repository.retention(record).retain_until == date(2037, 1, 31)


# ----------------------------------------------------------------------------------- relationship end


def test_kyc_review_end_relationship_refuses_a_datetime(tmp_path: Path) -> None:
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        repository.append(synthetic_record(customer_reference="c1"))
        with pytest.raises(MalformedInputError, match=r"datetime\.date"):
            repository.end_relationship(
                "c1",
                ended_on=datetime(2031, 3, 31, 23, 0, tzinfo=UTC),
                recorded_at=datetime(2031, 4, 1, tzinfo=UTC),
            )
        with pytest.raises(MalformedInputError):
            repository.end_relationship("c1", ended_on="2031-03-31", recorded_at=T0)  # type: ignore[arg-type]
        assert repository.relationship_ends("c1") == []


def test_kyc_review_end_relationship_refuses_an_end_before_the_records(tmp_path: Path) -> None:
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        # Made 2030-06-01 00:30 UTC = 09:30 JST on 2030-06-01.
        record = synthetic_record(
            customer_reference="c3", recorded_at=datetime(2030, 6, 1, 0, 30, tzinfo=UTC)
        )
        repository.append(record)
        with pytest.raises(MalformedInputError, match="before the customer's first confirmation record"):
            repository.end_relationship(
                "c3", ended_on=date(2001, 1, 1), recorded_at=datetime(2030, 6, 2, tzinfo=UTC)
            )
        with pytest.raises(MalformedInputError):
            repository.end_relationship(
                "c3", ended_on=date(2030, 5, 31), recorded_at=datetime(2030, 6, 2, tzinfo=UTC)
            )
        assert repository.relationship_ends("c3") == []
        assert repository.retention(record).retain_until is None
        # The day of the record itself (Japan time) is fine: opened and closed the same day.
        repository.end_relationship(
            "c3", ended_on=date(2030, 6, 1), recorded_at=datetime(2030, 6, 2, tzinfo=UTC)
        )
        assert repository.retention(record).retain_until == date(2037, 6, 1)


def test_kyc_review_end_relationship_uses_the_japanese_calendar_day(tmp_path: Path) -> None:
    """A record made at 2030-06-01 16:00 UTC is 2030-06-02 01:00 in Japan: 2030-06-01 is before it."""
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        repository.append(
            synthetic_record(customer_reference="c4", recorded_at=datetime(2030, 6, 1, 16, 0, tzinfo=UTC))
        )
        with pytest.raises(MalformedInputError):
            repository.end_relationship(
                "c4", ended_on=date(2030, 6, 1), recorded_at=datetime(2030, 6, 3, tzinfo=UTC)
            )
        repository.end_relationship(
            "c4", ended_on=date(2030, 6, 2), recorded_at=datetime(2030, 6, 3, tzinfo=UTC)
        )


def test_kyc_review_end_relationship_needs_records(tmp_path: Path, world: World) -> None:
    with SQLRecordRepository(tmp_path / "r.sqlite3") as repository:
        with pytest.raises(MalformedInputError, match="no confirmation record"):
            repository.end_relationship("nobody", ended_on=date(2030, 1, 1), recorded_at=T0)
        service = KycService(
            challenges=MemoryChallengeStore(clock=world.clock),
            verifier=OIDCVerification(),
            records=repository,
            verifier_identity=RP,
            profile=RetentionProfile.BANK,
            clock=world.clock,
        )
        with pytest.raises(MalformedInputError):
            service.end_relationship("nobody", date(2030, 1, 1))
        with pytest.raises(MalformedInputError):
            service.end_relationship("nobody", datetime(2030, 1, 1, tzinfo=UTC))


# --------------------------------------------------------------------------------------------- My Number


MY_NUMBER = "123456789018"  # 12 digits with a valid check digit (synthetic)


@pytest.mark.parametrize(
    "reference",
    [
        MY_NUMBER,
        "1234-5678-9018",
        "1234 5678 9018",
        "".join(chr(ord(d) + 0xFEE0) for d in MY_NUMBER),  # full-width digits
        "MN" + MY_NUMBER,
        "cust_" + MY_NUMBER + "_x",
        "1234\u20105678\u20109018",  # U+2010 HYPHEN
        "1234ー5678ー9018",  # katakana long-vowel mark used as a hyphen
        "1234\u200b5678\u200b9018",  # zero-width spaces
        "99" + MY_NUMBER + "77",  # inside a longer digit run
        "一二三四五六七八九〇一八",  # kanji numerals
    ],
)
def test_kyc_review_my_number_cannot_be_smuggled_in(reference: str) -> None:
    assert looks_like_individual_number(MY_NUMBER)
    assert contains_individual_number(reference)
    with pytest.raises(MalformedInputError, match="My Number"):
        validate_customer_reference(reference)


@pytest.mark.parametrize(
    "reference",
    ["acct-1", "cus_QqOO3yy39ocEQfP9nb97qA", "C2024-A000123", "12345678901" + "9", "contract-bank"],
)
def test_kyc_review_ordinary_references_pass(reference: str) -> None:
    assert validate_customer_reference(reference) == reference


def test_kyc_review_my_number_false_positive_rate_is_as_documented() -> None:
    """The documented trade-off: a run of 12 arbitrary digits is refused about once in eleven."""
    refused = sum(contains_individual_number(f"{n:012d}") for n in range(0, 10**12, 10**12 // 11000 + 7))
    total = len(range(0, 10**12, 10**12 // 11000 + 7))
    assert 0.07 < refused / total < 0.11
