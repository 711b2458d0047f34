"""The core task routes, at the HTTP boundary with real signed tokens."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext

from tasks.models import Task
from tasks.services import tasks_set_completed
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


@contextmanager
def meanwhile(write: Callable[[Task], object]) -> Iterator[None]:
    """Runs `write(task)` just before a task is saved: another request's write, landing
    between this request's read of the task and its own write."""

    def before_save(sender: type[Task], instance: Task, **kwargs: object) -> None:
        write(instance)

    pre_save.connect(before_save, sender=Task)
    try:
        yield
    finally:
        pre_save.disconnect(before_save, sender=Task)


TASK_FIELDS = {
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_at",
    "tags",
    "list_id",
    "parent_id",
    "position",
    "created_at",
    "updated_at",
    "recurrence",
    "timezone",
    "series_id",
    "series_start",
    "next_occurrence_id",
    "reminders",
}


def tasks_url(user, task=None, suffix=""):
    url = f"/api/{user.id}/tasks"
    if task is not None:
        url += f"/{task.id}"
    return url + suffix


class TestList:
    def test_lists_own_tasks_newest_first_as_a_plain_array(self, owner_client, user, other_user):
        older = TaskFactory(user=user)
        newer = TaskFactory(user=user)
        TaskFactory(user=other_user)

        response = owner_client.get(tasks_url(user))

        assert response.status_code == 200
        assert [t["id"] for t in response.json()] == [newer.id, older.id]

    def test_a_new_user_has_an_empty_list(self, owner_client, user):
        response = owner_client.get(tasks_url(user))

        assert response.status_code == 200
        assert response.json() == []

    @pytest.mark.parametrize("count", [1, 100])
    def test_list_costs_the_same_queries_for_1_or_100_tasks(
        self, owner_client, user, count, django_assert_num_queries
    ):
        TaskFactory.create_batch(count, user=user)

        # The token's user and the page (tags live on the row); the page is the last one, so
        # X-Total-Count needs no COUNT.
        with django_assert_num_queries(2):
            response = owner_client.get(tasks_url(user))

        assert len(response.json()) == count
        assert response["X-Total-Count"] == str(count)

    def test_a_list_longer_than_a_page_counts_its_total(
        self, owner_client, user, django_assert_num_queries
    ):
        TaskFactory.create_batch(101, user=user)

        with django_assert_num_queries(3):
            response = owner_client.get(tasks_url(user))

        assert len(response.json()) == 100
        assert response["X-Total-Count"] == "101"


class TestCreate:
    def test_creates_a_task_with_location_and_defaults(self, owner_client, user):
        response = owner_client.post(tasks_url(user), {"title": "Buy milk"}, format="json")

        assert response.status_code == 201
        body = response.json()
        assert set(body) == TASK_FIELDS
        assert body["title"] == "Buy milk"
        assert body["description"] is None
        assert body["completed"] is False
        assert body["user_id"] == user.id
        assert body["created_at"].endswith("Z")
        assert body["updated_at"] == body["created_at"]
        assert response["Location"] == f"/api/{user.id}/tasks/{body['id']}"

    def test_ignores_user_id_and_read_only_fields_in_the_body(self, owner_client, user, other_user):
        response = owner_client.post(
            tasks_url(user),
            {
                "title": "Mine",
                "user_id": other_user.id,
                "id": 999999,
                "created_at": "2000-01-01T00:00:00Z",
            },
            format="json",
        )

        assert response.status_code == 201
        task = Task.objects.get(pk=response.json()["id"])
        assert task.user_id == user.id
        assert task.id != 999999
        assert task.created_at.year != 2000
        assert not other_user.tasks.exists()

    def test_trims_the_title(self, owner_client, user):
        response = owner_client.post(tasks_url(user), {"title": "  Buy milk \n"}, format="json")

        assert response.json()["title"] == "Buy milk"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "title"),
            ({"title": ""}, "title"),
            ({"title": "   "}, "title"),
            ({"title": None}, "title"),
            ({"title": "x" * 201}, "title"),
            ({"title": ["a list"]}, "title"),
            ({"title": "nul \x00 inside"}, "title"),
            ({"title": "ok", "description": "x" * 1001}, "description"),
            ({"title": "ok", "description": "nul \x00"}, "description"),
            ({"title": "ok", "completed": "maybe"}, "completed"),
        ],
    )
    def test_rejects_bad_fields_with_400_and_creates_nothing(self, owner_client, user, body, field):
        response = owner_client.post(tasks_url(user), body, format="json")

        assert response.status_code == 400
        error = response.json()
        assert field in error["errors"]
        assert isinstance(error["detail"], str) and field in error["detail"]
        assert not Task.objects.exists()

    def test_accepts_limits_exactly(self, owner_client, user):
        body = {"title": "x" * 200, "description": "y" * 1000}

        response = owner_client.post(tasks_url(user), body, format="json")

        assert response.status_code == 201

    def test_a_body_that_is_not_json_is_415(self, owner_client, user):
        response = owner_client.post(tasks_url(user), {"title": "form"})  # multipart

        assert response.status_code == 415
        assert "detail" in response.json()
        assert not Task.objects.exists()

    def test_urlencoded_form_is_415(self, owner_client, user):
        response = owner_client.post(
            tasks_url(user), "title=form", content_type="application/x-www-form-urlencoded"
        )

        assert response.status_code == 415

    def test_malformed_json_is_400(self, owner_client, user):
        response = owner_client.post(tasks_url(user), "{not json", content_type="application/json")

        assert response.status_code == 400
        assert "detail" in response.json()

    @pytest.mark.parametrize("body", ["[]", '"a string"', "null", "42"])
    def test_json_that_is_not_an_object_is_400(self, owner_client, user, body):
        response = owner_client.post(tasks_url(user), body, content_type="application/json")

        assert response.status_code == 400
        assert not Task.objects.exists()


