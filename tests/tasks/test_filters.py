"""List query parameters, sort order and header pagination of `GET /api/{user_id}/tasks`."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import Priority, Task
from tests.conftest import requires_postgresql
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def list_ids(client, user, **params):
    response = client.get(f"/api/{user.id}/tasks", params)
    assert response.status_code == 200, response.json()
    return [task["id"] for task in response.json()]


def links(response) -> dict[str, dict[str, list[str]]]:
    """rel → parsed query of its URL, from an RFC 8288 Link header."""
    found = {}
    for part in filter(None, response.get("Link", "").split(", ")):
        url, rel = part.split("; ")
        assert url.startswith("<http://testserver/") and url.endswith(">")
        found[rel.removeprefix('rel="').removesuffix('"')] = parse_qs(urlsplit(url[1:-1]).query)
    return found


class TestFilters:
    def test_status_and_its_completed_alias(self, owner_client, user):
        done = TaskFactory(user=user, completed=True)
        todo = TaskFactory(user=user)

        assert list_ids(owner_client, user, status="completed") == [done.id]
        assert list_ids(owner_client, user, status="pending") == [todo.id]
        assert list_ids(owner_client, user, status="all") == [todo.id, done.id]
        assert list_ids(owner_client, user, completed="true") == [done.id]
        assert list_ids(owner_client, user, completed="false") == [todo.id]

    def test_priority_takes_several_names(self, owner_client, user):
        high = TaskFactory(user=user, priority=Priority.HIGH)
        medium = TaskFactory(user=user, priority=Priority.MEDIUM)
        TaskFactory(user=user, priority=Priority.LOW)
        TaskFactory(user=user)

        assert list_ids(owner_client, user, priority="high") == [high.id]
        assert list_ids(owner_client, user, priority="high,medium") == [medium.id, high.id]

    def test_tags_must_all_match_and_are_compared_normalised(self, owner_client, user):
        both = TaskFactory(user=user, tags=["home", "work"])
        home = TaskFactory(user=user, tags=["home"])
        TaskFactory(user=user, tags=["work"])

        assert list_ids(owner_client, user, tag="home") == [home.id, both.id]
        assert list_ids(owner_client, user, tag=["home", "work"]) == [both.id]
        assert list_ids(owner_client, user, tag=[" HOME ", "Work"]) == [both.id]
        assert list_ids(owner_client, user, tag="garden") == []

    def test_q_is_case_insensitive_in_title_and_description(self, owner_client, user):
        in_title = TaskFactory(user=user, title="Buy MILK")
        in_description = TaskFactory(user=user, title="Shop", description="oat milk too")
        TaskFactory(user=user, title="Call mum", description=None)

        assert list_ids(owner_client, user, q="milk") == [in_description.id, in_title.id]
        assert list_ids(owner_client, user, q="100%") == []

    def test_due_before_is_exclusive_and_due_after_inclusive(self, owner_client, user):
        noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        at_noon = TaskFactory(user=user, due_at=noon)
        earlier = TaskFactory(user=user, due_at=noon - timedelta(hours=1))
        TaskFactory(user=user, due_at=None)

        iso_noon = noon.isoformat().replace("+00:00", "Z")
        assert list_ids(owner_client, user, due_before=iso_noon) == [earlier.id]
        assert list_ids(owner_client, user, due_after=iso_noon) == [at_noon.id]

    def test_due_filters_honour_the_offset(self, owner_client, user):
        noon_utc = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        task = TaskFactory(user=user, due_at=noon_utc)
        # 13:00 at +01:00 is 12:00 UTC: not strictly before it.
        local = noon_utc.strftime("%Y-%m-%dT13:00:00+01:00")

        assert list_ids(owner_client, user, due_before=local) == []
        assert list_ids(owner_client, user, due_after=local) == [task.id]

    def test_overdue_means_pending_and_past_due(self, owner_client, user):
        past = timezone.now() - timedelta(days=1)
        overdue = TaskFactory(user=user, due_at=past)
        TaskFactory(user=user, due_at=past, completed=True)
        TaskFactory(user=user, due_at=timezone.now() + timedelta(days=1))
        TaskFactory(user=user, due_at=None)

        assert list_ids(owner_client, user, overdue="true") == [overdue.id]
        assert overdue.id not in list_ids(owner_client, user, overdue="false")
        assert len(list_ids(owner_client, user, overdue="false")) == 3

    def test_parameters_combine(self, owner_client, user):
        match = TaskFactory(user=user, title="Pay rent", priority=Priority.HIGH, tags=["home"])
        TaskFactory(user=user, title="Pay rent", priority=Priority.HIGH, tags=["work"])
        TaskFactory(user=user, title="Pay rent", priority=Priority.LOW, tags=["home"])
        TaskFactory(
            user=user, title="Pay rent", priority=Priority.HIGH, tags=["home"], completed=True
        )
        TaskFactory(user=user, title="Walk", priority=Priority.HIGH, tags=["home"])

        ids = list_ids(owner_client, user, status="pending", priority="high", tag="home", q="rent")

        assert ids == [match.id]

    def test_filters_never_reach_other_users_tasks(self, owner_client, user, other_user):
        TaskFactory(user=other_user, title="secret", tags=["home"], priority=Priority.HIGH)

        assert list_ids(owner_client, user, q="secret") == []
        assert list_ids(owner_client, user, tag="home", priority="high") == []

    def test_unknown_parameters_are_ignored(self, owner_client, user, task):
        assert list_ids(owner_client, user, colour="blue", page="7") == [task.id]

    def test_empty_values_mean_no_filter(self, owner_client, user, task):
        assert list_ids(owner_client, user, status="", priority="", q="", tag="") == [task.id]

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("status", "done"),
            ("completed", "maybe"),
            ("completed", "1"),
            ("priority", "urgent"),
            ("priority", "high,urgent"),
            ("tag", "x" * 33),
            ("q", "x" * 201),
            ("due_before", "tomorrow"),
            ("due_before", "2026-11-23T10:00:00"),
            ("due_after", "2026-11-23"),
            ("due_after", "2026-13-40T10:00:00Z"),
            ("overdue", "yes"),
            ("sort", "colour"),
            ("sort", "--created"),
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "ten"),
            ("limit", "-5"),
            ("limit", "1.5"),
            ("offset", "-1"),
            ("offset", "x"),
            ("offset", "9" * 40),
        ],
    )
    def test_a_bad_value_is_a_400_naming_the_parameter(self, owner_client, user, param, value):
        response = owner_client.get(f"/api/{user.id}/tasks", {param: value})

        assert response.status_code == 400
        body = response.json()
        assert list(body["errors"]) == [param]
        assert body["detail"].startswith(f"{param}: ")

    def test_an_unknown_sort_lists_the_valid_ones(self, owner_client, user):
        response = owner_client.get(f"/api/{user.id}/tasks", {"sort": "bogus"})

        message = response.json()["errors"]["sort"][0]
        assert message.startswith("bogus is not a sort order; use one of created, -created,")
        assert "-priority" in message

    def test_a_datetime_without_offset_says_to_send_one(self, owner_client, user):
        response = owner_client.get(f"/api/{user.id}/tasks", {"due_before": "2026-11-23T10:00:00"})

        assert "offset" in response.json()["errors"]["due_before"][0]

    def test_an_unencoded_plus_offset_gets_a_hint(self, owner_client, user):
        response = owner_client.get(f"/api/{user.id}/tasks?due_after=2026-11-23T10:00:00+01:00")

        assert response.status_code == 400
        assert "%2B" in response.json()["errors"]["due_after"][0]


class TestSort:
    def test_default_is_newest_first(self, owner_client, user):
        now = timezone.now()
        old = TaskFactory(user=user, created_at=now - timedelta(days=2))
        new = TaskFactory(user=user, created_at=now - timedelta(days=1))

        assert list_ids(owner_client, user) == [new.id, old.id]
        assert list_ids(owner_client, user, sort="created") == [old.id, new.id]
        assert list_ids(owner_client, user, sort="-created") == [new.id, old.id]

    def test_updated(self, owner_client, user):
        first, second = TaskFactory(user=user), TaskFactory(user=user)
        Task.objects.filter(pk=first.pk).update(updated_at=timezone.now() + timedelta(hours=1))

        assert list_ids(owner_client, user, sort="-updated") == [first.id, second.id]
        assert list_ids(owner_client, user, sort="updated") == [second.id, first.id]

    def test_title(self, owner_client, user):
        b = TaskFactory(user=user, title="b")
        a = TaskFactory(user=user, title="a")

        assert list_ids(owner_client, user, sort="title") == [a.id, b.id]
        assert list_ids(owner_client, user, sort="-title") == [b.id, a.id]

    def test_priority_sorts_by_level_not_by_name(self, owner_client, user):
        by_level = [
            TaskFactory(user=user, priority=level)
            for level in [Priority.MEDIUM, Priority.NONE, Priority.HIGH, Priority.LOW]
        ]
        ascending = sorted(by_level, key=lambda task: task.priority)

        assert list_ids(owner_client, user, sort="priority") == [t.id for t in ascending]
        assert list_ids(owner_client, user, sort="-priority") == [t.id for t in ascending[::-1]]

    def test_tasks_without_due_date_come_last_both_ways(self, owner_client, user):
        now = timezone.now()
        undated = TaskFactory(user=user, due_at=None)
        soon = TaskFactory(user=user, due_at=now + timedelta(days=1))
        later = TaskFactory(user=user, due_at=now + timedelta(days=2))

        assert list_ids(owner_client, user, sort="due_date") == [soon.id, later.id, undated.id]
        assert list_ids(owner_client, user, sort="-due_date") == [later.id, soon.id, undated.id]

    @pytest.mark.parametrize(
        "sort", ["created", "-created", "updated", "title", "-title", "priority", "due_date"]
    )
    def test_equal_keys_are_ordered_by_descending_id(self, owner_client, user, sort):
        same = timezone.now() - timedelta(days=1)
        tasks = [TaskFactory(user=user, title="same", created_at=same) for _ in range(5)]
        Task.objects.filter(user=user).update(updated_at=same)

        expected = sorted(task.id for task in tasks)[::-1]
        assert list_ids(owner_client, user, sort=sort) == expected
        # The same order page by page: no task is skipped or repeated.
        paged = [
            task_id
            for offset in range(0, 5, 2)
            for task_id in list_ids(owner_client, user, sort=sort, limit=2, offset=offset)
        ]
        assert paged == expected


class TestPagination:
    def test_defaults_to_100_with_total_and_next_link(self, owner_client, user):
        TaskFactory.create_batch(101, user=user)

        response = owner_client.get(f"/api/{user.id}/tasks")

        assert isinstance(response.json(), list) and len(response.json()) == 100
        assert response["X-Total-Count"] == "101"
        assert links(response) == {"next": {"limit": ["100"], "offset": ["100"]}}

    def test_middle_page_links_both_ways_and_keeps_the_other_parameters(self, owner_client, user):
        TaskFactory.create_batch(5, user=user, tags=["home"])

        response = owner_client.get(
            f"/api/{user.id}/tasks", {"limit": 2, "offset": 2, "tag": "home", "sort": "title"}
        )

        assert len(response.json()) == 2
        assert response["X-Total-Count"] == "5"
        found = links(response)
        assert found["next"] == {
            "limit": ["2"],
            "offset": ["4"],
            "tag": ["home"],
            "sort": ["title"],
        }
        assert found["prev"] == {
            "limit": ["2"],
            "offset": ["0"],
            "tag": ["home"],
            "sort": ["title"],
        }

    def test_last_page_has_no_next_and_first_page_no_prev(self, owner_client, user):
        TaskFactory.create_batch(3, user=user)

        first = owner_client.get(f"/api/{user.id}/tasks", {"limit": 2})
        last = owner_client.get(f"/api/{user.id}/tasks", {"limit": 2, "offset": 2})

        assert set(links(first)) == {"next"}
        assert set(links(last)) == {"prev"}
        assert len(last.json()) == 1

    def test_offset_past_the_end_is_an_empty_page_with_headers(self, owner_client, user):
        TaskFactory.create_batch(3, user=user)

        response = owner_client.get(f"/api/{user.id}/tasks", {"limit": 2, "offset": 10})

        assert response.status_code == 200
        assert response.json() == []
        assert response["X-Total-Count"] == "3"
        # No next past the end; prev leads back to the last page that has tasks.
        assert links(response) == {"prev": {"limit": ["2"], "offset": ["2"]}}

    def test_a_single_page_has_no_link_header(self, owner_client, user, task):
        response = owner_client.get(f"/api/{user.id}/tasks")

        assert response["X-Total-Count"] == "1"
        assert "Link" not in response

    def test_an_empty_list_counts_zero(self, owner_client, user):
        response = owner_client.get(f"/api/{user.id}/tasks")

        assert response.json() == []
        assert response["X-Total-Count"] == "0"

    @pytest.mark.parametrize("limit", [1, 500])
    def test_limit_bounds_are_accepted(self, owner_client, user, limit):
        TaskFactory.create_batch(2, user=user)

        response = owner_client.get(f"/api/{user.id}/tasks", {"limit": limit})

        assert response.status_code == 200
        assert len(response.json()) == min(limit, 2)

    def test_total_counts_the_filtered_tasks(self, owner_client, user):
        TaskFactory.create_batch(2, user=user, completed=True)
        TaskFactory.create_batch(3, user=user)

        response = owner_client.get(f"/api/{user.id}/tasks", {"status": "pending", "limit": 1})

        assert response["X-Total-Count"] == "3"

    @pytest.mark.parametrize("count", [1, 100])
    def test_filtered_pages_cost_the_same_queries(
        self, owner_client, user, count, django_assert_num_queries
    ):
        TaskFactory.create_batch(count, user=user, tags=["home"], priority=Priority.HIGH)

        # The token's user and the page; it is the last page, so the total needs no COUNT.
        with django_assert_num_queries(2):
            response = owner_client.get(
                f"/api/{user.id}/tasks",
                {"tag": "home", "priority": "high", "q": "task", "sort": "-priority"},
            )

        assert len(response.json()) == count


@requires_postgresql
def test_postgresql_gets_the_user_scoped_search_and_tag_indexes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tasks_task'")
        names = {row[0] for row in cursor.fetchall()}

    assert {
        "task_user_title_trgm_idx",
        "task_user_description_trgm_idx",
        "task_user_tags_idx",
    } <= names


@pytest.mark.django_db
class TestTotalsWithoutCount:
    """X-Total-Count and Link are exact whether or not the total took a COUNT query."""

    @pytest.mark.parametrize(
        ("tasks", "params", "total", "page", "rels", "counted"),
        [
            (0, {}, 0, 0, set(), False),
            (3, {"limit": 3}, 3, 3, set(), False),
            (4, {"limit": 3}, 4, 3, {"next"}, True),
            (5, {"limit": 3, "offset": 3}, 5, 2, {"prev"}, False),
            (6, {"limit": 3, "offset": 3}, 6, 3, {"prev"}, False),
            (7, {"limit": 3, "offset": 3}, 7, 3, {"next", "prev"}, True),
            (5, {"limit": 3, "offset": 5}, 5, 0, {"prev"}, True),
            (5, {"limit": 3, "offset": 9}, 5, 0, {"prev"}, True),
        ],
    )
    def test_total_links_and_count_query(
        self, owner_client, user, tasks, params, total, page, rels, counted
    ):
        TaskFactory.create_batch(tasks, user=user)

        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(f"/api/{user.id}/tasks", params)

        assert response["X-Total-Count"] == str(total)
        assert len(response.json()) == page
        assert set(re.findall(r'rel="(\w+)"', response.get("Link", ""))) == rels
        assert any("COUNT(" in query["sql"].upper() for query in queries) is counted
