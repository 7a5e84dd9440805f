"""Regressions from the second review of issue 4 (mdoc verifier, verify_age).

1. tag-24 floods are cut off by counting (CBOROptions.max_tag24_items) and the default size limit (4 MiB
   then; 1 MiB since the third review, tests/mdoc/test_mdoc_review3_fixes.py);
2. no cryptography / cbor2 exception escapes MdocVerifier (x5chain leaf with an unknown curve, X.509
   version 3; a hypothesis mutation fuzz over a valid response);
3. verify_age answers only from the configured docType and namespace;
4. contradicting signed age elements fail closed (AGE_EVIDENCE_INCONSISTENT);
5. the CBOR types of the profile's known elements are enforced;
6. an IACA (or any CA) never signs an MSO; digitalSignature and (for a chained DS) the mdlDS EKU;
7. deviceMac without a reader key is DEVICE_AUTH_INVALID;
9. a DeviceResponse status other than 0 is refused;
10. messages never carry decoded content;
11. verify_age refuses a time outside the MSO validity, and hand-built / modified JPKI evidence.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mdoc_issuer import DOCTYPE, NOW, NS, NS_JP, Issued, IssuerPKI, default_elements, issue
from mdoc_jpki_signer import JPKISigner

from myna_rp import (
    AgeNotDeterminedError,
    ConfigurationError,
    MalformedInputError,
    MdocVerificationError,
    MynaRPError,
    Reason,
    verify_age,
)
from myna_rp.jpki.profile import FormFactor
from myna_rp.jpki.verifier import is_verified_jpki
from myna_rp.mdoc import (
    CBOROptions,
    IACAStore,
    MdocVerifier,
    Presentation,
    UnverifiedPresentationError,
)
from myna_rp.mdoc import cbor as mdoc_cbor
from myna_rp.mdoc.cbor import MAX_CBOR_BYTES, MAX_TAG24_ITEMS, EncodedCBOR, loads

MDL = "org.iso.18013.5.1.mDL"
NS_MDL = "org.iso.18013.5.1"
SECRET = "山田太郎SECRET"


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


@pytest.fixture(scope="module")
def verifier(pki: IssuerPKI) -> MdocVerifier:
    return MdocVerifier(IACAStore([pki.iaca]))


def _verify(verifier: MdocVerifier, issued: Issued, **kwargs: Any) -> Presentation:
    return verifier.verify(issued.device_response, session_transcript=issued.transcript, at=NOW, **kwargs)


def _reason(verifier: MdocVerifier, issued: Issued) -> Reason:
    with pytest.raises(MynaRPError) as info:
        _verify(verifier, issued)
    return info.value.reason


def _present(pki: IssuerPKI, elements: dict[str, dict[str, Any]], **kwargs: Any) -> Presentation:
    return _verify(MdocVerifier(IACAStore([pki.iaca])), issue(pki, elements=elements, **kwargs))


def _with_response(issued: Issued, edit: Any) -> Issued:
    """The same presentation with the decoded DeviceResponse edited (tag-24 items re-encode unchanged)."""
    response = cbor2.loads(issued.device_response)
    edit(response)
    return Issued(cbor2.dumps(response), issued.transcript, issued.device_key)


# --- 1. tag-24 flood and size limits ---------------------------------------------------------------------


def _tag24_flood(total_bytes: int) -> bytes:
    """A DeviceResponse-shaped map whose documents array holds tiny tag-24 items: #6.24(h'00')."""
    head = b"\xa3" + cbor2.dumps("version") + cbor2.dumps("1.0") + cbor2.dumps("status") + b"\x00"
    head += cbor2.dumps("documents")
    count = (total_bytes - len(head) - 5) // 4
    return head + b"\x9a" + count.to_bytes(4, "big") + b"\xd8\x18\x41\x00" * count


