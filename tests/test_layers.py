"""The house rule: kiosk → ui → endpoint → devices, and Qt only in ui/ and kiosk/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "devices": ("PyQt6", "aiortc", "endpoint", "ui", "kiosk"),
    "endpoint": ("PyQt6", "ui", "kiosk"),
    "ui": ("kiosk",),
}


def imports(path: Path) -> set[str]:
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.MULTILINE)
    return set(pattern.findall(path.read_text()))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imports(path) & set(FORBIDDEN[layer]))
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_rule_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom PyQt6.QtCore import Qt\n")
    assert "PyQt6" in imports(bad)