class TestRetrieve:
    def test_gets_own_task(self, owner_client, user, task):
        response = owner_client.get(tasks_url(user, task))

        assert response.status_code == 200
        assert response.json()["id"] == task.id
        assert set(response.json()) == TASK_FIELDS

    def test_missing_task_is_404_json(self, owner_client, user):
        response = owner_client.get(f"/api/{user.id}/tasks/424242")

        assert response.status_code == 404
        assert set(response.json()) == {"detail"}

    def test_detail_costs_two_queries(self, owner_client, user, task, django_assert_num_queries):
        with django_assert_num_queries(2):
            owner_client.get(tasks_url(user, task))

    @pytest.mark.parametrize("task_id", ["abc", "1.5", "-1", "9" * 30])
    def test_malformed_or_huge_ids_are_404_json(self, owner_client, user, task_id):
        response = owner_client.get(f"/api/{user.id}/tasks/{task_id}")

        assert response.status_code == 404
        assert "detail" in response.json()


class TestUpdate:
    def test_put_replaces_title_and_keeps_omitted_fields(self, owner_client, user):
        task = TaskFactory(user=user, description="keep me", completed=True)

        response = owner_client.put(tasks_url(user, task), {"title": "New"}, format="json")

        assert response.status_code == 200
        task.refresh_from_db()
        assert (task.title, task.description, task.completed) == ("New", "keep me", True)

    def test_put_does_not_undo_a_completion_made_since_it_read_the_task(
        self, owner_client, user, task
    ):
        # Without If-Match a PUT takes no lock: a bulk completion can land between its read
        # and its write, and must survive it.
        def complete(task: Task) -> None:
            tasks_set_completed(queryset=Task.objects.filter(pk=task.pk), completed=True)

        with meanwhile(complete):
            response = owner_client.put(tasks_url(user, task), {"title": "New"}, format="json")

        assert response.status_code == 200
        task.refresh_from_db()
        assert (task.title, task.completed) == ("New", True)
        assert task.completed_at is not None

    # Outside a test transaction, like a request: the refused save dooms an open transaction.
    @pytest.mark.django_db(transaction=True)
    def test_put_on_a_task_deleted_since_it_was_read_is_404(self, owner_client, user, task):
        with meanwhile(lambda task: Task.objects.filter(pk=task.pk).delete()):
            response = owner_client.put(tasks_url(user, task), {"title": "New"}, format="json")

        # The deletion ran inside the write's own transaction (a request's deletion would wait
        # for the owner's lock), so it is rolled back with the refused write.
        assert response.status_code == 404
        assert set(response.json()) == {"detail"}

    def test_put_without_title_is_400(self, owner_client, user, task):
        response = owner_client.put(tasks_url(user, task), {"completed": True}, format="json")

        assert response.status_code == 400
        assert "title" in response.json()["errors"]
        task.refresh_from_db()
        assert task.completed is False

    def test_put_can_clear_the_description(self, owner_client, user):
        task = TaskFactory(user=user, description="old")

        owner_client.put(tasks_url(user, task), {"title": "t", "description": None}, format="json")

        task.refresh_from_db()
        assert task.description is None

    def test_patch_changes_only_what_it_sends(self, owner_client, user):
        task = TaskFactory(user=user, title="Keep", description="d")

        response = owner_client.patch(tasks_url(user, task), {"completed": True}, format="json")

        assert response.status_code == 200
        assert response.json()["completed"] is True
        task.refresh_from_db()
        assert (task.title, task.description) == ("Keep", "d")

    def test_update_moves_updated_at_but_not_created_at(self, owner_client, user, task):
        before = owner_client.get(tasks_url(user, task)).json()

        after = owner_client.patch(tasks_url(user, task), {"title": "t2"}, format="json").json()

        assert after["created_at"] == before["created_at"]
        assert after["updated_at"] > before["updated_at"]

    def test_patch_cannot_move_a_task_to_another_user(self, owner_client, user, other_user, task):
        owner_client.patch(tasks_url(user, task), {"user_id": other_user.id}, format="json")

        task.refresh_from_db()
        assert task.user_id == user.id

    def test_invalid_patch_changes_nothing(self, owner_client, user, task):
        response = owner_client.patch(tasks_url(user, task), {"title": ""}, format="json")

        assert response.status_code == 400
        task.refresh_from_db()
        assert task.title != ""


