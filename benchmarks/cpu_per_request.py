"""CPU time per request, in-process, for the signed-in paths of issue 17.

Serves requests through Flask's test client (no HTTP server, no wrk) against a database
filled by ``flask seed scale``, and divides this process's CPU time (``time.process_time``)
by the number of requests: what the app itself costs per request, the database server's
work left out. Used for the before/after table in benchmarks/README.md::

    DATABASE_URL=postgresql://…/bench .venv/bin/python benchmarks/cpu_per_request.py -n 300

Scenarios: signed-in offer search, ``GET /api/v1/me`` by token, API redemption (each
request a different member, over 11 offers), treasury dashboard of last year. The
redemptions are real writes: each run takes members who have not redeemed those offers yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.extensions import db  # noqa: E402

SEARCHES = [
    f"/offers/?q={word}&category={category}&country={country}"
    for word, category in (("vols", "travel"), ("hotels", "travel"), ("livres", "culture"))
    for country in ("FR", "US")
]


def _session(client, user_id: int, version: int, *, mfa: bool = False) -> None:
    now = datetime.now(UTC).timestamp()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:{version}"
        session["_fresh"] = True
        session["login_at"] = now
        session["seen_at"] = now
        session["mfa"] = mfa


def _token(user_id: int) -> str:
    from marketplace.accounts.models import User
    from marketplace.accounts.services import issue_api_token

    token, _row = issue_api_token(db.session.get(User, user_id))
    return token


WARM_UP = 20


def _measure(name: str, count: int, call: Callable[[int], int]) -> tuple[str, float, int]:
    for index in range(WARM_UP):  # first-request work, caches filled
        call(index)
    started = time.process_time()
    failures = sum(1 for index in range(WARM_UP, WARM_UP + count) if call(index) >= 400)
    elapsed = time.process_time() - started
    return name, elapsed * 1000 / count, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=300)
    args = parser.parse_args()
    count = args.requests
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
        }
    )
    with app.app_context():
        member = db.session.execute(
            text(
                "SELECT u.id, u.session_version FROM users u "
                "JOIN alumni_profiles p ON p.user_id = u.id "
                "WHERE p.status = 'VERIFIED' AND p.country = 'FR' "
                "AND NOT EXISTS (SELECT 1 FROM partner_members m WHERE m.user_id = u.id) "
                "ORDER BY u.id LIMIT 1"
            )
        ).one()
        me_token = _token(member.id)
        offers = list(
            db.session.scalars(
                text(
                    "SELECT o.id FROM offers o WHERE status = 'PUBLISHED' AND audience = 'ALUMNI' "
                    "AND total_limit IS NULL AND starts_at IS NULL AND ends_at IS NULL "
                    "AND redemption_method IN ('SHARED_CODE', 'GENERATED_CODES') "
                    "AND NOT EXISTS (SELECT 1 FROM offer_countries c WHERE c.offer_id = o.id) "
                    "ORDER BY id LIMIT 11"
                )
            )
        )
        takers = list(
            db.session.scalars(
                text(
                    "SELECT u.id FROM users u JOIN alumni_profiles p ON p.user_id = u.id "
                    "WHERE p.status = 'VERIFIED' AND NOT EXISTS (SELECT 1 FROM redemptions r "
                    "WHERE r.user_id = u.id AND r.offer_id = ANY(:offers)) "
                    "ORDER BY u.id LIMIT :n"
                ),
                {"offers": offers, "n": count + WARM_UP},
            )
        )
        tokens = [_token(user_id) for user_id in takers]
        treasurer = db.session.execute(
            text(
                "SELECT u.id, u.session_version FROM users u JOIN user_roles r "
                "ON r.user_id = u.id WHERE r.role = 'treasurer' ORDER BY u.id LIMIT 1"
            )
        ).first()
        if treasurer is None:
            from marketplace.accounts.models import User, UserRole
            from marketplace.security import hash_password

            user = User(
                email=f"cpu-treasurer-{uuid.uuid4().hex[:6]}@bench.example.org",
                password_hash=hash_password(uuid.uuid4().hex),
                full_name="Cpu Treasurer",
                locale="en",
            )
            user.role_rows = [UserRole(role="treasurer")]
            db.session.add(user)
            db.session.flush()
            treasurer = (user.id, user.session_version)
        db.session.commit()
    year = datetime.now(UTC).year - 1
    reader = app.test_client()
    _session(reader, member[0], member[1])
    staff = app.test_client()
    _session(staff, treasurer[0], treasurer[1], mfa=True)
    api = app.test_client()
    me_headers = {"Authorization": f"Bearer {me_token}"}
    dashboard = f"/treasury/?start={year}-01-01&end={year}-12-31"
    scenarios = [
        ("signed-in offer search", lambda i: reader.get(SEARCHES[i % len(SEARCHES)]).status_code),
        ("GET /api/v1/me (token)", lambda i: api.get("/api/v1/me", headers=me_headers).status_code),
        (
            "API redemption (11 offers)",
            lambda i: (
                api.post(
                    f"/api/v1/offers/{offers[i % len(offers)]}/redemptions",
                    headers={"Authorization": f"Bearer {tokens[i]}"},
                ).status_code
            ),
        ),
        ("treasury dashboard, one year", lambda i: staff.get(dashboard).status_code),
    ]
    print(f"{'scenario':32} {'CPU ms/request':>15} {'4xx/5xx':>8}  (n={count})")
    for name, call in scenarios:
        runs = count if "redemption" not in name else len(tokens) - WARM_UP
        label, cpu_ms, failures = _measure(name, runs, call)
        print(f"{label:32} {cpu_ms:15.2f} {failures:8d}")


if __name__ == "__main__":
    main()
