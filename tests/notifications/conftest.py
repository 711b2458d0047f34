"""Fixtures for the notifications tests: the live stream fixtures of tests/sync, and real
Celery worker and beat processes (`celery_processes`) for end-to-end tests.

The processes need PostgreSQL (they reach the test database from outside this process) and
Redis (the broker). Without them these tests skip, unless CELERY_TESTS_REQUIRED=1 (CI sets
it), when they fail instead. The broker is CELERY_TESTS_BROKER_URL, by default the Redis
database after REDIS_URL's: the cache's is flushed by every test, and this one is flushed
when the processes start.

Also: a local push service, browsers' subscription keys and the server's VAPID keys, for tests of
Web Push with real cryptography: what the service receives is checked (VAPID signature,
claims) and decrypted as a browser would.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import http_ece
import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection

from accounts.models import User
from config.celery import app as celery_app
from tasks.models import Reminder, Task
from tasks.positions import positions_for
from tasks.reminders import resolve
from tests.conftest import free_port
from tests.sync.conftest import asgi_server, open_stream  # noqa: F401

REQUIRED = os.environ.get("CELERY_TESTS_REQUIRED") == "1"
REPOSITORY = Path(__file__).resolve().parents[2]
START_SECONDS = 60


def broker_url() -> str:
    if os.environ.get("CELERY_TESTS_BROKER_URL"):
        return os.environ["CELERY_TESTS_BROKER_URL"]
    parts = urlsplit(settings.REDIS_URL)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + 1) % 16}"))


def test_database_url() -> str:
    """The test database (pytest-django's `test_…`), as a URL for another process."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return (
        f"postgresql://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@dataclass
class CeleryProcesses:
    """Start workers and beats (`worker()`, `beat()`) against the test database; every one
    still running is stopped when the test ends."""

    workdir: Path
    env: dict[str, str]
    running: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, *arguments: str) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / f"{name}.log"
        with log.open("a") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *arguments, "--loglevel=INFO"],
                cwd=REPOSITORY,
                env={**self.env, "CELERY_BEAT_SCHEDULE_FILENAME": str(self.workdir / name)},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process, log

    def worker(self, *names: str) -> subprocess.Popen | list[subprocess.Popen]:
        """Workers of one process each (the solo pool: what SIGKILL kills is the process that
        fires), started together, once they are ready to take tasks; one name, one worker."""
        started = [
            self.start(
                name,
                "worker",
                "--pool=solo",
                "-n",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
            )
            for name in names or ["worker"]
        ]
        for name, (process, log) in zip(names or ["worker"], started, strict=True):
            wait_for_line(log, f"{name}@", " ready.", process=process)
        return started[0][0] if len(started) == 1 else [process for process, _ in started]

    def beat(self, *names: str) -> subprocess.Popen | list[subprocess.Popen]:
        """Beat processes, started together, each with its own schedule file."""
        started = [self.start(name, "beat") for name in names or ["beat"]]
        for process, log in started:
            wait_for_line(log, "beat: Starting", process=process)
        return started[0][0] if len(started) == 1 else [process for process, _ in started]

    def stop(self, *processes: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """Signal every one of `processes` (SIGTERM: finish the task at hand), then wait."""
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, sig)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if process in self.running:
                self.running.remove(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.workdir.glob("*.log")
        )


def wait_for_line(log: Path, *parts: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if any(all(part in line for part in parts) for line in log.read_text().splitlines()):
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{log.stem} did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture
def celery_processes(transactional_db, tmp_path) -> Iterator[CeleryProcesses]:
    """Real `celery -A config worker` and `beat` processes on the test database and a Redis
    broker, beat starting the firing every second. Transactional, so that what a test writes
    is committed for them to see."""
    missing = [
        name
        for name, present in [
            ("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql"),
            ("Redis (REDIS_URL)", bool(settings.REDIS_URL)),
        ]
        if not present
    ]
    if missing:
        (pytest.fail if REQUIRED else pytest.skip)(
            f"Celery processes need {' and '.join(missing)}: they reach the test database "
            "from outside and take their tasks from a Redis broker"
        )
    broker = broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "READ_DOTENV": "false",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": broker,
        "REMINDERS_FIRE_EVERY_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "plain",
    }
    processes = CeleryProcesses(tmp_path, env)
    try:
        yield processes
    finally:
        processes.stop(*processes.running)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, processes=None) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds (with the logs)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = processes.logs() if processes else ""
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.05)


