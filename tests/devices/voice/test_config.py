"""Config dataclasses: bounds checks name the field, the value and the rule."""

import pytest

from devices.voice import (
    LIMITS,
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    CropRect,
    DirectorConfig,
    DoaConfig,
    GateConfig,
    InvalidSetting,
    Zone,
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


def test_errors_carry_where_value_and_rule():
    with pytest.raises(InvalidSetting) as info:
        DirectorConfig(overview=CameraTarget("wide"), switch_after_s=3.0)
    err = info.value
    assert (err.where, err.value, err.rule) == (
        "director.switch_after_s",
        3.0,
        "must be between 0.1 and 1",
    )
    assert isinstance(err, ValueError) and str(err).startswith("director.switch_after_s = 3.0: ")


def test_duplicate_zone_names_are_refused_with_the_names():
    zone = Zone("A", AngleRange(0, 10), CameraTarget("wide"))
    with pytest.raises(InvalidSetting) as info:
        DirectorConfig(overview=CameraTarget("wide"), zones=(zone, zone))
    assert (info.value.where, info.value.value) == ("director.zones", ["A", "A"])


def test_small_odd_array_is_refused_for_its_aperture():
    with pytest.raises(InvalidSetting) as info:
        ArrayGeometry.circular(3, 0.01)
    assert info.value.where == "array.aperture_m" and "at least 0.02 m" in info.value.rule
    ArrayGeometry.circular(3, 0.012)
    ArrayGeometry.circular(16, LIMITS["array.radius_m"][1])  # rounding stays within the limit


@pytest.mark.parametrize(("x", "w"), [(0.33, 0.67), (0.07, 0.93), (0.55, 0.45), (0.0, 1.0)])
def test_crop_reaching_the_edge_is_accepted_despite_rounding(x, w):
    CropRect(x, 0.0, w, 0.5)  # 0.33 + 0.67 > 1.0 in binary
    CropRect(0.0, x, 0.5, w)
    with pytest.raises(InvalidSetting):
        CropRect(x, 0.0, w + 0.001, 0.5)


DEFAULTS = {
    "gate": GateConfig,
    "doa": DoaConfig,
    "director": lambda **kw: DirectorConfig(overview=CameraTarget("wide"), **kw),
}


@pytest.mark.parametrize("where", sorted(k for k in LIMITS if k.split(".")[0] in DEFAULTS))
def test_limits_are_the_bounds_the_classes_enforce(where):
    section, name = where.split(".")
    lo, hi = LIMITS[where]
    make = DEFAULTS[section]
    for ok in (lo, hi):
        extra = {"evidence_window_s": 10.0} if name == "switch_after_s" else {}
        make(**{name: type(lo)(ok), **extra})
    step = 1 if isinstance(lo, int) else 1e-6
    for bad in (lo - step, hi + step):
        with pytest.raises(InvalidSetting, match=where):
            make(**{name: bad})
