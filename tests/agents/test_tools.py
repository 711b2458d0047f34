"""Each tool through /mcp, as an agent calls it, against what the REST API answers for the
same user: the same objects, the same errors, the same change feed."""

from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import Task
from tests.agents.conftest import answer_of
from tests.factories import TaskFactory, TaskListFactory

TASK_BODY = {
    "title": "Water the plants",
    "description": "The ones on the balcony",
    "priority": "high",
    "due_at": "2030-05-04T09:00:00Z",
    "tags": ["Home", "garden"],
}


def ok(result):
    assert result.is_error is False, result.content
    return answer_of(result)


def error(result):
    assert result.is_error is True, result.content
    return answer_of(result)


def test_a_created_task_is_the_one_the_api_serves(agent, owner_client, user):
    created = ok(agent.call("create_task", **TASK_BODY))

    assert created["title"] == "Water the plants"
    assert created["tags"] == ["home", "garden"]
    assert created["user_id"] == user.id
    assert owner_client.get(f"/api/{user.id}/tasks/{created['id']}").json() == created
    assert ok(agent.call("get_task", task_id=created["id"])) == created


def test_reminders_are_set_as_through_the_api(agent, owner_client, user):
    created = ok(
        agent.call(
            "create_task",
            title="Dentist",
            due_at="2030-03-01T15:00:00Z",
            reminders=[{"before_due_minutes": 60}, {"at": "2030-02-28T18:00:00Z"}],
        )
    )

    assert [reminder["fire_at"] for reminder in created["reminders"]] == [
        "2030-03-01T14:00:00Z",
        "2030-02-28T18:00:00Z",
    ]
    assert owner_client.get(f"/api/{user.id}/tasks/{created['id']}").json() == created


def test_a_user_id_argument_is_ignored(agent, user, other_user):
    created = ok(agent.call("create_task", title="Mine", user_id=other_user.id))

    assert created["user_id"] == user.id
    assert not Task.objects.filter(user=other_user).exists()


def test_update_complete_move_and_delete_are_what_the_api_then_serves(agent, owner_client, user):
    errands = TaskListFactory(user=user, name="Errands")
    first = TaskFactory(user=user, title="First", list_id=errands.id)
    task = ok(agent.call("create_task", title="Draft"))
    url = f"/api/{user.id}/tasks/{task['id']}"

    updated = ok(agent.call("update_task", task_id=task["id"], title="Final", priority="low"))
    assert updated["title"] == "Final" and updated["priority"] == "low"
    assert owner_client.get(url).json() == updated

    completed = ok(agent.call("complete_task", task_id=task["id"], completed=True))
    assert completed["completed"] is True and completed["completed_at"] is not None
    assert owner_client.get(url).json() == completed
    assert ok(agent.call("complete_task", task_id=task["id"]))["completed"] is False

    moved = ok(agent.call("move_task", task_id=task["id"], list_id=errands.id, before=first.id))
    assert moved["list_id"] == errands.id
    assert moved["position"] < Task.objects.get(pk=first.id).position
    assert owner_client.get(url).json() == moved

    deleted = agent.call("delete_task", task_id=task["id"])
    assert deleted.is_error is False and answer_of(deleted) is None
    assert owner_client.get(url).status_code == 404


def test_tool_writes_appear_in_the_change_feed(agent, owner_client, user):
    cursor = owner_client.get(f"/api/{user.id}/changes").json()["cursor"]
    kept = ok(agent.call("create_task", title="Kept"))
    gone = ok(agent.call("create_task", title="Gone"))
    ok(agent.call("update_task", task_id=kept["id"], title="Kept, renamed"))
    agent.call("delete_task", task_id=gone["id"])

    feed = owner_client.get(f"/api/{user.id}/changes", {"since": cursor}).json()

    by_id = {change["id"]: change for change in feed["changes"]}
    assert by_id[kept["id"]]["type"] == "task.changed"
    assert (
        by_id[kept["id"]]["data"] == owner_client.get(f"/api/{user.id}/tasks/{kept['id']}").json()
    )
    assert by_id[gone["id"]] == {"type": "task.deleted", "id": gone["id"], "data": None}