def test_defaults_are_1_mib_and_1024_tag24_items() -> None:
    assert MAX_CBOR_BYTES == 1024 * 1024  # 4 MiB before the third review
    assert MAX_TAG24_ITEMS == 1024
    assert CBOROptions().max_bytes == MAX_CBOR_BYTES
    assert CBOROptions().max_tag24_items == MAX_TAG24_ITEMS
    too_big = b"\x5a" + (MAX_CBOR_BYTES).to_bytes(4, "big") + bytes(MAX_CBOR_BYTES)
    with pytest.raises(MalformedInputError, match="larger than"):
        loads(too_big)


@pytest.mark.parametrize("field", ["max_bytes", "max_depth", "max_tag24_items"])
@pytest.mark.parametrize("bad", [0, -1, True])
def test_cbor_options_refuse_nonsense_limits(field: str, bad: int) -> None:
    with pytest.raises(ConfigurationError):
        CBOROptions(**{field: bad})


def test_tag24_flood_at_the_size_limit_is_refused_after_counting_to_the_limit(
    verifier: MdocVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    flood = _tag24_flood(MAX_CBOR_BYTES)
    assert len(flood) <= MAX_CBOR_BYTES
    assert flood.count(b"\xd8\x18") > 250_000
    calls = 0

    class Counting(EncodedCBOR):  # every tag-24 item the decoder builds
        __slots__ = ()

        def __init__(self, raw: bytes, content: bytes) -> None:
            nonlocal calls
            calls += 1
            super().__init__(raw, content)

    monkeypatch.setattr(mdoc_cbor, "EncodedCBOR", Counting)
    with pytest.raises(MalformedInputError) as info:
        verifier.verify(flood, session_transcript=issue(IssuerPKI()).transcript, at=NOW)
    assert info.value.reason is Reason.MALFORMED_INPUT
    assert "more than 1024 tag-24 items" in info.value.message
    assert calls == MAX_TAG24_ITEMS  # decoding stopped at the first item over the limit


def test_tag24_limit_boundary_and_option() -> None:
    three = cbor2.dumps([cbor2.CBORTag(24, b"\x01")] * 3)
    assert len(loads(three, CBOROptions(max_tag24_items=3))) == 3
    with pytest.raises(MalformedInputError, match="more than 2 tag-24"):
        loads(three, CBOROptions(max_tag24_items=2))


def test_exact_offset_path_counts_too() -> None:
    # non-preferred tag headers (d9 00 18) force the exact-offset decode; it counts as well
    data = b"\x84" + b"\xd9\x00\x18\x41\x00" * 4
    assert [e.raw for e in loads(data, CBOROptions(max_tag24_items=4))] == [b"\xd9\x00\x18\x41\x00"] * 4
    with pytest.raises(MalformedInputError, match="more than 3 tag-24"):
        mdoc_cbor._decode(data, CBOROptions(max_tag24_items=3), exact_offsets=True)
    with pytest.raises(MalformedInputError, match="more than 3 tag-24"):
        loads(data, CBOROptions(max_tag24_items=3))


def test_a_portrait_within_the_limit_verifies(pki: IssuerPKI) -> None:
    portrait = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3600  # ~900 kB "JPEG" (limit: 1 MiB)
    elements = default_elements()
    elements[NS_JP]["portrait"] = portrait
    assert _present(pki, elements).element(NS_JP, "portrait") == portrait


# --- 2. no library exception escapes -----------------------------------------------------------------------

P256_OID = bytes.fromhex("06082a8648ce3d030107")


def test_x5chain_leaf_with_an_unknown_curve_is_unsupported(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    der = pki.ds_der.replace(P256_OID, bytes.fromhex("06082a8648ce3d030109"), 1)
    assert der != pki.ds_der
    assert _reason(verifier, issue(pki, x5chain=[der])) is Reason.UNSUPPORTED_ALGORITHM


def test_x5chain_leaf_of_x509_version_3_is_malformed(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    der = pki.ds_der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020103"), 1)
    assert der != pki.ds_der
    assert _reason(verifier, issue(pki, x5chain=[der])) is Reason.MALFORMED_INPUT


@pytest.fixture(scope="module")
def fuzz_target() -> tuple[MdocVerifier, Issued, dict[str, dict[str, Any]], tuple[int, int]]:
    pki = IssuerPKI()
    issued = issue(pki)
    verifier = MdocVerifier(IACAStore([pki.iaca]), mso_cache_size=0)
    reference = {ns: dict(v) for ns, v in _verify(verifier, issued).elements.items()}
    start = issued.device_response.index(pki.ds_der)
    return verifier, issued, reference, (start, start + len(pki.ds_der))


_MUTATION = st.one_of(
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4),
    ),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("insert"), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4))),
    st.tuples(
        st.just("certificate"),
        st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=3),
    ),
)


