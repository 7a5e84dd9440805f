"""COSE_Sign1 / COSE_Mac0 (myna_rp.mdoc.cose) against the COSE WG examples.

Source: github.com/cose-wg/Examples (ecdsa-examples/ecdsa-sig-01.json, ecdsa-sig-02.json,
ecdsa-sig-03.json, mac0-tests/HMac-01.json): the keys, the ToBeSign/ToMac intermediates and the output
CBOR are copied from those files (data only)."""

from __future__ import annotations

import base64

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from myna_rp import MalformedInputError, MynaRPError, Reason
from myna_rp.mdoc.cose import (
    TAG_COSE_MAC0,
    TAG_COSE_SIGN1,
    cose_key_to_public_key,
    mac_structure,
    parse_cose,
    public_key_to_cose_key,
    sig_structure,
    verify_mac0,
    verify_sign1,
)


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _key(curve: ec.EllipticCurve, x: str, y: str) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + _b64(x) + _b64(y))


SIGN1 = [
    pytest.param(
        ec.SECP256R1(),
        "usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8",
        "IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4",
        "846A5369676E61747572653145A2012603004054546869732069732074686520636F6E74656E742E",
        "D28445A201260300A10442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC5BA5B8DCA2"
        "5DAB3C2E56A551CE5705B793914348E172727F48461FABBBA2E343492DDECAC3983686250BC68E9F1A7A07D41225B59F",
        id="ecdsa-sig-01 ES256",
    ),
    pytest.param(
        ec.SECP384R1(),
        "kTJyP2KSsBBhnb4kjWmMF7WHVsY55xUPgb7k64rDcjatChoZ1nvjKmYmPh5STRKc",
        "mM0weMVU2DKsYDxDJkEP9hZiRZtB8fPfXbzINZj_fF7YQRynNWedHEyzAJOX2e8s",
        "846A5369676E61747572653144A10138224054546869732069732074686520636F6E74656E742E",
        "D28444A1013822A104445033383454546869732069732074686520636F6E74656E742E5860B8F85EFF78C88F5351CED2F1887B79"
        "B296490795594B62E41E22529BB90208B7D8CDDD4A46D0E9C986464D83D0A5D1EDF39B3E2C5750364230D0E8D76460D8808E76"
        "C83830FBBD1978CC174066EB437F17887979ECF027DCC9D51BAF6C4FD8C0",
        id="ecdsa-sig-02 ES384",
    ),
    pytest.param(
        ec.SECP521R1(),
        "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
        "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1",
        "846A5369676E61747572653144A10138234054546869732069732074686520636F6E74656E742E",
        "D28444A1013823A104581E62696C626F2E62616767696E7340686F626269746F6E2E6578616D706C6554546869732069732074"
        "686520636F6E74656E742E5884000F348009BADC7DA478150AA7FA06DFD812CDF826344F17C7330563573D8F97F7A966924C3D"
        "88B108907235476E3F6BEA9F3890027792B0F94E905C217227CF064E00A6BC6A5187D0DF9B1DB7675AECFC678CE4692A8121EB"
        "8170F3592A859D518FD3B823091AAB22E6C41EB97ED92127CE8C46DCC715A247CB78921FAD1E19133AFC30",
        id="ecdsa-sig-03 ES512",
    ),
]


@pytest.mark.parametrize(("curve", "x", "y", "to_be_signed", "message"), SIGN1)
def test_cose_wg_sign1(curve: ec.EllipticCurve, x: str, y: str, to_be_signed: str, message: str) -> None:
    key = _key(curve, x, y)
    parsed = parse_cose(cbor2.loads(bytes.fromhex(message)), tag=TAG_COSE_SIGN1, what="example")
    assert parsed.payload is not None
    assert sig_structure(parsed, parsed.payload) == bytes.fromhex(to_be_signed)
    verify_sign1(parsed, key)
    bad = parsed.__class__(parsed.protected_raw, parsed.protected, parsed.unprotected, b"other", parsed.tag)
    with pytest.raises(MynaRPError) as info:
        verify_sign1(bad, key)
    assert info.value.reason is Reason.SIGNATURE_INVALID


def test_sign1_algorithm_must_match_the_key_curve() -> None:
    _curve, _x, _y, _, message = SIGN1[0].values
    parsed = parse_cose(cbor2.loads(bytes.fromhex(message)), tag=TAG_COSE_SIGN1, what="example")
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(MynaRPError) as info:
        verify_sign1(parsed, other)
    assert info.value.reason is Reason.UNSUPPORTED_ALGORITHM


def test_cose_wg_hmac01() -> None:
    key = _b64("hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg")
    message = bytes.fromhex(
        "D18443A10105A054546869732069732074686520636F6E74656E742E5820A1A848D3471F9D61EE49018D244C824772F223AD4F93"
        "5293F1789FC3A08D8C58"
    )
    parsed = parse_cose(cbor2.loads(message), tag=TAG_COSE_MAC0, what="example")
    assert parsed.payload is not None
    assert mac_structure(parsed, parsed.payload) == bytes.fromhex(
        "84644D41433043A101054054546869732069732074686520636F6E74656E742E"
    )
    verify_mac0(parsed, key)
    with pytest.raises(MynaRPError) as info:
        verify_mac0(parsed, key[:-1] + b"\x00")
    assert info.value.reason is Reason.SIGNATURE_INVALID


def test_wrong_tag_and_shapes_are_malformed() -> None:
    message = bytes.fromhex(SIGN1[0].values[4])
    with pytest.raises(MalformedInputError):
        parse_cose(cbor2.loads(message), tag=TAG_COSE_MAC0, what="x")
    with pytest.raises(MalformedInputError):
        parse_cose([b"", {}, None], tag=TAG_COSE_SIGN1, what="x")
    with pytest.raises(MalformedInputError):
        parse_cose([cbor2.dumps({1: -7}), {1: -7}, None, b""], tag=TAG_COSE_SIGN1, what="x")


def test_missing_alg_is_unsupported() -> None:
    parsed = parse_cose([b"", {}, b"payload", b"\x00" * 64], tag=TAG_COSE_SIGN1, what="x")
    with pytest.raises(MynaRPError) as info:
        verify_sign1(parsed, ec.generate_private_key(ec.SECP256R1()).public_key())
    assert info.value.reason is Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_cose_key_round_trip(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve).public_key()
    assert cose_key_to_public_key(public_key_to_cose_key(key)) == key


def test_cose_key_rejections() -> None:
    with pytest.raises(MynaRPError) as info:
        cose_key_to_public_key({1: 1, -1: 6, -2: b"\x00" * 32})  # OKP Ed25519
    assert info.value.reason is Reason.UNSUPPORTED_ALGORITHM
    with pytest.raises(MalformedInputError):
        cose_key_to_public_key({1: 2, -1: 1, -2: b"\x00" * 32, -3: b"\x00" * 32})  # not on the curve
