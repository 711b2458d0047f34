"""Live streams under load: memory per idle stream, event latency, and what they cost REST.

    bench/streams.py --realtime http://127.0.0.1:8001 --api http://127.0.0.1:8000 \\
        --pid <uvicorn's pid> [--streams 1000] [--writes-per-second 50] [--seconds 10]

Needs a uvicorn process (`config.asgi`) and a gunicorn one on the same PostgreSQL and Redis,
both verifying tokens with --secret (default $BETTER_AUTH_SECRET), and wrk on the PATH; the
recipe is in bench/README.md.
1. wrk measures the REST API (GET one task) alone: req/s.
2. A few streams open and close (warming the realtime process up); then --streams streams
   are opened, one per user (as tabs of different people), and held idle; the realtime
   process's RSS and threads, once it is idle before and after, give the cost per stream.
3. --writes-per-second creates tasks for random users among them for --seconds, on a fixed
   schedule (a pool of writers, so a slow answer does not lower the rate); each event's
   latency is its receipt on the stream minus the moment the create was answered (after its
   commit): p50 and p99.
4. wrk measures the REST API again while the streams are open: the ratio to step 1.
Standard library only (plus wrk); prints one JSON line at the end.
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import statistics
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from bench import make_token  # the same HS256 tokens as the load benchmark

# Writers at once: enough that --writes-per-second holds while a create takes up to 300 ms.
WRITERS = 16


def process_status(pid: int) -> tuple[int, int]:
    """The process's resident memory (KB) and its number of threads."""
    with open(f"/proc/{pid}/status") as status:
        text = status.read()
    return int(re.search(r"VmRSS:\s+(\d+)", text)[1]), int(re.search(r"Threads:\s+(\d+)", text)[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settle(pid: int, limit: float = 60) -> float:
    """Wait until the process is idle (under 5 % of a core over a second): the streams have
    made their first read of the feed. How long it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        used = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - used < 0.05:
            break
    return time.monotonic() - started


def request(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method)) as r:
        return json.loads(r.read())


def wrk_rps(url: str, token: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])


async def hold_stream(
    base: str, user: str, token: str, opened: asyncio.Event, received: dict
) -> None:
    """One stream, read until cancelled; the receipt time of each change, by task id."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET /api/{user}/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while line := await reader.readline():
            if line.startswith(b"retry:"):
                opened.set()
            elif line.startswith(b"data:"):
                change = json.loads(line[5:])
                received[change["id"]] = time.monotonic()
    finally:
        writer.close()


async def open_streams(
    base: str, users: list[str], tokens: dict[str, str], received: dict
) -> list[asyncio.Task]:
    """Open a stream per user; return once every one has started."""
    opened = [asyncio.Event() for _ in users]
    holders = [
        asyncio.create_task(hold_stream(base, u, tokens[u], o, received))
        for u, o in zip(users, opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 120)
    return holders


async def close_streams(holders: list[asyncio.Task]) -> None:
    for holder in holders:
        holder.cancel()
    await asyncio.gather(*holders, return_exceptions=True)


def write(args: argparse.Namespace, users: list[str], tokens: dict[str, str]) -> dict[int, float]:
    """Create a task for a random user every 1/--writes-per-second s, on a schedule that a
    slow answer does not push back (a pool of writers): the moment each create was answered,
    by task id."""
    answered: dict[int, float] = {}

    def create(user: str) -> None:
        created = request(f"{args.api}/api/{user}/tasks", tokens[user], "POST", {"title": "w"})
        answered[created["id"]] = time.monotonic()

    count = int(args.writes_per_second * args.seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for n in range(count):
            time.sleep(max(0.0, start + n / args.writes_per_second - time.monotonic()))
            pool.submit(create, random.choice(users))
    return answered


async def main(args: argparse.Namespace) -> dict:
    users = [f"stream{os.getpid()}x{n}" for n in range(args.streams)]
    tokens = {user: make_token(args.secret, user) for user in users}
    probe_user = users[0]
    task = request(f"{args.api}/api/{probe_user}/tasks", tokens[probe_user], "POST", {"title": "p"})
    get_url = f"{args.api}/api/{probe_user}/tasks/{task['id']}"
    alone = await asyncio.to_thread(wrk_rps, get_url, tokens[probe_user], args.wrk_seconds)

    # A few streams first, so that what the first stream imports and caches is not counted.
    await close_streams(await open_streams(args.realtime, users[:8], tokens, {}))
    await settle(args.pid)
    before, threads_before = process_status(args.pid)
    received: dict[int, float] = {}
    started = time.monotonic()
    holders = await open_streams(args.realtime, users, tokens, received)
    opening = time.monotonic() - started
    settling = await settle(args.pid)
    after, threads_after = process_status(args.pid)

    started = time.monotonic()
    answered = await asyncio.to_thread(write, args, users, tokens)
    writing = time.monotonic() - started
    await asyncio.sleep(3)
    latencies = sorted(
        (received[task_id] - at) * 1000 for task_id, at in answered.items() if task_id in received
    )
    with_streams = await asyncio.to_thread(wrk_rps, get_url, tokens[probe_user], args.wrk_seconds)
    await close_streams(holders)
    return {
        "streams": args.streams,
        "rss_per_stream_kb": round((after - before) / args.streams, 1),
        "opening_s": round(opening, 1),
        "settling_s": round(settling, 1),
        "threads_before": threads_before,
        "threads_with_streams": threads_after,
        "events_sent": len(answered),
        "writes_per_second": round(len(answered) / writing, 1),
        "events_received": len(latencies),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(latencies[math.ceil(len(latencies) * 0.99) - 1], 1)
        if latencies
        else None,
        "rest_rps_alone": alone,
        "rest_rps_with_streams": with_streams,
        "rest_ratio": round(with_streams / alone, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realtime", required=True, help="the uvicorn process's URL")
    parser.add_argument("--api", required=True, help="the gunicorn process's URL")
    parser.add_argument("--pid", type=int, required=True, help="the uvicorn process's pid")
    parser.add_argument("--secret", default=os.environ.get("BETTER_AUTH_SECRET", ""))
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--writes-per-second", type=float, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    result = asyncio.run(main(parser.parse_args()))
    print("STREAMS_JSON", json.dumps(result))
