"""The service as several machines run it, on one: two gunicorn web processes, two uvicorn
realtime processes, two Celery workers and one beat, behind nginx with the project's proxy
config (its upstreams listing both instances), on one PostgreSQL (the test database) and one
Redis. Nothing is shared between the processes but those two, as between machines.

Needs PostgreSQL (DATABASE_URL), Redis (REDIS_URL) and Debian's nginx; skips without them,
unless PROXY_TESTS_REQUIRED=1 (CI), when it fails instead.
"""

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from config.celery import app as celery_app
from tests.deploy.conftest import (
    REPOSITORY,
    REQUIRED,
    Server,
    base_objects,
    compose_services,
    free_port,
    get,
    start_proxy,
    stop,
    wait_until_answering,
)
from tests.factories import UserFactory
from tests.sync.conftest import EventStream

# Transactional: what a test writes is committed, for the other processes to see; and every
# test of the module, also one selected alone, has the test database set up.
pytestmark = [pytest.mark.deploy, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent
HOSTNAME = socket.gethostname()
# The first under Celery's default node name, which the health checks ping.
WORKERS = [f"celery@{HOSTNAME}", f"second-worker@{HOSTNAME}"]
BEAT = f"celerybeat@{HOSTNAME}"
WORKERS_AND_BEAT = ("worker", "beat")
STARTUP_SECONDS = 60


@dataclass
class Processes:
    web: list[Server]
    realtime: list[Server]
    proxy: Server
    workers: list[subprocess.Popen]
    beat: subprocess.Popen
    env: dict[str, str]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.1)


def database_url_of_this_run() -> str:
    """The URL of the database this test run uses (pytest-django's test database)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start(
    command: list[str], env: dict[str, str], log: Path, started: list[subprocess.Popen]
) -> subprocess.Popen:
    """`command` in its own session, its output in `log`; recorded in `started`."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(process)
    return process


def stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to all at once (each shuts down gracefully in parallel), then wait."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        stop(process)


def celery_nodes_answering() -> set[str]:
    replies = celery_app.control.ping(destination=[*WORKERS, BEAT], timeout=1)
    return {node for reply in replies for node in reply}


