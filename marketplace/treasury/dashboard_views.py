"""Treasury dashboard pages: KPIs of a period, monthly chart, exceptions queue."""

from __future__ import annotations

from marketplace.treasury.views import bp  # noqa: F401
