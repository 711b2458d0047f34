"""The change feed: every write by any path, each object once as it is now, cursors that no
concurrent writer can slip past."""

import queue
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import connections

from accounts.throttles import PerUserRateThrottle
from tasks.models import Change, Task
from tests.conftest import requires_postgresql
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def changes_url(user) -> str:
    return f"/api/{user.id}/changes"


def start(client, user) -> str:
    response = client.get(changes_url(user))
    assert response.status_code == 200
    assert response.json()["changes"] == [] and response.json()["has_more"] is False
    return response.json()["cursor"]


def since(client, user, cursor: str, **params) -> dict:
    response = client.get(changes_url(user), {"since": cursor, **params})
    assert response.status_code == 200, response.json()
    return response.json()


class TestFeed:
    def test_without_since_there_are_no_changes_only_the_current_cursor(
        self, owner_client, user, task
    ):
        response = owner_client.get(changes_url(user))

        assert response.json()["changes"] == []
        assert since(owner_client, user, response.json()["cursor"])["changes"] == []

    def test_writes_come_back_once_each_as_their_get_answers_now(self, owner_client, user):
        cursor = start(owner_client, user)
        tasks = f"/api/{user.id}/tasks"
        first = owner_client.post(tasks, {"title": "first"}, format="json").json()
        second = owner_client.post(tasks, {"title": "second"}, format="json").json()
        owner_client.patch(f"{tasks}/{first['id']}", {"title": "renamed"}, format="json")
        owner_client.delete(f"{tasks}/{second['id']}")

        answer = since(owner_client, user, cursor)

        # Each object at the place of its last change: first renamed, then second deleted.
        assert answer["changes"] == [
            {
                "type": "task.changed",
                "id": first["id"],
                "data": owner_client.get(f"{tasks}/{first['id']}").json(),
            },
            {"type": "task.deleted", "id": second["id"], "data": None},
        ]
        assert answer["has_more"] is False
        assert since(owner_client, user, answer["cursor"])["changes"] == []

    def test_every_write_path_is_recorded(self, owner_client, user, admin_client):
        cursor = start(owner_client, user)
        bulk_target = TaskFactory(user=user)
        recurring = TaskFactory(
            user=user, recurrence="FREQ=DAILY", due_at=datetime(2027, 1, 1, tzinfo=UTC)
        )
        owner_client.post(
            f"/api/{user.id}/tasks/bulk",
            {"action": "complete", "ids": [bulk_target.id, recurring.id]},
            format="json",
        )
        admin_client.post(
            "/admin/tasks/task/", {"action": "reopen", "_selected_action": [bulk_target.id]}
        )
        Task.objects.filter(pk=bulk_target.pk).update(title="typed into psql")

        ids = [change["id"] for change in since(owner_client, user, cursor)["changes"]]

        recurring.refresh_from_db()
        assert sorted(ids) == sorted([bulk_target.id, recurring.id, recurring.next_occurrence_id])

    def test_another_users_writes_are_not_in_the_feed(self, owner_client, user, other_user):
        cursor = start(owner_client, user)
        TaskFactory(user=other_user)

        assert since(owner_client, user, cursor)["changes"] == []

    def test_pages_follow_each_other_without_gaps(self, owner_client, user):
        cursor = start(owner_client, user)
        created = [TaskFactory(user=user).id for _ in range(7)]

        seen, pages = [], 0
        while True:
            answer = since(owner_client, user, cursor, limit=3)
            seen += [change["id"] for change in answer["changes"]]
            cursor, pages = answer["cursor"], pages + 1
            if not answer["has_more"]:
                break

        assert (seen, pages) == (created, 3)

    def test_a_page_costs_the_same_queries_for_1_or_50_changes(
        self, owner_client, user, django_assert_num_queries
    ):
        for count in (1, 50):
            cursor = start(owner_client, user)
            TaskFactory.create_batch(count, user=user)
            with django_assert_num_queries(3):  # the user, the changes, their tasks
                assert len(since(owner_client, user, cursor)["changes"]) == count

    def test_another_users_path_is_a_403(self, owner_client, other_user):
        assert owner_client.get(changes_url(other_user)).status_code == 403


class TestCursors:
    @pytest.mark.parametrize("cursor", ["garbage", "12", "12:1vXyZ:forged", "x" * 300])
    def test_a_cursor_this_server_did_not_issue_is_a_400_naming_since(
        self, owner_client, user, cursor
    ):
        response = owner_client.get(changes_url(user), {"since": cursor})

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["since"]

    def test_another_users_cursor_is_a_400(self, owner_client, user, other_user, client_for):
        foreign = start(client_for(other_user), other_user)

        assert owner_client.get(changes_url(user), {"since": foreign}).status_code == 400

    def test_a_cursor_older_than_the_retention_is_a_410(
        self, owner_client, user, settings, monkeypatch
    ):
        settings.CHANGES_RETENTION_DAYS = 2
        issued = time.time() - timedelta(days=2).total_seconds()
        monkeypatch.setattr(signing.time, "time", lambda: issued)
        old = start(owner_client, user)
        monkeypatch.undo()

        response = owner_client.get(changes_url(user), {"since": old})

        assert response.status_code == 410
        assert "load everything again" in response.json()["detail"]

    @pytest.mark.parametrize("limit", ["0", "1001", "many"])
    def test_a_bad_limit_is_a_400_naming_it(self, owner_client, user, limit):
        cursor = start(owner_client, user)

        response = owner_client.get(changes_url(user), {"since": cursor, "limit": limit})

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["limit"]


