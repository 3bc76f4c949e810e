"""Config dataclasses: bounds checks name the field, the value and the rule."""

import pytest

from devices.voice import (
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    CropRect,
    DirectorConfig,
    DoaConfig,
    GateConfig,
)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GateConfig(hold_ms=50), "gate.hold_ms = 50"),
        (lambda: GateConfig(vad_mode=4), "gate.vad_mode = 4"),
        (lambda: GateConfig(sample_rate=44100), "gate.sample_rate = 44100"),
        (lambda: DoaConfig(block_s=2.0), "doa.block_s = 2.0"),
        (lambda: CropRect(0.5, 0.0, 0.6, 0.5), "crop.w = 0.6"),
        (lambda: ArrayGeometry.circular(1, 0.045), "array.channels = 1"),
        (lambda: ArrayGeometry.circular(4, 0.5), "array.radius_m = 0.5"),
    ],
)
def test_bounds_errors_name_field_value_and_rule(make, field):
    with pytest.raises(ValueError, match="must") as info:
        make()
    assert field in str(info.value)


def test_director_cross_field_rule():
    with pytest.raises(ValueError, match="evidence_window_s = 0.5: must be at least"):
        DirectorConfig(overview=CameraTarget("wide"), switch_after_s=0.8, evidence_window_s=0.5)


def test_switch_after_default_within_issue_bound():
    cfg = DirectorConfig(overview=CameraTarget("wide"))
    assert cfg.switch_after_s <= 1.0
    assert 8.0 <= cfg.overview_after_s <= 12.0
    with pytest.raises(ValueError, match="director.switch_after_s"):
        DirectorConfig(overview=CameraTarget("wide"), switch_after_s=1.5)


def test_gate_hold_default_in_300_500_ms():
    assert 300 <= GateConfig().hold_ms <= 500


@pytest.mark.parametrize(
    ("rng", "inside", "outside"),
    [
        (AngleRange(225, 315), (225, 270, 315), (224, 316, 0)),
        (AngleRange(-30, 45), (330, 0, 45), (46, 200, 329)),
        (AngleRange(350, 10), (355, 0, 10), (11, 349)),
    ],
)
def test_angle_range_contains_wraps(rng, inside, outside):
    assert all(rng.contains(a) for a in inside)
    assert not any(rng.contains(a) for a in outside)


def test_circular_geometry():
    geo = ArrayGeometry.circular(4, 0.05)
    assert geo.channels == 4
    assert geo.positions[0] == pytest.approx((0.05, 0.0))
    assert geo.positions[1] == pytest.approx((0.0, 0.05))
    assert geo.aperture_m() == pytest.approx(0.1)
