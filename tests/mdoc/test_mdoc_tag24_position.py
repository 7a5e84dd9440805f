"""Tag-24 items keep the bytes at their own position (review of issue 4: exact received bytes).

An element sent with non-preferred headers while its preferred encoding appears elsewhere in the response
(inside another element's byte-string value) must be digested over the bytes at its own position.
"""

from __future__ import annotations

import hashlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mdoc_issuer import NOW, NS, IssuerPKI, default_elements, issue

from myna_rp.errors import MalformedInputError, MdocVerificationError, Reason
from myna_rp.mdoc import IACAStore, MdocVerifier
from myna_rp.mdoc.cbor import EncodedCBOR, loads

RANDOM = bytes(range(16))
TARGET = (NS, "age_in_years")


def _preferred(content: bytes) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(24, content))


def _digest_id_of_target(carrier_first: bool) -> int:
    return 3 if carrier_first else 2


@pytest.mark.parametrize("carrier_first", [True, False])
def test_non_preferred_element_with_preferred_form_elsewhere_verifies(carrier_first: bool) -> None:
    pki = IssuerPKI()
    content = cbor2.dumps(
        {
            "digestID": _digest_id_of_target(carrier_first),
            "random": RANDOM,
            "elementIdentifier": "age_in_years",
            "elementValue": 25,
        }
    )
    elements = default_elements()
    carrier = {"decoy": _preferred(content)}
    elements[NS] = {**carrier, **elements[NS]} if carrier_first else {**elements[NS], **carrier}
    issued = issue(pki, elements=elements, non_preferred=TARGET, fixed_random=RANDOM)
    response = issued.device_response
    sent = b"\xd9\x00\x18\x5a" + len(content).to_bytes(4, "big") + content
    assert sent in response
    assert _preferred(content) in response

    presentation = MdocVerifier(IACAStore([pki.iaca])).verify(
        response, session_transcript=issued.transcript, at=NOW
    )
    assert presentation.element(NS, "age_in_years") == 25
    assert presentation.element(NS, "decoy") == _preferred(content)

    # the digest is over the exact received bytes at the element's own position
    decoded = loads(response)
    items = decoded["documents"][0]["issuerSigned"]["nameSpaces"][NS]
    target = next(i for i in items if i.decode()["elementIdentifier"] == "age_in_years")
    assert target.raw == sent
    assert hashlib.sha256(target.raw).digest() == hashlib.sha256(sent).digest()
    position = response.index(sent)
    assert response[position : position + len(target.raw)] == target.raw


@pytest.mark.parametrize("carrier_first", [True, False])
def test_bytes_from_another_position_are_never_used(carrier_first: bool) -> None:
    # The MSO digests the preferred form; the element is sent non-preferred; the preferred bytes (which
    # would match the MSO) appear only inside another element's value. Hashing them would accept.
    pki = IssuerPKI()
    content = cbor2.dumps(
        {
            "digestID": _digest_id_of_target(carrier_first),
            "random": RANDOM,
            "elementIdentifier": "age_in_years",
            "elementValue": 25,
        }
    )
    elements = default_elements()
    carrier = {"decoy": _preferred(content)}
    elements[NS] = {**carrier, **elements[NS]} if carrier_first else {**elements[NS], **carrier}
    issued = issue(
        pki, elements=elements, non_preferred=TARGET, digest_preferred_form=True, fixed_random=RANDOM
    )
    with pytest.raises(MdocVerificationError) as caught:
        MdocVerifier(IACAStore([pki.iaca])).verify(
            issued.device_response, session_transcript=issued.transcript, at=NOW
        )
    assert caught.value.reason is Reason.DIGEST_MISMATCH


@pytest.mark.parametrize("tag_header", [b"\xd8\x18", b"\xd9\x00\x18", b"\xda\x00\x00\x00\x18"])
@pytest.mark.parametrize("bstr_width", [1, 2, 4, 8])
@pytest.mark.parametrize("decoy_first", [True, False])
def test_loads_takes_the_span_at_the_item_position(
    tag_header: bytes, bstr_width: int, decoy_first: bool
) -> None:
    content = cbor2.dumps({"k": "v" * 30})
    initial = {1: 0x58, 2: 0x59, 4: 0x5A, 8: 0x5B}[bstr_width]
    item = tag_header + bytes([initial]) + len(content).to_bytes(bstr_width, "big") + content
    decoy = cbor2.dumps(_preferred(content))  # a bstr holding the preferred encoding
    parts = [decoy, item] if decoy_first else [item, decoy]
    data = b"\x82" + parts[0] + parts[1]
    value = loads(data)
    encoded = value[1] if decoy_first else value[0]
    assert isinstance(encoded, EncodedCBOR)
    assert encoded.raw == item
    assert encoded.content == content
    start = 1 + (len(decoy) if decoy_first else 0)
    assert data[start : start + len(item)] == encoded.raw


def test_identical_items_each_keep_their_own_bytes() -> None:
    content = cbor2.dumps("x")
    preferred = b"\xd8\x18\x42" + content
    long_form = b"\xd9\x00\x18\x5a" + len(content).to_bytes(4, "big") + content
    data = b"\x83" + preferred + long_form + preferred
    first, second, third = loads(data)
    assert (first.raw, second.raw, third.raw) == (preferred, long_form, preferred)


def test_whole_input_tag24_is_exact() -> None:
    content = cbor2.dumps([1, 2])
    for raw in (b"\xd8\x18\x43" + content, b"\xda\x00\x00\x00\x18\x5b" + (3).to_bytes(8, "big") + content):
        value = loads(raw)
        assert isinstance(value, EncodedCBOR)
        assert value.raw == raw
        assert value.content == content
    with pytest.raises(MalformedInputError, match="trailing"):
        loads(b"\xd8\x18\x43" + content + b"\x00")


_HEADER_WIDTHS = (None, 1, 2, 4)  # None: preferred; else a byte-string length argument of that width


def _tag24_item(content: bytes, width: int | None) -> bytes:
    if width is None:
        return EncodedCBOR.wrap(content).raw
    head = {1: 0x58, 2: 0x59, 4: 0x5A}[width]
    if len(content) >= 1 << (8 * width):
        return EncodedCBOR.wrap(content).raw
    return b"\xd8\x18" + bytes([head]) + len(content).to_bytes(width, "big") + content


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(), st.text(max_size=40), st.binary(max_size=300)),
            st.sampled_from(_HEADER_WIDTHS),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_raw_bytes_are_the_received_span_on_both_paths(items: list[tuple[object, int | None]]) -> None:
    # Preferred input takes the re-encoding-checked fast path, anything else the exact-offset path: either
    # way every item's raw bytes are exactly what was sent at its position.
    spans = [_tag24_item(cbor2.dumps(value), width) for value, width in items]
    data = bytes([0x80 | len(spans)]) + b"".join(spans)
    decoded = loads(data)
    assert [item.raw for item in decoded] == spans
    assert [cbor2.loads(item.content) for item in decoded] == [value for value, _ in items]
