"""Treasury exports: payments CSV with fees as their own lines, the FEC file, chart of accounts."""

from __future__ import annotations

from marketplace.treasury.views import bp  # noqa: F401
