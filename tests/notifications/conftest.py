"""Fixtures for the notifications tests: the live stream fixtures of tests/sync, and real
Celery worker and beat processes (`celery_processes`) for end-to-end tests.

The processes need PostgreSQL (they reach the test database from outside this process) and
Redis (the broker). Without them these tests skip, unless CELERY_TESTS_REQUIRED=1 (CI sets
it), when they fail instead. The broker is CELERY_TESTS_BROKER_URL, by default the Redis
database after REDIS_URL's: the cache's is flushed by every test, and this one is flushed
when the processes start.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from accounts.models import User
from tasks.models import Reminder, Task
from tasks.positions import positions_for
from tasks.reminders import resolve
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
