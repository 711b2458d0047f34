"""Firing reminders in-process: when, what, and exactly once (the Celery task's body)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.signals import reminder_fired
from notifications.tasks import fire_batch, fire_due_reminders
from sync.models import FiredReminder
from tasks.models import Reminder
from tasks.serializers import TaskSerializer
from tasks.services import task_complete, task_delete, task_update
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

WRITTEN = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def fired():
    """The (user_id, payload) of every `reminder_fired` sent during the test."""
    received: list[tuple[str, dict]] = []

    def receive(sender, user_id, payload, **kwargs):
        received.append((user_id, payload))

    reminder_fired.connect(receive)
    yield received
    reminder_fired.disconnect(receive)


def reminded(user, minutes=0, **fields):
    """A task due at DUE with a reminder `minutes` before, written at WRITTEN."""
    with time_machine.travel(WRITTEN, tick=False):
        return TaskFactory(
            user=user, due_at=DUE, reminders=[{"before_due_minutes": minutes}], **fields
        )


def fire_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return fire_due_reminders()


class TestWhen:
    def test_fires_at_fire_at_and_not_a_moment_before(self, user, fired):
        task = reminded(user)

        assert fire_at(DUE - timedelta(microseconds=1)) == 0
        assert fire_at(DUE) == 1
        assert fired == [
            (
                user.id,
                {
                    "type": "reminder",
                    "task": TaskSerializer(task).data,
                    "fire_at": "2027-03-01T09:00:00Z",
                },
            )
        ]

    def test_fires_once_however_often_the_firing_runs(self, user, fired):
        reminded(user)

        assert [fire_at(DUE + timedelta(seconds=n)) for n in range(3)] == [1, 0, 0]
        assert len(fired) == 1

    def test_the_payload_is_the_task_as_its_get_answers_it(self, user, fired, client_for):
        task = reminded(user, minutes=30, tags=["bank"])
        fire_at(DUE)
        # The token is minted now, outside the travelled clock.
        answer = client_for(user).get(f"/api/{user.id}/tasks/{task.id}").json()

        assert fired[0][1]["task"] == answer
        assert fired[0][1]["fire_at"] == "2027-03-01T08:30:00Z"

    def test_less_than_an_hour_late_still_fires(self, user, fired):
        reminded(user)

        assert fire_at(DUE + timedelta(minutes=59)) == 1

    def test_more_than_an_hour_late_is_dropped(self, user, fired):
        reminded(user)

        assert fire_at(DUE + timedelta(minutes=61)) == 0
        assert fired == []
        assert not Reminder.objects.exists()

    def test_a_fire_at_past_when_written_never_fires(self, user, fired):
        with time_machine.travel(DUE + timedelta(seconds=1), tick=False):
            TaskFactory(user=user, due_at=DUE, reminders=[{"before_due_minutes": 0}])

        assert fire_at(DUE + timedelta(seconds=2)) == 0

    def test_moving_fire_at_into_the_future_rearms_it(self, user, fired):
        task = reminded(user)
        fire_at(DUE)
        later = DUE + timedelta(days=1)

        with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
            task_update(task=task, data={"due_at": later})

        assert fire_at(later) == 1
        assert [payload["fire_at"] for _, payload in fired] == [
            "2027-03-01T09:00:00Z",
            "2027-03-02T09:00:00Z",
        ]

    def test_a_late_reminder_survives_a_write_that_keeps_its_fire_at(self, user, fired):
        task = reminded(user)
        # No worker ran at DUE; then the task is renamed and its reminders sent again.
        with time_machine.travel(DUE + timedelta(minutes=10), tick=False):
            task_update(task=task, data={"title": "renamed", "reminders": task.reminders})

        assert fire_at(DUE + timedelta(minutes=11)) == 1
        assert fired[0][1]["task"]["title"] == "renamed"

    def test_moving_fire_at_earlier_but_still_ahead_fires_at_the_new_time(self, user, fired):
        task = reminded(user)
        with time_machine.travel(WRITTEN + timedelta(minutes=1), tick=False):
            task_update(task=task, data={"due_at": DUE - timedelta(minutes=30)})

        assert fire_at(DUE - timedelta(minutes=30)) == 1
        assert fire_at(DUE) == 0


class TestWhichTasks:
    def test_a_completed_task_does_not_fire_even_when_reopened_later(self, user, fired):
        task = reminded(user)
        with time_machine.travel(WRITTEN + timedelta(minutes=1), tick=False):
            task = task_complete(task=task, completed=True)

        assert fire_at(DUE) == 0
        with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
            task_complete(task=task, completed=False)
        assert fire_at(DUE + timedelta(minutes=2)) == 0
        assert fired == []

    def test_a_task_reopened_before_fire_at_fires(self, user, fired):
        task = reminded(user)
        with time_machine.travel(WRITTEN + timedelta(minutes=1), tick=False):
            task = task_complete(task=task, completed=True)
            task_complete(task=task, completed=False)

        assert fire_at(DUE) == 1

    def test_a_deleted_task_does_not_fire(self, user, fired):
        task = reminded(user)
        task_delete(task=task)

        assert fire_at(DUE) == 0
        assert fired == []


class TestBatches:
    def test_a_run_fires_every_due_reminder_in_batches(self, user, fired):
        for _ in range(12):
            reminded(user)

        with time_machine.travel(DUE, tick=False):
            assert fire_batch(DUE, size=5) == (5, True)
            assert fire_due_reminders() == 7

        assert len(fired) == 12

    def test_soonest_first_and_each_recorded_for_the_streams(self, user, fired):
        reminded(user, minutes=1)
        reminded(user, minutes=2)

        fire_at(DUE)

        assert [payload["fire_at"] for _, payload in fired] == [
            "2027-03-01T08:58:00Z",
            "2027-03-01T08:59:00Z",
        ]
        assert [row.payload for row in FiredReminder.objects.order_by("id")] == [
            payload for _, payload in fired
        ]

    def test_a_batch_that_fails_fires_nothing_and_leaves_its_reminders(self, user):
        reminded(user)

        def fail(sender, **kwargs):
            raise RuntimeError("a channel could not queue its delivery")

        reminder_fired.connect(fail)
        try:
            with pytest.raises(RuntimeError):
                fire_at(DUE)
        finally:
            reminder_fired.disconnect(fail)

        assert Reminder.objects.count() == 1
        assert not FiredReminder.objects.exists()
        assert fire_at(DUE + timedelta(seconds=1)) == 1


@requires_postgresql
def test_concurrent_firings_share_no_reminder(transactional_db, user):
    for _ in range(300):
        reminded(user)

    def drain(n: int) -> int:
        total, more = 0, True
        while more:
            count, more = fire_batch(DUE, size=50)
            total += count
        return total

    counts = run_concurrently(4, drain)

    assert sum(counts) == 300
    assert FiredReminder.objects.count() == 300
    assert len({row.payload["task"]["id"] for row in FiredReminder.objects.all()}) == 300
