"""Regressions from the third review of issue 4 (mdoc verifier, verify_age). Each test failed before its fix.

1. bounded decoding work: default size limit 1 MiB, every tag counted (CBOROptions.max_tags), input that
   may hold a tag 24 decoded in one pass;
2. Presentation.elements read-only all the way down (maps → MappingProxyType, arrays → tuples);
3. age_over_NN with ASCII digits only;
4. MSO validityInfo: signed <= validFrom < validUntil (§9.1.2.4), never signed after the verification time;
5. a document signer's keyUsage is exactly digitalSignature; an EKU list without mdlDS is refused, also for
   a certificate trusted directly;
7. verify_age on JPKI evidence refuses a time outside the signing certificate's validity.

(6, CLI JSON of maps with non-text keys, is in tests/cli/test_cli_mdoc_review3.py.)
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mdoc_issuer import NOW, NS, NS_JP, Issued, IssuerPKI, default_elements, issue
from mdoc_jpki_signer import NOW as JPKI_NOW
from mdoc_jpki_signer import JPKISigner

from myna_rp import (
    AgeNotDeterminedError,
    ConfigurationError,
    MalformedInputError,
    MdocVerificationError,
    MynaRPError,
    Reason,
    VerificationError,
    verify_age,
)
from myna_rp.jpki.profile import FormFactor
from myna_rp.mdoc import CBOROptions, IACAStore, MdocVerifier, Presentation
from myna_rp.mdoc import cbor as mdoc_cbor
from myna_rp.mdoc.cbor import MAX_CBOR_BYTES, MAX_CBOR_TAGS, loads, loads_many
from myna_rp.mdoc.profile import AGE_OVER_ELEMENT, check_element


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


@pytest.fixture(scope="module")
def verifier(pki: IssuerPKI) -> MdocVerifier:
    return MdocVerifier(IACAStore([pki.iaca]))


def _verify(verifier: MdocVerifier, issued: Issued, *, at: datetime = NOW) -> Presentation:
    return verifier.verify(issued.device_response, session_transcript=issued.transcript, at=at)


def _present(verifier: MdocVerifier, pki: IssuerPKI, elements: dict[str, dict[str, Any]]) -> Presentation:
    return _verify(verifier, issue(pki, elements=elements))


def _flood(unit: bytes, total: int, tail: bytes = b"", tail_items: int = 0) -> bytes:
    """A DeviceResponse-shaped map whose documents array holds ``unit`` repeated up to ``total`` bytes, then
    ``tail`` (``tail_items`` data items)."""
    head = b"\xa3" + cbor2.dumps("version") + cbor2.dumps("1.0") + cbor2.dumps("status") + b"\x00"
    head += cbor2.dumps("documents")
    count = (total - len(head) - 5 - len(tail)) // len(unit)
    return head + b"\x9a" + (count + tail_items).to_bytes(4, "big") + unit * count + tail


# --- 1. bounded decoding work ----------------------------------------------------------------------------


def test_default_size_limit_is_1_mib() -> None:
    assert MAX_CBOR_BYTES == 1024 * 1024
    assert CBOROptions().max_bytes == MAX_CBOR_BYTES
    just_over = b"\x5a" + (MAX_CBOR_BYTES - 4).to_bytes(4, "big") + bytes(MAX_CBOR_BYTES - 4)
    assert len(just_over) == MAX_CBOR_BYTES + 1
    with pytest.raises(MalformedInputError, match="larger than 1048576 bytes"):
        loads(just_over)
    at_limit = b"\x5a" + (MAX_CBOR_BYTES - 5).to_bytes(4, "big") + bytes(MAX_CBOR_BYTES - 5)
    assert len(loads(at_limit)) == MAX_CBOR_BYTES - 5


@pytest.mark.parametrize(
    "unit",
    [b"\xc1\x00", b"\xc1\x80", b"\xd8\x63\x00", b"\xc2\x41\x01"],
    ids=["tag1-uint", "tag1-array", "tag99-no-decoder", "bignum"],
)
@pytest.mark.parametrize("tail", [b"", b"\x00\x18\x18"], ids=["position-less", "exact-offsets"])
def test_a_tag_flood_at_the_size_limit_stops_at_max_tags(
    verifier: MdocVerifier, pki: IssuerPKI, unit: bytes, tail: bytes
) -> None:
    # Before: each tag cost a Python call and 4 MiB of them took seconds; now refused after 4096.
    flood = _flood(unit, MAX_CBOR_BYTES, tail, tail_items=2 if tail else 0)  # 00 18 18: the items 0 and 24
    assert len(flood) <= MAX_CBOR_BYTES
    with pytest.raises(MalformedInputError) as info:
        verifier.verify(flood, session_transcript=issue(pki).transcript, at=NOW)
    assert info.value.reason is Reason.MALFORMED_INPUT
    assert f"more than {MAX_CBOR_TAGS} tags" in info.value.message


def test_max_tags_boundary_counts_every_tag_number_and_nesting() -> None:
    nested = cbor2.CBORTag(99, cbor2.CBORTag(1004, "2000-01-01"))  # two tags: one without a decoder
    five = cbor2.dumps(
        [cbor2.CBORTag(1, 0), nested, cbor2.CBORTag(24, b"\x01"), cbor2.CBORTag(0, "2026-01-01T00:00:00Z")]
    )
    # the counter runs only when the input could exceed the limit (bytes c0..db > max_tags)
    assert mdoc_cbor._may_exceed_tag_limit(five, CBOROptions(max_tags=4))
    with pytest.raises(MalformedInputError, match="more than 4 tags"):
        loads(five, CBOROptions(max_tags=4))
    # exactly at the limit, with the counter running (two extra tag-like bytes inside a byte string)
    padded = b"\x85" + five[1:] + b"\x42\xc0\xc0"
    assert mdoc_cbor._may_exceed_tag_limit(padded, CBOROptions(max_tags=5))
    value = loads(padded, CBOROptions(max_tags=5))
    assert value[1] == cbor2.CBORTag(99, date(2000, 1, 1))
    assert value[4] == b"\xc0\xc0"


def test_max_tags_is_per_item_in_loads_many() -> None:
    item = cbor2.dumps([cbor2.CBORTag(1, 0), cbor2.CBORTag(1, 1)])  # two tags each
    options = CBOROptions(max_tags=2)
    assert loads_many([item] * 6, options) == [loads(item, options)] * 6
    with pytest.raises(MalformedInputError, match="more than 1 tags"):
        loads_many([item] * 6, CBOROptions(max_tags=1))


@pytest.mark.parametrize("bad", [0, -1, True])
def test_max_tags_refuses_nonsense(bad: int) -> None:
    with pytest.raises(ConfigurationError):
        CBOROptions(max_tags=bad)


def test_input_that_may_hold_a_tag24_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a buffered decode, a re-encoding check, then (non-preferred input) a second, exact decode.
    calls: list[bool] = []
    original = mdoc_cbor._decode

    def counting(data: bytes, options: CBOROptions, *, exact_offsets: bool, **kwargs: Any) -> Any:
        calls.append(exact_offsets)
        return original(data, options, exact_offsets=exact_offsets, **kwargs)

    monkeypatch.setattr(mdoc_cbor, "_decode", counting)
    non_preferred = b"\x82\xd9\x00\x18\x41\x00\x18\x01"  # [#6.24(h'00') with a 2-byte tag, 1 as 18 01]
    value = loads(non_preferred)
    assert value[0].raw == b"\xd9\x00\x18\x41\x00"
    assert value[1] == 1
    assert calls == [True]
    calls.clear()
    preferred = cbor2.dumps([cbor2.CBORTag(24, b"\x00"), 1])
    assert loads(preferred)[0].raw == b"\xd8\x18\x41\x00"
    assert calls == [True]


def test_a_large_portrait_takes_the_counting_path_and_verifies(
    verifier: MdocVerifier, pki: IssuerPKI
) -> None:
    portrait = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3600  # ~900 kB, ~100k bytes that look like tags
    elements = default_elements()
    elements[NS_JP]["portrait"] = portrait
    issued = issue(pki, elements=elements)
    assert len(issued.device_response) <= MAX_CBOR_BYTES
    assert mdoc_cbor._may_exceed_tag_limit(issued.device_response, CBOROptions())
    assert _verify(verifier, issued).element(NS_JP, "portrait") == portrait


# --- 2. elements read-only all the way down -------------------------------------------------------------


def test_nested_element_values_are_read_only(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    birth = {"birth_date": date(2010, 1, 1)}  # 16 at NOW
    p = _present(
        verifier,
        pki,
        {
            NS: {"birth_date": birth},
            "org.example": {
                "list": [1, [2, {"k": [3]}]],
                "set": cbor2.CBORTag(258, [1, 2]),
                "map": {1: {"a": []}},
            },
        },
    )
    value = p.element(NS, "birth_date")
    assert type(value) is MappingProxyType
    with pytest.raises(TypeError):
        value["birth_date"] = date(1990, 1, 1)  # type: ignore[index]
    assert verify_age(p, 20).over is False  # unchanged: still 16
    nested = p.element("org.example", "list")
    assert nested == (1, (2, MappingProxyType({"k": (3,)})))
    assert type(nested) is tuple
    assert type(nested[1][1]) is MappingProxyType
    assert type(nested[1][1]["k"]) is tuple
    tagged = p.element("org.example", "set")
    assert tagged == cbor2.CBORTag(258, (1, 2))
    assert type(tagged.value) is tuple
    assert type(p.element("org.example", "map")[1]) is MappingProxyType
    assert type(p.element("org.example", "map")[1]["a"]) is tuple


def test_scalar_values_keep_their_identity_types(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    p = _present(verifier, pki, default_elements())
    assert p.elements[NS]["age_over_20"] is True
    assert type(p.elements[NS]["birth_date"]) is date
    assert type(p.elements[NS_JP]["full_name_unicode"]) is str


# --- 3. age_over_NN with ASCII digits only --------------------------------------------------------------


@pytest.mark.parametrize(
    "digits", ["\u0662\u0660", "\uff12\uff10", "\u0968\u0966"]
)  # Arabic-Indic, fullwidth, Devanagari
def test_age_over_with_non_ascii_digits_is_not_an_age_element(
    verifier: MdocVerifier, pki: IssuerPKI, digits: str
) -> None:
    name = f"age_over_{digits}"
    assert AGE_OVER_ELEMENT.match(name) is None
    check_element(NS, name, 1)  # an unknown element: its type is not checked
    alone = _present(verifier, pki, {NS: {name: True}})
    with pytest.raises(AgeNotDeterminedError):
        verify_age(alone, 20)
    # next to the real age_over_20 it is neither an answer nor a contradiction
    both = _present(verifier, pki, {NS: {name: True, "age_over_20": False}})
    answer = verify_age(both, 20)
    assert (answer.over, answer.evidence.element) == (False, "age_over_20")


# --- 4. MSO validityInfo ---------------------------------------------------------------------------------


def test_mso_signed_after_the_verification_time_is_refused(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    # signed 06-10, validFrom 05-01: before, verifying at 05-15 succeeded and verify_age answered from it
    issued = issue(
        pki,
        elements={NS: {"age_over_20": True}},
        signed=datetime(2026, 6, 10, tzinfo=UTC),
        valid_from=datetime(2026, 5, 1, tzinfo=UTC),
    )
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued, at=datetime(2026, 5, 15, tzinfo=UTC))
    assert info.value.reason is Reason.MSO_NOT_VALID


def test_validfrom_before_signed_is_refused_at_any_time(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    issued = issue(pki, signed=NOW - timedelta(hours=1), valid_from=NOW - timedelta(hours=2))
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued)  # NOW is after both: only the §9.1.2.4 relation fails
    assert info.value.reason is Reason.MSO_NOT_VALID
    assert "signed <= validFrom" in info.value.message


def test_validuntil_must_be_later_than_validfrom(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    issued = issue(pki, signed=NOW - timedelta(days=1), valid_from=NOW, valid_until=NOW)
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued)
    assert info.value.reason is Reason.MSO_NOT_VALID


def test_signed_equal_to_validfrom_equal_to_now_verifies(verifier: MdocVerifier, pki: IssuerPKI) -> None:
    issued = issue(pki, signed=NOW, valid_from=NOW)  # no skew either way: the boundary itself is valid
    p = _verify(verifier, issued)
    assert p.validity.signed == p.validity.valid_from == NOW
    assert verify_age(p, 20).over is True
    with pytest.raises(MdocVerificationError) as info:
        _verify(verifier, issued, at=NOW - timedelta(seconds=1))
    assert info.value.reason is Reason.MSO_NOT_VALID


# --- 5. who may sign the MSO ----------------------------------------------------------------------------

_DIGITAL_SIGNATURE = x509.KeyUsage(True, False, False, False, False, False, False, False, False)


def _usage(**extra: bool) -> x509.KeyUsage:
    bits = {
        "digital_signature": True,
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "key_cert_sign": False,
        "crl_sign": False,
        "encipher_only": False,
        "decipher_only": False,
    }
    bits.update(extra)
    return x509.KeyUsage(**bits)


def _signer(
    pki: IssuerPKI,
    *,
    key_usage: x509.KeyUsage | None = _DIGITAL_SIGNATURE,
    eku: list[x509.ObjectIdentifier] | None = None,
    self_signed: bool = False,
) -> IssuerPKI:
    """A copy of ``pki`` with another document signer (issued by its IACA, or self-signed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "variant DS")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if self_signed else pki.iaca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.iaca_key.public_key()), critical=False
        )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    variant = copy.copy(pki)
    variant.ds = builder.sign(key if self_signed else pki.iaca_key, hashes.SHA256())
    variant.ds_key = key
    return variant


