"""The seam registry: every aiortc replacement comes out for the baseline and goes back."""

from __future__ import annotations

import aiortc.codecs
import aiortc.rtcrtpreceiver as receiver_module
import aiortc.rtcrtpsender

import endpoint
from endpoint import _opus, _seams


def test_plain_aiortc_removes_every_seam_and_install_all_puts_them_back() -> None:
    assert {"opus-send", "video-jitter"} <= set(_seams.names())
    assert aiortc.rtcrtpsender.get_encoder is _opus.encoder_for
    assert getattr(receiver_module.JitterBuffer, "diemcau_video", False)
    try:
        endpoint.plain_aiortc()
        assert not _seams.enabled()
        assert aiortc.rtcrtpsender.get_encoder is aiortc.codecs.get_encoder
        assert not getattr(receiver_module.JitterBuffer, "diemcau_video", False)
        assert receiver_module.JitterBuffer.__module__ == "aiortc.jitterbuffer"
    finally:
        _seams.install_all()
    assert _seams.enabled()
    assert aiortc.rtcrtpsender.get_encoder is _opus.encoder_for
    assert getattr(receiver_module.JitterBuffer, "diemcau_video", False)
