"""gunicorn settings of the marketplace: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Used by README's deploy section and by ``benchmarks/run`` (app and ceiling alike). Every value
comes from the environment, with defaults for a small dedicated machine behind nginx:

| variable | default | setting |
|---|---|---|
| ``GUNICORN_BIND`` | ``127.0.0.1:8000`` | address (comma-separated for several) |
| ``GUNICORN_WORKERS`` (or ``WEB_CONCURRENCY``) | CPU count | worker processes |
| ``GUNICORN_THREADS`` | 8 | threads per worker (gthread) |
| ``GUNICORN_WORKER_CONNECTIONS`` | 1000 | client connections one worker holds at once |
| ``GUNICORN_TIMEOUT`` | 30 | seconds before a silent worker is killed and replaced |
| ``GUNICORN_GRACEFUL_TIMEOUT`` | 30 | seconds a stopping worker has to finish its requests |
| ``GUNICORN_KEEPALIVE`` | 5 | seconds an idle keep-alive connection (from nginx) stays open |
| ``GUNICORN_MAX_REQUESTS`` | 0 (never) | requests after which a worker is replaced (with jitter) |
| ``GUNICORN_PRELOAD`` | 1 | load the app once in the master, before forking the workers |
| ``GUNICORN_ACCESS_LOG`` | ``-`` (stdout) | access log file; empty for none |
| ``GUNICORN_LOG_LEVEL`` | ``info`` | error log level |

Threads rather than processes: a request mostly waits for PostgreSQL and Redis, and one
process per core keeps memory low (the app is loaded once and shared by copy-on-write when
preloaded). Keep ``workers × threads`` within what PostgreSQL accepts (``max_connections``)
across every instance: each thread may hold one connection.

The access log gives the forwarded client address, the request, status, size and time in
milliseconds; tokens in URLs (password reset, confirmation, unsubscribe, wallet check) are
replaced by ``[token]``, since no token may reach a log (STYLE.md).
"""

from __future__ import annotations

import os
import re

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in {"0", "false", "no", "off"}


bind = [
    address.strip()
    for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
    if address.strip()
]
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 8)
# A worker accepts connections until it holds this many: with few long-lived connections
# (nginx's keep-alive pool, a load tester) one worker may take most of them and leave the
# other cores idle; a cap near connections ÷ workers shares them out (benchmarks/run sets it).
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
preload_app = _flag("GUNICORN_PRELOAD", True)
# Heartbeat files in memory: a worker's liveness is not held up by a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Client (as nginx forwards it), time, request, status, bytes, milliseconds, referrer, agent.
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s"'

# A path segment that follows one of these words is a secret of the person who has the link.
_TOKEN_SEGMENT = re.compile(r"(/(?:confirm|reset|enrol|unsubscribe|withdraw|check)/)[^/?#\s]+")
_TOKEN_QUERY = re.compile(r"((?:^|[?&])(?:token|code|key|secret)=)[^&#\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` (a request line, path or URL) without the tokens it may carry."""
    return _TOKEN_QUERY.sub(r"\1[token]", _TOKEN_SEGMENT.sub(r"\1[token]", text))


class RedactingLogger(Logger):
    """gunicorn's logger, with tokens taken out of the request line, path, query and referrer."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f", "{referer}i"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms


logger_class = RedactingLogger


def post_fork(server, worker):
    """A worker forked from a preloaded app opens its own database connections.

    Connections the master may have opened while loading the app must not be shared between
    processes (https://docs.sqlalchemy.org/en/20/core/pooling.html#using-connection-pools-with-multiprocessing-or-os-fork).
    Redis clients check the process id themselves.
    """
    if not server.cfg.preload_app:
        return
    app = server.app.wsgi()
    extensions = getattr(app, "extensions", {})
    if "sqlalchemy" not in extensions:  # another app (the benchmark's ceiling)
        return
    with app.app_context():
        for engine in extensions["sqlalchemy"].engines.values():
            engine.dispose(close=False)