MDL_DS = x509.ObjectIdentifier("1.0.18013.5.1.2")
EXTRA_USAGES = [
    {"key_cert_sign": True},
    {"crl_sign": True},
    {"key_cert_sign": True, "crl_sign": True},
    {"content_commitment": True},
    {"key_agreement": True},
]


def _untrusted(store: IACAStore, variant: IssuerPKI) -> MynaRPError:
    with pytest.raises(MynaRPError) as info:
        _verify(MdocVerifier(store), issue(variant))
    assert info.value.reason is Reason.UNTRUSTED_ISSUER
    return info.value


@pytest.mark.parametrize("extra", EXTRA_USAGES, ids=lambda e: "+".join(e))
def test_a_chained_signer_whose_key_usage_allows_more_is_refused(
    pki: IssuerPKI, extra: dict[str, bool]
) -> None:
    variant = _signer(pki, key_usage=_usage(**extra), eku=[MDL_DS])  # no basicConstraints at all
    _untrusted(IACAStore([pki.iaca]), variant)
    _untrusted(IACAStore([pki.iaca], require_ds_eku=False), variant)


@pytest.mark.parametrize("extra", EXTRA_USAGES, ids=lambda e: "+".join(e))
@pytest.mark.parametrize("self_signed", [False, True], ids=["issued", "self-signed"])
def test_a_directly_trusted_signer_whose_key_usage_allows_more_is_refused(
    pki: IssuerPKI, extra: dict[str, bool], self_signed: bool
) -> None:
    variant = _signer(pki, key_usage=_usage(**extra), self_signed=self_signed)
    error = _untrusted(IACAStore([variant.ds]), variant)
    assert "keyUsage" in error.message