def _mutate(data: bytes, mutation: tuple[str, Any], cert_span: tuple[int, int]) -> bytes:
    kind, arg = mutation
    out = bytearray(data)
    if kind == "flip":
        for where, byte in arg:
            out[int(where * len(out))] = byte
    elif kind == "truncate":
        del out[int(arg * len(out)) :]
    elif kind == "insert":
        where, extra = arg
        at = int(where * len(out))
        out[at:at] = extra
    else:  # bytes inside the DS certificate: where cryptography parses attacker-chosen DER
        start, end = cert_span
        for where, byte in arg:
            out[start + int(where * (end - start))] = byte
    return bytes(out)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=_MUTATION)
def test_mutations_raise_only_typed_errors(
    fuzz_target: tuple[MdocVerifier, Issued, dict[str, dict[str, Any]], tuple[int, int]],
    mutation: tuple[str, Any],
) -> None:
    verifier, issued, reference, cert_span = fuzz_target
    data = _mutate(issued.device_response, mutation, cert_span)
    try:
        result = verifier.verify(data, session_transcript=issued.transcript, at=NOW)
    except MynaRPError:
        return
    # a mutation that still verifies may only withhold elements, never change one
    for namespace, items in result.elements.items():
        for identifier, value in items.items():
            assert reference[namespace][identifier] == value


# --- 3./4. verify_age: configured docType and namespace; consistency ---------------------------------------


def test_age_only_from_the_my_number_card_doctype(pki: IssuerPKI) -> None:
    other = _present(pki, {NS: {"age_over_20": True}}, doc_type="org.example.loyalty")
    with pytest.raises(AgeNotDeterminedError) as info:
        verify_age(other, 20)
    assert info.value.reason is Reason.AGE_NOT_DISCLOSED
    # explicitly configured (docType, namespace) pair
    answer = verify_age(other, 20, doc_type="org.example.loyalty", namespace=NS)
    assert (answer.over, answer.evidence.namespace) == (True, NS)
    with pytest.raises(ValueError, match="namespace"):
        verify_age(other, 20, doc_type="org.example.loyalty")


def test_age_elements_outside_the_age_namespace_do_not_count(pki: IssuerPKI) -> None:
    only_jp = _present(pki, {NS_JP: {"age_over_20": True, "age_in_years": 30}})
    with pytest.raises(AgeNotDeterminedError):
        verify_age(only_jp, 20)
    # the same element in two namespaces with opposite values: only org.iso.23220.1 counts, whatever the
    # order of the namespaces in the response
    for order in ((NS, NS_JP), (NS_JP, NS)):
        values = {NS: {"age_over_20": True}, NS_JP: {"age_over_20": False}}
        p = _present(pki, {ns: values[ns] for ns in order})
        answer = verify_age(p, 20)
        assert answer.over is True
        assert answer.evidence.namespace == NS
        assert answer.evidence.element == "age_over_20"


def test_mdl_age_uses_the_mdl_namespace(pki: IssuerPKI) -> None:
    p = _present(pki, {NS_MDL: {"age_over_21": True}, NS: {"age_over_21": False}}, doc_type=MDL)
    answer = verify_age(p, 20, doc_type=MDL)
    assert (answer.over, answer.evidence.namespace, answer.evidence.element) == (True, NS_MDL, "age_over_21")


