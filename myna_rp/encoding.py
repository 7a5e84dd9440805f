"""Loading certificates and other DER objects given as DER or PEM bytes, with typed errors.

Every loader raises :class:`~myna_rp.errors.MalformedInputError` (reason MALFORMED_INPUT) on empty,
truncated, oversized or garbage input; no exception from ``cryptography`` escapes.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509

from .errors import MalformedInputError

MAX_OBJECT_BYTES = 64 * 1024 * 1024  # CRLs of a million entries are ~40 MB; nothing legitimate is larger

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """Return ``(label, der)`` for each PEM block in ``data`` (RFC 7468). Garbage base64 raises."""
    blocks: list[tuple[str, bytes]] = []
    for match in _PEM_BLOCK.finditer(data):
        body = b"".join(match.group(2).split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedInputError(f"PEM block {match.group(1).decode()} is not valid base64") from exc
        blocks.append((match.group(1).decode("ascii"), der))
    return blocks


def to_der(data: bytes, *, labels: tuple[str, ...], what: str) -> list[bytes]:
    """Return the DER objects in ``data``: the PEM blocks with one of ``labels``, or ``data`` as DER.

    Raises :class:`MalformedInputError` on empty input, oversized input, PEM armour without a usable
    block, or bytes that are neither.
    """
    if not data or not data.strip():
        raise MalformedInputError(f"{what} is empty")
    if len(data) > MAX_OBJECT_BYTES:
        raise MalformedInputError(f"{what} is larger than {MAX_OBJECT_BYTES} bytes")
    if b"-----BEGIN" in data[:4096] or data.lstrip()[:5] == b"-----":
        ders = [der for label, der in pem_blocks(data) if label in labels]
        if not ders:
            raise MalformedInputError(f"{what}: no PEM block labelled {' or '.join(labels)}")
        return ders
    if data[0] != 0x30:  # every object we read is a DER SEQUENCE
        raise MalformedInputError(f"{what} is neither DER nor PEM")
    return [data]


def parse_der_certificate(der: bytes, *, what: str = "certificate") -> x509.Certificate:
    """Parse one DER certificate and decode its extensions now, so that a malformed or duplicated
    extension (RFC 5280 §4.2: "MUST NOT include more than one instance") is a MALFORMED_INPUT here rather
    than a raw ``cryptography`` exception later."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.extensions  # noqa: B018 - decoded for its side effect: validation
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInputError(f"{what} is not a valid X.509 certificate ({exc})") from exc
    return certificate


def load_certificates(data: bytes, *, what: str = "certificate") -> list[x509.Certificate]:
    """Load one or more X.509 certificates from DER or PEM bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedInputError(f"{what} must be bytes, got {type(data).__name__}")
    return [
        parse_der_certificate(der, what=what)
        for der in to_der(bytes(data), labels=("CERTIFICATE", "X509 CERTIFICATE"), what=what)
    ]


def load_certificate(data: bytes | x509.Certificate, *, what: str = "certificate") -> x509.Certificate:
    """Load exactly one X.509 certificate from DER or PEM bytes (a Certificate passes through)."""
    if isinstance(data, x509.Certificate):
        try:
            data.extensions  # noqa: B018 - decoded for its side effect: validation
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            raise MalformedInputError(f"{what} has undecodable extensions ({exc})") from exc
        return data
    certificates = load_certificates(data, what=what)
    if len(certificates) != 1:
        raise MalformedInputError(f"{what}: expected one certificate, found {len(certificates)}")
    return certificates[0]


def single_der(data: bytes, *, labels: tuple[str, ...], what: str) -> bytes:
    """The one DER object in ``data`` (DER, or PEM with one of ``labels``)."""
    ders = to_der(data, labels=labels, what=what)
    if len(ders) != 1:
        raise MalformedInputError(f"{what}: expected one object, found {len(ders)}")
    return ders[0]
