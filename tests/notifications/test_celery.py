"""Reminders fired by real Celery worker and beat processes: to an open event stream, a
browser's push service and a webhook receiver, once each, with several workers and beats
running, and across a worker killed mid-firing."""

import queue
import signal
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from notifications import push
from sync.models import FiredReminder
from tasks.models import Reminder
from tests.notifications.conftest import Browser, due_reminders, wait_until


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fired_task_ids() -> Counter:
    """How often each task's reminder reached the streams' record of firings."""
    return Counter(row.payload["task"]["id"] for row in FiredReminder.objects.iterator())


def next_reminder(stream, timeout: float):
    while True:
        event = stream.next(timeout=timeout)
        if event is None or event.type == "reminder":
            return event


@pytest.fixture
def every_channel(celery_processes, push_service, webhook_receiver, make_webhook, user):
    """The user has a browser subscribed to push and a webhook subscribed to reminders, and
    the workers started from now on can push to that browser."""
    browser = Browser()
    push.subscribe(
        user=user, endpoint=push_service.endpoint(browser), **browser.subscription("")["keys"]
    )
    hook = make_webhook(user, webhook_receiver.url("/reminders"), events=["reminder"])
    webhook_receiver.expect(hook)
    celery_processes.env.update(push_service.worker_environment())


@pytest.mark.usefixtures("every_channel")
def test_a_reminder_set_5_s_ahead_reaches_the_browser_the_webhook_and_the_stream_once(
    celery_processes, open_stream, push_service, webhook_receiver, user, make_token, owner_client
):
    celery_processes.worker()
    celery_processes.beat()
    stream = open_stream(f"/api/{user.id}/events", bearer(make_token(user.id)))
    fire_at = timezone.now() + timedelta(seconds=5)

    created = owner_client.post(
        f"/api/{user.id}/tasks",
        {"title": "Stand up", "reminders": [{"at": fire_at.isoformat()}]},
        format="json",
    ).json()
    on_stream = next_reminder(stream, timeout=60)
    received_at = timezone.now()
    wait_until(
        lambda: push_service.received and webhook_receiver.payloads("/reminders"),
        60,
        "the push and the webhook",
        celery_processes,
    )

    expected = {
        "type": "reminder",
        "task": owner_client.get(f"/api/{user.id}/tasks/{created['id']}").json(),
        "fire_at": created["reminders"][0]["fire_at"],
    }
    assert on_stream.data == expected and on_stream.id is None
    assert fire_at <= received_at < fire_at + timedelta(seconds=60)
    # Decrypted with the browser's keys, after its VAPID signature was checked.
    assert push_service.rejected == [] and [r.payload for r in push_service.received] == [expected]
    # Verified with the webhook's secret by the standardwebhooks library.
    assert webhook_receiver.rejected == []
    assert webhook_receiver.payloads("/reminders") == [expected]
    # Beat goes on starting the firing every second: nothing comes again.
    with pytest.raises(queue.Empty):
        next_reminder(stream, timeout=3)
    assert len(push_service.received) == 1 and len(webhook_receiver.received) == 1
    assert fired_task_ids() == {created["id"]: 1}


@pytest.mark.usefixtures("every_channel")
def test_with_two_workers_and_two_beats_500_reminders_fire_exactly_once(
    celery_processes, open_stream, push_service, webhook_receiver, user, make_token
):
    celery_processes.worker("worker-a", "worker-b")
    celery_processes.beat("beat-a", "beat-b")
    stream = open_stream(f"/api/{user.id}/events", bearer(make_token(user.id)))
    start = timezone.now() + timedelta(seconds=5)
    # Spread over ten seconds of the same minute, so that both workers claim at once.
    tasks = due_reminders(user, [start + timedelta(milliseconds=20 * n) for n in range(500)])

    received = [next_reminder(stream, timeout=60) for _ in range(500)]
    wait_until(
        lambda: len(push_service.received) >= 500 and len(webhook_receiver.received) >= 500,
        120,
        "500 pushes and 500 webhook deliveries",
        celery_processes,
    )

    once_each = {t.id: 1 for t in tasks}
    assert Counter(event.data["task"]["id"] for event in received) == once_each
    with pytest.raises(queue.Empty):
        next_reminder(stream, timeout=3)
    assert push_service.rejected == [] and webhook_receiver.rejected == []
    assert Counter(r.payload["task"]["id"] for r in push_service.received) == once_each
    assert Counter(r.payload["task"]["id"] for r in webhook_receiver.received) == once_each
    assert fired_task_ids() == once_each
    for row in FiredReminder.objects.iterator():
        assert row.fired_at >= datetime.fromisoformat(row.payload["fire_at"])  # never early
    assert not Reminder.objects.exists()


def test_a_worker_killed_while_firing_loses_nothing_and_repeats_nothing(celery_processes, user):
    first = celery_processes.worker("first")
    celery_processes.beat()
    tasks = due_reminders(user, [timezone.now() + timedelta(seconds=3)] * 3000)

    wait_until(FiredReminder.objects.exists, 60, "the first batch", celery_processes)
    celery_processes.stop(first, sig=signal.SIGKILL)
    at_the_kill = FiredReminder.objects.count()
    celery_processes.worker("second")
    wait_until(
        lambda: FiredReminder.objects.count() >= 3000, 90, "every reminder", celery_processes
    )

    assert at_the_kill < 3000, "the worker was killed after it had fired everything"
    assert fired_task_ids() == {task.id: 1 for task in tasks}
    assert not Reminder.objects.exists()
