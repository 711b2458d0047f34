"""Task fields `list_id`, `parent_id` and `position`: placement rules, subtasks' lifecycle,
and the list filters `list=`, `parent=`, `sort=position`."""

import pytest

from tasks.models import Task
from tests.factories import TaskFactory, TaskListFactory

pytestmark = pytest.mark.django_db


def tasks_url(user, task=None, suffix=""):
    url = f"/api/{user.id}/tasks"
    if task is not None:
        url += f"/{task.id}"
    return url + suffix


def ids(response):
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()]


class TestPlacement:
    def test_a_new_task_is_in_the_inbox_at_the_top_level_by_default(self, owner_client, user):
        body = owner_client.post(tasks_url(user), {"title": "A"}, format="json").json()

        assert (body["list_id"], body["parent_id"]) == (None, None)
        assert isinstance(body["position"], str)

    def test_a_new_task_goes_to_the_end_of_its_group(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        positions = [
            owner_client.post(
                tasks_url(user), {"title": str(n), "list_id": task_list.id}, format="json"
            ).json()["position"]
            for n in range(3)
        ]

        assert positions == sorted(positions)
        assert len(set(positions)) == 3

    def test_a_subtask_lives_in_its_parents_list(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        parent = TaskFactory(user=user, list_id=task_list.id)

        response = owner_client.post(
            tasks_url(user), {"title": "Sub", "parent_id": parent.id}, format="json"
        )
        explicit = owner_client.post(
            tasks_url(user),
            {"title": "Sub", "parent_id": parent.id, "list_id": task_list.id},
            format="json",
        )

        assert response.status_code == 201
        assert (response.json()["list_id"], response.json()["parent_id"]) == (
            task_list.id,
            parent.id,
        )
        assert explicit.status_code == 201

    @pytest.mark.parametrize("missing", [True, False])
    def test_another_users_or_a_missing_list_is_a_400_naming_list_id(
        self, owner_client, user, other_user, missing
    ):
        list_id = 10**12 if missing else TaskListFactory(user=other_user).id

        created = owner_client.post(
            tasks_url(user), {"title": "A", "list_id": list_id}, format="json"
        )
        task = TaskFactory(user=user)
        patched = owner_client.patch(tasks_url(user, task), {"list_id": list_id}, format="json")

        for response in (created, patched):
            assert response.status_code == 400
            assert list(response.json()["errors"]) == ["list_id"]

    @pytest.mark.parametrize("value", ["x", 0, -1, 2**63, True, 1.5, [1]])
    def test_a_malformed_list_or_parent_id_is_a_400(self, owner_client, user, value):
        for field in ("list_id", "parent_id"):
            response = owner_client.post(
                tasks_url(user), {"title": "A", field: value}, format="json"
            )
            assert response.status_code == 400
            assert field in response.json()["errors"]

    def test_parent_rules_are_400s_naming_parent_id(self, owner_client, user, other_user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)
        theirs = TaskFactory(user=other_user)
        loner = TaskFactory(user=user)

        cases = [
            (loner, {"parent_id": loner.id}),  # its own parent
            (loner, {"parent_id": subtask.id}),  # nested
            (loner, {"parent_id": theirs.id}),  # foreign
            (loner, {"parent_id": 10**12}),  # missing
            (parent, {"parent_id": loner.id}),  # has subtasks
        ]
        for task, body in cases:
            response = owner_client.patch(tasks_url(user, task), body, format="json")
            assert response.status_code == 400, body
            assert list(response.json()["errors"]) == ["parent_id"]
        created = owner_client.post(
            tasks_url(user), {"title": "A", "parent_id": subtask.id}, format="json"
        )
        assert created.status_code == 400
        assert Task.objects.get(pk=loner.pk).parent_id is None

    def test_a_subtask_in_another_list_than_its_parents_is_a_400_naming_list_id(
        self, owner_client, user
    ):
        parent = TaskFactory(user=user)
        elsewhere = TaskListFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)

        created = owner_client.post(
            tasks_url(user),
            {"title": "A", "parent_id": parent.id, "list_id": elsewhere.id},
            format="json",
        )
        patched = owner_client.patch(
            tasks_url(user, subtask), {"list_id": elsewhere.id}, format="json"
        )

        for response in (created, patched):
            assert response.status_code == 400
            assert list(response.json()["errors"]) == ["list_id"]

    def test_a_subtask_can_become_top_level_in_another_list(self, owner_client, user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)
        task_list = TaskListFactory(user=user)

        response = owner_client.patch(
            tasks_url(user, subtask), {"parent_id": None, "list_id": task_list.id}, format="json"
        )

        assert response.status_code == 200
        assert (response.json()["parent_id"], response.json()["list_id"]) == (None, task_list.id)

    def test_changing_the_list_puts_the_task_at_the_end_of_the_new_group(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        there = TaskFactory(user=user, list_id=task_list.id)
        task = TaskFactory(user=user)

        body = owner_client.patch(
            tasks_url(user, task), {"list_id": task_list.id}, format="json"
        ).json()

        assert body["position"] > Task.objects.get(pk=there.pk).position

    def test_moving_a_parent_to_another_list_moves_its_subtasks(self, owner_client, user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)
        task_list = TaskListFactory(user=user)
        owner_client.get(tasks_url(user, subtask))  # cached

        response = owner_client.put(
            tasks_url(user, parent), {"title": parent.title, "list_id": task_list.id}, format="json"
        )

        assert response.status_code == 200
        assert owner_client.get(tasks_url(user, subtask)).json()["list_id"] == task_list.id

    def test_position_is_read_only(self, owner_client, user):
        task = TaskFactory(user=user)

        response = owner_client.patch(tasks_url(user, task), {"position": "0"}, format="json")

        assert response.json()["position"] == task.position


class TestLifecycle:
    def test_deleting_a_task_deletes_its_subtasks(self, owner_client, user):
        parent = TaskFactory(user=user)
        TaskFactory(user=user, parent_id=parent.id)

        assert owner_client.delete(tasks_url(user, parent)).status_code == 204
        assert not Task.objects.exists()

    def test_bulk_delete_counts_the_subtasks(self, owner_client, user):
        parent = TaskFactory(user=user)
        TaskFactory(user=user, parent_id=parent.id)
        TaskFactory(user=user, parent_id=parent.id)

        response = owner_client.post(
            tasks_url(user, suffix="/bulk"), {"action": "delete", "ids": [parent.id]}, format="json"
        )

        assert response.json() == {"affected": 3}
        assert not Task.objects.exists()

    @pytest.mark.parametrize("route", ["complete", "put", "patch", "bulk"])
    def test_completing_a_task_completes_its_pending_subtasks(self, owner_client, user, route):
        parent = TaskFactory(user=user)
        pending = TaskFactory(user=user, parent_id=parent.id)
        done = TaskFactory(user=user, parent_id=parent.id, completed=True)
        done_at = Task.objects.get(pk=done.pk).completed_at
        owner_client.get(tasks_url(user))  # cached

        if route == "complete":
            owner_client.patch(tasks_url(user, parent, "/complete"), format="json")
        elif route == "bulk":
            owner_client.post(
                tasks_url(user, suffix="/bulk"),
                {"action": "complete", "ids": [parent.id]},
                format="json",
            )
        else:
            getattr(owner_client, route)(
                tasks_url(user, parent), {"title": "P", "completed": True}, format="json"
            )

        states = {
            task["id"]: task["completed"] for task in owner_client.get(tasks_url(user)).json()
        }
        assert states == {parent.id: True, pending.id: True, done.id: True}
        assert Task.objects.get(pk=done.pk).completed_at == done_at

    def test_reopening_a_task_reopens_no_subtask(self, owner_client, user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.id)
        owner_client.patch(tasks_url(user, parent, "/complete"), format="json")

        owner_client.patch(tasks_url(user, parent, "/complete"), format="json")

        assert Task.objects.get(pk=parent.pk).completed is False
        assert Task.objects.get(pk=subtask.pk).completed is True

    def test_bulk_complete_counts_the_subtasks_it_completed(self, owner_client, user):
        parent = TaskFactory(user=user)
        TaskFactory(user=user, parent_id=parent.id)

        response = owner_client.post(
            tasks_url(user, suffix="/bulk"),
            {"action": "complete", "ids": [parent.id]},
            format="json",
        )

        assert response.json() == {"affected": 2}


class TestFilters:
    @pytest.fixture
    def tree(self, user, other_user):
        work = TaskListFactory(user=user)
        inbox_task = TaskFactory(user=user)
        first = TaskFactory(user=user, list_id=work.id)
        second = TaskFactory(user=user, list_id=work.id)
        sub = TaskFactory(user=user, parent_id=first.id)
        theirs = TaskListFactory(user=other_user)
        TaskFactory(user=other_user, list_id=theirs.id)
        return {
            "work": work,
            "inbox": inbox_task,
            "first": first,
            "second": second,
            "sub": sub,
            "theirs": theirs,
        }

    def test_without_parameters_every_task_newest_first(self, owner_client, user, tree):
        assert ids(owner_client.get(tasks_url(user))) == [
            tree["sub"].id,
            tree["second"].id,
            tree["first"].id,
            tree["inbox"].id,
        ]

    def test_list_and_parent_filters(self, owner_client, user, tree):
        url = tasks_url(user)
        work = tree["work"].id

        assert ids(owner_client.get(url, {"list": "inbox"})) == [tree["inbox"].id]
        assert set(ids(owner_client.get(url, {"list": work}))) == {
            tree["first"].id,
            tree["second"].id,
            tree["sub"].id,
        }
        assert ids(owner_client.get(url, {"list": work, "parent": "none", "sort": "position"})) == [
            tree["first"].id,
            tree["second"].id,
        ]
        assert ids(owner_client.get(url, {"parent": tree["first"].id})) == [tree["sub"].id]
        assert tree["sub"].id not in ids(owner_client.get(url, {"parent": "none"}))

    def test_a_foreign_or_missing_list_or_parent_gives_an_empty_array(
        self, owner_client, user, other_user, tree
    ):
        url = tasks_url(user)
        their_task = Task.objects.filter(user=other_user).first()

        for params in (
            {"list": tree["theirs"].id},
            {"list": 10**12},
            {"parent": their_task.id},
            {"parent": 10**12},
        ):
            assert ids(owner_client.get(url, params)) == []

    @pytest.mark.parametrize(
        "params, name",
        [
            ({"list": "abc"}, "list"),
            ({"list": "0"}, "list"),
            ({"list": "-1"}, "list"),
            ({"list": str(2**63)}, "list"),
            ({"list": "１"}, "list"),
            ({"parent": "top"}, "parent"),
            ({"parent": "inbox"}, "parent"),
            ({"sort": "-position"}, "sort"),
        ],
    )
    def test_bad_values_are_400s_naming_the_parameter(self, owner_client, user, params, name):
        response = owner_client.get(tasks_url(user), params)

        assert response.status_code == 400
        assert name in response.json()["errors"]

    def test_sort_by_position_follows_moves(self, owner_client, user, tree):
        work = tree["work"].id
        owner_client.get(tasks_url(user), {"list": work, "parent": "none", "sort": "position"})
        owner_client.post(
            tasks_url(user, tree["second"], "/move"), {"before": tree["first"].id}, format="json"
        )

        assert ids(
            owner_client.get(tasks_url(user), {"list": work, "parent": "none", "sort": "position"})
        ) == [tree["second"].id, tree["first"].id]

    @pytest.mark.parametrize("count", [1, 25])
    def test_a_group_in_manual_order_costs_the_same_queries_whatever_its_size(
        self, owner_client, user, count, django_assert_num_queries
    ):
        task_list = TaskListFactory(user=user)
        for _ in range(count):
            parent = TaskFactory(user=user, list_id=task_list.id)
            TaskFactory(user=user, parent_id=parent.id)

        # The user and the page (a short first page is its own total count).
        with django_assert_num_queries(2):
            response = owner_client.get(
                tasks_url(user), {"list": task_list.id, "parent": "none", "sort": "position"}
            )

        assert len(response.json()) == count


def test_the_next_occurrence_keeps_the_list_and_copies_the_subtasks_pending(owner_client, user):
    task_list = TaskListFactory(user=user)
    later = TaskFactory(user=user, list_id=task_list.id)
    recurring = owner_client.post(
        tasks_url(user),
        {
            "title": "Water plants",
            "list_id": task_list.id,
            "recurrence": "FREQ=DAILY",
            "due_at": "2026-01-01T09:00:00Z",
        },
        format="json",
    ).json()
    first = TaskFactory(user=user, parent_id=recurring["id"], title="Kitchen")
    second = TaskFactory(user=user, parent_id=recurring["id"], title="Balcony", completed=True)

    owner_client.patch(
        f"/api/{user.id}/tasks/{recurring['id']}/complete", {"completed": True}, format="json"
    )

    done = Task.objects.get(pk=recurring["id"])
    following = Task.objects.get(pk=done.next_occurrence_id)
    assert (following.list_id, following.parent_id, following.completed) == (
        task_list.id,
        None,
        False,
    )
    assert following.position > Task.objects.get(pk=later.pk).position
    copies = list(Task.objects.filter(parent=following).order_by("position"))
    assert [(copy.title, copy.completed) for copy in copies] == [
        ("Kitchen", False),
        ("Balcony", False),
    ]
    assert Task.objects.get(pk=first.pk).completed and Task.objects.get(pk=second.pk).completed
