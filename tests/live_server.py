"""A real app server for tests whose behaviour lives in HTTP: Host headers, proxies, Redis down.

``serve(make_database, folder, **env)`` migrates a fresh database of the run's backend with
``flask db upgrade``, starts gunicorn with the repository's ``gunicorn.conf.py`` (one worker
and four threads unless ``GUNICORN_*`` variables say otherwise) on a free port with the
given environment, waits for ``/healthz`` and yields a ``tests.offers.test_concurrency.Server``
(URL, an engine on its database, the log). The server is stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine

from marketplace.config import normalise_database_url
from tests.offers.test_concurrency import Server, _free_port, _wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def app_env(database_url: str, folder: Path, **overrides: str) -> dict[str, str]:
    """The environment of a served app: private folders, no SMTP, no Stripe, and ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "MAIL_", "STRIPE_", "SITE_", "TRUSTED_", "PROXY_"))
    }
    env.update(
        APP_ENV="development",
        DATABASE_URL=database_url,
        SECRET_KEY="live-server-secret-key-not-for-production-0123456789",
        MAIL_SERVER="",
        MAIL_OUTBOX_FOLDER=str(folder / "outbox"),
        UPLOAD_FOLDER=str(folder / "uploads"),
        REDIS_URL="",
        PREFERRED_URL_SCHEME="http",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``flask --app wsgi ARGS`` in that environment; the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],  # noqa: S603
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def serve(make_database: Callable[[], str], folder: Path, **env_overrides: str) -> Iterator[Server]:
    """The app under gunicorn on a fresh migrated database, with ``env_overrides``."""
    database_url = make_database()
    port = _free_port()
    # The repository's gunicorn.conf.py, as deployed; one small worker unless told otherwise.
    gunicorn_env = {
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_TIMEOUT": "60",
    }
    env = app_env(database_url, folder, **{**gunicorn_env, **env_overrides})
    migrated = flask(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    log = folder / "gunicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    engine = create_engine(normalise_database_url(database_url))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log)
        yield Server(url=url, engine=engine, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        engine.dispose()


def closed_port() -> int:
    """A local TCP port nothing listens on (bound and released: refused at once)."""
    return _free_port()
