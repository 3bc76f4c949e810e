"""The echo predictor behind the gate's double-talk rule."""

from __future__ import annotations

import numpy as np

from devices.voice._levels import EchoModel

BANDS = 4
COUPLING = 0.1  # the room returns a tenth of the playout power, two frames later


def far_end(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Band powers of far-end speech: syllables with fading edges and short pauses."""
    envelope = np.abs(np.sin(np.arange(frames) * np.pi / 17)) ** 3
    envelope[(np.arange(frames) // 60) % 4 == 3] = 0.0  # a pause every 0.6 s of talk
    return envelope[:, None] * rng.uniform(0.5, 2.0, (frames, BANDS))


def run(model: EchoModel, ref: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Feed the model as the gate does (adapt while the far end plays or rings); return the
    predictions."""
    out = np.zeros_like(ref)
    for k in range(ref.shape[0]):
        out[k] = model.predict(ref[k])
        echo = COUPLING * ref[k - 2] if k >= 2 else np.zeros(BANDS)
        playing_or_ringing = ref[max(0, k - 40) : k + 1].any()
        if playing_or_ringing:
            model.adapt(echo + near[k], out[k])
    return out


def test_learns_the_coupling():
    rng = np.random.default_rng(1)
    ref = far_end(rng, 3000)
    pred = run(EchoModel(BANDS), ref, np.zeros_like(ref))
    late = slice(2000, 3000)
    true = COUPLING * np.roll(ref, 2, axis=0)[late].sum()
    assert 0.7 < pred[late].sum() / true < 1.3


def test_near_talker_in_the_pauses_does_not_blow_the_estimate_up():
    """A near talker answering in every pause of the far end (double talk in the echo tail,
    where the reference fades to nothing) must not teach the model a huge echo: it would
    then swallow every near word spoken over the far end."""
    rng = np.random.default_rng(2)
    ref = far_end(rng, 3000)
    near = np.zeros_like(ref)
    pauses = ref.sum(axis=1) < 1e-3
    near[pauses] = 5.0  # louder than any echo
    pred = run(EchoModel(BANDS), ref, near)
    late = slice(2000, 3000)
    true = COUPLING * np.roll(ref, 2, axis=0)[late].sum()
    assert pred[late].sum() / true < 4.0  # within 6 dB of the real echo


def test_follows_the_volume_turned_up():
    """The double-talk caution must not freeze the model when the hall volume goes up 10 dB."""
    rng = np.random.default_rng(3)
    ref = far_end(rng, 6000)
    model = EchoModel(BANDS)
    pred = np.zeros_like(ref)
    for k in range(ref.shape[0]):
        pred[k] = model.predict(ref[k])
        coupling = COUPLING if k < 3000 else 10 * COUPLING
        echo = coupling * ref[k - 2] if k >= 2 else np.zeros(BANDS)
        if ref[max(0, k - 40) : k + 1].any():
            model.adapt(echo, pred[k])
    after = slice(3100, 3600)  # from 1 s after the change
    true = 10 * COUPLING * np.roll(ref, 2, axis=0)[after].sum()
    assert 0.8 < pred[after].sum() / true < 1.25
