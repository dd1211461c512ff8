"""Schemathesis against /api/v1/openapi.json, in process: no 5xx, answers match the document.

Every operation gets a bounded number of generated requests (positive and negative data),
sent through the WSGI app as the caller the operation is for: a verified alumnus, the
partner's owner, a moderator or a treasurer, each with a bearer token. Half of the generated
path ids are swapped for the ids of real rows, so the views run past their 404 too.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.payments import services as payment_services
from marketplace.payments.models import PaymentKind
from tests.hardening.conftest import World

# Bounded so the run stays short on two cores; ``SCHEMATHESIS_EXAMPLES=200`` digs deeper.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_world(
    app: Flask,
    stripe_app: Flask,  # checkout and refunds reach localstripe, not a dead port
    world: World,
) -> World:
    """The hardening world plus a pending payment of the verified alumnus."""
    with app.app_context():
        payment = payment_services.create_payment(
            kind=PaymentKind.MEMBERSHIP,
            amount=4000,
            currency="eur",
            payer=db.session.get(User, world.users["verified"].id),
            subject={"tier": "standard"},
            description="Membership",
        )
        db.session.commit()
        world.ids["payment_id"] = payment.id
    return world


def operation_labels() -> list[str]:
    """The API's operations, read from the document of an app built only for that.

    Read at collection so that each operation is its own test and a new route is in the run
    without editing this file.
    """
    spec_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "collection-only-secret-key-0123456789abcdef",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "REDIS_URL": "",
        }
    )
    spec = spec_app.test_client().get("/api/v1/openapi.json").get_json()
    return [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


OPERATIONS = operation_labels()


REAL_IDS = {
    "offer_id": "offer_id",
    "job_id": "job_id",
    "application_id": "application_id",
    "payment_id": "payment_id",
    "profile_id": "profile_id",
    "partner_id": "partner_id",
}


class BufferedClient(Client):
    """Werkzeug's client reading each answer whole, closing its iterator (and any open file).

    Schemathesis reads the body but does not close the response: a file sent by
    ``send_file`` (a CV) would stay open until collected, a ``ResourceWarning``.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["buffered"] = True
        return super().open(*args, **kwargs)


def caller_for(path: str) -> str:
    """Which member of the world an operation is meant for."""
    if path.startswith("/api/v1/partner/"):
        return "partner"
    if path.startswith("/api/v1/moderation/"):
        return "moderator"
    if path.startswith("/api/v1/treasury/"):
        return "treasurer"
    return "verified"


def point_at_real_rows(case: Any, ids: dict[str, int]) -> None:
    """Swap about half of the generated path ids for real ones (decided by the value itself)."""
    for name, value in list((case.path_parameters or {}).items()):
        key = REAL_IDS.get(name)
        if key and zlib.crc32(repr(value).encode()) % 2 == 0:
            case.path_parameters[name] = ids[key]


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_answers_without_5xx_and_as_documented(
    app: Flask, api_world: World, label: str
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    headers: dict[str, str] = {"Accept-Language": "en"}
    if operation.path != "/tokens" and not label.endswith(" /api/v1/tokens"):
        headers.update(api_world.headers[caller_for(label.split(" ", 1)[1])])
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        point_at_real_rows(case, api_world.ids)
        response = case.call_and_validate(
            session=BufferedClient(app), headers=headers, checks=CHECKS
        )
        if os.environ.get("SCHEMATHESIS_TRACE"):
            print("TRACE", label, response.status_code)  # noqa: T201

    run()


def test_the_schema_covers_the_api(app: Flask) -> None:
    """A guard that the run above sees the API: an empty document would pass it silently."""
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert sum(1 for _ in loaded.get_all_operations()) >= 40
