"""EXPLAIN (ANALYZE, BUFFERS) of the hot queries, captured from the real code paths.

An in-process app (same code, the benchmark's database) serves the hot pages through Flask's
test client while a ``before_cursor_execute`` listener records every statement with its
parameters; each distinct statement is then explained on a psycopg connection inside a
transaction that is rolled back (``EXPLAIN ANALYZE`` of an UPDATE runs it).

A plan that reads a table of more than ``LARGE_TABLE_ROWS`` rows with a sequential scan is
a failure: at 20,000 offers and a million redemptions, such a query grows with the data.

    python benchmarks/explain.py --database-url postgresql://…/bench_123 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, select, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LARGE_TABLE_ROWS = 10_000
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")


@dataclass
class Captured:
    """The statements one code path ran."""

    name: str
    status: int = 0
    statements: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Explained:
    path: str
    statement: str
    plan: str
    seq_scans: list[tuple[str, int]]


def _pick(session, sql: str, **params: Any) -> Any:
    return session.execute(text(sql), params).scalar()


def capture(database_url: str) -> list[Captured]:
    """Serve each hot path once in-process and record its SQL."""
    from marketplace import create_app
    from marketplace.accounts.models import User
    from marketplace.accounts.services import issue_api_token
    from marketplace.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": "",
            "MAIL_SERVER": "",
        }
    )
    results: list[Captured] = []
    current: list[Captured] = []

    with app.app_context():
        session = db.session
        offer_id = _pick(
            session,
            "SELECT id FROM offers WHERE status = 'PUBLISHED' AND audience = 'ALUMNI' "
            "AND total_limit IS NULL AND (ends_at IS NULL OR ends_at > now() + interval '1 day') "
            "AND (starts_at IS NULL OR starts_at < now()) ORDER BY redeemed_count DESC LIMIT 1",
        )
        alumnus_id = _pick(
            session,
            "SELECT u.id FROM users u JOIN alumni_profiles p ON p.user_id = u.id "
            "WHERE p.status = 'VERIFIED' AND u.email LIKE 'alumnus%' AND NOT EXISTS "
            "(SELECT 1 FROM redemptions r WHERE r.user_id = u.id AND r.offer_id = :offer) "
            "ORDER BY u.id DESC LIMIT 1",
            offer=offer_id,
        )
        job_id = _pick(
            session,
            "SELECT job_id FROM applications GROUP BY job_id ORDER BY count(*) DESC LIMIT 1",
        )
        owner_email = _pick(
            session,
            "SELECT u.email FROM users u JOIN partner_members m ON m.user_id = u.id "
            "JOIN jobs j ON j.partner_id = m.partner_id WHERE j.id = :job",
            job=job_id,
        )
        alumnus = session.get(User, alumnus_id)
        token, _row = issue_api_token(alumnus)
        alumnus_email = alumnus.email
        session.commit()
        year = date.today().year - 1

    def listener(conn, cursor, statement, parameters, context, executemany):
        if current:
            current[-1].statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", listener)

    def run(name: str, call) -> None:
        current.append(Captured(name))
        response = call()
        current[-1].status = response.status_code
        results.append(current.pop())

    from benchmarks.scenarios import PASSWORD, QUERIES, SEARCH_FILTERS

    anonymous = app.test_client()
    run("offer search, visitor, with filters", lambda: anonymous.get(f"/offers/?{SEARCH_FILTERS}"))
    run("offer listing, visitor", lambda: anonymous.get("/offers/"))
    run("offer page", lambda: anonymous.get(f"/offers/{offer_id}"))
    run("job search", lambda: anonymous.get(f"/jobs/?q={QUERIES['jobs'][0]}&country=FR"))
    run("job listing", lambda: anonymous.get("/jobs/"))
    run(
        "redemption (API)",
        lambda: anonymous.post(
            f"/api/v1/offers/{offer_id}/redemptions", headers={"Authorization": f"Bearer {token}"}
        ),
    )

    member = app.test_client()
    member.post("/accounts/login", data={"email": alumnus_email, "password": PASSWORD})
    run("offer search, signed-in alumnus", lambda: member.get(f"/offers/?{SEARCH_FILTERS}"))

    partner = app.test_client()
    partner.post("/accounts/login", data={"email": owner_email, "password": PASSWORD})
    run("pipeline of the busiest job", lambda: partner.get(f"/jobs/manage/pipeline/{job_id}"))

    treasurer = app.test_client()
    sign_in_treasurer(app, treasurer)
    run(
        "treasury dashboard, one year",
        lambda: treasurer.get(f"/treasury/?start={year}-01-01&end={year}-12-31"),
    )
    run(
        "treasury summary API, one year",
        lambda: treasurer.get(f"/api/v1/treasury/summary?from={year}-01-01&to={year}-12-31"),
    )
    run(
        "treasury payments table, one year",
        lambda: treasurer.get(f"/treasury/payments?start={year}-01-01&end={year}-12-31"),
    )
    with app.app_context():
        event.remove(engine, "before_cursor_execute", listener)
        engine.dispose()
    return results


def sign_in_treasurer(app, client) -> None:
    """Password, then two-factor enrolment (the code computed from the stored secret)."""
    import pyotp

    from benchmarks.scenarios import TREASURER_EMAIL, TREASURER_PASSWORD
    from marketplace.accounts.models import User
    from marketplace.extensions import db

    client.post("/accounts/login", data={"email": TREASURER_EMAIL, "password": TREASURER_PASSWORD})
    client.get("/accounts/two-factor/setup")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == TREASURER_EMAIL))
        secret, enrolled = user.totp_secret, user.totp_enabled_at is not None
        db.session.rollback()
    target = "/accounts/two-factor" if enrolled else "/accounts/two-factor/setup"
    for _attempt in range(2):
        response = client.post(target, data={"code": pyotp.TOTP(secret).now()})
        if response.status_code in (200, 302) and b'name="code"' not in response.data:
            return
        # A code is accepted once: the previous sign-in may have used this one.
        time.sleep(31 - time.time() % 30)
    raise SystemExit(f"treasurer sign-in failed at {target}: HTTP {response.status_code}")


def table_rows(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class "
        "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
    ).fetchall()
    return {name: int(count) for name, count in rows}


def explain(database_url: str, captured: list[Captured]) -> list[Explained]:
    """EXPLAIN (ANALYZE, BUFFERS) each distinct data statement, in a rolled-back transaction."""
    out: list[Explained] = []
    seen: set[str] = set()
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        sizes = table_rows(conn)
        for path in captured:
            for statement, parameters in path.statements:
                head = statement.lstrip().split(None, 1)[0].upper()
                if head not in {"SELECT", "UPDATE", "INSERT", "DELETE", "WITH"}:
                    continue
                if statement in seen:
                    continue
                seen.add(statement)
                try:
                    with conn.transaction(force_rollback=True):
                        rows = conn.execute(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters or None
                        ).fetchall()
                except psycopg.errors.IntegrityError as error:
                    # Replaying an INSERT of the run collides with the row it made: plan only.
                    with conn.transaction(force_rollback=True):
                        rows = conn.execute("EXPLAIN " + statement, parameters or None).fetchall()
                    rows.insert(0, (f"(not executed: {type(error).__name__})",))
                plan = "\n".join(row[0] for row in rows)
                scans = [
                    (table, sizes.get(table, 0))
                    for table in SEQ_SCAN.findall(plan)
                    if sizes.get(table, 0) > LARGE_TABLE_ROWS
                ]
                out.append(Explained(path.name, statement, plan, scans))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--json", help="Write the plans to this file as JSON.")
    parser.add_argument("--quiet", action="store_true", help="Print only the failures.")
    args = parser.parse_args(argv)
    captured = capture(args.database_url)
    plans = explain(args.database_url, captured)
    failures = [plan for plan in plans if plan.seq_scans]
    for path in captured:
        print(f"# {path.name}: HTTP {path.status}, {len(path.statements)} statements")
    for plan in plans:
        if args.quiet and not plan.seq_scans:
            continue
        print(f"\n## {plan.path}\n{plan.statement.strip()}\n{plan.plan}")
    if args.json:
        Path(args.json).write_text(
            json.dumps([plan.__dict__ for plan in plans], indent=1, default=str)
        )
    for plan in failures:
        tables = ", ".join(f"{table} ({rows} rows)" for table, rows in plan.seq_scans)
        print(f"FAIL sequential scan of {tables} in: {plan.path}", file=sys.stderr)
    print(
        f"\nEXPLAIN: {len(plans)} statements, "
        f"{len(failures)} with a sequential scan of a table over {LARGE_TABLE_ROWS} rows"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
