"""The three libopus decoder calls that FFmpeg's wrapper does not give us: PLC and FEC.

PyAV decodes Opus through FFmpeg's ``libopusdec``, which has no ``decode_fec`` option and
treats an empty packet as a flush (checked with PyAV 18: ``decode(Packet(b""))`` returns
nothing), so a lost frame can be neither concealed nor recovered from the next packet's
in-band FEC (LBRR) there. libopus itself can: ``opus_decode(st, NULL, 0, pcm, n, 0)``
conceals *n* samples (PLC) and ``opus_decode(st, next, len, pcm, n, 1)`` rebuilds the
frame before *next* from its LBRR (falling back to PLC when it carries none).

The library: the libopus that PyAV's wheel bundles (the one FFmpeg already loaded into
this process; 1.6 here, which also has ``opus_packet_has_lbrr``), else the system's
(Debian ``libopus0``, 1.3, which lacks that call: FEC is then counted when attempted).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]  # interleaved s16
MAX_FRAME = 5760  # 120 ms at 48 kHz: the longest Opus packet


class LibOpusError(RuntimeError):
    pass


def _candidates() -> list[str]:
    bundled = sorted((Path(av.__file__).parent.parent / "av.libs").glob("libopus*"))
    system = ctypes.util.find_library("opus")
    return [str(p) for p in bundled] + ([system] if system else [])


def _load() -> ctypes.CDLL | None:
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "opus_decoder_create"):
            return _declare(lib)
    return None


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int32,
        ctypes.POINTER(ctypes.c_int16),
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
    if hasattr(lib, "opus_packet_has_lbrr"):
        lib.opus_packet_has_lbrr.argtypes = [ctypes.c_char_p, ctypes.c_int32]
    return lib


_LIB = _load()


def available() -> bool:
    return _LIB is not None


def _lib() -> ctypes.CDLL:
    if _LIB is None:
        raise LibOpusError("libopus not found (Debian: libopus0)")
    return _LIB


def packet_samples(payload: bytes, rate: int = 48000) -> int:
    """Samples per channel in an Opus packet; 0 when it cannot be parsed."""
    return max(0, int(_lib().opus_packet_get_nb_samples(payload, len(payload), rate)))


def has_lbrr(payload: bytes) -> bool | None:
    """Whether *payload* carries in-band FEC for the frame before it; None: cannot tell."""
    lib = _lib()
    if not hasattr(lib, "opus_packet_has_lbrr"):
        return None
    return bool(lib.opus_packet_has_lbrr(payload, len(payload)) == 1)


class OpusDecoderState:
    """One libopus decoder; not thread-safe (aiortc uses each decoder from one thread)."""

    def __init__(self, rate: int = 48000, channels: int = 2) -> None:
        error = ctypes.c_int(0)
        self.rate, self.channels = rate, channels
        self._state = _lib().opus_decoder_create(rate, channels, ctypes.byref(error))
        if error.value != 0 or not self._state:
            raise LibOpusError(f"opus_decoder_create failed ({error.value})")
        self._pcm = np.zeros(MAX_FRAME * channels, dtype=np.int16)

    def decode(self, payload: bytes) -> Pcm:
        """The samples in *payload*."""
        return self._run(payload, MAX_FRAME, fec=False)

    def conceal(self, samples: int) -> Pcm:
        """*samples* (a multiple of 120) of packet loss concealment."""
        return self._run(None, samples, fec=False)

    def recover(self, following: bytes, samples: int) -> Pcm:
        """The *samples* lost just before *following*, from its in-band FEC (PLC if none)."""
        return self._run(following, samples, fec=True)

    def _run(self, payload: bytes | None, samples: int, fec: bool) -> Pcm:
        out = self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
        size = len(payload) if payload else 0
        got = _lib().opus_decode(self._state, payload, size, out, min(samples, MAX_FRAME), int(fec))
        if got < 0:
            raise LibOpusError(f"opus_decode failed ({got})")
        return self._pcm[: got * self.channels].copy()

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state and _LIB is not None:
            _LIB.opus_decoder_destroy(state)