class TestDelete:
    def test_deletes_with_204_and_empty_body(self, owner_client, user, task):
        response = owner_client.delete(tasks_url(user, task))

        assert response.status_code == 204
        assert response.content == b""
        assert not Task.objects.filter(pk=task.pk).exists()

    def test_deleting_twice_is_404(self, owner_client, user, task):
        owner_client.delete(tasks_url(user, task))

        assert owner_client.delete(tasks_url(user, task)).status_code == 404


class TestComplete:
    def test_empty_body_toggles_both_ways(self, owner_client, user, task):
        url = tasks_url(user, task, "/complete")

        first = owner_client.patch(url)
        second = owner_client.patch(url)

        assert first.status_code == second.status_code == 200
        assert first.json()["completed"] is True
        assert second.json()["completed"] is False

    def test_empty_body_with_json_content_type_toggles(self, owner_client, user, task):
        response = owner_client.patch(
            tasks_url(user, task, "/complete"), "", content_type="application/json"
        )

        assert response.status_code == 200
        assert response.json()["completed"] is True

    def test_empty_object_toggles(self, owner_client, user, task):
        response = owner_client.patch(tasks_url(user, task, "/complete"), {}, format="json")

        assert response.json()["completed"] is True

    @pytest.mark.parametrize("value", [True, False])
    def test_body_sets_the_value_idempotently(self, owner_client, user, task, value):
        url = tasks_url(user, task, "/complete")

        for _ in range(2):
            response = owner_client.patch(url, {"completed": value}, format="json")
            assert response.status_code == 200
            assert response.json()["completed"] is value

    def test_setting_the_value_it_has_changes_nothing_not_even_the_etag(
        self, owner_client, user, task
    ):
        url = tasks_url(user, task, "/complete")
        first = owner_client.patch(url, {"completed": True}, format="json")

        again = owner_client.patch(url, {"completed": True}, format="json")

        assert again.json() == first.json()
        assert again["ETag"] == first["ETag"]

    @pytest.mark.parametrize("body", ['{"completed": "maybe"}', '{"completed": null}', "[true]"])
    def test_bad_body_is_400_and_changes_nothing(self, owner_client, user, task, body):
        response = owner_client.patch(
            tasks_url(user, task, "/complete"), body, content_type="application/json"
        )

        assert response.status_code == 400
        task.refresh_from_db()
        assert task.completed is False

    def test_other_methods_are_405(self, owner_client, user, task):
        response = owner_client.post(tasks_url(user, task, "/complete"))

        assert response.status_code == 405
        assert "detail" in response.json()

    def test_foreign_task_is_404(self, owner_client, user, other_user):
        foreign = TaskFactory(user=other_user)

        response = owner_client.patch(f"/api/{user.id}/tasks/{foreign.id}/complete")

        assert response.status_code == 404
        foreign.refresh_from_db()
        assert foreign.completed is False