@pytest.fixture(scope="module")
def processes(django_db_setup, tmp_path_factory) -> Iterator[Processes]:
    """Every process, started once for the module, on the test database."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        (pytest.fail if REQUIRED else pytest.skip)(
            "needs PostgreSQL and Redis shared by every process: set DATABASE_URL and REDIS_URL"
        )
    workdir = tmp_path_factory.mktemp("processes")
    env = {
        **os.environ,
        "READ_DOTENV": "false",
        "DEBUG": "false",
        "DATABASE_URL": database_url_of_this_run(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "NUM_PROXIES": "1",
        "LOG_LEVEL": "WARNING",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(workdir / "celerybeat-schedule"),
        # Beat starts the reminder firing every second, so a reminder comes within two.
        "REMINDERS_FIRE_EVERY_SECONDS": "1",
    }
    # Tasks that earlier tests of this run queued and nobody consumed are nobody's now.
    celery_app.control.purge()
    started: list[subprocess.Popen] = []
    try:
        web, realtime = [], []
        for name in ("a", "b"):
            port = free_port()
            web_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
            command = [str(BIN / "gunicorn"), "--config", "config/gunicorn.conf.py", "config.wsgi"]
            log = workdir / f"web-{name}.log"
            web.append(Server(port, log, start(command, web_env, log, started)))
            port = free_port()
            command = [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--no-server-header", "--no-access-log", "--timeout-graceful-shutdown", "1"),
            ]
            asgi_env = {**env, "DATABASE_CONN_MAX_AGE": "0"}
            log = workdir / f"realtime-{name}.log"
            realtime.append(Server(port, log, start(command, asgi_env, log, started)))
        celery = [str(BIN / "celery"), "-A", "config"]
        workers = [
            start(
                [*celery, "worker", "-n", node, "--concurrency", "1", "--loglevel", "WARNING"],
                env,
                workdir / f"{node.partition('@')[0]}.log",
                started,
            )
            for node in WORKERS
        ]
        beat = start(
            [*celery, "beat", "--enable-remote-control", "--loglevel", "WARNING"],
            env,
            workdir / "beat.log",
            started,
        )
        for server in web + realtime:
            wait_until_answering(server.port, server.process, server.log)
        (workdir / "nginx").mkdir()
        proxy = start_proxy(workdir / "nginx", [s.port for s in web], [s.port for s in realtime])
        started.append(proxy.process)
        wait_for(
            lambda: celery_nodes_answering() == {*WORKERS, BEAT},
            STARTUP_SECONDS,
            "both workers and beat answer a ping",
        )
        yield Processes(web, realtime, proxy, workers, beat, env)
    finally:
        stop_all(started)


@pytest.fixture(autouse=True)
def empty_cache():
    """The cache and Celery's queue share one Redis database here: the cache is emptied key
    by key (its keys carry its prefix), not flushed with the queue's bindings, without which
    what beat sends would go nowhere."""
    cache.delete_pattern("*")
    yield
    cache.delete_pattern("*")


@pytest.fixture
def user(processes, transactional_db):
    """A user committed for the other processes to see (a transactional test)."""
    return UserFactory()


@pytest.fixture
def token(user, make_token) -> str:
    return make_token(user.id)


def call(port: int, method: str, path: str, token: str, body: dict | None = None):
    """One request on a fresh connection: (status, decoded JSON body or None)."""
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection_.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection_.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        connection_.close()


def open_stream(port: int, user, token: str) -> EventStream:
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    connection_.request("GET", f"/api/{user.id}/events", headers=headers)
    response = connection_.getresponse()
    assert response.status == 200, response.read()
    return EventStream(response, connection_)


def create_task(port: int, user, token: str, title: str) -> dict:
    status, body = call(port, "POST", f"/api/{user.id}/tasks", token, {"title": title})
    assert status == 201, body
    return body


def test_a_write_through_one_web_process_reaches_a_stream_on_the_other_realtime_process(
    processes, user, token
):
    web_a, realtime_b = processes.web[0].port, processes.realtime[1].port
    stream = open_stream(realtime_b, user, token)
    try:
        # The first stream of a process subscribes it to Redis; one event proves it has.
        warm_up = create_task(web_a, user, token, "warm-up")
        assert stream.next(timeout=10).data["id"] == warm_up["id"]

        for n in range(3):
            task = create_task(web_a, user, token, f"write {n}")
            event = stream.next(timeout=1)  # within a second of the write's answer

            assert (event.type, event.data["id"]) == ("task.changed", task["id"])
    finally:
        stream.close()


def test_through_the_proxy_every_stream_on_either_process_gets_each_write(processes, user, token):
    """The proxy spreads streams over both realtime processes (fewest connections first)."""
    streams = [open_stream(processes.proxy.port, user, token) for _ in range(4)]
    try:
        warm_up = create_task(processes.proxy.port, user, token, "warm-up")
        for stream in streams:
            assert stream.next(timeout=10).data["id"] == warm_up["id"]

        task = create_task(processes.proxy.port, user, token, "to every tab")

        for stream in streams:
            assert stream.next(timeout=1).data["id"] == task["id"]
    finally:
        for stream in streams:
            stream.close()
    # nginx logs a stream, with the instance that served it, once it has ended.
    realtime_ports = {server.port for server in processes.realtime}
    wait_for(
        lambda: streams_served_by(processes.proxy.log, user) == realtime_ports,
        10,
        "the proxy's log shows streams served by both realtime processes",
    )


def upstream_ports(access_log: Path, pattern: str) -> set[int]:
    """The ports of the instances that answered the proxy's logged requests whose line matches
    `pattern`: each line's `upstream=`, a list when nginx tried one instance and then the next."""
    lines = [line for line in access_log.read_text().splitlines() if re.search(pattern, line)]
    upstreams = [re.search(r" upstream=(.*?) upstream_time=", line).group(1) for line in lines]
    return {int(port) for upstream in upstreams for port in re.findall(r":(\d+)", upstream)}


def streams_served_by(access_log: Path, user) -> set[int]:
    """The ports of the realtime instances that served `user`'s streams, by the proxy's log."""
    return upstream_ports(access_log, rf'"GET /api/{user.id}/events HTTP/1.1" 200 ')


@pytest.mark.parametrize(
    ("path", "process"),
    [
        ("/api/{user}/events", "realtime"),
        ("/api/{user}/events/", "realtime"),
        ("/mcp", "realtime"),
        ("/mcp/", "realtime"),
        ("/api/{user}/events/ticket", "web"),
        ("/api/{user}/tasks", "web"),
        ("/healthz", "web"),
    ],
)
def test_the_proxy_sends_each_path_to_its_process(processes, path, process):
    """By the proxy's log: the instance that answered a request, found by its request id.
    Without a token every one of these is answered at once (a 401, or MCP's own answer)."""
    request_id = uuid.uuid4().hex
    path = path.format(user="u" * 32)
    get(processes.proxy.port, path, headers={"X-Request-ID": request_id})
    ports = {"web": processes.web, "realtime": processes.realtime}
    expected = {server.port for server in ports[process]}

    def answered_by() -> set[int]:
        return upstream_ports(processes.proxy.log, rf"request_id={request_id} ")

    wait_for(lambda: bool(answered_by()), 10, f"the proxy's log line for {path}")
    assert answered_by() <= expected


