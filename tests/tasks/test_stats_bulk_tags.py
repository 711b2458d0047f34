"""`GET …/tasks/stats`, `POST …/tasks/bulk` and `GET …/tags`."""

from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from tasks.models import Priority, Task
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def bulk(client, user, action, ids, **kwargs):
    return client.post(
        f"/api/{user.id}/tasks/bulk", {"action": action, "ids": ids}, format="json", **kwargs
    )


class TestStats:
    def test_counts_only_the_users_own_tasks(self, owner_client, user, other_user):
        past = timezone.now() - timedelta(days=1)
        TaskFactory(user=user, priority=Priority.HIGH, due_at=past)  # overdue
        TaskFactory(user=user, priority=Priority.HIGH, due_at=past, completed=True)
        TaskFactory(user=user, priority=Priority.LOW, due_at=timezone.now() + timedelta(days=1))
        TaskFactory(user=user)
        TaskFactory.create_batch(3, user=other_user, priority=Priority.MEDIUM, due_at=past)

        response = owner_client.get(f"/api/{user.id}/tasks/stats")

        assert response.status_code == 200
        assert response.json() == {
            "total": 4,
            "completed": 1,
            "pending": 3,
            "overdue": 1,
            "by_priority": {"none": 1, "low": 1, "medium": 0, "high": 2},
        }

    def test_a_new_user_has_zeros(self, owner_client, user):
        body = owner_client.get(f"/api/{user.id}/tasks/stats/").json()

        assert body["total"] == body["overdue"] == 0
        assert body["by_priority"] == {"none": 0, "low": 0, "medium": 0, "high": 0}

    def test_ignores_list_parameters(self, owner_client, user, task):
        response = owner_client.get(f"/api/{user.id}/tasks/stats", {"limit": "x", "status": "?"})

        assert response.status_code == 200
        assert response.json()["total"] == 1

    def test_costs_one_query_after_the_user(self, owner_client, user, django_assert_num_queries):
        TaskFactory.create_batch(5, user=user)

        with django_assert_num_queries(2):
            owner_client.get(f"/api/{user.id}/tasks/stats")


class TestBulk:
    def test_complete_counts_only_what_changed_and_skips_foreign_ids(
        self, owner_client, user, other_user
    ):
        pending = TaskFactory(user=user)
        already_done = TaskFactory(user=user, completed=True)
        foreign = TaskFactory(user=other_user)

        response = bulk(owner_client, user, "complete", [pending.id, already_done.id, foreign.id])

        assert response.status_code == 200
        assert response.json() == {"affected": 1}
        pending.refresh_from_db()
        foreign.refresh_from_db()
        assert pending.completed and pending.completed_at is not None
        assert not foreign.completed

    def test_complete_keeps_the_completion_time_of_already_completed_tasks(
        self, owner_client, user
    ):
        done = TaskFactory(user=user, completed=True)
        completed_at = done.completed_at

        bulk(owner_client, user, "complete", [done.id])

        done.refresh_from_db()
        assert done.completed_at == completed_at

    def test_reopen_clears_completed_at(self, owner_client, user, other_user):
        done = TaskFactory(user=user, completed=True)
        foreign = TaskFactory(user=other_user, completed=True)

        response = bulk(owner_client, user, "reopen", [done.id, foreign.id, 987654])

        assert response.json() == {"affected": 1}
        done.refresh_from_db()
        foreign.refresh_from_db()
        assert not done.completed and done.completed_at is None
        assert foreign.completed

    def test_delete_removes_only_own_tasks(self, owner_client, user, other_user):
        mine = TaskFactory.create_batch(2, user=user)
        kept = TaskFactory(user=user)
        foreign = TaskFactory(user=other_user)

        response = bulk(owner_client, user, "delete", [t.id for t in mine] + [foreign.id])

        assert response.json() == {"affected": 2}
        assert list(Task.objects.filter(user=user)) == [kept]
        assert Task.objects.filter(pk=foreign.pk).exists()

    def test_repeated_ids_count_once(self, owner_client, user, task):
        response = bulk(owner_client, user, "delete", [task.id, task.id])

        assert response.json() == {"affected": 1}

    def test_empty_ids_affect_nothing(self, owner_client, user, task):
        assert bulk(owner_client, user, "delete", []).json() == {"affected": 0}
        assert Task.objects.exists()

    def test_500_ids_are_accepted(self, owner_client, user, task):
        response = bulk(owner_client, user, "complete", [task.id, *range(10**9, 10**9 + 499)])

        assert response.json() == {"affected": 1}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"action": "archive", "ids": [1]}, "action"),
            ({"ids": [1]}, "action"),
            ({"action": "delete"}, "ids"),
            ({"action": "delete", "ids": "1"}, "ids"),
            ({"action": "delete", "ids": ["x"]}, "ids"),
            ({"action": "delete", "ids": [0]}, "ids"),
            ({"action": "delete", "ids": [2**63]}, "ids"),
            ({"action": "delete", "ids": list(range(1, 502))}, "ids"),
        ],
    )
    def test_bad_bodies_are_400_and_change_nothing(self, owner_client, user, task, body, field):
        response = owner_client.post(f"/api/{user.id}/tasks/bulk", body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert Task.objects.filter(pk=task.pk).exists()

    def test_runs_in_one_transaction(self, owner_client, user, monkeypatch):
        tasks = TaskFactory.create_batch(2, user=user)
        update = QuerySet.update

        def fail_after_updating(queryset, **values):
            update(queryset, **values)
            raise RuntimeError("database went away")

        monkeypatch.setattr(QuerySet, "update", fail_after_updating)
        response = bulk(owner_client, user, "complete", [t.id for t in tasks])

        assert response.status_code == 500
        assert not Task.objects.filter(completed=True).exists()

    def test_get_is_405(self, owner_client, user):
        assert owner_client.get(f"/api/{user.id}/tasks/bulk").status_code == 405


class TestTags:
    def test_lists_own_tags_with_counts_most_used_first(self, owner_client, user, other_user):
        TaskFactory(user=user, tags=["home", "work"])
        TaskFactory(user=user, tags=["home"])
        TaskFactory(user=user, tags=["garden"])
        TaskFactory(user=user, tags=[])
        TaskFactory(user=other_user, tags=["secret", "home"])

        response = owner_client.get(f"/api/{user.id}/tags")

        assert response.status_code == 200
        assert response.json() == [
            {"name": "home", "count": 2},
            {"name": "garden", "count": 1},
            {"name": "work", "count": 1},
        ]

    def test_works_with_a_trailing_slash_and_when_empty(self, owner_client, user):
        assert owner_client.get(f"/api/{user.id}/tags/").json() == []


class TestIsolation:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("get", "tasks/stats", None),
            ("post", "tasks/bulk", {"action": "delete", "ids": [1]}),
            ("get", "tags", None),
        ],
    )
    def test_foreign_path_is_403(self, owner_client, other_user, method, path, body):
        foreign = TaskFactory(user=other_user)

        response = getattr(owner_client, method)(
            f"/api/{other_user.id}/{path}", body, format="json"
        )

        assert response.status_code == 403
        assert Task.objects.filter(pk=foreign.pk).exists()

    @pytest.mark.parametrize("path", ["tasks/stats", "tags"])
    def test_without_a_token_is_401(self, client, user, path):
        response = client.get(f"/api/{user.id}/{path}")

        assert response.status_code == 401
