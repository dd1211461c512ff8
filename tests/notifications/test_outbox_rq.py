"""With ``REDIS_URL``: mail goes from the committed outbox to a real RQ queue on the real
Redis, and a real worker (rq's SimpleWorker, in burst mode, in this process) sends it.

Each test has a queue of its own (``MAIL_QUEUE_NAME``), deleted at the end, so parallel runs
on the shared Redis never take each other's jobs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker

from marketplace.database import utcnow
from marketplace.notifications.queue import EXTENSION_KEY, mail_queue
from tests.notifications import test_outbox
from tests.notifications.test_outbox import (
    MINIMAL_PDF,
    apply_form,
    closed_port,
    newest_id,
    queued_since,
    run_mail_task,
)
from tests.offers import conftest as offer_fixtures

# Fixtures of test_outbox.py and of the offers suite.
add_partner_member = offer_fixtures.add_partner_member
job_setup = test_outbox.job_setup
mail_server = test_outbox.mail_server

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_queue(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    """The app in "production" mode: REDIS_URL set, a queue name of this test's own."""
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "MAIL_QUEUE_NAME", f"mail-test-{uuid.uuid4().hex}")
    app.extensions.pop(EXTENSION_KEY, None)
    with app.app_context():
        queue = mail_queue()
    try:
        yield queue
    finally:
        queue.delete(delete_jobs=True)
        # The queue's registries (finished, failed...) are named after it; jobs expire.
        for key in queue.connection.scan_iter(f"rq:*:{queue.name}"):
            queue.connection.delete(key)
        queue.connection.close()
        app.extensions.pop(EXTENSION_KEY, None)


def test_mail_is_queued_after_the_commit_and_sent_once_by_the_worker(
    app, client, login, job_setup, mail_server, redis_queue
):
    job, manager, candidate = job_setup
    sink = mail_server()
    login(client, candidate)
    before = newest_id(app)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(MINIMAL_PDF),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    queued = queued_since(app, before)
    assert {candidate.email, manager.email} <= {m.recipient for m in queued}
    # Not sent in the request: one job per message on the queue, carrying only its id.
    assert sink.received == []
    assert [(m.status, m.attempts) for m in queued] == [("pending", 0)] * len(queued)
    jobs = redis_queue.get_jobs()
    assert sorted(job.args[0] for job in jobs) == [m.id for m in queued]

    with app.app_context():
        worker = SimpleWorker([redis_queue], connection=redis_queue.connection)
        worker.work(burst=True)
    assert redis_queue.count == 0
    assert sorted(mail["To"] for mail in sink.received) == sorted(m.recipient for m in queued)
    assert [(m.status, m.attempts) for m in queued_since(app, before)] == [("sent", 1)] * len(
        queued
    )

    # The same ids queued again (a job run twice): nothing goes out a second time.
    for message in queued:
        redis_queue.enqueue("marketplace.notifications.queue.send_job", message.id)
    with app.app_context():
        SimpleWorker([redis_queue], connection=redis_queue.connection).work(burst=True)
    assert len(sink.received) == len(queued)


def test_with_redis_down_the_request_succeeds_and_the_due_task_sends(
    app, client, login, job_setup, mail_server, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    app.extensions.pop(EXTENSION_KEY, None)
    job, _manager, candidate = job_setup
    sink = mail_server()
    login(client, candidate)
    before = newest_id(app)
    try:
        response = client.post(
            f"/jobs/applications/apply/{job.id}",
            data=apply_form(MINIMAL_PDF),
            content_type="multipart/form-data",
        )
    finally:
        app.extensions.pop(EXTENSION_KEY, None)
    assert response.status_code == 302
    queued = queued_since(app, before)
    assert queued
    assert sink.received == []
    # Cron's due task does not need Redis: it sends what is due itself.
    assert run_mail_task(app, utcnow()) == f"mail: {len(queued)} pending e-mail(s) sent"
    assert sorted(mail["To"] for mail in sink.received) == sorted(m.recipient for m in queued)


def test_the_worker_command_refuses_to_start_without_redis(app):
    result = app.test_cli_runner().invoke(args=["notifications", "worker", "--burst"])
    assert result.exit_code != 0
    assert "REDIS_URL" in result.output


def test_the_worker_command_sends_the_queue(app, mail_server, redis_queue):
    """``flask notifications worker --burst``: the documented entry point, end to end."""
    recipient = f"cli-{uuid.uuid4().hex[:6]}@example.org"
    message_id = test_outbox._message(app, recipient)
    redis_queue.enqueue("marketplace.notifications.queue.send_job", message_id)
    sink = mail_server()
    result = app.test_cli_runner().invoke(args=["notifications", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert [mail["To"] for mail in sink.received] == [recipient]
    assert Redis.from_url(REDIS_URL).ping()