@pytest.mark.parametrize(
    "eku",
    [
        [ExtendedKeyUsageOID.SERVER_AUTH],
        [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
        [ExtendedKeyUsageOID.CODE_SIGNING],
    ],
    ids=["serverAuth", "anyExtendedKeyUsage", "codeSigning"],
)
def test_an_eku_list_without_mdlds_is_refused(pki: IssuerPKI, eku: list[x509.ObjectIdentifier]) -> None:
    variant = _signer(pki, eku=eku)
    assert "extendedKeyUsage" in _untrusted(IACAStore([variant.ds]), variant).message  # trusted directly
    _untrusted(IACAStore([pki.iaca]), variant)  # chained, default
    _untrusted(IACAStore([pki.iaca], require_ds_eku=False), variant)  # chained: only absence is tolerated


def test_signers_within_the_profile_still_verify(pki: IssuerPKI) -> None:
    with_eku = _signer(pki, eku=[MDL_DS, ExtendedKeyUsageOID.SERVER_AUTH])
    assert _verify(MdocVerifier(IACAStore([pki.iaca])), issue(with_eku)).issuer_chain[0] == with_eku.ds
    assert _verify(MdocVerifier(IACAStore([with_eku.ds])), issue(with_eku)).issuer_chain == (with_eku.ds,)
    bare = _signer(pki, key_usage=None)  # trusted directly: neither keyUsage nor EKU (the ubique sample)
    assert _verify(MdocVerifier(IACAStore([bare.ds])), issue(bare)).issuer_chain == (bare.ds,)
    no_eku = _signer(pki)
    assert _verify(MdocVerifier(IACAStore([pki.iaca], require_ds_eku=False)), issue(no_eku)).doc_type
    _untrusted(IACAStore([pki.iaca]), no_eku)  # the default still demands the EKU of a chained DS


# --- 7. verify_age on JPKI evidence and the certificate's validity ---------------------------------------


@pytest.fixture(scope="module")
def signer() -> JPKISigner:
    return JPKISigner()


def test_jpki_age_question_after_the_certificate_expired_is_refused(signer: JPKISigner) -> None:
    evidence = signer.verification(FormFactor.CARD, "420100101")  # born 2010-01-01: 16 at JPKI_NOW
    not_after = evidence.check.certificate.not_valid_after_utc
    for at in (not_after + timedelta(seconds=1), datetime(2040, 1, 1, tzinfo=UTC)):
        with pytest.raises(VerificationError) as info:
            verify_age(evidence, 20, at=at, allow_jpki_date_of_birth=True)
        assert info.value.reason is Reason.CERTIFICATE_EXPIRED
    # the last second of validity still answers (born 2010-01-01: 21 in 2031)
    answer = verify_age(evidence, 20, at=not_after, allow_jpki_date_of_birth=True)
    assert answer.over is True
    assert answer.evidence.verified_at == not_after


def test_jpki_age_question_before_the_certificate_was_valid_is_refused(signer: JPKISigner) -> None:
    evidence = signer.verification(FormFactor.ANDROID, "319800101")  # the Android fallback, opted in
    not_before = evidence.check.certificate.not_valid_before_utc
    for at in (not_before - timedelta(seconds=1), datetime(1990, 1, 1, tzinfo=UTC)):
        with pytest.raises(VerificationError) as info:
            verify_age(evidence, 20, at=at, allow_jpki_date_of_birth=True)
        assert info.value.reason is Reason.CERTIFICATE_NOT_YET_VALID
    assert verify_age(evidence, 20, at=not_before, allow_jpki_date_of_birth=True).over is True
    assert verify_age(evidence, 20, allow_jpki_date_of_birth=True).evidence.verified_at == JPKI_NOW
