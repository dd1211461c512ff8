"""The one live-server harness: the app served by gunicorn on a database of its own.

For tests whose behaviour lives in HTTP and real commits (races, Host headers, proxies,
Redis down, two instances). ``serve(make_database, folder, **env)`` migrates a fresh database
of the run's backend with ``flask db upgrade`` (or takes ``database_url``, already migrated),
starts gunicorn with the repository's ``gunicorn.conf.py`` (``workers`` x ``threads``, one
worker and four threads by default) on a free port with the given environment, waits for
``/healthz`` and yields a ``Server`` (URL, an engine on its database, the log). The server is
stopped at the end.

``free_port()`` (also a closed port: bound, then released) and ``wait_until_healthy`` serve
the other subprocess servers of the suite (localstripe, the browser tests' ``flask run``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine

from marketplace.config import normalise_database_url

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


@dataclass
class Server:
    """A running app: its base URL, an engine on its database, its log."""

    url: str
    engine: Engine
    log: Path


def free_port() -> int:
    """A local TCP port nothing listens on (bound and released: refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


closed_port = free_port


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    """Return once ``url/healthz`` answers 200; raise with the log's tail if the server died."""
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited ({process.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = error
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz ({last!r}):\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """Terminate ``process``, killing it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def app_env(database_url: str, folder: Path, **overrides: str) -> dict[str, str]:
    """The environment of a served app: private folders, no SMTP, no Stripe, and ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("FLASK_", "MAIL_", "STRIPE_", "SITE_", "TRUSTED_", "PROXY_", "RATELIMIT_")
        )
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


def flask(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``flask --app wsgi ARGS`` in that environment; the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],  # noqa: S603
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def serve(
    make_database: Callable[[], str] | None,
    folder: Path,
    *,
    database_url: str | None = None,
    workers: int = 1,
    threads: int = 4,
    app: str = "wsgi:app",
    gunicorn_args: Sequence[str] = (),
    log_name: str = "gunicorn.log",
    **env_overrides: str,
) -> Iterator[Server]:
    """The app under gunicorn (``workers`` x ``threads``) with ``env_overrides``.

    Without ``database_url``, a fresh database from ``make_database`` is migrated first.
    """
    port = free_port()
    # The repository's gunicorn.conf.py, as deployed, told its size through its variables.
    overrides = {
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_TIMEOUT": "60",
        **env_overrides,
    }
    if database_url is None:
        assert make_database is not None
        database_url = make_database()
        env = app_env(database_url, folder, **overrides)
        migrated = flask(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    else:
        env = app_env(database_url, folder, **overrides)
    log = folder / log_name
    with log.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *gunicorn_args, app],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    engine = create_engine(normalise_database_url(database_url))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield Server(url=url, engine=engine, log=log)
    finally:
        stop(process)
        engine.dispose()
