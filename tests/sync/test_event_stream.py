"""The live event stream under a real uvicorn: replay, live events, tickets, the JSON errors
before it starts, heartbeats, token expiry, and a Redis outage that loses nothing."""

import queue
import signal
import threading
import time

import pytest
import redis
from rest_framework.test import APIClient

from sync import live
from tests.factories import TaskFactory
from tests.sync.conftest import READER_THREAD, EventStream


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(user, make_token) -> str:
    return make_token(user.id)


def events_path(user) -> str:
    return f"/api/{user.id}/events"


def test_a_write_reaches_an_open_stream(open_stream, user, token):
    """How fast is bench/streams.py's to measure; here, that it comes, whole."""
    stream = open_stream(events_path(user), bearer(token))
    time.sleep(0.3)  # let it subscribe

    task = TaskFactory(user=user, title="from another tab")
    event = stream.next(timeout=5)

    assert (event.type, event.data["id"]) == ("task.changed", task.id)
    assert event.data["data"]["title"] == "from another tab"
    assert event.id


def test_a_list_write_wakes_the_stream_too(open_stream, user, token, owner_client):
    """A heartbeat's look at the feed would find it too, but only 15 s later."""
    stream = open_stream(events_path(user), bearer(token))
    time.sleep(0.3)

    created = owner_client.post(f"/api/{user.id}/lists", {"name": "Groceries"}, format="json")

    event = stream.next(timeout=5)
    assert (event.type, event.data["id"]) == ("list.changed", created.json()["id"])


def server_threads() -> int:
    """The threads of this process but the test's own stream readers: uvicorn's and the
    application's."""
    return sum(thread.name != READER_THREAD for thread in threading.enumerate())


def test_an_open_stream_holds_no_thread(open_stream, user, token):
    """A stream is a coroutine: the thread the request's sync code ran in (the middleware,
    the view's checks) is let go once the stream starts, so 20 more streams hold no more
    threads than one."""
    first = open_stream(events_path(user), bearer(token))
    TaskFactory(user=user)
    first.next(timeout=5)
    one = server_threads()

    more = [open_stream(events_path(user), bearer(token)) for _ in range(20)]
    TaskFactory(user=user)
    for stream in [first, *more]:
        assert stream.next(timeout=5).type == "task.changed"  # each has started
    deadline = time.monotonic() + 5
    while server_threads() > one and time.monotonic() < deadline:
        time.sleep(0.05)  # a let-go thread ends a moment after its stream starts

    assert server_threads() <= one


def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(
    open_stream, user, token
):
    stream = open_stream(events_path(user), bearer(token))
    time.sleep(0.3)
    first, second = TaskFactory(user=user), TaskFactory(user=user)
    seen = stream.changes(2)
    stream.close()
    third, second_id = TaskFactory(user=user), second.id
    second.delete()  # tests may write directly: the database records every write

    again = open_stream(events_path(user), {**bearer(token), "Last-Event-ID": seen[-1].id})
    replayed = again.changes(2)

    assert [e.data["id"] for e in seen] == [first.id, second_id]
    assert [(e.type, e.data["id"]) for e in replayed] == [
        ("task.changed", third.id),
        ("task.deleted", second_id),
    ]
    with pytest.raises(queue.Empty):  # nothing more
        again.next(timeout=1)


def test_since_in_the_query_replays_too(open_stream, user, token, owner_client):
    cursor = owner_client.get(f"/api/{user.id}/changes").json()["cursor"]
    task = TaskFactory(user=user)

    stream = open_stream(f"{events_path(user)}?since={cursor}", bearer(token))

    assert stream.next().data["id"] == task.id


def test_a_ticket_opens_the_stream_once(open_stream, user, owner_client):
    ticket = owner_client.post(f"/api/{user.id}/events/ticket")
    assert ticket.status_code == 201 and set(ticket.json()) == {"ticket", "expires_at"}
    path = f"{events_path(user)}?ticket={ticket.json()['ticket']}"

    stream = open_stream(path)
    response, body = open_stream(path)

    assert isinstance(stream, EventStream)
    assert response.status == 401 and "ticket" in body["detail"]


