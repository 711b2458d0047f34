"""Live streams under load: memory per idle stream, event latency, and what they cost REST.

    bench/streams.py --realtime http://127.0.0.1:8001 --api http://127.0.0.1:8000 \\
        --pid <uvicorn's pid> [--streams 1000] [--writes-per-second 50] [--seconds 10]

Needs a uvicorn process (`config.asgi`) and a gunicorn one on the same PostgreSQL and Redis,
both verifying tokens with --secret (default $BETTER_AUTH_SECRET), and wrk on the PATH.
1. wrk measures the REST API (GET one task) alone: req/s.
2. --streams streams are opened, one per user (as tabs of different people), and held idle;
   the realtime process's RSS before and after gives the memory per stream.
3. --writes-per-second creates tasks for random users among them for --seconds; each event's
   latency is its receipt on the stream minus the moment the create was answered (after its
   commit): p50 and p99.
4. wrk measures the REST API again while the streams are open: the ratio to step 1.
Standard library only (plus wrk); prints one JSON line at the end.
"""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import time
import urllib.request
from urllib.parse import urlsplit

from bench import make_token  # the same HS256 tokens as the load benchmark


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read())[1])


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
    base: str, user: str, token: str, opened: asyncio.Event, received: dict, stop: asyncio.Event
) -> None:
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET /api/{user}/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    opened_once = False
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(reader.readline(), 1)
        except TimeoutError:
            continue
        if not line:
            break
        if line.startswith(b"retry:") and not opened_once:
            opened_once = True
            opened.set()
        elif line.startswith(b"data:"):
            change = json.loads(line[5:])
            received[change["id"]] = time.monotonic()
    writer.close()


async def main(args: argparse.Namespace) -> dict:
    users = [f"stream{os.getpid()}x{n}" for n in range(args.streams)]
    tokens = {user: make_token(args.secret, user) for user in users}
    probe_user = users[0]
    task = request(f"{args.api}/api/{probe_user}/tasks", tokens[probe_user], "POST", {"title": "p"})
    get_url = f"{args.api}/api/{probe_user}/tasks/{task['id']}"
    alone = await asyncio.to_thread(wrk_rps, get_url, tokens[probe_user], args.wrk_seconds)

    before = rss_kb(args.pid)
    stop, received = asyncio.Event(), {}
    opened = [asyncio.Event() for _ in users]
    holders = [
        asyncio.create_task(hold_stream(args.realtime, u, tokens[u], o, received, stop))
        for u, o in zip(users, opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 120)
    await asyncio.sleep(2)
    after = rss_kb(args.pid)

    answered: dict[int, float] = {}

    def write() -> None:
        interval = 1 / args.writes_per_second
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            user = random.choice(users)
            created = request(f"{args.api}/api/{user}/tasks", tokens[user], "POST", {"title": "w"})
            answered[created["id"]] = time.monotonic()
            time.sleep(max(0, interval - (time.monotonic() - started)))

    await asyncio.to_thread(write)
    await asyncio.sleep(3)
    latencies = sorted(
        (received[task_id] - at) * 1000 for task_id, at in answered.items() if task_id in received
    )
    with_streams = await asyncio.to_thread(wrk_rps, get_url, tokens[probe_user], args.wrk_seconds)
    stop.set()
    await asyncio.gather(*holders, return_exceptions=True)
    return {
        "streams": args.streams,
        "rss_per_stream_kb": round((after - before) / args.streams, 1),
        "events_sent": len(answered),
        "events_received": len(latencies),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)
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
