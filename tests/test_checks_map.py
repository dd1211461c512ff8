"""docs/CHECKS-MAP.md names, for each line of CHECKS.md, the tests that hold it: every test it
names must exist, so a renamed or deleted test cannot leave a check silently uncovered."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)`")


def test_every_test_named_in_the_checks_map_exists():
    text = (ROOT / "docs" / "CHECKS-MAP.md").read_text(encoding="utf-8")
    missing, current, seen = [], None, 0
    for match in REFERENCE.finditer(text):
        path, name = match.groups()
        current = path or current  # "::other_test" continues the file named before it
        assert current is not None, f"{name} is named before any file"
        source = (ROOT / current).read_text(encoding="utf-8") if (ROOT / current).exists() else ""
        seen += 1
        if not re.search(rf"^\s*(async )?def {name}\b", source, re.MULTILINE):
            missing.append(f"{current}::{name}")
    assert seen > 100
    assert missing == []
