"""Strict CBOR (myna_rp.mdoc.cbor): tags 24/1004/0, duplicate keys, nesting, huge lengths, trailing bytes —
example cases plus hypothesis properties. Every failure must be MalformedInputError, nothing else."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myna_rp import MalformedInputError
from myna_rp.mdoc.cbor import CBOROptions, EncodedCBOR, dumps, loads

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(max_size=20),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(values)
def test_round_trip_of_plain_values(value: object) -> None:
    assert loads(cbor2.dumps(value)) == value


@settings(max_examples=200, deadline=None)
@given(values, st.integers(min_value=0, max_value=3))
def test_tag24_keeps_the_exact_received_bytes(value: object, header_form: int) -> None:
    content = cbor2.dumps(value)
    n = len(content)
    # any (also non-preferred) length encoding of the byte string, and of the tag
    bstr_header = [
        bytes([0x40 | n]) if n < 24 else b"\x58" + bytes([n]) if n < 256 else b"\x59" + n.to_bytes(2, "big"),
        b"\x59" + n.to_bytes(2, "big"),
        b"\x5a" + n.to_bytes(4, "big"),
        b"\x5b" + n.to_bytes(8, "big"),
    ][header_form]
    tag_header = [b"\xd8\x18", b"\xd9\x00\x18", b"\xda\x00\x00\x00\x18", b"\xd8\x18"][header_form]
    item = tag_header + bstr_header + content
    outer = b"\x82" + item + b"\x01"  # [item, 1]
    decoded = loads(outer)
    assert isinstance(decoded[0], EncodedCBOR)
    assert decoded[0].raw == item
    assert decoded[0].content == content
    assert decoded[0].decode() == value


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_full_date(value: date) -> None:
    assert loads(cbor2.dumps(cbor2.CBORTag(1004, value.isoformat()))) == value


@pytest.mark.parametrize("bad", ["2020-1-01", "2020-02-30", "20200101", "2020-01-01T00:00:00Z", 20200101])
def test_full_date_strict(bad: object) -> None:
    with pytest.raises(MalformedInputError):
        loads(cbor2.dumps(cbor2.CBORTag(1004, bad)))


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1)))
def test_tdate_strict_whole_seconds(value: datetime) -> None:
    value = value.replace(microsecond=0, tzinfo=UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert loads(cbor2.dumps(cbor2.CBORTag(0, text))) == value


@pytest.mark.parametrize(
    "text",
    ["2020-01-01T00:00:00.5Z", "2020-01-01T09:00:00+09:00", "2020-01-01 00:00:00Z", "2020-01-01T00:00:00"],
)
def test_tdate_strict_rejects_and_lenient_accepts_rfc3339(text: str) -> None:
    data = cbor2.dumps(cbor2.CBORTag(0, text))
    with pytest.raises(MalformedInputError):
        loads(data)
    if "T" in text and (text.endswith("Z") or "+" in text):
        parsed = loads(data, CBOROptions(lenient_tdate=True))
        assert parsed.tzinfo is not None


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=6), values, values)
def test_duplicate_keys_rejected(key: str, a: object, b: object) -> None:
    body = cbor2.dumps(key) + cbor2.dumps(a) + cbor2.dumps(key) + cbor2.dumps(b)
    with pytest.raises(MalformedInputError):
        loads(b"\xa2" + body)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=33, max_value=5000))
def test_deep_nesting_rejected(depth: int) -> None:
    with pytest.raises(MalformedInputError):
        loads(b"\x81" * depth + b"\x00")
    assert loads(b"\x81" * 20 + b"\x00") is not None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([0x5B, 0x7B, 0x9B, 0xBB, 0x5A, 0x9A]), st.integers(min_value=2**20, max_value=2**63))
def test_huge_declared_lengths_fail_fast(initial: int, length: int) -> None:
    size = 8 if initial & 0x1F == 27 else 4
    data = bytes([initial]) + (length % (2 ** (8 * size))).to_bytes(size, "big") + b"\x00\x01"
    with pytest.raises(MalformedInputError):
        loads(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_leak_other_errors(data: bytes) -> None:
    with contextlib.suppress(MalformedInputError):
        loads(data)


def test_limits_and_trailing_bytes() -> None:
    with pytest.raises(MalformedInputError):
        loads(b"\x01\x02")
    with pytest.raises(MalformedInputError):
        loads(b"")
    with pytest.raises(MalformedInputError):
        loads(b"\x43abc", CBOROptions(max_bytes=3))
    with pytest.raises(MalformedInputError):
        loads(b"\x9f\x01\xff")  # indefinite length
    assert loads(b"\x9f\x01\xff", CBOROptions(allow_indefinite=True)) == [1]


def test_other_tags_stay_uninterpreted() -> None:
    for tag, value in ((2, b"\x01\x00"), (258, [1, 2]), (1, 1_600_000_000), (28, 1)):
        decoded = loads(cbor2.dumps(cbor2.CBORTag(tag, value)))
        assert isinstance(decoded, cbor2.CBORTag)
        assert decoded.tag == tag


def test_tag24_of_a_non_bstr() -> None:
    with pytest.raises(MalformedInputError):
        loads(cbor2.dumps(cbor2.CBORTag(24, "text")))


def test_dumps_writes_encoded_cbor_verbatim() -> None:
    item = b"\xd9\x00\x18\x41\xa0"  # non-preferred tag header, kept as received
    decoded = loads(item)
    assert dumps([decoded]) == b"\x81" + item
