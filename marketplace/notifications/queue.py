"""The e-mail queue on Redis (RQ), used only when ``REDIS_URL`` is set.

A request commits its change and its outbox rows, then puts the message ids on the ``mail``
queue; a worker (``flask --app wsgi notifications worker``, or ``rq worker mail`` with the
same environment) sends them. The outbox stays the source of truth: a job carries only an
id, a message already sent or claimed by another sender is skipped, and whatever never
reached the queue (Redis down) is sent by the ``mail`` due task of ``flask tasks run-due``.
Without ``REDIS_URL`` nothing here runs and ``make run`` needs no Redis.
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup, ScriptInfo
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "mail"
EXTENSION_KEY = "mail_queue"
# What sends one outbox message (``services.send_one``), set by ``notifications.init_app``:
# the services enqueue through this module, so it does not import them back.
SENDER_KEY = "mail_sender"

notifications_cli = AppGroup("notifications", help="E-mail delivery.")

_worker_app: Flask | None = None


def queue_name() -> str:
    """The queue's name (tests give each run its own through ``MAIL_QUEUE_NAME``)."""
    return current_app.config.get("MAIL_QUEUE_NAME") or DEFAULT_QUEUE


def mail_queue() -> Queue:
    """The app's RQ queue, its Redis connection pool built once per app."""
    queue = current_app.extensions.get(EXTENSION_KEY)
    if queue is None:
        connection = Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5
        )
        queue = Queue(queue_name(), connection=connection)
        current_app.extensions[EXTENSION_KEY] = queue
    return queue


def enqueue(message_ids: list[int]) -> bool:
    """Put committed message ids on the queue; False (logged) if Redis cannot be reached."""
    queue = mail_queue()
    try:
        for message_id in message_ids:
            queue.enqueue(send_job, message_id, result_ttl=0, failure_ttl=86400)
    except RedisError as error:
        logger.warning(
            "mail queue unavailable (%s): %d message(s) left to the due task",
            type(error).__name__,
            len(message_ids),
        )
        return False
    return True


def _app_for_job() -> Flask:
    """Outside ``flask notifications worker`` (a plain ``rq worker``), the app the ``flask``
    command would load: ``FLASK_APP``, else ``wsgi.py`` in the working directory."""
    global _worker_app
    if _worker_app is None:
        _worker_app = ScriptInfo().load_app()
    return _worker_app


def send_job(message_id: int) -> bool:
    """The RQ job: send one outbox message if it is still due (a retry is the due task's)."""
    if has_app_context():
        return current_app.extensions[SENDER_KEY](message_id)
    with _app_for_job().app_context():
        return current_app.extensions[SENDER_KEY](message_id)


@notifications_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker_command(burst: bool) -> None:
    """Send the e-mails queued on Redis (needs REDIS_URL)."""
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: e-mails are sent inline, no worker.")
    queue = mail_queue()
    # Jobs run in this process, inside the app context the command already has.
    SimpleWorker([queue], connection=queue.connection).work(burst=burst)