def test_a_ticket_is_no_bearer_token_and_opens_no_other_route(user, owner_client):
    ticket = owner_client.post(f"/api/{user.id}/events/ticket").json()["ticket"]
    client = APIClient()

    assert client.get(f"/api/{user.id}/tasks", {"ticket": ticket}).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ticket}")
    assert client.get(f"/api/{user.id}/tasks").status_code == 401


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({}, "", 401),
        ({"Authorization": "Bearer forged"}, "", 401),
        ({}, "?ticket=made-up", 401),
        ("token", "?since=garbage", 400),
    ],
)
def test_errors_before_the_stream_are_json(open_stream, user, token, headers, query, status):
    response, body = open_stream(
        events_path(user) + query, bearer(token) if headers == "token" else headers
    )

    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    assert "detail" in body


def test_another_users_stream_is_a_403(open_stream, other_user, token):
    response, body = open_stream(events_path(other_user), bearer(token))

    assert response.status == 403 and "detail" in body


def test_the_stream_ends_when_its_token_expires(open_stream, user, make_token, settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": 0}
    short = make_token(user.id, exp=int(time.time()) + 2)

    stream = open_stream(events_path(user), bearer(short))

    deadline = time.monotonic() + 6
    while stream.next(timeout=6, comments=True) is not None:
        assert time.monotonic() < deadline
    assert time.monotonic() < deadline


def test_a_quiet_stream_sends_heartbeats(open_stream, user, token, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.5)

    stream = open_stream(events_path(user), bearer(token))

    comments = [stream.next(comments=True, timeout=3) for _ in range(3)]
    assert "ping" in [event.comment for event in comments]


def test_wake_ups_lost_with_redis_delay_events_but_lose_none(open_stream, user, token, monkeypatch):
    """While Redis drops (or cannot carry) the wake-up calls, streams find the changes on
    their next look at the feed; each arrives once."""
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(live, "POLL_SECONDS", 1)
    stream = open_stream(events_path(user), bearer(token))
    time.sleep(0.3)
    monkeypatch.setattr(live, "publisher", None)

    tasks = [TaskFactory(user=user) for _ in range(3)]

    assert sorted(e.data["id"] for e in stream.changes(3, timeout=3)) == [t.id for t in tasks]
    with pytest.raises(queue.Empty):
        stream.next(timeout=1.5)


def test_redis_stopped_for_10_seconds_delays_events_but_loses_none(
    open_stream, user, token, private_redis, settings, monkeypatch
):
    port, server = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url  # the stream's process subscribes there
    monkeypatch.setattr(live, "publisher", redis.Redis.from_url(url, socket_timeout=0.25))
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 1)
    stream = open_stream(events_path(user), bearer(token))
    time.sleep(0.5)

    server.send_signal(signal.SIGSTOP)
    try:
        written = []
        for _ in range(5):
            written.append(TaskFactory(user=user).id)  # its wake-up call times out
            time.sleep(2)
        during = [event.data["id"] for event in stream.changes(5, timeout=3)]
    finally:
        server.send_signal(signal.SIGCONT)

    assert during == written
    after = TaskFactory(user=user)
    assert stream.next(timeout=2).data["id"] == after.id
    with pytest.raises(queue.Empty):
        stream.next(timeout=1.5)


def test_idle_streams_leave_the_look_at_the_feed_to_their_hub(
    open_stream, user, token, monkeypatch
):
    """A heartbeat costs an idle stream no read: the hub looks once for all its streams."""
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.5)
    reads = {"page": 0, "news": 0}
    read_page, read_news = live.read_page, live.read_news

    def counted(name, read):
        def count(*args):
            reads[name] += 1
            return read(*args)

        return count

    streams = [open_stream(events_path(user), bearer(token)) for _ in range(5)]
    TaskFactory(user=user)
    for stream in streams:
        stream.next(timeout=5)  # each has read the feed
    time.sleep(1)  # a look of the hub's during that read may wake a stream once more
    monkeypatch.setattr(live, "read_page", counted("page", read_page))
    monkeypatch.setattr(live, "read_news", counted("news", read_news))

    time.sleep(2)  # four heartbeats

    assert reads["page"] == 0 and reads["news"] >= 2
    for stream in streams:
        assert stream.next(comments=True, timeout=1).comment == "ping"