def test_purge_changes_deletes_only_what_is_older_than_the_retention(user, settings):
    settings.CHANGES_RETENTION_DAYS = 30
    old, recent = TaskFactory(user=user), TaskFactory(user=user)
    Change.objects.filter(object_id=old.id).update(
        created_at=datetime.now(UTC) - timedelta(days=31)
    )

    call_command("purge_changes", verbosity=0)

    assert list(Change.objects.values_list("object_id", flat=True)) == [recent.id]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_poller_and_a_stream_during_8_concurrent_writers_end_with_exactly_the_servers_tasks(
    user, client_for, make_token, open_stream, monkeypatch
):
    """Writers commit out of order (their transactions overlap); a reader that polls all along
    and applies every page, and one that holds an event stream, must both end with exactly
    the user's tasks."""
    monkeypatch.setattr(PerUserRateThrottle, "THROTTLE_RATES", {"tasks": None})
    stream = open_stream(
        f"/api/{user.id}/events", {"Authorization": f"Bearer {make_token(user.id)}"}
    )
    time.sleep(0.3)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng, client = random.Random(seed), client_for(user)
        url = f"/api/{user.id}/tasks"
        mine: list[int] = []
        try:
            while not stop.is_set():
                action = rng.choice(["create", "create", "update", "complete", "delete", "bulk"])
                if action == "create" or not mine:
                    mine.append(client.post(url, {"title": f"w{seed}"}, format="json").json()["id"])
                elif action == "update":
                    client.patch(f"{url}/{rng.choice(mine)}", {"title": "edited"}, format="json")
                elif action == "complete":
                    client.patch(f"{url}/{rng.choice(mine)}/complete", format="json")
                elif action == "delete":
                    client.delete(f"{url}/{mine.pop(rng.randrange(len(mine)))}")
                else:
                    client.post(
                        f"{url}/bulk",
                        {"action": "complete", "ids": rng.sample(mine, min(3, len(mine)))},
                        format="json",
                    )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    reader = client_for(user)
    copy: dict[int, dict] = {}
    cursor = start(reader, user)

    def apply(answer: dict, into: dict[int, dict] = copy) -> None:
        for change in answer["changes"]:
            if change["type"] == "task.deleted":
                into.pop(change["id"], None)
            elif change["type"] == "task.changed":
                into[change["id"]] = change["data"]

    writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = since(reader, user, cursor)
        apply(answer)
        cursor = answer["cursor"]
    stop.set()
    for writer in writers:
        writer.join()
    while True:
        answer = since(reader, user, cursor)
        apply(answer)
        cursor = answer["cursor"]
        if not answer["has_more"]:
            break

    streamed: dict[int, dict] = {}
    while True:
        try:
            event = stream.next(timeout=3)
        except queue.Empty:
            break  # quiet for 3 s: the stream has caught up
        apply({"changes": [event.data]}, streamed)

    assert errors == []
    everything = reader.get(f"/api/{user.id}/tasks", {"limit": 500}).json()
    assert len(everything) > 50
    assert copy == {task["id"]: task for task in everything}
    assert streamed == copy


class TestLists:
    def test_list_writes_and_the_counts_tasks_move_are_in_the_feed(self, owner_client, user):
        cursor = start(owner_client, user)
        lists, tasks = f"/api/{user.id}/lists", f"/api/{user.id}/tasks"
        groceries = owner_client.post(lists, {"name": "Groceries"}, format="json").json()
        cursor = since(owner_client, user, cursor)["cursor"]

        task = owner_client.post(
            tasks, {"title": "milk", "list_id": groceries["id"]}, format="json"
        ).json()
        answer = since(owner_client, user, cursor)

        assert [(c["type"], c["id"]) for c in answer["changes"]] == [
            ("task.changed", task["id"]),
            ("list.changed", groceries["id"]),
        ]
        assert answer["changes"][1]["data"] == owner_client.get(f"{lists}/{groceries['id']}").json()
        assert answer["changes"][1]["data"]["task_count"] == 1

        owner_client.patch(f"{tasks}/{task['id']}", {"title": "oat milk"}, format="json")
        renamed = since(owner_client, user, answer["cursor"])
        assert [(c["type"], c["id"]) for c in renamed["changes"]] == [("task.changed", task["id"])]

    def test_deleting_a_list_reports_it_and_its_tasks_deleted(self, owner_client, user):
        lists, tasks = f"/api/{user.id}/lists", f"/api/{user.id}/tasks"
        work = owner_client.post(lists, {"name": "Work"}, format="json").json()
        task = owner_client.post(tasks, {"title": "report", "list_id": work["id"]}, format="json")
        cursor = start(owner_client, user)

        owner_client.delete(f"{lists}/{work['id']}")

        assert sorted(
            (c["type"], c["id"], c["data"]) for c in since(owner_client, user, cursor)["changes"]
        ) == [
            ("list.deleted", work["id"], None),
            ("task.deleted", task.json()["id"], None),
        ]


def test_a_user_with_tasks_and_changes_can_be_deleted(user):
    TaskFactory.create_batch(2, user=user)

    user.delete()

    assert not Task.objects.exists()
