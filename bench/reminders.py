"""Reminders under load: how many one Celery worker fires per second, and how late they reach
an open event stream.

    bench/reminders.py [--count 10000] [--users 100] [--spread 60]

Run from the repository root with the production-like environment of bench/README.md
(DEBUG=false, PostgreSQL and Redis: DATABASE_URL, REDIS_URL, SECRET_KEY, BETTER_AUTH_SECRET,
ALLOWED_HOSTS=127.0.0.1, SECURE_SSL_REDIRECT=false), plus CELERY_BROKER_URL for a Redis
database of the bench's own (it is flushed). The database is migrated; the bench's users and
tasks stay (drop the database to clean up). It starts, as processes: uvicorn (the streams),
one worker of one process (`--concurrency=1`) and one beat at the default
REMINDERS_FIRE_EVERY_SECONDS, and stops them at the end.

1. Throughput: --count reminders of --users users, all due at the same moment; the worker's
   rate is the count over the time from the first firing to the last (their records'
   `fired_at`).
2. Delay: --count reminders due evenly over --spread seconds (10,000 in a minute by default),
   each user's stream open; each reminder's delay is its receipt on the stream minus its
   `fire_at`: p50, p99 and the maximum. The beat's period bounds it from below.
Prints one JSON line at the end.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Max, Min  # noqa: E402

from accounts.models import User, generate_user_id  # noqa: E402
from sync.models import FiredReminder  # noqa: E402
from tasks.models import Reminder, Task  # noqa: E402
from tasks.positions import positions_for  # noqa: E402
from tasks.reminders import resolve  # noqa: E402


def token(user_id: str) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, settings.BETTER_AUTH_SECRET, algorithm="HS256")


def seed(users: list[str], fire_times: list[datetime]) -> None:
    """One task per reminder, the users taking turns, written in bulk as the write path
    leaves them (task row, its reminders JSON, one schedule row)."""
    positions = positions_for(len(fire_times))
    tasks = Task.objects.bulk_create(
        (
            Task(
                user_id=users[n % len(users)],
                title=f"bench reminder {n}",
                position=positions[n],
                reminders=resolve([{"at": moment}], None),
            )
            for n, moment in enumerate(fire_times)
        ),
        batch_size=2000,
    )
    Reminder.objects.bulk_create(
        (Reminder(task=task, fire_at=at) for task, at in zip(tasks, fire_times, strict=True)),
        batch_size=2000,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(log: Path, *command: str, env: dict[str, str]) -> subprocess.Popen:
    with log.open("w") as output:
        return subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=output, stderr=subprocess.STDOUT
        )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


async def hold_stream(port: int, user: str, received: list, opened: asyncio.Event, stop) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/{user}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token(user)}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    reminder = False
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(reader.readline(), 1)
        except TimeoutError:
            continue
        if not line:
            break
        if line.startswith(b"retry:"):
            opened.set()
        elif line.startswith(b"event: reminder"):
            reminder = True
        elif line.startswith(b"data:") and reminder:
            payload = json.loads(line[5:])
            received.append(time.time() - datetime.fromisoformat(payload["fire_at"]).timestamp())
            reminder = False
    writer.close()


async def measure_delays(port: int, users: list[str], count: int, spread: float) -> list[float]:
    received: list[float] = []
    stop = asyncio.Event()
    opened = [asyncio.Event() for _ in users]
    streams = [
        asyncio.create_task(hold_stream(port, user, received, event, stop))
        for user, event in zip(users, opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 60)
    start_at = datetime.now(UTC) + timedelta(seconds=10)
    step = spread / count
    await asyncio.to_thread(
        seed, users, [start_at + timedelta(seconds=step * n) for n in range(count)]
    )
    deadline = time.monotonic() + 10 + spread + 120
    while len(received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*streams)
    return received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spread", type=float, default=60)
    args = parser.parse_args()
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        raise SystemExit("set CELERY_BROKER_URL to a Redis database of the bench's own")

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    users = [User.objects.create(id=generate_user_id()).id for _ in range(args.users)]
    FiredReminder.objects.all().delete()
    Reminder.objects.all().delete()

    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-reminders-{os.getpid()}"
    workdir.mkdir()
    env = {
        **os.environ,
        "CELERY_BEAT_SCHEDULE_FILENAME": str(workdir / "beat-schedule"),
        "DATABASE_CONN_MAX_AGE": "0",
    }
    port = free_port()
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    processes = [
        start(
            workdir / "uvicorn.log",
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            env=env,
        ),
        start(
            workdir / "worker.log",
            *celery,
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            env=env,
        ),
        start(workdir / "beat.log", *celery, "beat", "--loglevel=INFO", env=env),
    ]
    try:
        wait_for(lambda: " ready." in (workdir / "worker.log").read_text(), 60, "the worker")

        due = datetime.now(UTC) + timedelta(seconds=2)
        seed(users, [due] * args.count)
        wait_for(lambda: FiredReminder.objects.count() >= args.count, 300, "the burst")
        span = FiredReminder.objects.aggregate(first=Min("fired_at"), last=Max("fired_at"))
        seconds = (span["last"] - span["first"]).total_seconds()
        FiredReminder.objects.all().delete()

        delays = sorted(asyncio.run(measure_delays(port, users, args.count, args.spread)))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    print(
        json.dumps(
            {
                "count": args.count,
                "fired_per_second": round(args.count / seconds) if seconds else None,
                "burst_seconds": round(seconds, 2),
                "received": len(delays),
                "delay_p50_s": round(statistics.median(delays), 2) if delays else None,
                "delay_p99_s": round(delays[int(len(delays) * 0.99) - 1], 2) if delays else None,
                "delay_max_s": round(delays[-1], 2) if delays else None,
                "fire_every_seconds": settings.REMINDERS_FIRE_EVERY_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
