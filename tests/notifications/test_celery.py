"""Reminders fired by real Celery worker and beat processes: to an open event stream, once,
with several of each running, and across a worker killed mid-firing."""

import queue
import signal
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from sync.models import FiredReminder
from tasks.models import Reminder
from tests.notifications.conftest import due_reminders, wait_until


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


def test_a_reminder_set_5_s_ahead_reaches_an_open_stream_once(
    celery_processes, open_stream, user, make_token, owner_client
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
    reminder = next_reminder(stream, timeout=60)
    received_at = timezone.now()

    assert reminder.id is None
    assert reminder.data["task"] == owner_client.get(f"/api/{user.id}/tasks/{created['id']}").json()
    assert reminder.data["fire_at"] == created["reminders"][0]["fire_at"]
    assert fire_at <= received_at < fire_at + timedelta(seconds=60)
    # Beat goes on starting the firing every second: it does not come again.
    with pytest.raises(queue.Empty):
        next_reminder(stream, timeout=3)
    assert fired_task_ids() == {created["id"]: 1}


def test_with_two_workers_and_two_beats_500_reminders_fire_exactly_once(
    celery_processes, open_stream, user, make_token
):
    celery_processes.worker("worker-a", "worker-b")
    celery_processes.beat("beat-a", "beat-b")
    stream = open_stream(f"/api/{user.id}/events", bearer(make_token(user.id)))
    start = timezone.now() + timedelta(seconds=5)
    # Spread over ten seconds of the same minute, so that both workers claim at once.
    tasks = due_reminders(user, [start + timedelta(milliseconds=20 * n) for n in range(500)])

    received = [next_reminder(stream, timeout=60) for _ in range(500)]

    assert Counter(event.data["task"]["id"] for event in received) == {t.id: 1 for t in tasks}
    with pytest.raises(queue.Empty):
        next_reminder(stream, timeout=3)
    assert fired_task_ids() == {task.id: 1 for task in tasks}
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
