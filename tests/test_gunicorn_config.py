"""``gunicorn.conf.py``: settings from the environment with defaults, accepted by gunicorn,
and a preloaded multi-worker server that answers and logs without tokens (issue 17)."""

from __future__ import annotations

import runpy
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn.config import Config

from tests.live_server import serve

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "gunicorn.conf.py"
VARIABLES = (
    "GUNICORN_BIND",
    "GUNICORN_WORKERS",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_PRELOAD",
    "GUNICORN_ACCESS_LOG",
    "GUNICORN_LOG_LEVEL",
)


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    """The file read the way gunicorn reads it (each name set on a Config, validated)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(CONFIG))
    config = Config()
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_defaults_suit_a_small_machine_behind_nginx(monkeypatch):
    config = load(monkeypatch)
    assert config.address == [("127.0.0.1", 8000)]
    assert config.worker_class_str == "gthread"
    assert config.workers >= 1
    assert config.threads == 8
    assert config.timeout == 30
    assert config.graceful_timeout == 30
    assert config.preload_app is True
    assert config.accesslog == "-"
    assert config.max_requests == 0
    assert config.logger_class.__name__ == "RedactingLogger"
    assert callable(config.post_fork)


def test_every_value_comes_from_the_environment(monkeypatch):
    config = load(
        monkeypatch,
        GUNICORN_BIND="0.0.0.0:9000,unix:/tmp/app.sock",  # noqa: S104
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="2",
        GUNICORN_TIMEOUT="45",
        GUNICORN_GRACEFUL_TIMEOUT="10",
        GUNICORN_KEEPALIVE="75",
        GUNICORN_MAX_REQUESTS="1000",
        GUNICORN_PRELOAD="0",
        GUNICORN_ACCESS_LOG="",
        GUNICORN_LOG_LEVEL="warning",
    )
    assert config.address == [("0.0.0.0", 9000), "/tmp/app.sock"]  # noqa: S104, S108
    assert (config.workers, config.threads) == (3, 2)
    assert (config.timeout, config.graceful_timeout, config.keepalive) == (45, 10, 75)
    assert (config.max_requests, config.max_requests_jitter) == (1000, 100)
    assert config.preload_app is False
    assert config.accesslog is None
    assert config.loglevel == "warning"


def test_web_concurrency_sets_the_workers_when_gunicorn_workers_is_unset(monkeypatch):
    assert load(monkeypatch, WEB_CONCURRENCY="5").workers == 5
    assert load(monkeypatch, WEB_CONCURRENCY="5", GUNICORN_WORKERS="2").workers == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "GET /accounts/password/reset/IjQyIg.Zx9.abc HTTP/1.1",
            "GET /accounts/password/reset/[token] HTTP/1.1",
        ),
        ("POST /accounts/confirm/eyJhbGciOi HTTP/1.1", "POST /accounts/confirm/[token] HTTP/1.1"),
        ("/notifications/unsubscribe/abc.def?x=1", "/notifications/unsubscribe/[token]?x=1"),
        ("/offers/wallet/check/Q1w2E3", "/offers/wallet/check/[token]"),
        ("/accounts/two-factor/enrol/s3cr3t", "/accounts/two-factor/enrol/[token]"),
        ("/privacy/withdraw/s3cr3t", "/privacy/withdraw/[token]"),
        ("/offers/?q=hotels&token=abc&page=2", "/offers/?q=hotels&token=[token]&page=2"),
        ("GET /offers/?q=hotels&country=FR HTTP/1.1", "GET /offers/?q=hotels&country=FR HTTP/1.1"),
        ("/offers/42", "/offers/42"),
    ],
)
def test_tokens_never_reach_the_access_log(monkeypatch, line, expected):
    redact = runpy.run_path(str(CONFIG))["redact"]
    assert redact(line) == expected


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorn_serves_the_app_with_the_config(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    """Two preloaded workers answer; the access log has the request, its time, no token."""
    with serve(
        make_database,
        tmp_path,
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        GUNICORN_PRELOAD="1",
        GUNICORN_ACCESS_LOG="-",
    ) as server:
        # Enough requests for both workers to open their own database connections.
        statuses = {_get(f"{server.url}/offers/") for _ in range(20)}
        assert statuses == {200}
        assert _get(f"{server.url}/accounts/password/reset/secret-reset-token-1234") < 500
        deadline = time.monotonic() + 10
        while "password/reset/" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.log.read_text()
    assert "Using worker: gthread" in log
    assert log.count("Booting worker with pid") == 2
    assert '"GET /offers/ HTTP/1.1" 200' in log
    assert "/accounts/password/reset/[token]" in log
    assert "secret-reset-token-1234" not in log
