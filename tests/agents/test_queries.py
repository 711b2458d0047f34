"""What the reading tools cost in queries, with few and with many rows (no N+1)."""

import pytest

from agents import tools
from tests.factories import TaskFactory, TaskListFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count", [1, 40])
def test_reading_tools_cost_one_query_however_many_rows(django_assert_num_queries, user, count):
    for n in range(count):
        task_list = TaskListFactory(user=user, name=f"List {n}")
        TaskFactory(user=user, list_id=task_list.id, tags=["home"])
    task = TaskFactory(user=user)
    calls = [
        ("list_tasks", {}),
        ("list_tasks", {"tag": "home", "sort": "priority", "status": "pending"}),
        ("get_task", {"task_id": task.id}),
        ("list_lists", {}),
        ("task_stats", {}),
    ]
    for name, arguments in calls:
        with django_assert_num_queries(1):
            assert not tools.call(user, name, arguments).is_error


def test_a_page_that_is_not_the_last_adds_the_count(django_assert_num_queries, user):
    for _ in range(5):
        TaskFactory(user=user)

    with django_assert_num_queries(2):
        answer = tools.call(user, "list_tasks", {"limit": 2})

    assert len(answer.body) == 2
