"""Small real PNG images for the paths that ``thumb``, ``art`` and friends name."""

from __future__ import annotations

from functools import lru_cache
import struct
import zlib

PALETTE = (
    (0xE5, 0xA0, 0x0D),  # Plex orange
    (0x1F, 0x6F, 0x8B),
    (0x99, 0x35, 0x4B),
    (0x3C, 0x8D, 0x5A),
    (0x5B, 0x4B, 0x8A),
    (0x2E, 0x2E, 0x38),
)
THUMB_SIZE = (20, 30)
ART_SIZE = (32, 18)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@lru_cache(maxsize=64)
def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    """A ``width`` x ``height`` RGB PNG of one colour with a lighter top band."""
    light = tuple(min(255, channel + 60) for channel in color)
    rows = []
    for y in range(height):
        pixel = bytes(light if y < height // 4 else color)
        rows.append(b"\x00" + pixel * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )


def image_for(seed: int, element: str) -> bytes:
    """The image of an object (by id) for one element (``thumb``, ``art``, ...)."""
    width, height = ART_SIZE if element in ("art", "banner") else THUMB_SIZE
    return png(width, height, PALETTE[seed % len(PALETTE)])
