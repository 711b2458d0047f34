#!/usr/bin/env python3
"""What one request costs in work that does not move with the machine's load: the statements
sent to PostgreSQL, the round trips to Redis and the Python function calls, per kind of
request, served in process by Django's test client.

    bench/calls.py [--requests 200] [--inbox 10000]

Run from the repository root with the environment of bench/README.md (DATABASE_URL and
REDIS_URL of a bench database, BETTER_AUTH_SECRET, SECRET_KEY, DEBUG=false,
ALLOWED_HOSTS=127.0.0.1, SECURE_SSL_REDIRECT=false) and the rate limit on (API_RATE_LIMIT
unset, or a high rate: the limiter is part of every request). The database is migrated; a
fresh user with 100 tasks is made each run. Statements include BEGIN and COMMIT (the test
client runs outside any test transaction, as gunicorn does). Prints a table, then one JSON
line per request.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(REPOSITORY))  # after bench/ itself, whose bench.py signs the tokens
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from redis.connection import AbstractConnection  # noqa: E402

from accounts.models import User, generate_user_id  # noqa: E402
from bench import make_token  # noqa: E402
from tasks.models import Task  # noqa: E402
from tasks.positions import positions_for  # noqa: E402
from tasks.services import end_of_group, tasks_import  # noqa: E402

DESCRIPTION = "Seeded by bench.py so that list responses have a realistic size."


class RedisRoundTrips:
    """Counts what redis-py sends: a command, or a whole pipeline, is one send."""

    def __init__(self) -> None:
        self.count = 0
        send = AbstractConnection.send_packed_command

        def counted(conn: AbstractConnection, command: object, *args: object, **kwargs: object):
            self.count += 1
            return send(conn, command, *args, **kwargs)

        AbstractConnection.send_packed_command = counted


def load_inbox(user_id: str, count: int) -> None:
    """`count` more top-level tasks for the user, by COPY, and fresh planner statistics."""
    user, now = User.objects.get(pk=user_id), timezone.now()
    # After the tasks already there: end_of_group is a key past the last of them.
    positions = positions_for(count, before=end_of_group(user_id, None, None))
    tasks_import(
        tasks=[
            Task(user=user, title=f"Inbox {n}", position=position, created_at=now, updated_at=now)
            for n, position in enumerate(positions)
        ]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_task")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="profiled per kind (200)")
    parser.add_argument(
        "--inbox",
        type=int,
        default=0,
        help="tasks loaded into the user's inbox first, to see what a long group costs (0)",
    )
    opts = parser.parse_args()
    if opts.inbox < 0:
        parser.error(f"--inbox is a number of tasks, not {opts.inbox}")
    call_command("migrate", verbosity=0)
    secret = os.environ.get("BETTER_AUTH_SECRET", "")
    user_id = generate_user_id()
    client = Client(
        HTTP_AUTHORIZATION=f"Bearer {make_token(secret, user_id)}", HTTP_HOST="127.0.0.1"
    )
    base = f"/api/{user_id}/tasks"

    def post(title: str) -> int:
        body = json.dumps({"title": title, "description": DESCRIPTION})
        return client.post(base, body, content_type="application/json").json()["id"]

    ids = [post(f"Seeded task {n:05}") for n in range(100)]
    if opts.inbox:
        load_inbox(user_id, opts.inbox)
    fresh: list[int] = []
    kinds = {
        # A task read once, then from the cache.
        "get (cached)": lambda n: client.get(f"{base}/{ids[n % 10]}"),
        "list (cached)": lambda n: client.get(base),
        "get (first read)": lambda n: client.get(f"{base}/{fresh.pop()}"),
        "create": lambda n: client.post(
            base, json.dumps({"title": f"New {n}"}), content_type="application/json"
        ),
        "update (PUT)": lambda n: client.put(
            f"{base}/{ids[n % 100]}",
            json.dumps({"title": f"Updated {n}", "description": DESCRIPTION}),
            content_type="application/json",
        ),
        "toggle": lambda n: client.patch(f"{base}/{ids[n % 100]}/complete"),
        "healthz": lambda n: client.get("/healthz"),
    }
    redis_round_trips = RedisRoundTrips()
    rows = []
    for kind, send in kinds.items():
        warm_up, count = 30, opts.requests
        if kind == "get (first read)":
            fresh[:] = [post(f"Unread {n}") for n in range(warm_up + count + 1)]
        for n in range(warm_up):
            send(n)  # for the cached kinds, this fills the cache
        with CaptureQueriesContext(connection) as queries:
            redis_round_trips.count = 0
            response = send(count)
            statements, redis = len(queries), redis_round_trips.count
        if not 200 <= response.status_code < 300:
            raise SystemExit(f"{kind}: {response.status_code} {response.content[:200]!r}")
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for n in range(count):
            send(n)
        profile.disable()
        elapsed = time.perf_counter() - started
        calls = pstats.Stats(profile).total_calls / count
        rows.append((kind, statements, redis, round(calls), round(elapsed / count * 1e6)))
    print(f"{'request':18} {'PostgreSQL':>10} {'Redis':>6} {'calls':>7} {'profiled us':>12}")
    for kind, statements, redis, calls, micros in rows:
        print(f"{kind:18} {statements:>10} {redis:>6} {calls:>7,} {micros:>12,}")
    for kind, statements, redis, calls, micros in rows:
        line = {"request": kind, "statements": statements, "redis_round_trips": redis}
        print(json.dumps(line | {"calls": calls, "profiled_us": micros}))


if __name__ == "__main__":
    main()
