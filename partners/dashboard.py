"""What the partner dashboard shows beside the company: the last 30 days and what needs the
team's action. ``partners`` imports neither ``offers`` nor ``jobs``: each domain registers a
source here (from its ``init_app``), and the dashboard asks them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from marketplace.database import utcnow
from partners.models import Partner

# The window of the dashboard's figures.
RECENT_DAYS = 30


@dataclass(frozen=True)
class Figure:
    """One number of the last 30 days ("Views": 120)."""

    key: str
    label: str
    value: int


@dataclass(frozen=True)
class ToDo:
    """Something waiting for the team: what, why, and the page where it is done."""

    key: str
    label: str
    url: str
    detail: str = ""


@dataclass(frozen=True)
class DashboardSource:
    """A domain's part of the dashboard: its figures since a moment, its to-dos and, if it
    has a summary box, its items by status as ``(status, label, count)``."""

    figures: Callable[[Partner, datetime], list[Figure]]
    todos: Callable[[Partner, datetime], list[ToDo]]
    counts: Callable[[Partner], list[tuple[Any, Any, int]]] | None = None


@dataclass
class DashboardView:
    figures: list[Figure] = field(default_factory=list)
    todos: list[ToDo] = field(default_factory=list)
    # By source name: its items by status, ``(status, label, count)``.
    counts: dict[str, list[tuple[Any, Any, int]]] = field(default_factory=dict)


SOURCES: dict[str, DashboardSource] = {}


def register_source(name: str, source: DashboardSource) -> None:
    """Add a domain's figures and to-dos to the partner dashboard."""
    SOURCES[name] = source


def dashboard_view(partner: Partner, *, now: datetime | None = None) -> DashboardView:
    """Every source's figures of the last ``RECENT_DAYS`` days and its to-dos, in order."""
    now = now or utcnow()
    since = now - timedelta(days=RECENT_DAYS)
    view = DashboardView()
    for name, source in SOURCES.items():
        view.figures.extend(source.figures(partner, since))
        view.todos.extend(source.todos(partner, now))
        if source.counts is not None:
            view.counts[name] = source.counts(partner)
    return view