@pytest.mark.parametrize(
    "values",
    [
        {"age_over_20": True, "birth_date": date(2011, 1, 1)},  # 15 years old at NOW
        {"age_over_18": False, "age_over_21": True},
        {"age_over_20": True, "age_over_18": False},
        {"age_over_20": False, "age_in_years": 25},
        {"age_over_18": True, "age_in_years": 17},
        {"age_in_years": 30, "birth_date": date(2001, 4, 2)},  # 25 at NOW
        {"age_over_20": False, "birth_date": date(1990, 1, 1)},
        {"age_over_20": True, "birth_date": {"birth_date": date(2011, 1, 1)}},
    ],
)
def test_contradicting_age_elements_fail_closed(pki: IssuerPKI, values: dict[str, Any]) -> None:
    p = _present(pki, {NS: values})
    for minimum in (18, 20, 21):
        with pytest.raises(MdocVerificationError) as info:
            verify_age(p, minimum)
        assert info.value.reason is Reason.AGE_EVIDENCE_INCONSISTENT
        assert "contradict" in info.value.message


def test_consistent_age_elements_answer(pki: IssuerPKI) -> None:
    p = _present(
        pki,
        {NS: {"age_over_18": True, "age_over_20": True, "age_over_65": False, "age_in_years": 25,
              "birth_date": date(2001, 4, 2)}},
    )  # fmt: skip
    assert verify_age(p, 20).evidence.element == "age_over_20"
    assert verify_age(p, 21).over is True  # birth_date decides (no age_over_21, 65 does not decide)
    assert verify_age(p, 21).evidence.element == "birth_date"


def test_a_birthday_between_issuance_and_the_question_is_not_a_contradiction(pki: IssuerPKI) -> None:
    # issued (signed) 2026-05-20 when the holder was 19; asked on 2026-06-01 after the 20th birthday
    birth = date(2006, 5, 25)
    p = _present(
        pki,
        {NS: {"age_over_20": False, "age_in_years": 19, "birth_date": birth}},
        signed=datetime(2026, 5, 20, tzinfo=UTC),
    )
    answer = verify_age(p, 20)
    assert (answer.over, answer.evidence.element) == (False, "age_over_20")  # the signed flag, as issued
    assert verify_age(p, 18).over is True


def test_approximate_birth_date_is_not_cross_checked_nor_used(pki: IssuerPKI) -> None:
    p = _present(pki, {NS: {"birth_date": {"birth_date": date(2011, 1, 1), "approximate_mask": "00001111"}}})
    with pytest.raises(AgeNotDeterminedError):
        verify_age(p, 20)


# --- 5. element types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "identifier", "value"),
    [
        (NS, "age_over_20", 1),
        (NS, "age_over_18", "true"),
        (NS, "age_in_years", -1),
        (NS, "age_in_years", True),
        (NS, "age_in_years", 20.0),
        (NS, "birth_date", "2001-03-15"),
        (NS, "birth_date", datetime(2001, 3, 15, tzinfo=UTC)),  # a tdate is not a full-date
        (NS, "birth_date", {"birth_date": "2001-03-15"}),
        (NS, "birth_date", {"birth_date": date(2001, 3, 15), "approximate_mask": 1}),
        (NS, "birth_date", {"birth_date": date(2001, 3, 15), "other": 1}),
        (NS, "sex", 3),
        (NS, "sex", "1"),
        (NS_JP, "full_name_unicode", b"bytes"),
        (NS_JP, "resident_address_unicode", float("nan")),
        (NS_JP, "local_gov_code_unicode", 13101),
        (NS_JP, "birth_date_unicode", cbor2.undefined),
        (NS_JP, "sex_unicode", None),
        (NS_JP, "portrait", "not bytes"),
        (NS_MDL, "age_over_21", 0),
        (NS_MDL, "birth_date", "2001-03-15"),
    ],
)
def test_known_elements_of_the_wrong_type_are_malformed(
    pki: IssuerPKI, verifier: MdocVerifier, namespace: str, identifier: str, value: Any
) -> None:
    issued = issue(pki, elements={namespace: {identifier: value}})
    with pytest.raises(MalformedInputError) as info:
        _verify(verifier, issued)
    assert info.value.reason is Reason.MALFORMED_INPUT
    assert identifier in info.value.message