class TestTrailingSlashes:
    """Every route answers with and without the slash, and never redirects."""

    @pytest.mark.parametrize("slash", ["", "/"])
    def test_every_method_works_both_ways(self, owner_client, user, slash):
        created = owner_client.post(f"{tasks_url(user)}{slash}", {"title": "a"}, format="json")
        assert created.status_code == 201
        task_url = f"{tasks_url(user)}/{created.json()['id']}{slash}"
        assert owner_client.get(f"{tasks_url(user)}{slash}").status_code == 200
        assert owner_client.get(task_url).status_code == 200
        assert owner_client.put(task_url, {"title": "b"}, format="json").status_code == 200
        assert owner_client.patch(task_url, {"title": "c"}, format="json").status_code == 200
        complete_url = f"{tasks_url(user)}/{created.json()['id']}/complete{slash}"
        assert owner_client.patch(complete_url).status_code == 200
        assert owner_client.delete(task_url).status_code == 204


class TestIsolation:
    """A user never reads, changes or learns of another user's task."""

    def test_foreign_path_is_403_for_every_route(self, owner_client, other_user):
        foreign = TaskFactory(user=other_user, title="theirs")
        base = f"/api/{other_user.id}/tasks"
        calls = [
            ("get", base, None),
            ("post", base, {"title": "x"}),
            ("get", f"{base}/{foreign.id}", None),
            ("put", f"{base}/{foreign.id}", {"title": "x"}),
            ("patch", f"{base}/{foreign.id}", {"title": "x"}),
            ("delete", f"{base}/{foreign.id}", None),
            ("patch", f"{base}/{foreign.id}/complete", None),
        ]
        for method, url, body in calls:
            response = getattr(owner_client, method)(url, body, format="json")
            assert response.status_code == 403, (method, url)
            assert set(response.json()) == {"detail"}
        foreign.refresh_from_db()
        assert (foreign.title, foreign.completed) == ("theirs", False)
        assert other_user.tasks.count() == 1

    def test_foreign_task_under_own_path_is_404_like_a_missing_one(
        self, owner_client, user, other_user
    ):
        foreign = TaskFactory(user=other_user, title="secret")

        responses = [
            owner_client.get(f"/api/{user.id}/tasks/{foreign.id}"),
            owner_client.put(f"/api/{user.id}/tasks/{foreign.id}", {"title": "x"}, format="json"),
            owner_client.patch(f"/api/{user.id}/tasks/{foreign.id}", {"title": "x"}, format="json"),
            owner_client.delete(f"/api/{user.id}/tasks/{foreign.id}"),
        ]
        missing = owner_client.get(f"/api/{user.id}/tasks/987654")

        for response in responses:
            assert response.status_code == 404
            assert response.json() == missing.json()
        foreign.refresh_from_db()
        assert foreign.title == "secret"

    def test_list_never_contains_foreign_tasks(self, owner_client, user, other_user):
        TaskFactory.create_batch(3, user=other_user)

        assert owner_client.get(tasks_url(user)).json() == []


class TestConventions:
    def test_unknown_api_route_is_404_json(self, owner_client):
        response = owner_client.get("/api/nothing/here/at/all")

        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail"}

    def test_method_not_allowed_is_405_json(self, owner_client, user):
        response = owner_client.delete(tasks_url(user))

        assert response.status_code == 405
        assert set(response.json()) == {"detail"}

    def test_every_response_has_a_request_id(self, owner_client, user):
        first = owner_client.get(tasks_url(user))
        second = owner_client.get(tasks_url(user))

        assert first["X-Request-ID"] and first["X-Request-ID"] != second["X-Request-ID"]

    def test_a_sane_client_request_id_is_echoed(self, owner_client, user):
        response = owner_client.get(tasks_url(user), HTTP_X_REQUEST_ID="frontend-123.abc")

        assert response["X-Request-ID"] == "frontend-123.abc"

    @pytest.mark.parametrize("offered", ["has space", "x" * 129, "<script>", "a\tb"])
    def test_an_insane_client_request_id_is_replaced(self, owner_client, user, offered):
        response = owner_client.get(tasks_url(user), HTTP_X_REQUEST_ID=offered)

        assert response["X-Request-ID"] != offered
        assert len(response["X-Request-ID"]) == 32

    def test_request_id_is_in_the_access_log_line(self, owner_client, user, caplog):
        with caplog.at_level("INFO", logger="api.access"):
            response = owner_client.get(tasks_url(user), HTTP_X_REQUEST_ID="trace-me-42")

        [record] = [r for r in caplog.records if r.name == "api.access"]
        assert record.request_id == response["X-Request-ID"] == "trace-me-42"
        assert record.status == 200 and record.user_id == user.id

    def test_cors_preflight_allows_the_contract_headers(self, client, user):
        response = client.options(
            tasks_url(user),
            HTTP_ORIGIN="http://frontend.test",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match",
        )

        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "http://frontend.test"
        allowed = response["Access-Control-Allow-Headers"].lower()
        for header in ["authorization", "content-type", "if-match", "if-none-match"]:
            assert header in allowed
        assert "idempotency-key" in allowed

    def test_cors_exposes_the_contract_headers(self, owner_client, user):
        response = owner_client.get(tasks_url(user), HTTP_ORIGIN="http://frontend.test")

        exposed = response["Access-Control-Expose-Headers"].lower()
        for header in ["etag", "link", "x-total-count", "location", "x-request-id"]:
            assert header in exposed

    def test_unknown_origins_get_no_cors_grant(self, owner_client, user):
        response = owner_client.get(tasks_url(user), HTTP_ORIGIN="http://evil.test")

        assert "Access-Control-Allow-Origin" not in response

    def test_an_unexpected_error_is_a_json_500_without_a_traceback(
        self, owner_client, user, monkeypatch
    ):
        def explode(*args, **kwargs):
            raise RuntimeError("boom secret detail")

        monkeypatch.setattr("tasks.views.TaskViewSet.list", explode)

        response = owner_client.get(tasks_url(user))

        assert response.status_code == 500
        assert set(response.json()) == {"detail"}
        assert b"boom" not in response.content and b"Traceback" not in response.content


