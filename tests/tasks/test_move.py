"""`POST /api/{user_id}/tasks/{id}/move`: manual order within a group and across groups."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import Task
from tasks.positions import positions_for
from tasks.services import end_of_group, task_move, tasks_import
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import TaskFactory, TaskListFactory

pytestmark = pytest.mark.django_db


def move_url(user, task):
    return f"/api/{user.id}/tasks/{task.id}/move"


def group_order(**group):
    return list(
        Task.objects.filter(**group).order_by("position", "-id").values_list("pk", flat=True)
    )


class TestWithinAGroup:
    def test_before_after_and_end(self, owner_client, user):
        a, b, c = (TaskFactory(user=user) for _ in range(3))

        response = owner_client.post(move_url(user, c), {"before": a.id}, format="json")
        assert response.status_code == 200
        assert response.json()["id"] == c.id
        assert response["ETag"]
        assert group_order(user=user) == [c.id, a.id, b.id]
        owner_client.post(move_url(user, c), {"after": a.id}, format="json")
        assert group_order(user=user) == [a.id, c.id, b.id]
        owner_client.post(move_url(user, a), {}, format="json")
        assert group_order(user=user) == [c.id, b.id, a.id]
        owner_client.post(move_url(user, a), {"before": c.id}, format="json")
        assert group_order(user=user) == [a.id, c.id, b.id]

    def test_a_move_writes_the_moved_tasks_position_only(self, owner_client, user):
        a, b, c = (TaskFactory(user=user) for _ in range(3))
        before = dict(Task.objects.values_list("pk", "position"))

        owner_client.post(move_url(user, c), {"after": a.id}, format="json")

        after = dict(Task.objects.values_list("pk", "position"))
        assert (after[a.id], after[b.id]) == (before[a.id], before[b.id])
        assert before[a.id] < after[c.id] < before[b.id]

    def test_a_moved_task_answers_its_new_position_through_the_cache(self, owner_client, user):
        a, b = TaskFactory(user=user), TaskFactory(user=user)
        old = owner_client.get(f"/api/{user.id}/tasks/{b.id}").json()["position"]

        owner_client.post(move_url(user, b), {"before": a.id}, format="json")

        new = owner_client.get(f"/api/{user.id}/tasks/{b.id}").json()["position"]
        assert new != old
        assert new < a.position

    def test_a_stale_if_match_is_412(self, owner_client, user):
        a, b = TaskFactory(user=user), TaskFactory(user=user)
        etag = owner_client.get(f"/api/{user.id}/tasks/{b.id}")["ETag"]
        owner_client.patch(f"/api/{user.id}/tasks/{b.id}", {"title": "changed"}, format="json")

        response = owner_client.post(
            move_url(user, b), {"before": a.id}, format="json", HTTP_IF_MATCH=etag
        )

        assert response.status_code == 412


class TestAcrossGroups:
    def test_into_another_list_at_a_place(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        x, y = (
            TaskFactory(user=user, list_id=task_list.id),
            TaskFactory(user=user, list_id=task_list.id),
        )
        task = TaskFactory(user=user)

        response = owner_client.post(
            move_url(user, task), {"list_id": task_list.id, "before": y.id}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["list_id"] == task_list.id
        assert group_order(list=task_list) == [x.id, task.id, y.id]

    def test_into_a_parent_and_back_to_the_inbox(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        parent = TaskFactory(user=user, list_id=task_list.id)
        task = TaskFactory(user=user)

        into = owner_client.post(move_url(user, task), {"parent_id": parent.id}, format="json")
        out = owner_client.post(
            move_url(user, task), {"parent_id": None, "list_id": None}, format="json"
        )

        assert (into.json()["parent_id"], into.json()["list_id"]) == (parent.id, task_list.id)
        assert (out.json()["parent_id"], out.json()["list_id"]) == (None, None)

    def test_a_parent_moved_to_another_list_takes_its_subtasks(self, owner_client, user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)
        task_list = TaskListFactory(user=user)
        position = Task.objects.get(pk=subtask.pk).position

        owner_client.post(move_url(user, parent), {"list_id": task_list.id}, format="json")

        moved = Task.objects.get(pk=subtask.pk)
        assert (moved.list_id, moved.position) == (task_list.id, position)

    def test_the_neighbour_must_be_in_the_target_group(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        inbox_task = TaskFactory(user=user)
        task = TaskFactory(user=user)

        response = owner_client.post(
            move_url(user, task), {"list_id": task_list.id, "after": inbox_task.id}, format="json"
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["after"]
        assert Task.objects.get(pk=task.pk).list_id is None

    def test_placement_rules_apply(self, owner_client, user, other_user):
        parent = TaskFactory(user=user)
        TaskFactory(user=user, parent_id=parent.id)
        task = TaskFactory(user=user)
        theirs = TaskListFactory(user=other_user)

        for body, field in [
            ({"list_id": theirs.id}, "list_id"),
            ({"parent_id": task.id}, "parent_id"),
            ({"parent_id": 10**12}, "parent_id"),
        ]:
            response = owner_client.post(move_url(user, task), body, format="json")
            assert response.status_code == 400
            assert list(response.json()["errors"]) == [field]
        response = owner_client.post(move_url(user, parent), {"parent_id": task.id}, format="json")
        assert list(response.json()["errors"]) == ["parent_id"]


class TestBadRequests:
    @pytest.mark.parametrize(
        "body, field",
        [
            ({"before": 1, "after": 2}, "after"),
            ({"before": "first"}, "before"),
            ({"after": -3}, "after"),
            ({"before": None}, "before"),
            ({"position": "a0"}, "position"),
            ({"list_id": "inbox"}, "list_id"),
        ],
    )
    def test_bad_bodies_are_400s_naming_the_field(self, owner_client, user, body, field):
        task = TaskFactory(user=user)

        response = owner_client.post(move_url(user, task), body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_moving_before_itself_or_a_stranger_is_a_400(self, owner_client, user, other_user):
        task = TaskFactory(user=user)
        theirs = TaskFactory(user=other_user)

        for body in ({"before": task.id}, {"after": theirs.id}):
            response = owner_client.post(move_url(user, task), body, format="json")
            assert response.status_code == 400

    def test_another_users_task_is_404_and_their_path_403(self, owner_client, user, other_user):
        theirs = TaskFactory(user=other_user)

        assert owner_client.post(move_url(user, theirs), {}, format="json").status_code == 404
        assert owner_client.post(move_url(other_user, theirs), {}, format="json").status_code == 403

    def test_get_is_405(self, owner_client, user):
        task = TaskFactory(user=user)

        assert owner_client.get(move_url(user, task)).status_code == 405


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_into_one_group_keep_every_task_at_a_distinct_position(user):
    task_list = TaskListFactory(user=user)
    anchor = TaskFactory(user=user, list_id=task_list.id)
    tasks = [TaskFactory(user=user) for _ in range(50)]

    def move(n: int) -> int:
        task = tasks[n]
        # Half into the same gap before the anchor, half at the end: both would collide
        # without the owner's lock.
        where = {"before": anchor.id} if n % 2 else {}
        return task_move(task=task, group={"list_id": task_list.id}, **where).pk

    moved = run_concurrently(50, move)

    assert sorted(moved) == sorted(task.pk for task in tasks)
    positions = list(Task.objects.filter(list=task_list).values_list("position", flat=True))
    assert len(positions) == 51
    assert len(set(positions)) == 51
    assert connection.vendor == "postgresql"


@requires_postgresql
@pytest.mark.parametrize("group", ["inbox", "list", "subtasks"])
def test_the_end_of_a_long_group_is_read_from_the_index_not_sorted(user, group):
    """Every create reads where its group ends: one row of the group's index, however long
    the group (`IS NULL` on list or parent once made PostgreSQL sort all of it)."""
    task_list = TaskListFactory(user=user) if group == "list" else None
    parent = TaskFactory(user=user) if group == "subtasks" else None
    now = timezone.now()
    tasks_import(
        tasks=[
            Task(
                user=user,
                title=f"t{n}",
                list=task_list,
                parent=parent,
                position=position,
                created_at=now,
                updated_at=now,
            )
            for n, position in enumerate(positions_for(500))
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    with CaptureQueriesContext(connection) as queries:
        end_of_group(user.pk, task_list and task_list.pk, parent and parent.pk)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row for (row,) in cursor.fetchall())
    assert "task_user_group_position_idx" in plan, plan
    assert "Sort" not in plan, plan