def test_completing_a_recurring_task_spawns_its_next_occurrence(agent, owner_client, user):
    task = ok(
        agent.call(
            "create_task",
            title="Stand-up",
            due_at="2030-01-07T09:00:00Z",
            recurrence="FREQ=WEEKLY;BYDAY=MO",
        )
    )

    done = ok(agent.call("complete_task", task_id=task["id"], completed=True))

    assert done["next_occurrence_id"] is not None
    following = owner_client.get(f"/api/{user.id}/tasks/{done['next_occurrence_id']}").json()
    assert following["title"] == "Stand-up" and following["completed"] is False
    assert following["due_at"] == "2030-01-14T09:00:00Z"
    assert following["series_id"] == task["id"]


def test_list_tasks_answers_what_the_route_answers_for_the_same_query(agent, owner_client, user):
    home = TaskListFactory(user=user, name="Home")
    soon = datetime(2030, 1, 1, tzinfo=UTC)
    TaskFactory(user=user, title="Pay rent", priority=3, due_at=soon, list_id=home.id)
    TaskFactory(user=user, title="Call mum", priority=1, tags=["family"])
    TaskFactory(user=user, title="Pay tax", due_at=soon + timedelta(days=3))
    TaskFactory(user=user, title="Old", completed=True)
    queries = [
        {},
        {"q": "pay", "sort": "due_date"},
        {"status": "pending", "priority": "high,low"},
        {"tag": ["family"]},
        {"list": home.id},
        {"list": "inbox", "limit": 2, "offset": 1},
        {"overdue": False, "completed": False},
        {"due_before": "2030-01-02T00:00:00Z"},
        {"parent": "none", "sort": "-title"},
    ]
    for arguments in queries:
        # A query string spells a boolean argument true or false.
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in arguments.items()}
        rest = owner_client.get(f"/api/{user.id}/tasks", query).json()
        assert ok(agent.call("list_tasks", **arguments)) == rest, arguments


def test_lists_and_stats_are_the_routes_answers(agent, owner_client, user):
    made = ok(agent.call("create_list", name="Groceries", color="#A0B0C0"))
    TaskFactory(user=user, title="Eggs", list_id=made["id"])

    assert made["color"] == "#a0b0c0" and made["task_count"] == 0
    assert ok(agent.call("list_lists")) == owner_client.get(f"/api/{user.id}/lists").json()
    assert ok(agent.call("task_stats")) == owner_client.get(f"/api/{user.id}/tasks/stats").json()


def rest_answer(client, user, method, path, body):
    url = f"/api/{user.id}/{path}"
    if method == "get":
        return client.get(url, body)
    return getattr(client, method)(url, body, format="json")


# A reminder relative to a due_at that the task does not have.
RELATIVE_REMINDER = [{"before_due_minutes": 5}]

BAD_INPUTS = [
    ("create_task", {}, "post", "tasks", {}),
    ("create_task", {"title": "   "}, "post", "tasks", {"title": "   "}),
    ("create_task", {"title": "x" * 201}, "post", "tasks", {"title": "x" * 201}),
    ("create_task", {"title": "a\x00b"}, "post", "tasks", {"title": "a\x00b"}),
    ("create_task", {"title": "t", "priority": "urgent"}, "post", "tasks", None),
    ("create_task", {"title": "t", "due_at": "2030-01-01T10:00:00"}, "post", "tasks", None),
    ("create_task", {"title": "t", "tags": ["x" * 33]}, "post", "tasks", None),
    ("create_task", {"title": "t", "list_id": 999999}, "post", "tasks", None),
    ("create_task", {"title": "t", "parent_id": 999999}, "post", "tasks", None),
    ("create_task", {"title": "t", "recurrence": "FREQ=DAILY"}, "post", "tasks", None),
    (
        "create_task",
        {"title": "t", "due_at": "2030-01-01T10:00:00Z", "recurrence": "FREQ=SECONDLY"},
        "post",
        "tasks",
        None,
    ),
    ("create_task", {"title": "t", "timezone": "Mars/Olympus"}, "post", "tasks", None),
    (
        "create_task",
        {"title": "t", "reminders": [{"before_due_minutes": 5}]},
        "post",
        "tasks",
        None,
    ),
    ("create_task", {"title": "t", "reminders": [{"at": "soon"}]}, "post", "tasks", None),
    ("list_tasks", {"sort": "nope"}, "get", "tasks", None),
    ("list_tasks", {"priority": "urgent"}, "get", "tasks", None),
    ("list_tasks", {"due_before": "yesterday"}, "get", "tasks", None),
    ("list_tasks", {"overdue": "maybe"}, "get", "tasks", None),
    ("list_tasks", {"list": "nowhere"}, "get", "tasks", None),
    ("list_tasks", {"limit": 0}, "get", "tasks", None),
    ("list_tasks", {"limit": 501}, "get", "tasks", None),
    ("list_tasks", {"offset": -1}, "get", "tasks", None),
    ("create_list", {"name": ""}, "post", "lists", None),
    ("create_list", {"name": "Home", "color": "red"}, "post", "lists", None),
]


