"""What a write or a firing reminder queues for the owner's webhooks, in its transaction."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from notifications import webhooks
from notifications.models import Delivery, Webhook
from notifications.signals import reminder_fired
from tasks.models import Task
from tasks.services import task_create, task_update, tasks_import
from tests.conftest import requires_postgresql
from tests.factories import TaskFactory, TaskListFactory
from tests.notifications.conftest import decoded

HOOK = "https://8.8.8.8/hook"


def tasks_url(user, task=None) -> str:
    return f"/api/{user.id}/tasks" + (
        f"/{task if isinstance(task, int) else task.pk}" if task else ""
    )


def lists_url(user, task_list=None) -> str:
    return f"/api/{user.id}/lists" + (f"/{task_list.pk}" if task_list else "")


@pytest.fixture
def webhook(user, make_webhook) -> Webhook:
    return make_webhook(user, HOOK)


class TestWhatAWriteQueues:
    def test_a_create_queues_the_task_exactly_as_its_get_answers(self, owner_client, user, webhook):
        created = owner_client.post(tasks_url(user), {"title": "Milk"}, format="json").json()

        assert decoded(webhook) == [{"type": "task.changed", "id": created["id"], "data": created}]
        assert (
            decoded(webhook)[0]["data"] == owner_client.get(tasks_url(user, created["id"])).json()
        )
        assert Delivery.objects.get().type == "task.changed"

    def test_each_write_keeps_the_object_as_it_was_right_after_it(
        self, owner_client, user, webhook
    ):
        task = owner_client.post(tasks_url(user), {"title": "Milk"}, format="json").json()
        renamed = owner_client.patch(
            tasks_url(user, task["id"]), {"title": "Oat milk"}, format="json"
        ).json()
        done = owner_client.patch(f"{tasks_url(user, task['id'])}/complete").json()

        assert [change["data"] for change in decoded(webhook)] == [task, renamed, done]
        assert [change["data"]["title"] for change in decoded(webhook)] == [
            "Milk",
            "Oat milk",
            "Oat milk",
        ]

    def test_a_delete_queues_a_deletion_with_null_data(self, owner_client, user, webhook):
        task = TaskFactory(user=user)
        Delivery.objects.all().delete()

        owner_client.delete(tasks_url(user, task))

        assert decoded(webhook) == [{"type": "task.deleted", "id": task.pk, "data": None}]

    def test_a_task_write_that_moves_a_lists_counts_queues_the_list_too(
        self, owner_client, user, webhook
    ):
        groceries = TaskListFactory(user=user, name="Groceries")
        Delivery.objects.all().delete()

        task = owner_client.post(
            tasks_url(user), {"title": "Milk", "list_id": groceries.pk}, format="json"
        ).json()

        assert decoded(webhook) == [
            {"type": "task.changed", "id": task["id"], "data": task},
            {
                "type": "list.changed",
                "id": groceries.pk,
                "data": owner_client.get(lists_url(user, groceries)).json(),
            },
        ]
        assert decoded(webhook)[1]["data"]["task_count"] == 1

    def test_deleting_a_list_reports_its_tasks_as_deleted(self, owner_client, user, webhook):
        groceries = TaskListFactory(user=user, name="Groceries")
        milk = TaskFactory(user=user, list_id=groceries.pk)
        bread = TaskFactory(user=user, list_id=groceries.pk)
        Delivery.objects.all().delete()

        assert owner_client.delete(lists_url(user, groceries)).status_code == 204

        assert sorted(decoded(webhook), key=lambda change: (change["type"], change["id"])) == [
            {"type": "list.deleted", "id": groceries.pk, "data": None},
            {"type": "task.deleted", "id": milk.pk, "data": None},
            {"type": "task.deleted", "id": bread.pk, "data": None},
        ]

    def test_a_bulk_write_queues_one_delivery_per_task(self, owner_client, user, webhook):
        tasks = [TaskFactory(user=user) for _ in range(5)]
        Delivery.objects.all().delete()

        owner_client.post(
            f"{tasks_url(user)}/bulk",
            {"action": "complete", "ids": [task.pk for task in tasks]},
            format="json",
        )

        changes = decoded(webhook)
        assert sorted(change["id"] for change in changes) == sorted(task.pk for task in tasks)
        assert all(change["data"]["completed"] for change in changes)

        owner_client.post(
            f"{tasks_url(user)}/bulk",
            {"action": "delete", "ids": [task.pk for task in tasks]},
            format="json",
        )
        assert [change["type"] for change in decoded(webhook)[5:]] == ["task.deleted"] * 5

    def test_an_import_queues_one_delivery_per_task(self, user, webhook):
        at = datetime(2026, 11, 1, tzinfo=UTC)
        tasks_import(
            tasks=[
                Task(
                    user=user, title=f"Imported {n}", position=f"a{n}", created_at=at, updated_at=at
                )
                for n in range(3)
            ]
        )

        assert [change["data"]["title"] for change in decoded(webhook)] == [
            "Imported 0",
            "Imported 1",
            "Imported 2",
        ]

    def test_only_the_subscribed_types_are_queued(self, owner_client, user, make_webhook):
        deletions = make_webhook(user, HOOK, events=["task.deleted"])
        task = owner_client.post(tasks_url(user), {"title": "Milk"}, format="json").json()
        assert decoded(deletions) == []

        owner_client.delete(tasks_url(user, task["id"]))

        assert decoded(deletions) == [{"type": "task.deleted", "id": task["id"], "data": None}]

    def test_every_active_webhook_of_the_owner_gets_its_own_delivery(
        self, owner_client, user, webhook, make_webhook
    ):
        second = make_webhook(user, "https://1.1.1.1/second")
        owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")

        assert decoded(webhook) == decoded(second)
        ids = Delivery.objects.values_list("event_id", flat=True)
        assert len(set(ids)) == 2

    def test_writes_are_queued_in_commit_order(self, owner_client, user, webhook):
        for n in range(5):
            owner_client.post(tasks_url(user), {"title": f"Task {n}"}, format="json")

        assert [change["data"]["title"] for change in decoded(webhook)] == [
            f"Task {n}" for n in range(5)
        ]

    def test_the_deliveries_are_sent_once_the_write_commits(
        self, owner_client, user, webhook, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")

        # The change feed's wake-up, and the webhook's send.
        assert len(callbacks) == 2
        assert Delivery.objects.count() == 1


class TestWhatIsNotQueued:
    def test_writes_before_the_webhook_existed(self, owner_client, user, make_webhook):
        TaskFactory(user=user)
        webhook = make_webhook(user, HOOK)
        assert decoded(webhook) == []

        owner_client.post(tasks_url(user), {"title": "After"}, format="json")

        assert [change["data"]["title"] for change in decoded(webhook)] == ["After"]

    def test_another_users_writes(self, client_for, other_user, webhook):
        client_for(other_user).post(tasks_url(other_user), {"title": "Theirs"}, format="json")
        TaskListFactory(user=other_user)

        assert decoded(webhook) == []

    def test_anything_for_an_inactive_webhook(self, owner_client, user, make_webhook):
        paused = make_webhook(user, HOOK, active=False)
        owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")

        assert decoded(paused) == []

    def test_writes_made_while_inactive_after_reactivation(self, owner_client, user, webhook):
        url = f"/api/{user.id}/webhooks/{webhook.pk}"
        owner_client.post(tasks_url(user), {"title": "Before"}, format="json")
        owner_client.patch(url, {"active": False}, format="json")
        assert decoded(webhook) == []  # what was queued and not sent is dropped
        owner_client.post(tasks_url(user), {"title": "While paused"}, format="json")

        owner_client.patch(url, {"active": True}, format="json")
        owner_client.post(tasks_url(user), {"title": "After"}, format="json")

        assert [change["data"]["title"] for change in decoded(webhook)] == ["After"]

    def test_anything_for_a_deleted_webhook(self, owner_client, user, webhook):
        owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")
        owner_client.delete(f"/api/{user.id}/webhooks/{webhook.pk}")
        owner_client.post(tasks_url(user), {"title": "Bread"}, format="json")

        assert not Delivery.objects.exists()

    def test_a_write_that_fails(self, owner_client, user, webhook):
        response = owner_client.post(
            tasks_url(user), {"title": "Milk", "list_id": 999}, format="json"
        )
        assert response.status_code == 400
        assert not Delivery.objects.exists()

    def test_a_write_that_rolls_back_takes_its_deliveries_with_it(self, user, webhook):
        task = TaskFactory(user=user)
        Delivery.objects.all().delete()

        with pytest.raises(RuntimeError), transaction.atomic():
            task_update(task=task, data={"title": "Renamed"})
            raise RuntimeError("the caller's transaction fails after the write")

        assert not Delivery.objects.exists()
        assert Task.objects.get().title == task.title


class TestReminders:
    def fire(self, user, task: Task) -> dict:
        payload = {"type": "reminder", "task": {"id": task.pk}, "fire_at": "2026-12-01T09:00:00Z"}
        with transaction.atomic():
            reminder_fired.send(sender=None, user_id=user.pk, payload=payload)
        return payload

    def test_a_firing_queues_its_payload_for_webhooks_subscribed_to_reminders(
        self, user, make_webhook
    ):
        reminders = make_webhook(user, HOOK, events=["reminder"])
        changes_only = make_webhook(user, HOOK, events=["task.changed"])
        paused = make_webhook(user, HOOK, events=["reminder"], active=False)
        task = TaskFactory(user=user)

        payload = self.fire(user, task)

        assert decoded(reminders)[-1] == payload
        assert reminders.deliveries.get().type == "reminder"
        assert all(change["type"] == "task.changed" for change in decoded(changes_only))
        assert decoded(paused) == []

    def test_another_users_reminder_is_not_queued(self, user, other_user, make_webhook):
        reminders = make_webhook(user, HOOK, events=["reminder"])
        self.fire(other_user, TaskFactory(user=other_user))

        assert decoded(reminders) == []


class TestQueries:
    """What webhooks cost a write: nothing for an owner who has none (the owner's lock reads
    `has_active_webhooks`); with some, a fixed number however many objects changed."""

    def test_a_create_without_webhooks_pays_no_query_for_them(
        self, owner_client, user, django_assert_num_queries
    ):
        # The user; in a savepoint (test transaction): the lock, the end of the group, the
        # insert.
        with django_assert_num_queries(6):
            response = owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")
        assert response.status_code == 201

    def test_a_paused_webhook_costs_a_write_nothing(
        self, owner_client, user, make_webhook, django_assert_num_queries
    ):
        webhooks.webhook_update(webhook=make_webhook(user, HOOK), data={"active": False})
        with django_assert_num_queries(6):
            owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")

    def test_a_create_with_webhooks_pays_a_fixed_number_more(
        self, owner_client, user, make_webhook, django_assert_num_queries
    ):
        make_webhook(user, HOOK)
        make_webhook(user, "https://1.1.1.1/second")
        # The 6 above, then the active webhooks, the changes since the cursor, their task,
        # the insert of the deliveries, the cursors' update.
        with django_assert_num_queries(11):
            owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")
        assert Delivery.objects.count() == 2

    @pytest.mark.parametrize("count", [2, 20])
    def test_a_bulk_write_with_a_webhook_costs_the_same_however_many_tasks(
        self, owner_client, user, make_webhook, count, django_assert_num_queries
    ):
        groceries = TaskListFactory(user=user)
        ids = [TaskFactory(user=user, list_id=groceries.pk).pk for _ in range(count)]
        make_webhook(user, HOOK)
        # The user; in a savepoint (two statements): the lock, the tasks, the update; the
        # webhooks, the changes, their tasks, their list, the cursor, the deliveries.
        with django_assert_num_queries(12):
            owner_client.post(
                f"{tasks_url(user)}/bulk", {"action": "complete", "ids": ids}, format="json"
            )
        assert Delivery.objects.count() == count + 1


class TestHasActiveWebhooks:
    """`User.has_active_webhooks`, which lets a write skip looking for webhooks, follows
    every change of the user's webhooks."""

    def flag(self, user) -> bool:
        user.refresh_from_db(fields=["has_active_webhooks"])
        return user.has_active_webhooks

    def test_creating_pausing_resuming_and_deleting_keep_it_true(self, user, make_webhook):
        assert not self.flag(user)
        first = make_webhook(user, HOOK)
        assert self.flag(user)
        second = make_webhook(user, "https://1.1.1.1/second", active=False)
        assert self.flag(user)
        webhooks.webhook_update(webhook=first, data={"active": False})
        assert not self.flag(user)
        webhooks.webhook_update(webhook=second, data={"active": True})
        assert self.flag(user)
        webhooks.webhook_delete(webhook=second)
        assert not self.flag(user)

    def test_another_users_webhooks_leave_it_alone(self, user, other_user, make_webhook):
        make_webhook(other_user, HOOK)
        assert not self.flag(user)

    def test_a_resumed_webhook_hears_the_next_write(self, owner_client, user, make_webhook):
        hook = make_webhook(user, HOOK)
        webhooks.webhook_update(webhook=hook, data={"active": False})
        webhooks.webhook_update(webhook=hook, data={"active": True})

        owner_client.post(tasks_url(user), {"title": "Milk"}, format="json")

        assert [body["type"] for body in decoded(hook)] == ["task.changed"]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_write_that_waited_for_a_webhooks_creation_is_delivered_to_it(
    user, make_webhook, monkeypatch
):
    """The write reads `has_active_webhooks` in its lock, after the webhook committed, not
    from the user row it was given (read before)."""
    created, release = threading.Event(), threading.Event()
    note = webhooks.note_active_webhooks

    def note_and_hold(user_id: str) -> None:
        note(user_id)
        created.set()
        release.wait(10)

    monkeypatch.setattr(webhooks, "note_active_webhooks", note_and_hold)
    hook: list[Webhook] = []
    creating = threading.Thread(target=in_thread(lambda: hook.append(make_webhook(user, HOOK))))
    creating.start()
    assert created.wait(10)
    writing = threading.Thread(
        target=in_thread(lambda: task_create(user=user, data={"title": "Milk"}))
    )
    writing.start()
    while not waiting_for_a_lock():
        time.sleep(0.01)
    release.set()
    creating.join(10)
    writing.join(10)

    assert [body["type"] for body in decoded(hook[0])] == ["task.changed"]


def in_thread(action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        finally:
            connection.close()

    return run


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
