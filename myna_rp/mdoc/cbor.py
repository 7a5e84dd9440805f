"""Strict CBOR (RFC 8949) for untrusted mdoc input, on top of ``cbor2``.

What "strict" means here (domain-mdoc.md, "CBOR hygiene"; ISO/IEC 18013-5 §8.1 and §9.1.2):

- one data item, no trailing bytes; input larger than ``max_bytes`` (default 1 MiB) refused before
  decoding; at most ``max_tag24_items`` tag-24 items and ``max_tags`` tags of any number per decode (each
  costs a Python call: a flood of tiny ones is the cheapest way to burn CPU before any signature is
  checked), counted as they are met so that decoding stops at the first one over the limit;
- duplicate map keys rejected (RFC 8949 §5.6), nesting bounded by ``max_depth``, indefinite lengths
  refused unless allowed; a declared length larger than the input fails without allocating it;
- tag 24 (encoded CBOR data item) is kept as :class:`EncodedCBOR` holding the **received bytes** of the
  tagged item (tag header, bstr header and content), so digests are computed over what was received and
  never over a re-encoding (§9.1.2.4, "IssuerSignedItemBytes"). Input that may hold a tag 24 is decoded
  once, without read-ahead, so the item's exact span (with whatever headers it was sent with) is taken
  from the stream position: the bytes at the item's own position, never bytes found elsewhere in the input;
- tag 1004 (full-date, RFC 8943) must be ``YYYY-MM-DD`` and becomes :class:`datetime.date`;
- tag 0 (tdate) must be ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC, §7.2.1 of 18013-5) and becomes an
  aware :class:`datetime.datetime`; fractional seconds and numeric offsets are accepted only with
  ``CBOROptions(lenient_tdate=True)``;
- every other tag that ``cbor2`` would interpret (bignums, sets, regexps, value sharing, string
  references, …) is left uninterpreted as :class:`cbor2.CBORTag`.

Every failure raises :class:`~myna_rp.errors.MalformedInputError`; no ``cbor2`` exception escapes, and no
message carries decoded content (``cbor2``'s own text can echo map keys and values, so messages are fixed
sentences with at most the exception type and a byte position).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

import cbor2

from ..errors import ConfigurationError, MalformedInputError

# 1 MiB: a My Number Card DeviceResponse is a few kB plus the portrait, a JPEG of typically 10-100 kB
# (ISO/IEC 18013-5 §7.2.2 portrait / ISO/IEC 19794-5 face images); the largest public sample here (the bdr
# IssuerSigned) is about 16 kB, the Annex D mDL with its portrait about 3.6 kB. The limit bounds the work
# an unauthenticated input can ask for: the decoding cost grows with the number of data items, and 1 MiB of
# one-byte items is the worst case (docs/attribute_proofs.md, "CBOR strictness", gives the measured time).
# Raise it explicitly (CBOROptions(max_bytes=...)) for issuers known to send more.
MAX_CBOR_BYTES = 1024 * 1024
MAX_CBOR_DEPTH = 32
# A DeviceResponse holds one tag-24 item per disclosed element plus a few (MSO, DeviceNameSpaces): tens,
# not thousands. 1024 is generous for any real document and bounds the per-item Python work.
MAX_TAG24_ITEMS = 1024
# Tags of any number (tag 24 included) in one decode. Outside the tag-24 items, a DeviceResponse holds a
# handful (tdate, full-date inside items, which are decoded separately); 4096 leaves room for any real
# document while a flood of two-byte tags (``c1 00``, each a Python call) stops after 8 kB.
MAX_CBOR_TAGS = 4096

TAG_TDATE = 0
TAG_ENCODED_CBOR = 24
TAG_FULL_DATE = 1004

# Tags ``cbor2`` interprets by default (cbor2 6.x); kept as plain CBORTag so nothing is interpreted
# implicitly. Tags 0, 24 and 1004 get the strict decoders below.
_UNINTERPRETED_TAGS = (
    1,
    2,
    3,
    4,
    5,
    25,
    28,
    29,
    30,
    35,
    36,
    37,
    52,
    54,
    100,
    256,
    258,
    260,
    261,
    55799,
    43000,
)

# ASCII digits only (``\d`` would also match other Unicode digits).
_TDATE_STRICT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
_TDATE_LENIENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True, slots=True)
class CBOROptions:
    """Limits and leniency for :func:`loads`. Frozen; the defaults are the strict profile.

    Attributes:
        max_bytes: largest accepted input (default 1 MiB, see ``MAX_CBOR_BYTES``).
        max_depth: deepest accepted nesting of arrays, maps and tags.
        max_tag24_items: most tag-24 items accepted in one decode (default 1024); nested items are decoded
            (and counted) separately, each under the same limit.
        max_tags: most tags of any number (tag 24 included) accepted in one decode (default 4096).
        allow_indefinite: accept indefinite-length strings/arrays/maps (RFC 8949 §3.2.2).
        lenient_tdate: accept tdate with fractional seconds or a numeric offset (RFC 3339), as some
            wallets emit (ISO/IEC 18013-5 forbids both). Explicit opt-in only.
    """

    max_bytes: int = MAX_CBOR_BYTES
    max_depth: int = MAX_CBOR_DEPTH
    allow_indefinite: bool = False
    lenient_tdate: bool = False
    max_tag24_items: int = MAX_TAG24_ITEMS
    max_tags: int = MAX_CBOR_TAGS

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_tag24_items", "max_tags"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"CBOROptions.{name} must be a positive integer")


STRICT = CBOROptions()


class EncodedCBOR:
    """A tag-24 item (``#6.24(bstr .cbor T)``) as received. Immutable (read-only properties).

    Attributes:
        raw: the full tagged item: tag header, byte-string header and content, byte for byte.
        content: the embedded CBOR bytes (the byte string's content).
    """

    __slots__ = ("_content", "_raw")

    def __init__(self, raw: bytes, content: bytes) -> None:
        self._raw = raw
        self._content = content

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def content(self) -> bytes:
        return self._content

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EncodedCBOR) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"EncodedCBOR(<{len(self._raw)} bytes>)"

    @classmethod
    def wrap(cls, content: bytes) -> EncodedCBOR:
        """Wrap ``content`` in its preferred (shortest) tag-24 encoding."""
        return cls(_preferred_tag24(content), content)

    def decode(self, options: CBOROptions = STRICT) -> Any:
        """Decode the embedded item with the same strict rules. Raises MalformedInputError."""
        return _loads_bytes(self._content, options)


def _full_date(value: object, _immutable: bool) -> date:
    if not isinstance(value, str) or not _FULL_DATE.match(value):
        raise MalformedInputError("tag 1004 (full-date) must hold a YYYY-MM-DD text string")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MalformedInputError("tag 1004 (full-date) holds an impossible date") from exc


def _tdate_decoder(lenient: bool) -> Callable[[object, bool], datetime]:
    pattern = _TDATE_LENIENT if lenient else _TDATE_STRICT

    def decode(value: object, _immutable: bool) -> datetime:
        if not isinstance(value, str) or not pattern.match(value):
            raise MalformedInputError(
                "tag 0 (tdate) must be YYYY-MM-DDTHH:MM:SSZ"
                + ("" if lenient else " (whole seconds, UTC; leniency is an explicit option)")
            )
        if not lenient:  # YYYY-MM-DDTHH:MM:SSZ: Python ≥ 3.11 parses the Z itself
            try:
                return datetime.fromisoformat(value)
            except ValueError as exc:
                raise MalformedInputError("tag 0 (tdate) holds an impossible date-time") from exc
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        if "." in text:  # Python parses at most 6 fractional digits
            head, _, rest = text.partition(".")
            digits = re.match(r"[0-9]+", rest)
            frac = digits.group(0) if digits else ""
            text = head + "." + (frac[:6].ljust(6, "0")) + rest[len(frac) :]
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError as exc:
            raise MalformedInputError("tag 0 (tdate) holds an impossible date-time") from exc

    return decode


def _keep_tag(tag: int) -> Callable[[object, bool], cbor2.CBORTag]:
    def keep(value: object, _immutable: bool) -> cbor2.CBORTag:
        return cbor2.CBORTag(tag, value)

    return keep


def _base_decoders(lenient_tdate: bool) -> MappingProxyType[int, Callable[[object, bool], Any]]:
    decoders: dict[int, Callable[[object, bool], Any]] = {tag: _keep_tag(tag) for tag in _UNINTERPRETED_TAGS}
    decoders[TAG_TDATE] = _tdate_decoder(lenient_tdate)
    decoders[TAG_FULL_DATE] = _full_date
    return MappingProxyType(decoders)


# Immutable, built once: the semantic decoders that do not depend on the input (tag 24 does).
_BASE_DECODERS = (_base_decoders(False), _base_decoders(True))


# Every encoding of the tag number 24 (RFC 8949 §3.1: 1-, 2-, 4- or 8-byte argument, or the preferred
# ``d8 18``) contains one of these byte sequences; input holding none of them cannot hold a tag-24 item.
_TAG24_HEADERS = (b"\xd8\x18", b"\xd9\x00\x18", b"\xda\x00\x00\x00\x18", b"\xdb" + (24).to_bytes(8, "big"))


def _tag24_start(data: bytes, end: int, length: int) -> int:
    """Where the tag-24 item whose byte-string content (``length`` bytes) ends at ``end`` starts.

    Checks, backwards from the content, the byte-string header that encodes ``length`` (shortest width
    first; the widths are mutually exclusive because each encodes the length differently) and the tag
    header (``d8 18``, ``d9 00 18``, ``da 00 00 00 18`` or ``db`` + 8-byte 24, also mutually exclusive).
    """
    content_start = end - length
    for start_byte, width in ((0x40 | length, 0), (0x58, 1), (0x59, 2), (0x5A, 4), (0x5B, 8)):
        if width == 0:
            if length >= 24:
                continue
        elif length >= 1 << (8 * width):
            continue
        start = content_start - 1 - width
        if (
            start >= 0
            and data[start] == start_byte
            and (width == 0 or int.from_bytes(data[start + 1 : content_start], "big") == length)
        ):
            break
    else:
        raise MalformedInputError("tag 24 does not enclose a definite-length byte string")
    for prefix in _TAG24_HEADERS:
        if start >= len(prefix) and data.startswith(prefix, start - len(prefix)):
            return start - len(prefix)
    raise MalformedInputError("cannot locate the tag-24 header")


def loads(data: bytes, options: CBOROptions = STRICT) -> Any:
    """Decode exactly one CBOR data item from ``data`` under ``options``.

    Maps come back as ``dict``, arrays as ``list``, tag 24 as :class:`EncodedCBOR`, tag 1004 as ``date``,
    tag 0 as an aware ``datetime`` (UTC), other tags as ``cbor2.CBORTag``.

    Raises:
        MalformedInputError: not well-formed, trailing bytes, duplicate keys, too large, too deep,
            indefinite length (unless allowed), or a tag 0/24/1004 of the wrong shape.
    """
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedInputError("CBOR input must be bytes")
        data = bytes(data)
    return _loads_bytes(data, options)


def _loads_bytes(data: bytes, options: CBOROptions) -> Any:
    if not data:
        raise MalformedInputError("empty CBOR input")
    if len(data) > options.max_bytes:
        raise MalformedInputError(f"CBOR input larger than {options.max_bytes} bytes")
    # d9 00 18, da 00 00 00 18 and db 00.. 18 all contain 00 18: two scans, a superset of the four headers.
    # Such input is decoded once, on the exact-offset path (see _decode). An earlier version first tried a
    # buffered decode checked by re-encoding the tree; with cbor2 6 the single exact-offset decode is faster
    # on every real response measured (Annex D, the wallet samples, portraits up to 900 kB) and, for input
    # made of tiny items, it is one pass instead of up to three.
    if b"\xd8\x18" in data or b"\x00\x18" in data:
        whole = _whole_tag24(data)
        if whole is not None:
            return whole
        return _decode(data, options, exact_offsets=True)
    try:
        return _decode(data, options, exact_offsets=False)
    except _HasTag24:  # unreachable (every tag-24 header holds one of the probed patterns); kept exact
        return _decode(data, options, exact_offsets=True)


# Initial bytes of a tag (major type 6, additional information 0-27).
_TAG_HEADS = bytes(range(0xC0, 0xDC))


def _may_exceed_tag_limit(data: bytes, options: CBOROptions) -> bool:
    """Whether ``data`` might hold more tags than allowed (then they are counted one by one).

    Every tag starts with a byte in ``c0``..``db`` at a position of its own and takes at least two bytes
    (its header and a content item), so the count of such bytes, and half the length, bound the number of
    tags from above.
    """
    limit = options.max_tags
    return len(data) > 2 * limit and len(data) - len(data.translate(None, _TAG_HEADS)) > limit


def loads_many(items: Sequence[bytes], options: CBOROptions = STRICT) -> list[Any]:
    """Decode several independent CBOR data items, each exactly as :func:`loads` would decode it alone.

    Items that cannot hold a tag 24 are read back to back by one decoder, and the stream position is
    checked at every boundary (``cbor2`` gives its read-ahead back after each item), so every item is
    exactly one complete data item with nothing trailing, decoded with the same limits and tables as
    :func:`loads`. Anything else, and any failure, takes the one-by-one path, which gives the same values
    and raises the same error (for the first bad item) as calling :func:`loads` on each.

    Raises:
        MalformedInputError: as :func:`loads`.
    """
    if len(items) > 1 and all(
        type(item) is bytes
        and 0 < len(item) <= options.max_bytes
        and b"\xd8\x18" not in item
        and b"\x00\x18" not in item
        for item in items
    ):
        values = _decode_back_to_back(items, options)
        if values is not None:
            return values
    return [loads(item, options) for item in items]


def _decode_back_to_back(items: Sequence[bytes], options: CBOROptions) -> list[Any] | None:
    joined = b"".join(items)
    if _may_exceed_tag_limit(joined, options):  # the limit is per item: let loads count each one
        return None
    fp = io.BytesIO(joined)
    values: list[Any] = []
    try:
        decoder = cbor2.CBORDecoder(
            fp,
            read_size=4096,
            semantic_decoders=_POSITION_LESS_DECODERS[options.lenient_tdate],
            max_depth=options.max_depth,
            allow_indefinite=options.allow_indefinite,
            allow_duplicate_keys=False,
        )
        end = 0
        for item in items:
            values.append(decoder.decode())
            end += len(item)
            if fp.tell() != end:  # the item ended before or after its own bytes
                return None
    except Exception:  # noqa: BLE001 - any failure: the one-by-one path decides and raises the right error
        return None
    return values


def _whole_tag24(data: bytes) -> EncodedCBOR | None:
    """``data`` as one tag-24 item when it is exactly that (tag 24 + definite byte string), else None.

    The whole input is the item, so its raw bytes are the input itself (exact by construction).
    """
    for prefix in _TAG24_HEADERS:
        if data.startswith(prefix):
            start = len(prefix)
            break
    else:
        return None
    if len(data) <= start:
        return None
    initial = data[start]
    if initial >> 5 != 2:
        return None
    info = initial & 0x1F
    if info < 24:
        width, length = 0, info
    elif info <= 27:
        width = 1 << (info - 24)
        length = int.from_bytes(data[start + 1 : start + 1 + width], "big")
    else:
        return None  # indefinite or reserved: the general decoder decides
    if start + 1 + width + length != len(data):
        return None
    return EncodedCBOR(raw=data, content=data[start + 1 + width :])


class _HasTag24(Exception):  # noqa: N818 - internal control flow, never raised to callers
    """A tag-24 item met on the position-less path: decode again with exact offsets."""


def _no_tag24(_value: object, _immutable: bool) -> EncodedCBOR:
    raise _HasTag24


def _position_less_decoders(lenient_tdate: bool) -> dict[int, Callable[[object, bool], Any]]:
    decoders = dict(_BASE_DECODERS[lenient_tdate])
    decoders[TAG_ENCODED_CBOR] = _no_tag24
    return decoders


# Built once and never mutated (module-private): the table for input that holds no tag 24.
_POSITION_LESS_DECODERS = (_position_less_decoders(False), _position_less_decoders(True))


def _too_many_tags(options: CBOROptions) -> MalformedInputError:
    return MalformedInputError(f"more than {options.max_tags} tags in one CBOR input")


def _counting(
    decoders: Mapping[int, Callable[[object, bool], Any]], options: CBOROptions
) -> tuple[dict[int, Callable[[object, bool], Any]], Callable[[cbor2.CBORTag, bool], Any]]:
    """``decoders`` and a tag hook that count every tag met (any number) and stop past ``max_tags``."""
    count = 0
    limit = options.max_tags

    def tick() -> None:
        nonlocal count
        count += 1
        if count > limit:
            raise _too_many_tags(options)

    def wrap(decode: Callable[[object, bool], Any]) -> Callable[[object, bool], Any]:
        def counted(value: object, immutable: bool) -> Any:
            tick()
            return decode(value, immutable)

        return counted

    def hook(tag: cbor2.CBORTag, _immutable: bool) -> cbor2.CBORTag:  # tags without a decoder
        tick()
        return tag

    return {tag: wrap(decode) for tag, decode in decoders.items()}, hook


def _too_many_tag24(options: CBOROptions) -> MalformedInputError:
    return MalformedInputError(f"more than {options.max_tag24_items} tag-24 items in one CBOR input")


def _decode(
    data: bytes,
    options: CBOROptions,
    *,
    exact_offsets: bool,
) -> Any:
    # Exact offsets (any input that may hold a tag 24): cbor2 reads the stream with ``read_size=1``, so no
    # byte is read ahead and, when the tag-24 decoder runs, the stream position is exactly the end of the
    # tagged byte string just read. The item's start is then found by checking, backwards from there, the
    # byte-string header that encodes the content's length and the tag header (both are unambiguous: each
    # header width encodes the length/tag number differently), and the content bytes at that span are
    # compared with what the decoder returned. Tag-24 items are decoded in document order and never nest
    # at one level, so every span must also start at or after the end of the previous one. The raw bytes
    # are therefore always the bytes at the item's own position, never found by searching the input.
    # Input holding no tag-24 header pattern takes a position-less path with a prebuilt table.
    # Tags of every number are counted only when the input is large enough to exceed ``max_tags``.
    fp = io.BytesIO(data)
    decoders: Mapping[int, Callable[[object, bool], Any]]
    if exact_offsets:
        cursor = 0
        count = 0
        limit = options.max_tag24_items

        def encoded_cbor(value: object, _immutable: bool) -> EncodedCBOR:
            nonlocal cursor, count
            count += 1
            if count > limit:
                raise _too_many_tag24(options)
            if not isinstance(value, bytes):
                raise MalformedInputError("tag 24 must enclose a byte string")
            end = fp.tell()
            length = len(value)
            start = end - length - 4  # the common case: preferred headers d8 18 58 LL
            if not (
                24 <= length < 256
                and start >= 0
                and data[start] == 0xD8
                and data[start + 1] == 0x18
                and data[start + 2] == 0x58
                and data[start + 3] == length
            ):
                start = _tag24_start(data, end, length)
            if start < cursor or data[end - length : end] != value:
                raise MalformedInputError("cannot locate the tag-24 item in the input")
            cursor = end
            return EncodedCBOR(raw=data[start:end], content=value)

        decoders = {**_BASE_DECODERS[options.lenient_tdate], TAG_ENCODED_CBOR: encoded_cbor}
    else:
        decoders = _POSITION_LESS_DECODERS[options.lenient_tdate]
    tag_hook = None
    if _may_exceed_tag_limit(data, options):
        decoders, tag_hook = _counting(decoders, options)
    try:
        decoder = cbor2.CBORDecoder(
            fp,
            tag_hook=tag_hook,
            read_size=1 if exact_offsets else 4096,
            semantic_decoders=decoders,
            max_depth=options.max_depth,
            allow_indefinite=options.allow_indefinite,
            allow_duplicate_keys=False,
        )
        value = decoder.decode()
    except (MalformedInputError, _HasTag24):
        raise
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, MemoryError, RecursionError) as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _HasTag24):
            raise cause from None
        if isinstance(cause, MalformedInputError):
            raise MalformedInputError(cause.message) from None
        # cbor2's text may quote keys or values of the input: never pass it on (nor chain it).
        raise MalformedInputError(
            f"malformed CBOR ({type(exc).__name__}) near byte {min(fp.tell(), len(data))}"
        ) from None
    # cbor2 leaves the stream just after the item it decoded (read-ahead is given back).
    if fp.tell() != len(data):
        raise MalformedInputError(f"{len(data) - fp.tell()} trailing bytes after the CBOR data item")
    return value


def _preferred_tag24(content: bytes) -> bytes:
    n = len(content)
    if n < 24:
        header = bytes([0x40 | n])
    elif n < 0x100:
        header = b"\x58" + n.to_bytes(1, "big")
    elif n < 0x10000:
        header = b"\x59" + n.to_bytes(2, "big")
    elif n < 0x100000000:
        header = b"\x5a" + n.to_bytes(4, "big")
    else:
        header = b"\x5b" + n.to_bytes(8, "big")
    return b"\xd8\x18" + header + content


def dumps(value: object) -> bytes:
    """Encode ``value`` in preferred serialization (RFC 8949 §4.2.1 lengths; maps in the order given).

    :class:`EncodedCBOR` values are written as their exact ``raw`` bytes; ``date`` as tag 1004.

    Raises:
        MalformedInputError: the value holds a type CBOR cannot express.
    """
    try:
        return cbor2.dumps(value, encoders=_ENCODERS, default=_encode_default, date_as_datetime=False)
    except (cbor2.CBOREncodeError, TypeError, ValueError) as exc:
        raise MalformedInputError(f"cannot encode as CBOR: {exc}") from exc


def _write_encoded(encoder: cbor2.CBOREncoder, value: EncodedCBOR) -> None:
    encoder.write(value.raw)


# EncodedCBOR by exact type: skips cbor2's abstract-type probing before ``default`` (measurably faster).
_ENCODERS: Mapping[type, Callable[[cbor2.CBOREncoder, Any], Any]] = MappingProxyType(
    {EncodedCBOR: _write_encoded}
)


def _encode_default(encoder: cbor2.CBOREncoder, value: object) -> None:
    if isinstance(value, EncodedCBOR):
        encoder.write(value.raw)
        return
    raise cbor2.CBOREncodeTypeError(f"cannot encode {type(value).__name__}")


def expect_map(value: object, what: str) -> Mapping[Any, Any]:
    """Return ``value`` if it is a map, else raise MalformedInputError naming ``what``."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise MalformedInputError(f"{what} must be a CBOR map")
    return value


def expect_list(value: object, what: str) -> list[Any]:
    if type(value) is list:
        return value
    if not isinstance(value, tuple):
        raise MalformedInputError(f"{what} must be a CBOR array")
    return list(value)


def expect_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedInputError(f"{what} must be a text string")
    return value


def expect_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise MalformedInputError(f"{what} must be a byte string")
    return value


def expect_encoded(value: object, what: str) -> EncodedCBOR:
    if not isinstance(value, EncodedCBOR):
        raise MalformedInputError(f"{what} must be a tag-24 encoded CBOR item")
    return value