@pytest.mark.parametrize(
    "tool, arguments, method, path, body",
    BAD_INPUTS,
    ids=[f"{tool}-{'-'.join(arguments) or 'empty'}" for tool, arguments, *_ in BAD_INPUTS],
)
def test_a_bad_input_is_an_error_result_with_the_apis_message(
    agent, owner_client, user, tool, arguments, method, path, body
):
    rest = rest_answer(owner_client, user, method, path, arguments if body is None else body)
    assert rest.status_code == 400

    assert error(agent.call(tool, **arguments)) == rest.json()
    assert not Task.objects.filter(user=user).exists()


def test_a_bad_input_to_a_task_is_the_apis_message_for_that_route(agent, owner_client, user):
    task = TaskFactory(user=user)
    subtask = TaskFactory(user=user, parent_id=task.id)
    url = f"/api/{user.id}/tasks/{task.id}"
    cases = [
        ("update_task", {"title": ""}, "patch", url, {"title": ""}),
        ("update_task", {"parent_id": task.id}, "patch", url, {"parent_id": task.id}),
        ("complete_task", {"completed": "maybe"}, "patch", f"{url}/complete", None),
        ("move_task", {"sideways": 1}, "post", f"{url}/move", None),
        ("move_task", {"before": subtask.id, "after": subtask.id}, "post", f"{url}/move", None),
        ("move_task", {"before": subtask.id}, "post", f"{url}/move", None),
        ("move_task", {"parent_id": subtask.id}, "post", f"{url}/move", None),
    ]
    for tool, arguments, method, route, body in cases:
        rest = getattr(owner_client, method)(
            route, arguments if body is None else body, format="json"
        )
        assert rest.status_code == 400, (tool, arguments)
        assert error(agent.call(tool, task_id=task.id, **arguments)) == rest.json(), arguments


@pytest.mark.parametrize(
    "tool, arguments",
    [
        ("get_task", {}),
        ("update_task", {"title": "Taken"}),
        ("complete_task", {"completed": True}),
        ("delete_task", {}),
        ("move_task", {}),
    ],
)
def test_another_users_task_is_indistinguishable_from_a_missing_one(
    agent, owner_client, user, other_user, tool, arguments
):
    theirs = TaskFactory(user=other_user, title="Theirs")
    missing = theirs.id + 1000
    not_found = owner_client.get(f"/api/{user.id}/tasks/{missing}")
    assert not_found.status_code == 404

    for task_id in (theirs.id, missing, 0, -1, 2**63):
        assert error(agent.call(tool, task_id=task_id, **arguments)) == not_found.json()
    theirs.refresh_from_db()
    assert theirs.title == "Theirs" and theirs.completed is False


def test_a_task_id_that_is_not_a_number_is_a_400_naming_it(agent):
    for arguments in ({}, {"task_id": "seven"}, {"task_id": None}):
        body = error(agent.call("get_task", **arguments))
        assert list(body["errors"]) == ["task_id"] and body["detail"].startswith("task_id: ")


def test_an_unknown_tool_is_an_error_result(agent):
    assert error(agent.call("drop_database")) == {
        "detail": "There is no tool named 'drop_database'."
    }
