"""Recurring tasks at the HTTP boundary: rules, zones, series, and exactly one next occurrence."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tasks.models import Task
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def tasks_url(user, task=None, suffix: str = "") -> str:
    base = f"/api/{user.id}/tasks"
    return f"{base}/{task['id'] if isinstance(task, dict) else task.id}{suffix}" if task else base


def create(client, user, **fields) -> dict:
    response = client.post(tasks_url(user), {"title": "Water the plants", **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def complete(client, user, task) -> dict:
    response = client.patch(tasks_url(user, task, "/complete"), {"completed": True}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def next_of(client, user, task) -> dict:
    done = client.get(tasks_url(user, task)).json()
    assert done["next_occurrence_id"] is not None
    return client.get(f"{tasks_url(user)}/{done['next_occurrence_id']}").json()


def series(user) -> list[Task]:
    return list(Task.objects.filter(user=user).order_by("id"))


class TestRules:
    @pytest.mark.parametrize(
        ("rule", "due", "next_due"),
        [
            # A Monday: the next is that Wednesday.
            ("FREQ=WEEKLY;BYDAY=MO,WE", "2027-02-01T09:00:00Z", "2027-02-03T09:00:00Z"),
            # The last day of January, then of February (not a leap year).
            ("FREQ=MONTHLY;BYMONTHDAY=-1", "2027-01-31T18:00:00Z", "2027-02-28T18:00:00Z"),
            ("FREQ=DAILY;INTERVAL=2", "2027-03-01T07:30:00Z", "2027-03-03T07:30:00Z"),
            ("FREQ=DAILY;UNTIL=20270310T235959Z", "2027-03-09T10:00:00Z", "2027-03-10T10:00:00Z"),
        ],
    )
    def test_completing_creates_the_next_occurrence_by_the_rule(
        self, owner_client, user, rule, due, next_due
    ):
        first = create(owner_client, user, recurrence=rule, due_at=due, priority="high")

        complete(owner_client, user, first)

        following = next_of(owner_client, user, first)
        assert following["due_at"] == next_due
        assert following["completed"] is False
        assert (following["title"], following["priority"]) == ("Water the plants", "high")
        assert (following["recurrence"], following["series_id"]) == (rule, first["id"])
        assert following["series_start"] == due

    def test_count_counts_from_the_series_start_and_then_stops(self, owner_client, user):
        task = create(
            owner_client, user, recurrence="FREQ=DAILY;COUNT=3", due_at="2027-05-01T09:00:00Z"
        )
        for expected in ["2027-05-02T09:00:00Z", "2027-05-03T09:00:00Z"]:
            complete(owner_client, user, task)
            task = next_of(owner_client, user, task)
            assert task["due_at"] == expected

        last = complete(owner_client, user, task)

        assert last["next_occurrence_id"] is None
        assert len(series(user)) == 3

    def test_until_reached_creates_nothing(self, owner_client, user):
        task = create(
            owner_client,
            user,
            recurrence="FREQ=DAILY;UNTIL=20270310T120000Z",
            due_at="2027-03-10T10:00:00Z",
        )

        assert complete(owner_client, user, task)["next_occurrence_id"] is None
        assert len(series(user)) == 1

    def test_a_task_completed_late_gets_its_next_occurrence_in_the_future(self, owner_client, user):
        long_ago = (timezone.now() - timedelta(days=30)).replace(microsecond=0)
        task = create(owner_client, user, recurrence="FREQ=DAILY", due_at=long_ago.isoformat())

        complete(owner_client, user, task)

        following = next_of(owner_client, user, task)
        due = datetime.fromisoformat(following["due_at"])
        assert timezone.now() < due <= timezone.now() + timedelta(days=1)
        assert (due.hour, due.minute) == (long_ago.hour, long_ago.minute)


class TestTimeZones:
    @pytest.mark.parametrize(
        ("due", "next_due"),
        [
            # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
            ("2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z"),
            ("2027-10-30T07:00:00Z", "2027-10-31T08:00:00Z"),
        ],
    )
    def test_nine_oclock_in_berlin_stays_nine_oclock_across_daylight_saving(
        self, owner_client, user, due, next_due
    ):
        task = create(
            owner_client, user, recurrence="FREQ=DAILY", timezone="Europe/Berlin", due_at=due
        )

        complete(owner_client, user, task)

        assert next_of(owner_client, user, task)["due_at"] == next_due

    def test_the_default_zone_is_utc(self, owner_client, user):
        task = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-03-27T08:00:00Z")

        assert task["timezone"] == "UTC"


class TestExactlyOnce:
    def test_completing_twice_or_again_after_reopening_creates_one(self, owner_client, user):
        task = create(owner_client, user, recurrence="FREQ=WEEKLY", due_at="2027-02-01T09:00:00Z")

        complete(owner_client, user, task)
        complete(owner_client, user, task)
        owner_client.patch(tasks_url(user, task, "/complete"), {"completed": False}, format="json")
        complete(owner_client, user, task)
        owner_client.patch(tasks_url(user, task), {"completed": True}, format="json")

        assert len(series(user)) == 2

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("patch", "", {"completed": True}),
            ("put", "", {"title": "Water the plants", "completed": True}),
            ("patch", "/complete", None),
        ],
    )
    def test_every_route_that_completes_spawns(self, owner_client, user, method, suffix, body):
        task = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z")

        response = getattr(owner_client, method)(tasks_url(user, task, suffix), body, format="json")

        assert response.status_code == 200
        assert response.json()["next_occurrence_id"] is not None
        assert next_of(owner_client, user, task)["due_at"] == "2027-02-02T09:00:00Z"

    def test_bulk_complete_of_100_spawns_100_in_a_constant_number_of_queries(
        self, owner_client, user, django_assert_max_num_queries
    ):
        due = datetime(2027, 2, 1, 9, tzinfo=UTC)
        ids = [TaskFactory(user=user, recurrence="FREQ=DAILY", due_at=due).id for _ in range(100)]

        # Beyond the completion and the spawn: the owner's lock, the end of the occurrences'
        # group and the subtasks to copy, each one query however many tasks.
        with django_assert_max_num_queries(11):
            response = owner_client.post(
                f"{tasks_url(user)}/bulk", {"action": "complete", "ids": ids}, format="json"
            )

        assert response.json() == {"affected": 100}
        spawned = Task.objects.filter(user=user, completed=False)
        assert spawned.count() == 100
        assert set(spawned.values_list("due_at", flat=True)) == {due + timedelta(days=1)}
        assert set(
            Task.objects.filter(id__in=ids).values_list("next_occurrence_id", flat=True)
        ) == set(spawned.values_list("id", flat=True))

    def test_the_admin_action_spawns(self, admin_client, user):
        task = TaskFactory(
            user=user, recurrence="FREQ=DAILY", due_at=datetime(2027, 2, 1, tzinfo=UTC)
        )

        admin_client.post(
            "/admin/tasks/task/", {"action": "mark_complete", "_selected_action": [task.id]}
        )

        task.refresh_from_db()
        assert task.completed and task.next_occurrence_id is not None


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_completes_create_one_next_occurrence(user, client_for):
    task = TaskFactory(user=user, recurrence="FREQ=DAILY", due_at=datetime(2027, 2, 1, tzinfo=UTC))
    clients = [client_for(user) for _ in range(10)]

    def finish(n: int) -> int:
        url = tasks_url(user, task, "/complete")
        return clients[n].patch(url, {"completed": True}, format="json").status_code

    assert run_concurrently(10, finish) == [200] * 10
    assert Task.objects.filter(user=user).count() == 2


class TestSeries:
    def test_a_new_rule_starts_a_series_and_a_moved_due_at_does_not(self, owner_client, user):
        first = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z")
        complete(owner_client, user, first)
        second = next_of(owner_client, user, first)

        moved = owner_client.patch(
            tasks_url(user, second), {"due_at": "2027-02-02T15:00:00Z"}, format="json"
        ).json()
        assert (moved["series_id"], moved["series_start"]) == (first["id"], first["due_at"])
        complete(owner_client, user, second)
        assert next_of(owner_client, user, second)["due_at"] == "2027-02-03T09:00:00Z"

        restarted = owner_client.patch(
            tasks_url(user, moved), {"recurrence": "FREQ=WEEKLY"}, format="json"
        ).json()
        assert (restarted["series_id"], restarted["series_start"]) == (
            second["id"],
            "2027-02-02T15:00:00Z",
        )

    def test_an_occurrence_keeps_its_series_after_the_first_is_deleted(self, owner_client, user):
        first = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z")
        complete(owner_client, user, first)
        second = next_of(owner_client, user, first)

        owner_client.delete(tasks_url(user, first))
        complete(owner_client, user, second)

        third = next_of(owner_client, user, second)
        assert (third["series_id"], third["series_start"]) == (first["id"], first["due_at"])

    def test_removing_the_rule_ends_the_series(self, owner_client, user):
        task = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z")

        plain = owner_client.patch(tasks_url(user, task), {"recurrence": None}, format="json")

        assert (plain.json()["series_id"], plain.json()["series_start"]) == (None, None)
        assert complete(owner_client, user, task)["next_occurrence_id"] is None

    def test_a_task_without_a_rule_has_no_series(self, owner_client, user):
        task = create(owner_client, user)

        assert (task["recurrence"], task["series_id"], task["next_occurrence_id"]) == (
            None,
            None,
            None,
        )


class TestValidation:
    @pytest.mark.parametrize(
        "rule",
        [
            "FREQ=SECONDLY",
            "FREQ=MINUTELY;INTERVAL=5",
            "RRULE:FREQ=DAILY",
            "FREQ=DAILY;DTSTART=20270101T000000Z",
            "FREQ=FORTNIGHTLY",
            "BYDAY=MO",
            "not a rule",
            "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2",
            "FREQ=DAILY;" + "INTERVAL=1;" * 60,
        ],
    )
    def test_a_bad_rule_is_a_400_naming_recurrence_and_creates_nothing(
        self, owner_client, user, rule
    ):
        response = owner_client.post(
            tasks_url(user),
            {"title": "x", "recurrence": rule, "due_at": "2027-01-01T09:00:00Z"},
            format="json",
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["recurrence"]
        assert response.json()["errors"]["recurrence"][0]
        assert not Task.objects.exists()

    @pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "europe/berlin"])
    def test_an_unknown_zone_is_a_400_naming_timezone(self, owner_client, user, zone):
        response = owner_client.post(
            tasks_url(user),
            {
                "title": "x",
                "recurrence": "FREQ=DAILY",
                "timezone": zone,
                "due_at": "2027-01-01T09:00:00Z",
            },
            format="json",
        )

        assert response.status_code == 400
        assert "timezone" in response.json()["errors"]

    def test_a_recurring_task_needs_a_due_at(self, owner_client, user, task):
        created = owner_client.post(
            tasks_url(user), {"title": "x", "recurrence": "FREQ=DAILY"}, format="json"
        )
        patched = owner_client.patch(
            tasks_url(user, task), {"recurrence": "FREQ=DAILY"}, format="json"
        )

        for response in (created, patched):
            assert response.status_code == 400
            assert list(response.json()["errors"]) == ["due_at"]
        task.refresh_from_db()
        assert task.recurrence is None

    def test_clearing_the_due_at_of_a_recurring_task_is_a_400(self, owner_client, user):
        task = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-01-01T09:00:00Z")

        response = owner_client.patch(tasks_url(user, task), {"due_at": None}, format="json")

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["due_at"]

    def test_an_empty_rule_means_none(self, owner_client, user):
        assert create(owner_client, user, recurrence="")["recurrence"] is None


class TestOccurrencesPreview:
    def test_lists_the_next_due_dates_after_the_tasks_own(self, owner_client, user):
        task = create(
            owner_client, user, recurrence="FREQ=WEEKLY;BYDAY=MO", due_at="2027-02-01T09:00:00Z"
        )

        response = owner_client.get(tasks_url(user, task, "/occurrences"), {"count": 3})

        assert response.status_code == 200
        assert response.json() == {
            "occurrences": [
                "2027-02-08T09:00:00Z",
                "2027-02-15T09:00:00Z",
                "2027-02-22T09:00:00Z",
            ]
        }
        assert "ETag" in response

    def test_defaults_to_five_and_is_empty_without_a_rule(self, owner_client, user, task):
        recurring = create(
            owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z"
        )

        assert (
            len(owner_client.get(tasks_url(user, recurring, "/occurrences")).json()["occurrences"])
            == 5
        )
        assert owner_client.get(tasks_url(user, task, "/occurrences")).json() == {"occurrences": []}

    @pytest.mark.parametrize("count", ["0", "51", "five", "-1"])
    def test_a_bad_count_is_a_400_naming_it(self, owner_client, user, task, count):
        response = owner_client.get(tasks_url(user, task, "/occurrences"), {"count": count})

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["count"]

    def test_another_users_task_is_a_404(self, owner_client, user, other_user):
        foreign = TaskFactory(user=other_user)

        assert owner_client.get(tasks_url(user, foreign, "/occurrences")).status_code == 404


def test_the_recurring_filter(owner_client, user):
    recurring = create(owner_client, user, recurrence="FREQ=DAILY", due_at="2027-02-01T09:00:00Z")
    plain = create(owner_client, user)

    def ids(value: str) -> list[int]:
        return [t["id"] for t in owner_client.get(tasks_url(user), {"recurring": value}).json()]

    assert ids("true") == [recurring["id"]]
    assert ids("false") == [plain["id"]]
    bad = owner_client.get(tasks_url(user), {"recurring": "maybe"})
    assert bad.status_code == 400 and "recurring" in bad.json()["errors"]
