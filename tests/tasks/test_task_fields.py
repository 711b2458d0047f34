"""The extended task fields: priority, due_at, tags and completed_at."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tasks.models import Priority, Task
from tasks.services import tasks_set_completed
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def create(client, user, **body):
    return client.post(f"/api/{user.id}/tasks", {"title": "t", **body}, format="json")


class TestDefaults:
    def test_a_new_task_has_the_defaults(self, owner_client, user):
        body = create(owner_client, user).json()

        assert body["priority"] == "none"
        assert body["due_at"] is None
        assert body["tags"] == []
        assert body["completed_at"] is None

    def test_existing_frontends_that_send_only_title_and_description_work(self, owner_client, user):
        response = create(owner_client, user, description="d")

        assert response.status_code == 201


class TestPriority:
    @pytest.mark.parametrize("name", ["none", "low", "medium", "high"])
    def test_is_written_and_read_by_name(self, owner_client, user, name):
        response = create(owner_client, user, priority=name)

        assert response.json()["priority"] == name
        assert Task.objects.get().priority == Priority.from_name(name)

    @pytest.mark.parametrize("value", ["urgent", "HIGH", 3, None, ""])
    def test_other_values_are_400(self, owner_client, user, value):
        response = create(owner_client, user, priority=value)

        assert response.status_code == 400
        assert "priority" in response.json()["errors"]


class TestDueAt:
    def test_is_stored_and_answered_in_utc(self, owner_client, user):
        response = create(owner_client, user, due_at="2026-11-23T11:00:00+01:00")

        assert response.status_code == 201
        assert response.json()["due_at"] == "2026-11-23T10:00:00Z"
        assert Task.objects.get().due_at == datetime(2026, 11, 23, 10, tzinfo=UTC)

    def test_can_be_cleared(self, owner_client, user):
        task = TaskFactory(user=user, due_at=datetime(2026, 1, 1, tzinfo=UTC))

        response = owner_client.patch(
            f"/api/{user.id}/tasks/{task.id}", {"due_at": None}, format="json"
        )

        assert response.json()["due_at"] is None

    @pytest.mark.parametrize("value", ["2026-11-23T10:00:00", "2026-11-23"])
    def test_without_an_offset_is_400_asking_for_one(self, owner_client, user, value):
        response = create(owner_client, user, due_at=value)

        assert response.status_code == 400
        message = response.json()["errors"]["due_at"][0]
        assert "offset" in message
        assert not Task.objects.exists()

    @pytest.mark.parametrize("value", ["soon", 1700000000, "2026-02-30T10:00:00Z"])
    def test_garbage_is_400(self, owner_client, user, value):
        response = create(owner_client, user, due_at=value)

        assert response.status_code == 400
        assert "due_at" in response.json()["errors"]


class TestTags:
    def test_are_trimmed_lower_cased_and_deduplicated_in_order(self, owner_client, user):
        response = create(owner_client, user, tags=[" Work", "home", "WORK", "home "])

        assert response.json()["tags"] == ["work", "home"]
        assert Task.objects.get().tags == ["work", "home"]

    def test_limits_are_accepted_exactly(self, owner_client, user):
        tags = [f"{n:02d}" + "x" * 30 for n in range(20)]

        response = create(owner_client, user, tags=tags)

        assert response.status_code == 201

    @pytest.mark.parametrize(
        "tags",
        [
            ["x" * 33],
            [""],
            ["   "],
            [f"t{n}" for n in range(21)],
            [None],
            [["nested"]],
            "home",
            ["nul\x00"],
        ],
    )
    def test_bad_tags_are_400(self, owner_client, user, tags):
        response = create(owner_client, user, tags=tags)

        assert response.status_code == 400
        assert "tags" in response.json()["errors"]
        assert not Task.objects.exists()

    def test_twenty_one_spellings_of_twenty_tags_are_fine(self, owner_client, user):
        tags = [f"t{n}" for n in range(20)] + ["T0"]

        response = create(owner_client, user, tags=tags)

        assert len(response.json()["tags"]) == 20

    def test_model_clean_normalises_for_the_admin(self, user):
        task = Task(user=user, title="t", tags=[" Home", "home"])

        task.full_clean()

        assert task.tags == ["home"]
        with pytest.raises(ValidationError):
            Task(user=user, title="t", tags=["x" * 33]).full_clean()


class TestCompletedAt:
    """Set when completed, cleared when reopened, on every write path."""

    def test_create_completed(self, owner_client, user):
        body = create(owner_client, user, completed=True).json()

        assert body["completed_at"] is not None
        assert body["completed_at"].endswith("Z")

    def test_is_read_only(self, owner_client, user):
        body = create(owner_client, user, completed_at="2000-01-01T00:00:00Z").json()

        assert body["completed_at"] is None

    @pytest.mark.parametrize("method", ["patch", "put"])
    def test_update_sets_and_clears_it(self, owner_client, user, task, method):
        url = f"/api/{user.id}/tasks/{task.id}"

        done = getattr(owner_client, method)(url, {"title": "t", "completed": True}, format="json")
        again = getattr(owner_client, method)(url, {"title": "t", "completed": True}, format="json")
        reopened = getattr(owner_client, method)(
            url, {"title": "t", "completed": False}, format="json"
        )

        assert done.json()["completed_at"] is not None
        # Saving a completed task again keeps the moment it was completed.
        assert again.json()["completed_at"] == done.json()["completed_at"]
        assert reopened.json()["completed_at"] is None

    def test_complete_action_sets_and_clears_it(self, owner_client, user, task):
        url = f"/api/{user.id}/tasks/{task.id}/complete"

        done = owner_client.patch(url)
        task.refresh_from_db()
        assert done.json()["completed_at"] is not None
        assert task.completed_at is not None

        reopened = owner_client.patch(url)
        task.refresh_from_db()
        assert reopened.json()["completed_at"] is None
        assert task.completed_at is None

    def test_bulk_service_sets_and_clears_it(self, user):
        tasks = TaskFactory.create_batch(2, user=user)
        queryset = Task.objects.filter(pk__in=[t.pk for t in tasks])

        assert tasks_set_completed(queryset=queryset, completed=True) == 2
        assert all(t.completed_at for t in queryset.all())
        assert tasks_set_completed(queryset=queryset, completed=False) == 2
        assert not any(t.completed_at for t in queryset.all())

    def test_admin_form_save_sets_it(self, user, admin_client):
        task = TaskFactory(user=user)
        url = f"/admin/tasks/task/{task.id}/change/"
        form = admin_client.get(url).context["adminform"].form
        data = {**form.initial, "user": user.id, "completed": "on", "tags": "[]"}
        data = {key: value for key, value in data.items() if value is not None}

        response = admin_client.post(url, data)

        assert response.status_code == 302, response.context["adminform"].form.errors
        task.refresh_from_db()
        assert task.completed and task.completed_at is not None

    def test_the_database_refuses_a_completion_without_its_time(self, user):
        task = TaskFactory(user=user)

        with pytest.raises(IntegrityError), transaction.atomic():
            Task.objects.filter(pk=task.pk).update(completed=True)

        task.refresh_from_db()
        assert (task.completed, task.completed_at) == (False, None)
