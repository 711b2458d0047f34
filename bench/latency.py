"""Uncached list latency for chosen users: the scale check of docs/performance.md.

One client, one keep-alive connection, requests one after another, so the figure is the
server's own latency rather than queueing. Run the server with `CACHE_TTL_SECONDS=0`, so that
every request reaches the database. Standard library only; tokens are signed like bench.py's.

usage: latency.py --url http://127.0.0.1:8000 --user ID [--user ID ...] [--requests 300]
                  [--query 'status=pending&sort=-due_date'] [--secret S]
"""

import argparse
import http.client
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DEFAULT_SECRET, make_token  # noqa: E402


def measure(url: str, user: str, token: str, query: str, requests: int, warmup: int) -> list[float]:
    """Milliseconds per request, after `warmup` unmeasured ones; exits on any non-200."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/{user}/tasks" + (f"?{query}" if query else "")
    timings = []
    for n in range(warmup + requests):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            sys.exit(f"{user}: HTTP {response.status}: {body[:200]!r}")
        if n >= warmup:
            timings.append(elapsed)
    connection.close()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", action="append", required=True, help="a user id; repeat")
    parser.add_argument("--query", default="", help="filters to add, e.g. 'status=pending'")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--secret", default=os.environ.get("BETTER_AUTH_SECRET", DEFAULT_SECRET), help="HS256 key"
    )
    args = parser.parse_args()
    print("user                                       p50 ms   p90 ms   p99 ms")
    for user in args.user:
        token = make_token(args.secret, user)
        timings = measure(args.url, user, token, args.query, args.requests, args.warmup)
        print(
            f"{user:<40} {statistics.median(timings):8.1f} {percentile(timings, 0.9):8.1f}"
            f" {percentile(timings, 0.99):8.1f}"
        )


if __name__ == "__main__":
    main()
