"""The `reminders` field at the HTTP boundary: what is accepted, what is answered, and the
schedule the write path keeps in step with it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tasks.models import Reminder, Task
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

DUE = "2027-03-01T09:00:00Z"


def tasks_url(user, task=None, suffix: str = "") -> str:
    base = f"/api/{user.id}/tasks"
    return f"{base}/{task['id'] if isinstance(task, dict) else task.id}{suffix}" if task else base


def create(client, user, **fields) -> dict:
    response = client.post(tasks_url(user), {"title": "Call the bank", **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def schedule(task) -> list[datetime]:
    task_id = task["id"] if isinstance(task, dict) else task.id
    rows = Reminder.objects.filter(task_id=task_id).order_by("fire_at")
    return list(rows.values_list("fire_at", flat=True))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestRepresentation:
    def test_reminders_are_answered_as_sent_with_their_fire_at(self, owner_client, user):
        task = create(
            owner_client,
            user,
            due_at=DUE,
            reminders=[{"before_due_minutes": 30}, {"at": "2027-02-28T20:00:00+01:00"}],
        )

        assert task["reminders"] == [
            {"before_due_minutes": 30, "fire_at": "2027-03-01T08:30:00Z"},
            {"at": "2027-02-28T19:00:00Z", "fire_at": "2027-02-28T19:00:00Z"},
        ]
        assert owner_client.get(tasks_url(user, task)).json()["reminders"] == task["reminders"]
        assert schedule(task) == [at("2027-02-28T19:00:00Z"), at("2027-03-01T08:30:00Z")]

    @pytest.mark.parametrize("body", [{}, {"reminders": None}, {"reminders": []}])
    def test_absent_or_null_means_none(self, owner_client, user, body):
        assert create(owner_client, user, **body)["reminders"] == []

    def test_null_on_patch_removes_them_and_their_schedule(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 5}])

        response = owner_client.patch(tasks_url(user, task), {"reminders": None}, format="json")

        assert response.json()["reminders"] == []
        assert schedule(task) == []

    def test_a_sent_fire_at_is_ignored_and_repeats_are_dropped(self, owner_client, user):
        sent = {"before_due_minutes": 10, "fire_at": "2020-01-01T00:00:00Z"}

        task = create(owner_client, user, due_at=DUE, reminders=[sent, sent])

        assert task["reminders"] == [{"before_due_minutes": 10, "fire_at": "2027-03-01T08:50:00Z"}]

    def test_a_reminder_at_the_due_time_fires_at_it(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 0}])

        assert task["reminders"][0]["fire_at"] == DUE

    def test_a_task_list_with_reminders_costs_the_same_queries(
        self, owner_client, user, django_assert_num_queries
    ):
        for _ in range(20):
            TaskFactory(user=user, due_at=at(DUE), reminders=[{"before_due_minutes": 15}])

        with django_assert_num_queries(2):  # the user, the page (cached count: none)
            response = owner_client.get(tasks_url(user), {"limit": 50})

        assert len(response.json()) == 20
        assert all(task["reminders"][0]["before_due_minutes"] == 15 for task in response.json())


class TestValidation:
    @pytest.mark.parametrize(
        ("reminders", "message"),
        [
            (
                [{"at": f"2027-01-0{n}T00:00:00Z"} for n in range(1, 7)],
                "A task carries at most 5 reminders.",
            ),
            (
                [{"before_due_minutes": 5, "at": DUE}],
                "Send before_due_minutes or at in a reminder, not both.",
            ),
            ([{"before_due_minutes": -1}], "before_due_minutes must be from 0 to 40320 (28 days)."),
            (
                [{"before_due_minutes": 40321}],
                "before_due_minutes must be from 0 to 40320 (28 days).",
            ),
            (
                [{"before_due_minutes": "15"}],
                "before_due_minutes must be a whole number of minutes.",
            ),
            (
                [{"before_due_minutes": 1.5}],
                "before_due_minutes must be a whole number of minutes.",
            ),
            (
                [{"before_due_minutes": True}],
                "before_due_minutes must be a whole number of minutes.",
            ),
            ([{"at": "tomorrow"}], "at must be an RFC 3339 datetime, e.g. 2026-11-23T10:00:00Z."),
            ([{"at": 1767225600}], "at must be an RFC 3339 datetime, e.g. 2026-11-23T10:00:00Z."),
            (
                [{"at": "2027-03-01T09:00:00"}],
                "at: Send the time zone offset with the datetime, e.g. 2026-11-23T10:00:00Z "
                "or 2026-11-23T11:00:00+01:00.",
            ),
            ([{}], 'Each reminder is {"before_due_minutes": <minutes>} or {"at": <datetime>}.'),
            (
                [{"minutes": 5}],
                'Each reminder is {"before_due_minutes": <minutes>} or {"at": <datetime>}.',
            ),
            ([15], 'Each reminder is {"before_due_minutes": <minutes>} or {"at": <datetime>}.'),
            (
                {"before_due_minutes": 15},
                'Reminders must be a list, e.g. [{"before_due_minutes": 15}].',
            ),
            ("15", 'Reminders must be a list, e.g. [{"before_due_minutes": 15}].'),
        ],
    )
    def test_a_bad_reminder_is_a_400_naming_reminders(self, owner_client, user, reminders, message):
        response = owner_client.post(
            tasks_url(user), {"title": "a", "due_at": DUE, "reminders": reminders}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["errors"] == {"reminders": [message]}
        assert not Task.objects.exists()

    def test_a_relative_reminder_without_due_at_is_a_400(self, owner_client, user):
        response = owner_client.post(
            tasks_url(user),
            {"title": "a", "reminders": [{"before_due_minutes": 10}]},
            format="json",
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["reminders"]
        assert "needs a due_at" in response.json()["errors"]["reminders"][0]

    def test_an_absolute_reminder_needs_no_due_at(self, owner_client, user):
        task = create(owner_client, user, reminders=[{"at": DUE}])

        assert task["reminders"] == [{"at": DUE, "fire_at": DUE}]

    def test_clearing_due_at_under_a_relative_reminder_is_a_400(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 10}])

        response = owner_client.patch(tasks_url(user, task), {"due_at": None}, format="json")

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["reminders"]
        assert Task.objects.get(pk=task["id"]).due_at == at(DUE)

    def test_clearing_due_at_and_the_reminders_together_is_fine(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 10}])

        response = owner_client.patch(
            tasks_url(user, task), {"due_at": None, "reminders": []}, format="json"
        )

        assert response.status_code == 200
        assert schedule(task) == []


class TestSchedule:
    def test_moving_due_at_moves_the_relative_reminders_only(self, owner_client, user):
        task = create(
            owner_client,
            user,
            due_at=DUE,
            reminders=[{"before_due_minutes": 60}, {"at": "2027-02-01T00:00:00Z"}],
        )

        response = owner_client.patch(
            tasks_url(user, task), {"due_at": "2027-04-01T09:00:00Z"}, format="json"
        )

        assert [r["fire_at"] for r in response.json()["reminders"]] == [
            "2027-04-01T08:00:00Z",
            "2027-02-01T00:00:00Z",
        ]
        assert schedule(task) == [at("2027-02-01T00:00:00Z"), at("2027-04-01T08:00:00Z")]

    def test_a_fire_at_already_past_when_written_is_never_scheduled(self, owner_client, user):
        task = create(owner_client, user, reminders=[{"at": "2020-01-01T00:00:00Z"}])

        assert task["reminders"][0]["fire_at"] == "2020-01-01T00:00:00Z"
        assert schedule(task) == []

    def test_moving_due_at_so_that_fire_at_is_past_disarms_it(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 0}])

        owner_client.patch(tasks_url(user, task), {"due_at": "2020-01-01T00:00:00Z"}, format="json")

        assert schedule(task) == []

    def test_moving_fire_at_into_the_future_rearms_a_fired_reminder(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 0}])
        Reminder.objects.filter(task_id=task["id"]).delete()  # as its firing does

        owner_client.patch(tasks_url(user, task), {"due_at": "2027-05-01T09:00:00Z"}, format="json")

        assert schedule(task) == [at("2027-05-01T09:00:00Z")]

    def test_a_write_that_keeps_a_fire_at_keeps_its_schedule(self, owner_client, user):
        # Due a minute from now: once it is past and still unfired (no worker ran), rewriting
        # the same reminders must not drop it.
        soon = timezone.now() + timedelta(minutes=1)
        task = TaskFactory(user=user, due_at=soon, reminders=[{"before_due_minutes": 0}])
        row = Reminder.objects.get(task=task)

        response = owner_client.patch(
            tasks_url(user, task),
            {"title": "renamed", "reminders": [{"before_due_minutes": 0}, {"at": DUE}]},
            format="json",
        )

        assert response.status_code == 200
        assert Reminder.objects.filter(task=task).order_by("fire_at").first().pk == row.pk
        assert len(schedule(task)) == 2

    def test_a_write_that_does_not_touch_them_leaves_the_schedule(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 5}])
        before = list(Reminder.objects.filter(task_id=task["id"]).values_list("pk", flat=True))

        owner_client.patch(tasks_url(user, task), {"title": "renamed"}, format="json")

        assert list(Reminder.objects.filter(task_id=task["id"]).values_list("pk", flat=True)) == (
            before
        )

    def test_deleting_a_task_drops_its_schedule(self, owner_client, user):
        task = create(owner_client, user, due_at=DUE, reminders=[{"before_due_minutes": 5}])

        owner_client.delete(tasks_url(user, task))

        assert not Reminder.objects.exists()


class TestRecurrence:
    def test_the_next_occurrence_carries_the_relative_reminders_only(self, owner_client, user):
        task = create(
            owner_client,
            user,
            due_at=DUE,
            recurrence="FREQ=WEEKLY",
            reminders=[{"before_due_minutes": 15}, {"at": "2027-02-27T10:00:00Z"}],
        )

        owner_client.patch(tasks_url(user, task, "/complete"), {"completed": True}, format="json")
        done = owner_client.get(tasks_url(user, task)).json()
        following = owner_client.get(f"{tasks_url(user)}/{done['next_occurrence_id']}").json()

        assert following["due_at"] == "2027-03-08T09:00:00Z"
        assert following["reminders"] == [
            {"before_due_minutes": 15, "fire_at": "2027-03-08T08:45:00Z"}
        ]
        assert schedule(following) == [at("2027-03-08T08:45:00Z")]

    def test_bulk_completion_arms_every_next_occurrence(self, owner_client, user):
        due = datetime(2027, 3, 1, 9, tzinfo=UTC)
        ids = [
            TaskFactory(
                user=user,
                due_at=due,
                recurrence="FREQ=DAILY",
                reminders=[{"before_due_minutes": 1}],
            ).id
            for _ in range(3)
        ]

        owner_client.post(
            f"{tasks_url(user)}/bulk", {"action": "complete", "ids": ids}, format="json"
        )

        spawned = Task.objects.filter(user=user, completed=False)
        assert Reminder.objects.filter(task__in=spawned).count() == 3
        assert set(Reminder.objects.filter(task__in=spawned).values_list("fire_at", flat=True)) == {
            due + timedelta(days=1, minutes=-1)
        }