def test_queries_are_scoped_to_the_path_user(owner_client, user, other_user):
    TaskFactory(user=other_user)
    with CaptureQueriesContext(connection) as queries:
        owner_client.get(tasks_url(user))

    task_queries = [q["sql"] for q in queries if "tasks_task" in q["sql"]]
    assert task_queries and all(user.id in sql for sql in task_queries)


@pytest.mark.django_db(transaction=True)  # outside a test transaction, as in production
@pytest.mark.parametrize("headers", [{}, {"HTTP_IF_MATCH": ""}, {"HTTP_IF_MATCH": '"stale"'}])
def test_options_on_a_task_describes_it_and_never_fails(owner_client, user, task, headers):
    """DRF's OPTIONS metadata probes the object as a PUT would; it must not take a lock."""
    response = owner_client.options(tasks_url(user, task), **headers)

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.title.startswith("Task")


class TestWriteQueryCounts:
    """What each write costs in statements, counted as the tests see them: a transaction
    shows as SAVEPOINT and RELEASE here, BEGIN and COMMIT in production; the first query
    of each is the token's user. The owner's lock also reads whether they have an active
    webhook (none here), so no write looks for webhooks (notifications/webhooks.py)."""

    def test_create_costs_six(self, owner_client, user, django_assert_num_queries):
        # user, savepoint, owner lock, end of the group, insert, release
        with django_assert_num_queries(6):
            response = owner_client.post(tasks_url(user), {"title": "New"}, format="json")
        assert response.status_code == 201

    def test_update_costs_seven(self, owner_client, user, task, django_assert_num_queries):
        # user, task, savepoint, owner lock, the task locked, update, release
        with django_assert_num_queries(7):
            response = owner_client.patch(tasks_url(user, task), {"title": "New"}, format="json")
        assert response.status_code == 200

    def test_toggle_reads_the_task_once(self, owner_client, user, task, django_assert_num_queries):
        # user, savepoint, owner lock, the task locked, update, its pending subtasks,
        # release
        with django_assert_num_queries(7):
            response = owner_client.patch(tasks_url(user, task, "/complete"))
        assert response.json()["completed"] is True
        # Reopening looks for no subtasks.
        with django_assert_num_queries(6):
            response = owner_client.patch(tasks_url(user, task, "/complete"))
        assert response.json()["completed"] is False

    def test_completing_a_subtask_looks_for_no_subtasks_of_its_own(
        self, owner_client, user, task, django_assert_num_queries
    ):
        subtask = TaskFactory(user=user, parent_id=task.pk)
        with django_assert_num_queries(6):
            response = owner_client.patch(tasks_url(user, subtask, "/complete"))
        assert response.json()["completed"] is True

    def test_toggling_another_users_task_is_404_and_changes_nothing(
        self, owner_client, user, other_user
    ):
        theirs = TaskFactory(user=other_user)

        response = owner_client.patch(f"/api/{user.id}/tasks/{theirs.id}/complete")

        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.completed is False
