"""Fired reminders on the live event stream, under a real uvicorn: to every open stream of
the user, once, without an `id:`, and never replayed."""

import queue
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.tasks import fire_batch
from sync import live
from sync.models import FiredReminder
from sync.tasks import purge_fired_reminders
from tests.factories import TaskFactory, UserFactory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events_path(user) -> str:
    return f"/api/{user.id}/events"


def fire_one(user, title="Call the bank") -> dict:
    """A reminder of a new task of `user`, fired now (as a worker would in a minute)."""
    soon = timezone.now() + timedelta(minutes=1)
    TaskFactory(user=user, title=title, reminders=[{"at": soon.isoformat()}])
    assert fire_batch(soon)[0] == 1
    return FiredReminder.objects.latest("id").payload


def next_reminder(stream, timeout=5):
    """The next reminder event, skipping the task.changed events of the test's own writes."""
    deadline = time.monotonic() + timeout
    while True:
        event = stream.next(timeout=max(0.0, deadline - time.monotonic()))
        if event is None or event.type == "reminder":
            return event


def test_a_firing_reaches_every_open_stream_of_the_user_once(open_stream, user, make_token):
    streams = [open_stream(events_path(user), bearer(make_token(user.id))) for _ in range(2)]
    stranger = UserFactory()
    other = open_stream(events_path(stranger), bearer(make_token(stranger.id)))
    time.sleep(0.3)  # let them subscribe

    payload = fire_one(user)

    for stream in streams:
        event = next_reminder(stream)
        assert (event.type, event.id, event.data) == ("reminder", None, payload)
        assert payload["type"] == "reminder" and payload["task"]["title"] == "Call the bank"
        with pytest.raises(queue.Empty):
            next_reminder(stream, timeout=1.5)  # not twice
    with pytest.raises(queue.Empty):
        other.next(timeout=0.5)


def test_a_firing_whose_wake_up_call_is_lost_still_arrives_once(
    open_stream, user, make_token, monkeypatch
):
    """The hub's look at the fired reminders finds it on the next heartbeat."""
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 1)
    stream = open_stream(events_path(user), bearer(make_token(user.id)))
    time.sleep(0.3)
    monkeypatch.setattr(live, "publisher", None)

    payload = fire_one(user)

    assert next_reminder(stream, timeout=3).data == payload
    with pytest.raises(queue.Empty):
        next_reminder(stream, timeout=2.5)  # not twice


def test_reminders_are_not_replayed_to_a_stream_opened_later(open_stream, user, make_token):
    stream = open_stream(events_path(user), bearer(make_token(user.id)))
    time.sleep(0.3)
    fire_one(user, title="first")
    seen = [stream.next(), next_reminder(stream)]
    stream.close()

    again = open_stream(
        events_path(user), {**bearer(make_token(user.id)), "Last-Event-ID": seen[0].id}
    )
    time.sleep(0.3)
    fire_one(user, title="second")

    events = [again.next(), again.next()]
    assert [event.type for event in events] == ["task.changed", "reminder"]
    assert events[1].data["task"]["title"] == "second"
    with pytest.raises(queue.Empty):
        again.next(timeout=1)


def test_old_fired_reminders_are_purged(db, user):
    fire_one(user)
    FiredReminder.objects.update(fired_at=timezone.now() - live.FIRED_REMINDER_RETENTION)
    fire_one(user)

    assert purge_fired_reminders() == 1
    assert FiredReminder.objects.count() == 1
