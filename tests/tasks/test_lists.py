"""`/api/{user_id}/lists[/{id}[/move]]`: lists, their counts, ETags, limits and deletion."""

import pytest
from django.db import IntegrityError, connection

from tasks.models import MAX_LISTS_PER_USER, Task, TaskList
from tasks.services import list_create
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import TaskFactory, TaskListFactory

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "name",
    "color",
    "position",
    "task_count",
    "pending_count",
    "created_at",
    "updated_at",
}


def lists_url(user, task_list=None, suffix=""):
    url = f"/api/{user.id}/lists"
    if task_list is not None:
        url += f"/{task_list.id if hasattr(task_list, 'id') else task_list}"
    return url + suffix


class TestCreate:
    def test_creates_a_list_at_the_end_with_location(self, owner_client, user):
        first = owner_client.post(lists_url(user), {"name": " Home "}, format="json")
        second = owner_client.post(
            lists_url(user), {"name": "Work", "color": "#AABBCC"}, format="json"
        )

        assert first.status_code == 201
        body = second.json()
        assert set(body) == LIST_FIELDS
        assert first.json()["name"] == "Home"
        assert body["color"] == "#aabbcc"
        assert (body["task_count"], body["pending_count"]) == (0, 0)
        assert second["Location"] == f"/api/{user.id}/lists/{body['id']}"
        assert second["ETag"]
        assert first.json()["position"] < body["position"]

    def test_a_name_taken_in_any_case_is_a_400_naming_name(self, owner_client, user):
        TaskListFactory(user=user, name="Work")

        response = owner_client.post(lists_url(user), {"name": "wORK"}, format="json")

        assert response.status_code == 400
        assert set(response.json()) == {"detail", "errors"}
        assert "name" in response.json()["errors"]

    def test_another_users_name_is_free(self, owner_client, user, other_user):
        TaskListFactory(user=other_user, name="Work")

        assert (
            owner_client.post(lists_url(user), {"name": "work"}, format="json").status_code == 201
        )

    @pytest.mark.parametrize(
        "body, field",
        [
            ({}, "name"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": "a\x00b"}, "name"),
            ({"name": ["A"]}, "name"),
            ({"name": "A", "color": "red"}, "color"),
            ({"name": "A", "color": "#12345"}, "color"),
            ({"name": "A", "color": "#1234567"}, "color"),
            ({"name": "A", "color": "#12345g"}, "color"),
        ],
    )
    def test_bad_fields_are_400s_naming_them(self, owner_client, user, body, field):
        response = owner_client.post(lists_url(user), body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_color_may_be_null(self, owner_client, user):
        response = owner_client.post(lists_url(user), {"name": "A", "color": None}, format="json")

        assert response.status_code == 201
        assert response.json()["color"] is None

    def test_the_list_after_the_limit_is_a_400(self, owner_client, user):
        for n in range(MAX_LISTS_PER_USER):
            list_create(user=user, data={"name": f"L{n}"})

        response = owner_client.post(lists_url(user), {"name": "One more"}, format="json")

        assert response.status_code == 400
        assert "name" in response.json()["errors"]
        assert TaskList.objects.filter(user=user).count() == MAX_LISTS_PER_USER

    def test_idempotency_key_replays_the_first_list(self, owner_client, user):
        headers = {"HTTP_IDEMPOTENCY_KEY": "list-1"}
        first = owner_client.post(lists_url(user), {"name": "A"}, format="json", **headers)
        again = owner_client.post(lists_url(user), {"name": "A"}, format="json", **headers)

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
        assert TaskList.objects.filter(user=user).count() == 1

    def test_an_idempotency_key_reused_with_another_body_is_a_422(self, owner_client, user):
        headers = {"HTTP_IDEMPOTENCY_KEY": "list-2"}
        owner_client.post(lists_url(user), {"name": "A"}, format="json", **headers)

        response = owner_client.post(lists_url(user), {"name": "B"}, format="json", **headers)

        assert response.status_code == 422
        assert TaskList.objects.filter(user=user).count() == 1

    def test_body_user_id_is_ignored(self, owner_client, user, other_user):
        response = owner_client.post(
            lists_url(user), {"name": "A", "user_id": other_user.id}, format="json"
        )

        assert TaskList.objects.get(pk=response.json()["id"]).user_id == user.id


class TestRead:
    def test_lists_in_manual_order_with_counts(self, owner_client, user, other_user):
        home, work = TaskListFactory(user=user), TaskListFactory(user=user)
        TaskListFactory(user=other_user)
        TaskFactory(user=user, list_id=work.id)
        done = TaskFactory(user=user, list_id=work.id, completed=True)
        TaskFactory(user=user, parent_id=done.id)  # a subtask (pending) counts too

        response = owner_client.get(lists_url(user))

        assert response.status_code == 200
        body = response.json()
        assert [item["id"] for item in body] == [home.id, work.id]
        assert (body[1]["task_count"], body[1]["pending_count"]) == (3, 2)
        assert (body[0]["task_count"], body[0]["pending_count"]) == (0, 0)

    @pytest.mark.parametrize("count", [1, 30])
    def test_the_collection_costs_the_same_queries_whatever_its_size(
        self, owner_client, user, count, django_assert_num_queries
    ):
        for _ in range(count):
            task_list = TaskListFactory(user=user)
            TaskFactory(user=user, list_id=task_list.id)

        # The user (authentication) and the lists with their counts.
        with django_assert_num_queries(2):
            response = owner_client.get(lists_url(user))

        assert len(response.json()) == count

    def test_one_list_costs_two_queries(self, owner_client, user, django_assert_num_queries):
        task_list = TaskListFactory(user=user)

        with django_assert_num_queries(2):
            response = owner_client.get(lists_url(user, task_list))

        assert response.json()["id"] == task_list.id

    def test_routes_answer_with_and_without_a_trailing_slash(self, owner_client, user):
        task_list = TaskListFactory(user=user)

        assert owner_client.get(lists_url(user, suffix="/")).status_code == 200
        assert owner_client.get(lists_url(user, task_list, "/")).status_code == 200
        response = owner_client.post(lists_url(user, suffix="/"), {"name": "B"}, format="json")
        assert response.status_code == 201
        moved = owner_client.post(lists_url(user, task_list, "/move/"), {}, format="json")
        assert moved.status_code == 200

    def test_another_users_path_is_403_and_their_list_404(self, owner_client, user, other_user):
        theirs = TaskListFactory(user=other_user)

        assert owner_client.get(lists_url(other_user)).status_code == 403
        for method in ("get", "put", "patch", "delete"):
            response = getattr(owner_client, method)(
                lists_url(user, theirs), {"name": "X"}, format="json"
            )
            assert response.status_code == 404
        move = owner_client.post(lists_url(user, theirs, "/move"), {}, format="json")
        assert move.status_code == 404
        assert TaskList.objects.get(pk=theirs.pk).name == theirs.name

    def test_without_a_token_is_401(self, client, user):
        assert client.get(lists_url(user)).status_code == 401

    def test_if_none_match_gives_304(self, owner_client, user):
        TaskListFactory(user=user)
        etag = owner_client.get(lists_url(user))["ETag"]

        response = owner_client.get(lists_url(user), HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 304

    def test_counts_follow_task_writes_through_the_cache(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        owner_client.get(lists_url(user))
        owner_client.get(lists_url(user, task_list))
        task = TaskFactory(user=user, list_id=task_list.id)
        owner_client.patch(f"/api/{user.id}/tasks/{task.id}/complete", format="json")

        assert owner_client.get(lists_url(user)).json()[0]["task_count"] == 1
        assert owner_client.get(lists_url(user, task_list)).json()["pending_count"] == 0


class TestUpdate:
    def test_put_and_patch_change_name_and_color(self, owner_client, user):
        task_list = TaskListFactory(user=user, name="Old")

        put = owner_client.put(lists_url(user, task_list), {"name": "New"}, format="json")
        patch = owner_client.patch(lists_url(user, task_list), {"color": "#00ff00"}, format="json")

        assert put.status_code == 200
        assert patch.json()["name"] == "New"
        assert patch.json()["color"] == "#00ff00"
        assert owner_client.get(lists_url(user)).json()[0]["name"] == "New"

    def test_put_without_name_is_a_400(self, owner_client, user):
        task_list = TaskListFactory(user=user)

        response = owner_client.put(lists_url(user, task_list), {"color": None}, format="json")

        assert response.status_code == 400
        assert "name" in response.json()["errors"]

    def test_renaming_to_a_taken_name_is_a_400(self, owner_client, user):
        TaskListFactory(user=user, name="Home")
        task_list = TaskListFactory(user=user, name="Work")

        response = owner_client.patch(lists_url(user, task_list), {"name": "HOME"}, format="json")

        assert response.status_code == 400
        assert "name" in response.json()["errors"]

    def test_renaming_in_another_case_is_fine(self, owner_client, user):
        task_list = TaskListFactory(user=user, name="work")

        response = owner_client.patch(lists_url(user, task_list), {"name": "Work"}, format="json")

        assert response.status_code == 200

    def test_a_stale_if_match_is_412(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        etag = owner_client.get(lists_url(user, task_list))["ETag"]
        TaskFactory(user=user, list_id=task_list.id)  # the counts changed

        stale = owner_client.patch(
            lists_url(user, task_list), {"name": "X"}, format="json", HTTP_IF_MATCH=etag
        )
        fresh_etag = owner_client.get(lists_url(user, task_list))["ETag"]
        fresh = owner_client.patch(
            lists_url(user, task_list), {"name": "X"}, format="json", HTTP_IF_MATCH=fresh_etag
        )

        assert stale.status_code == 412
        assert fresh.status_code == 200
        assert fresh["ETag"] == owner_client.get(lists_url(user, task_list))["ETag"]

    def test_a_stale_if_match_on_delete_is_412(self, owner_client, user):
        task_list = TaskListFactory(user=user)

        response = owner_client.delete(lists_url(user, task_list), HTTP_IF_MATCH='"stale"')

        assert response.status_code == 412
        assert TaskList.objects.filter(pk=task_list.pk).exists()


class TestDelete:
    def test_deletes_the_list_its_tasks_and_their_subtasks(self, owner_client, user):
        task_list = TaskListFactory(user=user)
        parent = TaskFactory(user=user, list_id=task_list.id)
        TaskFactory(user=user, parent_id=parent.id)
        inbox = TaskFactory(user=user)
        before = owner_client.get(f"/api/{user.id}/tasks").json()

        response = owner_client.delete(lists_url(user, task_list))

        assert response.status_code == 204
        assert len(before) == 3
        assert [task["id"] for task in owner_client.get(f"/api/{user.id}/tasks").json()] == [
            inbox.id
        ]
        assert list(Task.objects.values_list("pk", flat=True)) == [inbox.id]
        assert owner_client.get(lists_url(user)).json() == []


class TestMove:
    def test_before_after_and_end(self, owner_client, user):
        a, b, c = (TaskListFactory(user=user) for _ in range(3))

        def order():
            return [item["id"] for item in owner_client.get(lists_url(user)).json()]

        moved = owner_client.post(lists_url(user, c, "/move"), {"before": a.id}, format="json")
        assert moved.status_code == 200
        assert set(moved.json()) == LIST_FIELDS
        assert order() == [c.id, a.id, b.id]
        owner_client.post(lists_url(user, c, "/move"), {"after": a.id}, format="json")
        assert order() == [a.id, c.id, b.id]
        owner_client.post(lists_url(user, a, "/move"), {}, format="json")
        assert order() == [c.id, b.id, a.id]

    def test_a_move_writes_only_the_moved_lists_position(self, owner_client, user):
        a, b, c = (TaskListFactory(user=user) for _ in range(3))
        before = dict(TaskList.objects.values_list("pk", "position"))

        owner_client.post(lists_url(user, c, "/move"), {"before": b.id}, format="json")

        after = dict(TaskList.objects.values_list("pk", "position"))
        assert (after[a.id], after[b.id]) == (before[a.id], before[b.id])
        assert before[a.id] < after[c.id] < before[b.id]

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"before": 1, "after": 2}, "after"),
            ({"before": "x"}, "before"),
            ({"after": 0}, "after"),
            ({"list_id": None}, "list_id"),
            ({"somewhere": 1}, "somewhere"),
        ],
    )
    def test_bad_bodies_are_400s_naming_the_field(self, owner_client, user, body, field):
        task_list = TaskListFactory(user=user)

        response = owner_client.post(lists_url(user, task_list, "/move"), body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_a_neighbour_that_is_not_one_of_your_other_lists_is_a_400(
        self, owner_client, user, other_user
    ):
        mine = TaskListFactory(user=user)
        theirs = TaskListFactory(user=other_user)

        for body, field in [
            ({"before": theirs.id}, "before"),
            ({"after": mine.id}, "after"),
            ({"before": 10**12}, "before"),
        ]:
            response = owner_client.post(lists_url(user, mine, "/move"), body, format="json")
            assert response.status_code == 400
            assert field in response.json()["errors"]

    def test_a_body_that_is_not_an_object_is_a_400(self, owner_client, user):
        task_list = TaskListFactory(user=user)

        response = owner_client.post(lists_url(user, task_list, "/move"), [1], format="json")

        assert response.status_code == 400


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_list(user):
    def create(n: int) -> str:
        try:
            list_create(user=user, data={"name": "Work" if n % 2 else "work"})
            return "created"
        except Exception as error:  # the service's ValidationError
            return type(error).__name__

    results = run_concurrently(10, create)

    assert results.count("created") == 1
    assert TaskList.objects.filter(user=user).count() == 1


def test_the_database_refuses_a_name_in_another_case(user):
    TaskListFactory(user=user, name="Work")

    with pytest.raises(IntegrityError):
        TaskList.objects.create(user=user, name="WORK", position="b0")


def test_positions_sort_in_byte_order_in_the_database(user):
    # "Z" < "a" in byte order; a language collation would put "a" first.
    for key in ["a", "Z", "b"]:
        TaskList.objects.create(user=user, name=key, position=key)

    names = list(
        TaskList.objects.filter(user=user).order_by("position").values_list("name", flat=True)
    )

    assert names == ["Z", "a", "b"], connection.vendor
