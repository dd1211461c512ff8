"""More rows of the role × route table of tests/test_permissions.py, one module per area.

Each module defines ``ROWS: dict[str, tuple[int, int, int, int, int, int]]`` in the order
anonymous, pending, verified, moderator, treasurer, admin; a URL argument not known to
``_url`` there can be given in ``ARGUMENTS: dict[str, object]``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def collect() -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    rows: dict[str, tuple[int, ...]] = {}
    arguments: dict[str, Any] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for endpoint in getattr(module, "ROWS", {}):
            assert endpoint not in rows, f"{endpoint} is listed twice"
        rows.update(getattr(module, "ROWS", {}))
        arguments.update(getattr(module, "ARGUMENTS", {}))
    return rows, arguments
