"""A tiny, valid baseline JPEG portrait generated in code (no external assets, no personal data).

The image is a 32×32 grayscale silhouette (an oval face on a plain background, two darker eyes), shaded by
a seed so that different synthetic residents get different pictures. Each 8×8 block is flat, so the
encoder only needs DC coefficients: ITU-T T.81 baseline (SOF0), one component, all quantisation values 1,
a DC Huffman table of twelve 4-bit codes (categories 0–11) and an AC table holding only EOB.
"""

from __future__ import annotations

import hashlib
import struct

SIZE = 32
_BLOCK = 8


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


class _BitWriter:
    def __init__(self) -> None:
        self._bytes = bytearray()
        self._acc = 0
        self._count = 0

    def write(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._count += 1
            if self._count == 8:
                self._emit()

    def _emit(self) -> None:
        self._bytes.append(self._acc)
        if self._acc == 0xFF:
            self._bytes.append(0x00)  # byte stuffing (T.81 F.1.2.3)
        self._acc = 0
        self._count = 0

    def finish(self) -> bytes:
        if self._count:
            pad = 8 - self._count
            self._acc = (self._acc << pad) | ((1 << pad) - 1)  # pad with 1-bits
            self._count = 8
            self._emit()
        return bytes(self._bytes)


def _levels(seed: bytes) -> list[list[int]]:
    """Gray level of each 8×8 block (4×4 blocks)."""
    shade = hashlib.sha256(b"myna-mock-portrait" + seed).digest()
    background = 40 + shade[0] % 60
    skin = 170 + shade[1] % 60
    eyes = 20 + shade[2] % 40
    blocks = SIZE // _BLOCK
    rows: list[list[int]] = []
    for by in range(blocks):
        row = []
        for bx in range(blocks):
            dx, dy = bx - (blocks - 1) / 2, (by - (blocks - 1) / 2) * 0.8
            level = skin if dx * dx + dy * dy <= 2.3 else background
            if by == 1 and bx in (1, 2):
                level = eyes
            row.append(level)
        rows.append(row)
    return rows


def portrait_jpeg(seed: bytes) -> bytes:
    """A 32×32 grayscale baseline JPEG (JFIF) shaded by ``seed``."""
    app0 = b"JFIF\x00" + bytes([1, 1, 0]) + struct.pack(">HH", 1, 1) + b"\x00\x00"
    dqt = b"\x00" + bytes([1] * 64)
    sof0 = bytes([8]) + struct.pack(">HH", SIZE, SIZE) + bytes([1, 1, 0x11, 0])
    dc_bits = [0, 0, 0, 12] + [0] * 12  # twelve codes of length 4: category k ↦ code k
    dht_dc = b"\x00" + bytes(dc_bits) + bytes(range(12))
    ac_bits = [0, 1] + [0] * 14  # one code of length 2 ("00"): EOB
    dht_ac = b"\x10" + bytes(ac_bits) + b"\x00"
    sos = bytes([1, 1, 0x00, 0, 63, 0])

    bits = _BitWriter()
    previous = 0
    for row in _levels(seed):
        for level in row:
            dc = 8 * (level - 128)  # DCT DC term of a flat block (quantiser 1)
            diff = dc - previous
            previous = dc
            category = abs(diff).bit_length()
            bits.write(category, 4)
            if category:
                bits.write(diff if diff >= 0 else diff + (1 << category) - 1, category)
            bits.write(0, 2)  # EOB: every AC coefficient is zero
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xFFE0, app0),
            _segment(0xFFDB, dqt),
            _segment(0xFFC0, sof0),
            _segment(0xFFC4, dht_dc),
            _segment(0xFFC4, dht_ac),
            _segment(0xFFDA, sos),
            bits.finish(),
            b"\xff\xd9",
        ]
    )


__all__ = ["SIZE", "portrait_jpeg"]