@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
def test_an_mcp_tool_call_through_the_proxy_sees_a_write_made_through_web(
    processes, user, token, path
):
    create_task(processes.web[0].port, user, token, "written through web")
    call_ = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    call_["params"] = {"name": "list_tasks", "arguments": {}}
    connection_ = http.client.HTTPConnection("127.0.0.1", processes.proxy.port, timeout=10)
    try:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        connection_.request("POST", path, body=json.dumps(call_), headers=headers)
        response = connection_.getresponse()
        answer = json.loads(response.read())
    finally:
        connection_.close()

    assert response.status == 200
    assert answer["result"]["isError"] is False
    assert "written through web" in json.dumps(answer["result"]["structuredContent"])


def test_a_list_cached_through_one_web_process_is_never_stale_on_the_other(processes, user, token):
    web_a, web_b = (server.port for server in processes.web)
    path = f"/api/{user.id}/tasks"
    expected: list[str] = []
    for n in range(10):
        for port in (web_a, web_b):  # both read, so both could have served a cached copy
            status, body = call(port, "GET", path, token)
            assert status == 200
            assert sorted(task["title"] for task in body) == sorted(expected)
        # The list is in the shared cache, under the user's current version.
        assert cache.keys(f"tasks:list:{user.id}:*")

        create_task(web_a, user, token, f"task {n}")
        expected.append(f"task {n}")

        status, body = call(web_b, "GET", path, token)
        assert sorted(task["title"] for task in body) == sorted(expected)


def test_a_reminder_fires_once_on_every_stream_with_two_workers_and_a_beat(processes, user, token):
    """Beat starts the firing every second and either worker may take each run; the database
    lets one run claim the reminder, and that firing reaches the user's streams on both
    realtime processes, once."""
    web_a = processes.web[0].port
    streams = [open_stream(server.port, user, token) for server in processes.realtime]
    try:
        warm_up = create_task(web_a, user, token, "warm-up")
        for stream in streams:
            assert stream.next(timeout=10).data["id"] == warm_up["id"]
        fire_at = datetime.now(UTC) + timedelta(seconds=2)
        status, task = call(
            web_a,
            "POST",
            f"/api/{user.id}/tasks",
            token,
            {"title": "call back", "reminders": [{"at": fire_at.isoformat()}]},
        )
        assert status == 201, task

        for stream in streams:
            assert stream.next(timeout=1).data["id"] == task["id"]  # the create itself
            reminder = stream.next(timeout=15)
            assert (reminder.type, reminder.data["task"]["id"]) == ("reminder", task["id"])
            assert reminder.data["fire_at"] == task["reminders"][0]["fire_at"]
        # Three more firing runs, on either worker, find nothing left to claim.
        for stream in streams:
            with pytest.raises(queue.Empty):
                stream.next(timeout=3)
    finally:
        for stream in streams:
            stream.close()


def health_check_commands() -> set[str]:
    """The shell commands docker-compose.yml and deploy/kubernetes run to check the worker
    and beat."""
    services = compose_services()
    compose = {
        services[name]["healthcheck"]["test"][1].replace("$$", "$") for name in WORKERS_AND_BEAT
    }
    kubernetes = {
        probe["exec"]["command"][2]
        for o in base_objects()
        if o["kind"] == "Deployment" and o["metadata"]["name"] in WORKERS_AND_BEAT
        for container in o["spec"]["template"]["spec"]["containers"]
        for probe in (container["livenessProbe"], container["readinessProbe"])
    }
    assert len(compose) == len(kubernetes) == 2
    return compose | kubernetes


def test_the_celery_health_checks_of_compose_and_kubernetes_pass_and_can_fail(processes):
    """The very commands, in a shell with this host's name; on a host where no such node
    runs (a wedged or stopped one, as far as the broker can tell) they fail."""

    def check(command: str, hostname: str) -> subprocess.CompletedProcess:
        env = {**processes.env, "HOSTNAME": hostname, "PATH": f"{BIN}:{os.environ['PATH']}"}
        return subprocess.run(
            ["sh", "-c", command], env=env, cwd=REPOSITORY, capture_output=True, timeout=60
        )

    for command in health_check_commands():
        result = check(command, HOSTNAME)
        assert result.returncode == 0, (command, result.stdout + result.stderr)
        # A shorter wait for the reply that will not come; the command is otherwise the same.
        quick = command.replace("--timeout 10", "--timeout 1")
        assert check(quick, "no-such-host").returncode != 0, command


def test_with_one_web_process_gone_the_proxy_sends_everything_to_the_other(processes, user, token):
    """Last in this module: it stops web A."""
    stop(processes.web[0].process)

    for n in range(6):  # round robin would have sent half of these to A
        status, _ = call(processes.proxy.port, "GET", f"/api/{user.id}/tasks", token)
        assert status == 200, n
