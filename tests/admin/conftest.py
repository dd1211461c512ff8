"""Fixtures of the admin tests: a signed-in administrator and a SQL statement counter."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest


@pytest.fixture
def admin(create_user):
    """An administrator (two-factor enrolled), English-speaking for readable assertions."""
    return create_user("root@example.org", full_name="Ada Admin", roles=("admin",), locale="en")


@pytest.fixture
def admin_client(client, login, admin):
    return login(client, admin)


@pytest.fixture
def count_selects(count_queries: Callable[..., Any]) -> Callable[..., Any]:
    """``with count_selects() as seen:`` counts the SELECT statements sent meanwhile."""
    return partial(count_queries, selects_only=True)
