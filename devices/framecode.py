"""A frame counter and send timestamp drawn into the picture as black/white blocks.

The far side decodes them from the received video to prove that real, moving,
in-order frames arrived and to measure glass-to-glass delay. The code is a band of
2 x 40 blocks along the top edge, block size proportional to the frame width, so it
survives VP8 compression and rescaling. A CRC-16 rejects misreads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

COLUMNS = 40
ROWS = 2
BITS = COLUMNS * ROWS  # 32 counter + 32 timestamp + 16 CRC

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class FrameCode:
    counter: int
    stamp_ms: int  # sender wall clock, milliseconds modulo 2**32


def block_size(width: int) -> int:
    return max(4, width // (COLUMNS + 8))


def band_height(width: int) -> int:
    """Rows at the top of the picture that the code occupies (plus a margin)."""
    return (ROWS + 1) * block_size(width)


def _crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _bits(code: FrameCode) -> list[int]:
    payload = (code.counter & 0xFFFFFFFF).to_bytes(4, "big") + (
        code.stamp_ms & 0xFFFFFFFF
    ).to_bytes(4, "big")
    word = int.from_bytes(payload, "big") << 16 | _crc16(payload)
    return [(word >> (BITS - 1 - i)) & 1 for i in range(BITS)]


def _origin(width: int) -> tuple[int, int, int]:
    size = block_size(width)
    left = (width - COLUMNS * size) // 2
    return size, left, size // 2


def encode(image: Image, code: FrameCode) -> None:
    """Draw *code* into the top band of a BGR or grey *image*, in place."""
    size, left, top = _origin(image.shape[1])
    image[: band_height(image.shape[1])] = 0
    for i, bit in enumerate(_bits(code)):
        if bit:
            row, col = divmod(i, COLUMNS)
            y, x = top + row * size, left + col * size
            image[y : y + size, x : x + size] = 255


def decode(luma: Image) -> FrameCode | None:
    """Read the code from a grey (luma) image; None when absent or damaged."""
    height, width = luma.shape[:2]
    size, left, top = _origin(width)
    if top + ROWS * size > height:
        return None
    inner = max(1, size // 4)
    word = 0
    for i in range(BITS):
        row, col = divmod(i, COLUMNS)
        y, x = top + row * size + size // 2, left + col * size + size // 2
        patch = luma[y - inner : y + inner, x - inner : x + inner]
        word = word << 1 | int(patch.mean() > 127)
    payload = (word >> 16).to_bytes(8, "big")
    if _crc16(payload) != word & 0xFFFF:
        return None
    return FrameCode(int.from_bytes(payload[:4], "big"), int.from_bytes(payload[4:], "big"))
