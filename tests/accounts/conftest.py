"""Helpers of the account tests: the real sign-in form, registration data, links from e-mails."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from marketplace.catalog.models import School
from tests.accounts.helpers import GOOD_PASSWORD
from tests.conftest import PASSWORD


@pytest.fixture
def sign_in() -> Callable[..., Any]:
    """Post the sign-in form: ``sign_in(client, email, password=PASSWORD, remember=False)``."""

    def post(
        client: FlaskClient,
        email: str,
        password: str = PASSWORD,
        *,
        remember: bool = False,
        **kwargs: Any,
    ):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return client.post("/accounts/login", data=data, **kwargs)

    return post


@pytest.fixture
def registration(school: School) -> Callable[..., dict[str, Any]]:
    """The fields of a valid registration, with ``overrides``."""

    def make(**overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "full_name": "Inès Duval",
            "email": "ines.duval@example.org",
            "password": GOOD_PASSWORD,
            "school": school.name,
            "graduation_year": "2012",
            "country": "PT",
            "city": "Lisbonne",
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def mail_token(outbox: Callable[..., list]) -> Callable[[str, str], str]:
    """The token of the newest ``confirm`` or ``reset`` link mailed to an address."""

    def find(to: str, kind: str) -> str:
        path = {"confirm": "confirm", "reset": "password/reset"}[kind]
        for message in reversed(outbox(to=to)):
            match = re.search(rf"/accounts/{path}/([A-Za-z0-9_\-]+)", message.body_text)
            if match:
                return match.group(1)
        raise AssertionError(f"no {kind} link mailed to {to}")

    return find


@pytest.fixture
def evidence_files(app: Flask) -> Callable[[], set[str]]:
    """The names of the stored evidence files."""

    def names() -> set[str]:
        folder = Path(app.config["UPLOAD_FOLDER"]) / "evidence"
        return {path.name for path in folder.iterdir()} if folder.exists() else set()

    return names
