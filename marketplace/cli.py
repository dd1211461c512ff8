"""Command-line interface: users, seed, tasks."""

from __future__ import annotations

from flask.cli import AppGroup

users_cli = AppGroup("users", help="Create users and API tokens.")
seed_cli = AppGroup("seed", help="Load demo or benchmark data.")
tasks_cli = AppGroup("tasks", help="Periodic work run by cron.")
