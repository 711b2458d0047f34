"""Cached reads never serve a stale task, and ETags make conditional requests work."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from accounts.models import User
from accounts.throttles import PerUserRateThrottle
from tasks.models import Task
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_tab(user, client_for) -> APIClient:
    """Another client of the same user, as a second browser tab (or another worker) would be."""
    return client_for(user)


def titles(response) -> list[str]:
    return [task["title"] for task in response.json()]


class TestReadAfterWrite:
    def test_a_cached_list_costs_only_the_user_query(
        self, owner_client, user, django_assert_num_queries
    ):
        TaskFactory.create_batch(3, user=user)
        owner_client.get(f"/api/{user.id}/tasks")

        with django_assert_num_queries(1):
            response = owner_client.get(f"/api/{user.id}/tasks")

        assert len(response.json()) == 3

    def test_a_cached_task_costs_only_the_user_query(
        self, owner_client, user, task, django_assert_num_queries
    ):
        owner_client.get(f"/api/{user.id}/tasks/{task.id}")

        with django_assert_num_queries(1):
            response = owner_client.get(f"/api/{user.id}/tasks/{task.id}")

        assert response.json()["id"] == task.id

    @pytest.mark.skipif(not settings.REDIS_URL, reason="counts Redis round trips: set REDIS_URL")
    @pytest.mark.parametrize("suffix", ["", "/{id}"])
    def test_a_cached_read_is_one_round_trip_to_redis(
        self, owner_client, user, task, monkeypatch, suffix
    ):
        url = f"/api/{user.id}/tasks{suffix.format(id=task.id)}"
        filled = owner_client.get(url)
        sent = []
        send = AbstractConnection.send_packed_command

        def counted(connection, command, *args, **kwargs):
            sent.append(command)
            return send(connection, command, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        response = owner_client.get(url)

        assert len(sent) == 1  # the rate limiter's count and the cache entry, pipelined
        assert response.content == filled.content
        assert response["ETag"] == filled["ETag"]

    def test_a_read_over_the_rate_limit_is_429_even_when_cached(
        self, owner_client, user, task, monkeypatch
    ):
        monkeypatch.setattr(PerUserRateThrottle, "THROTTLE_RATES", {"tasks": "2/min"})
        url = f"/api/{user.id}/tasks/{task.id}"

        statuses = [owner_client.get(url).status_code for _ in range(3)]

        assert statuses == [200, 200, 429]

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("put", "", {"title": "changed"}),
            ("patch", "", {"title": "changed"}),
            ("patch", "/complete", None),
            ("delete", "", None),
        ],
    )
    def test_every_api_write_is_seen_by_the_next_read_in_another_tab(
        self, owner_client, second_tab, user, method, suffix, body
    ):
        task = TaskFactory(user=user, title="original")
        list_url, task_url = f"/api/{user.id}/tasks", f"/api/{user.id}/tasks/{task.id}"
        before_list = owner_client.get(list_url).json()
        before_task = owner_client.get(task_url)

        getattr(second_tab, method)(task_url + suffix, body, format="json")

        assert owner_client.get(list_url).json() != before_list
        after_task = owner_client.get(task_url)
        if method == "delete":
            assert after_task.status_code == 404
        else:
            assert after_task.status_code == 200
            assert after_task.json() != before_task.json()

    def test_a_create_is_seen_by_the_next_list(self, owner_client, second_tab, user):
        owner_client.get(f"/api/{user.id}/tasks")

        second_tab.post(f"/api/{user.id}/tasks", {"title": "new"}, format="json")

        assert titles(owner_client.get(f"/api/{user.id}/tasks")) == ["new"]

    def test_an_orm_save_outside_the_write_path_is_seen(self, owner_client, user, task):
        """The database bumps the version itself, whatever wrote the task."""
        owner_client.get(f"/api/{user.id}/tasks")

        task.title = "edited by staff"
        task.save()

        assert titles(owner_client.get(f"/api/{user.id}/tasks")) == ["edited by staff"]

    def test_a_queryset_update_is_seen(self, owner_client, user):
        TaskFactory.create_batch(3, user=user)
        owner_client.get(f"/api/{user.id}/tasks")

        Task.objects.filter(user=user).update(title="renamed")

        assert titles(owner_client.get(f"/api/{user.id}/tasks")) == ["renamed"] * 3

    def test_a_write_in_raw_sql_is_seen(self, owner_client, user, task):
        """The database bumps the version itself, whatever wrote the task."""
        owner_client.get(f"/api/{user.id}/tasks/{task.id}")

        with connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_task SET title = %s WHERE id = %s", ["psql", task.id])

        assert owner_client.get(f"/api/{user.id}/tasks/{task.id}").json()["title"] == "psql"

    def test_a_bulk_delete_bumps_every_owner_and_nobody_else(self, user, other_user):
        bystander = TaskFactory().user
        TaskFactory.create_batch(3, user=user)
        TaskFactory(user=other_user)
        before = dict(User.objects.values_list("id", "tasks_version"))

        Task.objects.filter(user__in=[user, other_user]).delete()

        after = dict(User.objects.values_list("id", "tasks_version"))
        assert after[user.id] > before[user.id]
        assert after[other_user.id] > before[other_user.id]
        assert after[bystander.id] == before[bystander.id]

    def test_moving_a_task_bumps_both_owners(self, user, other_user, task):
        before = dict(User.objects.values_list("id", "tasks_version"))

        Task.objects.filter(pk=task.pk).update(user=other_user)

        after = dict(User.objects.values_list("id", "tasks_version"))
        assert after[user.id] > before[user.id] and after[other_user.id] > before[other_user.id]

    def test_lists_with_different_queries_are_cached_apart(self, owner_client, user):
        TaskFactory(user=user, title="a")
        full = owner_client.get(f"/api/{user.id}/tasks")

        other = owner_client.get(f"/api/{user.id}/tasks?unknown=1")

        assert other.json() == full.json()
        assert other["ETag"] == full["ETag"]


class TestETags:
    def test_list_and_task_carry_strong_etags(self, owner_client, user, task):
        for url in [f"/api/{user.id}/tasks", f"/api/{user.id}/tasks/{task.id}"]:
            etag = owner_client.get(url)["ETag"]
            assert etag.startswith('"') and not etag.startswith("W/")

    def test_if_none_match_gives_304_without_a_body(
        self, owner_client, user, task, django_assert_num_queries
    ):
        for url in [f"/api/{user.id}/tasks", f"/api/{user.id}/tasks/{task.id}"]:
            etag = owner_client.get(url)["ETag"]
            with django_assert_num_queries(1):
                response = owner_client.get(url, HTTP_IF_NONE_MATCH=etag)
            assert response.status_code == 304
            assert response.content == b""
            assert "Content-Type" not in response
            assert response["ETag"] == etag

    @pytest.mark.parametrize("header", ["W/{etag}", '"other", {etag}', "*"])
    def test_if_none_match_accepts_weak_lists_and_star(self, owner_client, user, header):
        etag = owner_client.get(f"/api/{user.id}/tasks")["ETag"]

        response = owner_client.get(
            f"/api/{user.id}/tasks", HTTP_IF_NONE_MATCH=header.format(etag=etag)
        )

        assert response.status_code == 304

    def test_a_write_changes_the_etag_and_if_none_match_gets_the_new_body(
        self, owner_client, user, task
    ):
        url = f"/api/{user.id}/tasks"
        etag = owner_client.get(url)["ETag"]
        owner_client.patch(f"{url}/{task.id}", {"title": "new"}, format="json")

        response = owner_client.get(url, HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 200
        assert response["ETag"] != etag

    def test_write_responses_carry_the_etag_of_the_new_state(self, owner_client, user, task):
        patched = owner_client.patch(
            f"/api/{user.id}/tasks/{task.id}", {"title": "new"}, format="json"
        )

        assert patched["ETag"] == owner_client.get(f"/api/{user.id}/tasks/{task.id}")["ETag"]

    def test_created_task_carries_its_etag(self, owner_client, user):
        created = owner_client.post(f"/api/{user.id}/tasks", {"title": "x"}, format="json")

        assert created["ETag"] == owner_client.get(created["Location"])["ETag"]


class TestIfMatch:
    @pytest.mark.parametrize(
        ("method", "suffix", "body", "status"),
        [
            ("put", "", {"title": "new"}, 200),
            ("patch", "", {"title": "new"}, 200),
            ("patch", "/complete", None, 200),
            ("delete", "", None, 204),
        ],
    )
    def test_current_etag_lets_the_write_through_and_a_stale_one_is_412(
        self, owner_client, second_tab, user, method, suffix, body, status
    ):
        task = TaskFactory(user=user, title="original")
        url = f"/api/{user.id}/tasks/{task.id}"
        stale = owner_client.get(url)["ETag"]
        second_tab.patch(url, {"description": "changed elsewhere"}, format="json")
        current = owner_client.get(url)["ETag"]

        refused = getattr(owner_client, method)(
            url + suffix, body, format="json", HTTP_IF_MATCH=stale
        )

        assert refused.status_code == 412
        assert "detail" in refused.json()
        task.refresh_from_db()
        assert (task.title, task.completed) == ("original", False)

        accepted = getattr(owner_client, method)(
            url + suffix, body, format="json", HTTP_IF_MATCH=current
        )
        assert accepted.status_code == status

    @pytest.mark.parametrize("header", ["*", '"nope", {etag}'])
    def test_star_and_lists_match(self, owner_client, user, task, header):
        url = f"/api/{user.id}/tasks/{task.id}"
        etag = owner_client.get(url)["ETag"]

        response = owner_client.patch(
            url, {"title": "x"}, format="json", HTTP_IF_MATCH=header.format(etag=etag)
        )

        assert response.status_code == 200

    @pytest.mark.parametrize("header", ["garbage", "W/{etag}", '""'])
    def test_weak_or_malformed_if_match_is_412(self, owner_client, user, task, header):
        url = f"/api/{user.id}/tasks/{task.id}"
        etag = owner_client.get(url)["ETag"]

        response = owner_client.patch(
            url, {"title": "x"}, format="json", HTTP_IF_MATCH=header.format(etag=etag)
        )

        assert response.status_code == 412

    def test_if_match_on_a_foreign_task_is_404_not_412(self, owner_client, user, other_user):
        foreign = TaskFactory(user=other_user)

        response = owner_client.patch(
            f"/api/{user.id}/tasks/{foreign.id}", {"title": "x"}, format="json", HTTP_IF_MATCH="*"
        )

        assert response.status_code == 404


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_writers_with_one_etag_exactly_one_wins(user, client_for):
    task = TaskFactory(user=user)
    url = f"/api/{user.id}/tasks/{task.id}"
    etag = client_for(user).get(url)["ETag"]
    clients = [client_for(user) for _ in range(6)]

    def write(n: int) -> int:
        response = clients[n].patch(
            url, {"title": f"writer {n}"}, format="json", HTTP_IF_MATCH=etag
        )
        return response.status_code

    statuses = run_concurrently(6, write)

    assert sorted(statuses) == [200] + [412] * 5


class TestInvalidationFromOtherWritePaths:
    @pytest.mark.parametrize("action", ["complete", "reopen", "delete"])
    def test_bulk_actions_are_seen_by_the_next_read(self, owner_client, user, action):
        tasks = TaskFactory.create_batch(2, user=user, completed=action == "reopen")
        list_url = f"/api/{user.id}/tasks"
        before = owner_client.get(list_url).json()
        owner_client.get(f"{list_url}/{tasks[0].id}")  # cached too

        response = owner_client.post(
            f"{list_url}/bulk", {"action": action, "ids": [t.id for t in tasks]}, format="json"
        )

        assert response.json() == {"affected": 2}
        assert owner_client.get(list_url).json() != before
        detail = owner_client.get(f"{list_url}/{tasks[0].id}")
        if action == "delete":
            assert detail.status_code == 404
        else:
            assert detail.json()["completed"] is (action == "complete")

    def test_seed_demo_adding_tasks_to_a_cached_user_is_seen(self, client_for):
        call_command("seed_demo", users=1, tasks=1, verbosity=0)
        demo = User.objects.get(email="demo-1@example.com")
        client = client_for(demo)
        assert len(client.get(f"/api/{demo.id}/tasks").json()) == 1

        call_command("seed_demo", users=1, tasks=2, verbosity=0)

        assert len(client.get(f"/api/{demo.id}/tasks").json()) == 3

    def test_an_admin_edit_is_seen_by_the_next_read(self, owner_client, user, task, admin_client):
        owner_client.get(f"/api/{user.id}/tasks/{task.id}")

        admin_client.post(
            f"/admin/tasks/task/{task.id}/change/",
            {
                "user": user.id,
                "title": "renamed by staff",
                "priority": "0",
                "tags": "[]",
                "completed": "on",
            },
        )

        detail = owner_client.get(f"/api/{user.id}/tasks/{task.id}").json()
        assert (detail["title"], detail["completed"]) == ("renamed by staff", True)