def test_well_typed_elements_come_out_with_their_documented_types(pki: IssuerPKI) -> None:
    elements = {
        NS: {"age_over_18": True, "age_in_years": 25, "birth_date": date(2001, 4, 2), "sex": 2},
        NS_JP: {
            "full_name_unicode": "山田\u3000花子",
            "resident_address_unicode": "東京都千代田区永田町1-7-1",
            "local_gov_code_unicode": "13101",
            "birth_date_unicode": "2001年4月2日",
            "sex_unicode": "女",
            "portrait": b"\xff\xd8\xff\xe0jpeg",
        },
        "org.example.other": {"anything": [1, "x", None]},
    }
    p = _present(pki, elements)
    expected = {**elements, "org.example.other": {"anything": (1, "x", None)}}  # arrays: read-only tuples
    assert {ns: dict(v) for ns, v in p.elements.items()} == expected
    assert type(p.element(NS, "birth_date")) is date


# --- 6. who may sign the MSO -------------------------------------------------------------------------------


def _signer_pki(
    pki: IssuerPKI,
    *,
    ca: bool = False,
    key_usage: x509.KeyUsage | None = None,
    eku: bool = True,
) -> IssuerPKI:
    """A copy of ``pki`` whose document signer (issued by the same IACA) has the given extensions."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "variant DS")]))
        .issuer_name(pki.iaca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.iaca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.0.18013.5.1.2")]), critical=True
        )
    variant = copy.copy(pki)
    variant.ds = builder.sign(pki.iaca_key, hashes.SHA256())
    variant.ds_key = key
    return variant


def _ku(digital_signature: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature, False, False, False, False, cert_sign, cert_sign, False, False)


def test_an_iaca_never_signs_an_mso_itself(pki: IssuerPKI) -> None:
    iaca_as_signer = copy.copy(pki)
    iaca_as_signer.ds, iaca_as_signer.ds_key = pki.iaca, pki.iaca_key
    issued = issue(iaca_as_signer)  # x5chain = [IACA], MSO signed with the IACA key
    with pytest.raises(MynaRPError) as info:
        _verify(MdocVerifier(IACAStore([pki.iaca])), issued)
    assert info.value.reason is Reason.UNTRUSTED_ISSUER
    assert "CA" in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "require_eku"),
    [
        ({"ca": True, "key_usage": _ku(True, cert_sign=True)}, True),
        ({"key_usage": None}, True),  # a chained DS must carry keyUsage
        ({"key_usage": _ku(False)}, True),  # without digitalSignature
        ({"key_usage": _ku(True), "eku": False}, True),  # without the mdlDS EKU (default)
    ],
)
def test_chained_document_signer_profile(pki: IssuerPKI, kwargs: dict[str, Any], require_eku: bool) -> None:
    variant = _signer_pki(pki, **kwargs)
    with pytest.raises(MynaRPError) as info:
        _verify(MdocVerifier(IACAStore([pki.iaca], require_ds_eku=require_eku)), issue(variant))
    assert info.value.reason is Reason.UNTRUSTED_ISSUER


def test_eku_requirement_is_the_default_and_can_be_relaxed(pki: IssuerPKI) -> None:
    variant = _signer_pki(pki, key_usage=_ku(True), eku=False)
    assert IACAStore([pki.iaca]).require_ds_eku is True
    relaxed = MdocVerifier(IACAStore([pki.iaca], require_ds_eku=False))
    assert _verify(relaxed, issue(variant)).doc_type == DOCTYPE
    assert _verify(MdocVerifier(IACAStore([pki.iaca])), issue(_signer_pki(pki, key_usage=_ku(True)))).doc_type


def test_directly_trusted_document_signer_rules(pki: IssuerPKI) -> None:
    # trusted directly: no EKU and no keyUsage needed (the ubique sample), but never a CA and, if
    # keyUsage is present, digitalSignature
    bare = _signer_pki(pki, key_usage=None, eku=False)
    assert _verify(MdocVerifier(IACAStore([bare.ds])), issue(bare)).issuer_chain == (bare.ds,)
    for variant in (_signer_pki(pki, key_usage=_ku(False)), _signer_pki(pki, ca=True, key_usage=_ku(True))):
        with pytest.raises(MynaRPError) as info:
            _verify(MdocVerifier(IACAStore([variant.ds])), issue(variant))
        assert info.value.reason is Reason.UNTRUSTED_ISSUER


# --- 7. deviceMac without a reader key ----------------------------------------------------------------------


def test_device_mac_without_reader_key_is_device_auth_invalid(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    def to_mac(response: dict[str, Any]) -> None:
        response["documents"][0]["deviceSigned"]["deviceAuth"] = {
            "deviceMac": [cbor2.dumps({1: 5}), {}, None, b"\x00" * 32]
        }

    issued = _with_response(issue(pki), to_mac)
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued)
    assert info.value.reason is Reason.DEVICE_AUTH_INVALID
    assert "reader" in info.value.message
    assert "deviceMac" in info.value.message


# --- 9. DeviceResponse status ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [10, 11, 12, 1])
def test_nonzero_status_is_refused_even_with_documents(
    pki: IssuerPKI, verifier: MdocVerifier, status: int
) -> None:
    issued = _with_response(issue(pki), lambda r: r.update(status=status))
    with pytest.raises(MalformedInputError) as info:
        _verify(verifier, issued)
    assert f"status is {status}" in info.value.message


@pytest.mark.parametrize("status", [None, "0", -1, True])
def test_status_must_be_present_and_an_integer(pki: IssuerPKI, verifier: MdocVerifier, status: Any) -> None:
    def edit(response: dict[str, Any]) -> None:
        if status is None:
            del response["status"]
        else:
            response["status"] = status

    with pytest.raises(MalformedInputError):
        _verify(verifier, _with_response(issue(pki), edit))


# --- 10. messages never carry decoded content -------------------------------------------------------------


def _assert_private(error: BaseException) -> None:
    assert SECRET not in str(error)
    assert "山田" not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_cbor_errors_never_quote_the_input() -> None:
    duplicate = b"\xa2" + cbor2.dumps(SECRET) + b"\x01" + cbor2.dumps(SECRET) + b"\x02"
    bad_utf8 = b"\x6c" + SECRET.encode()[:11] + b"\xff"
    for data in (duplicate, bad_utf8, b"\x82" + cbor2.dumps(SECRET)):
        with pytest.raises(MalformedInputError) as info:
            loads(data)
        _assert_private(info.value)


def test_verifier_errors_never_quote_element_content(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    content = (
        b"\xa4" + cbor2.dumps("digestID") + b"\x00" + cbor2.dumps("random") + cbor2.dumps(b"r" * 16)
        + cbor2.dumps("elementIdentifier") + cbor2.dumps(SECRET)
        + cbor2.dumps("elementValue")
        + b"\xa2" + cbor2.dumps(SECRET) + b"\x01" + cbor2.dumps(SECRET) + b"\x02"
    )  # fmt: skip

    def swap_first_item(response: dict[str, Any]) -> None:
        response["documents"][0]["issuerSigned"]["nameSpaces"][NS][0] = cbor2.CBORTag(24, content)

    with pytest.raises(MalformedInputError) as info:
        _verify(verifier, _with_response(issue(pki), swap_first_item))
    _assert_private(info.value)


def test_digest_missing_message_hides_odd_identifiers(pki: IssuerPKI, verifier: MdocVerifier) -> None:
    issued = issue(pki, elements={NS_JP: {SECRET: "x"}}, omit_digest_for=(NS_JP, SECRET))
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued)
    assert info.value.reason is Reason.DIGEST_MISSING
    assert SECRET not in info.value.message


def test_unauthenticated_items_are_decoded_one_at_most(
    pki: IssuerPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = issue(pki, tamper_item=(NS, "age_over_18", False))  # the first item's bytes match no digest
    decoded: list[int] = []
    original = EncodedCBOR.decode

    def counting(self: EncodedCBOR, options: CBOROptions | None = None) -> Any:
        decoded.append(len(self.raw))
        return original(self, options or CBOROptions())

    monkeypatch.setattr(EncodedCBOR, "decode", counting)
    with pytest.raises(MdocVerificationError) as info:
        _verify(MdocVerifier(IACAStore([pki.iaca]), mso_cache_size=0), issued)
    assert info.value.reason is Reason.DIGEST_MISMATCH
    assert len(decoded) == 2  # the MSO (signed) and the one unauthenticated item; no further item


# --- 11. verify_age: time inside the MSO validity; verified JPKI evidence only --------------------


@pytest.mark.parametrize(
    "at",
    [
        NOW + timedelta(days=91),
        datetime(2030, 1, 1, tzinfo=UTC),
        NOW - timedelta(days=2),
        datetime(2000, 1, 1, tzinfo=UTC),
    ],
)
def test_age_question_outside_the_mso_validity_is_refused(pki: IssuerPKI, at: datetime) -> None:
    p = _present(pki, {NS: {"birth_date": date(2006, 6, 30)}})  # valid NOW-1d .. NOW+90d
    with pytest.raises(MdocVerificationError) as info:
        verify_age(p, 20, at=at)
    assert info.value.reason is Reason.MSO_NOT_VALID
    assert verify_age(p, 20, at=NOW + timedelta(days=30)).over is True  # 2026-07-01: 20


@pytest.fixture(scope="module")
def signer() -> JPKISigner:
    return JPKISigner()


def test_hand_built_or_modified_jpki_evidence_is_refused(signer: JPKISigner) -> None:
    real = signer.verification(FormFactor.ANDROID, "420010315")
    assert is_verified_jpki(real)
    assert verify_age(real, 20, allow_jpki_date_of_birth=True).over is True
    hand_built = type(real)(
        check=real.check, attributes=real.attributes, signed_content=b"", hash_algorithm="sha256"
    )
    as_card = dataclasses.replace(real, check=dataclasses.replace(real.check, form_factor=FormFactor.CARD))
    for forged in (hand_built, as_card, dataclasses.replace(real)):
        assert not is_verified_jpki(forged)
        for opt_in in (False, True):
            with pytest.raises(UnverifiedPresentationError):
                verify_age(forged, 20, allow_jpki_date_of_birth=opt_in)
    assert is_verified_jpki(real)  # copying does not unmark the original


# --- the back-to-back item decoder (performance of the item loop) must equal loads() item by item -----------


def _one_by_one(items: list[bytes]) -> list[Any] | str:
    try:
        return [loads(item) for item in items]
    except MalformedInputError as exc:
        return exc.message


def _together(items: list[bytes]) -> list[Any] | str:
    try:
        return mdoc_cbor.loads_many(items)
    except MalformedInputError as exc:
        return exc.message


def test_loads_many_never_lets_an_item_borrow_bytes_from_the_next() -> None:
    # [1, 2] split across two items, and an item with a trailing byte that would start the next one
    for items in ([b"\x82\x01", b"\x02"], [b"\x01\x02", b"\x03"], [b"\x81", b"\x01"], [b"\xa1\x01", b"\x02"]):
        assert isinstance(_one_by_one(items), str)
        assert _together(items) == _one_by_one(items)


_CBOR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    values=st.lists(_CBOR_VALUES, min_size=2, max_size=6),
    cuts=st.lists(st.integers(0, 64), max_size=3),
    junk=st.binary(max_size=3),
)
def test_loads_many_equals_loads_item_by_item(values: list[Any], cuts: list[int], junk: bytes) -> None:
    items = [cbor2.dumps(v) for v in values]
    assert _together(items) == _one_by_one(items) == values
    # re-split the same bytes elsewhere, or add junk: same values or the same error as item by item
    stream = b"".join(items) + junk
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    assert _together(pieces) == _one_by_one(pieces)


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_sig_and_mac_structures_are_the_preferred_cbor_arrays(size: int) -> None:
    from myna_rp.mdoc.cose import CoseMessage, mac_structure, sig_structure

    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    for protected in (b"", b"\xa1\x01\x26", bytes(300)):
        message = CoseMessage(protected, {}, {}, None, b"")
        assert sig_structure(message, payload, b"aad") == cbor2.dumps(
            ["Signature1", protected, b"aad", payload]
        )
        assert mac_structure(message, payload) == cbor2.dumps(["MAC0", protected, b"", payload])