def due_reminders(user: User, fire_times: list[datetime]) -> list[Task]:
    """One new task of `user` per time, each with a reminder then, armed: written in bulk,
    as the write path leaves them (it would take a query per task)."""
    tasks = Task.objects.bulk_create(
        Task(
            user=user,
            title=f"Reminder {n}",
            position=position,
            reminders=resolve([{"at": moment}], None),
        )
        for n, (moment, position) in enumerate(
            zip(fire_times, positions_for(len(fire_times)), strict=True)
        )
    )
    Reminder.objects.bulk_create(
        Reminder(task=task, fire_at=moment) for task, moment in zip(tasks, fire_times, strict=True)
    )
    return tasks


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass
class VapidKeys:
    private_key: str
    public_key: str
    subject: str
    verifying_key: ec.EllipticCurvePublicKey


@pytest.fixture(scope="session")
def vapid_key_pair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), b64url(
        public_point(key)
    )


@pytest.fixture
def vapid(settings, vapid_key_pair: tuple[str, str]) -> VapidKeys:
    """Push configured with a key pair of the test run's own (push is off in tests otherwise,
    as in production without keys)."""
    private_key, public_key = vapid_key_pair
    settings.VAPID_PRIVATE_KEY = private_key
    settings.VAPID_PUBLIC_KEY = public_key
    settings.VAPID_SUBJECT = "mailto:ops@todo.test"
    verifying_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(public_key)
    )
    return VapidKeys(private_key, public_key, settings.VAPID_SUBJECT, verifying_key)


@dataclass
class Browser:
    """One browser's subscription keys: what `PushSubscription.toJSON()` holds, and the
    private half that only the browser has, to decrypt what it receives."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public_point(self.private_key)), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )


@pytest.fixture
def browser() -> Browser:
    return Browser()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    claims: dict[str, Any]
    payload: dict[str, Any]


class PushService:
    """A push service on loopback (plain HTTP: tests set WEBHOOKS_ALLOW_PRIVATE=true).

    `endpoint(browser)` is a new endpoint whose pushes are decrypted with that browser's keys.
    Each POST is checked like a real push service does (RFC 8292 VAPID token signed by the
    configured key, `aud` this origin, `exp` within 24 h, a `sub`; `TTL`; RFC 8291
    `aes128gcm` body) and recorded in `received`, or in `rejected` with the reason (and
    answered 400/401). `answer(path, status, ...)` queues the statuses the next POSTs to a
    path get (default 201); `hang(path)` makes them wait until the test ends.
    """

    def __init__(self, vapid: VapidKeys) -> None:
        self.vapid = vapid
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.browsers: dict[str, Browser] = {}
        self.statuses: dict[str, list[int]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.hanging: set[str] = set()
        self.released = threading.Event()
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def worker_environment(self) -> dict[str, str]:
        """The variables a Celery worker in another process needs to push here: this test's
        VAPID keys and loopback endpoints allowed."""
        return {
            "VAPID_PRIVATE_KEY": self.vapid.private_key,
            "VAPID_SUBJECT": self.vapid.subject,
            "WEBHOOKS_ALLOW_PRIVATE": "true",
        }

    def endpoint(self, browser: Browser) -> str:
        path = f"/push/{len(self.browsers) + 1}"
        self.browsers[path] = browser
        return self.origin + path

    def answer(self, endpoint: str, *statuses: int, headers: dict[str, str] | None = None):
        path = endpoint.removeprefix(self.origin)
        self.statuses.setdefault(path, []).extend(statuses)
        self.headers[path] = headers or {}

    def hang(self, endpoint: str) -> None:
        self.hanging.add(endpoint.removeprefix(self.origin))

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        scheme, _, params = headers.get("authorization", "").partition(" ")
        assert scheme.lower() == "vapid", f"Authorization scheme {scheme!r}, not vapid"
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        assert parts["k"] == self.vapid.public_key, "k is not the configured VAPID public key"
        claims = jwt.decode(
            parts["t"],
            self.vapid.verifying_key,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        assert claims["exp"] <= time.time() + 24 * 3600, "exp more than 24 h ahead"
        assert claims["sub"] == self.vapid.subject
        assert headers.get("content-encoding") == "aes128gcm"
        assert int(headers["ttl"]) > 0
        payload = json.loads(self.browsers[path].decrypt(body))
        return Received(path, headers, claims, payload)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                service.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path in service.hanging:
                    service.released.wait(timeout=30)
                    return
                if self.path not in service.browsers:
                    return self.reply(404)
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    service.received.append(service.verify(self.path, headers, body))
                except (AssertionError, KeyError, ValueError, jwt.PyJWTError) as error:
                    service.rejected.append(f"{type(error).__name__}: {error}")
                    return self.reply(401)
                queued = service.statuses.get(self.path)
                self.reply(queued.pop(0) if queued else 201, service.headers.get(self.path))

            def reply(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> "PushService":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(settings, vapid: VapidKeys) -> Iterator[PushService]:
    """A local push service, VAPID configured, and loopback endpoints allowed."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with PushService(vapid) as service:
        yield service


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Celery tasks run in the calling thread when queued (`delay`), so a test sees what a
    worker would do, without one; tests/notifications drives the delivery functions directly
    otherwise."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous
