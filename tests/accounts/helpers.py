"""Plain helpers of the account tests."""

from __future__ import annotations

import time

import pyotp
from flask.testing import FlaskClient

from tests.conftest import TOTP_SECRET

# A valid PDF as far as the upload check goes (magic bytes), small enough for every test.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GOOD_PASSWORD = "a walk along the tagus river"


def wrong_totp_code() -> str:
    """Six digits that are none of the codes accepted around now."""
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    accepted = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in accepted)


def session_user_id(client: FlaskClient) -> str | None:
    """The user id the client's session cookie carries, if any."""
    with client.session_transaction() as session:
        return session.get("_user_id")
