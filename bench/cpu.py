#!/usr/bin/env python3
"""CPU time per request: what each request costs the server and its database, in
microseconds of CPU, whatever else the machine is doing.

Throughput under load (bench.py) is the figure users feel, but on a shared 2-core machine it
moves by +-30 % with whatever else runs. The CPU a request consumes moves far less: this
sends each scenario's requests one at a time over one keep-alive connection and reads, from
/proc, the CPU time that the server's processes (every process holding its listening socket,
and their children) and the PostgreSQL backends of its database spent meanwhile. Targets are
interleaved A, B, B, A per scenario as in bench.py. Linux only (`/proc`, `ss`).

    bench/cpu.py --target before=http://127.0.0.1:8001,db=bench_before \
                 --target now=http://127.0.0.1:8003,db=bench_now --secret S

Redis' CPU is not counted: one redis-server often serves more than the targets.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DEFAULT_SECRET, REQUESTS, Api, BenchError, Target, check_answers, seed

TICKS = os.sysconf("SC_CLK_TCK")
# One request at a time, so `mixed` (a blend of the others) has no figure of its own here.
MEASURED = (*REQUESTS, "healthz")


@dataclass
class Measured:
    target: str
    database: str | None

    def pids(self, port: int) -> tuple[list[int], list[int]]:
        """(the server's processes, the database's backends) right now."""
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True
        ).stdout
        server = {int(pid) for pid in re.findall(r"pid=(\d+)", out)}
        children = {
            int(path.parent.name)
            for path in Path("/proc").glob("[0-9]*/stat")
            if _ppid(path) in server
        }
        backends = []
        if self.database:
            marker = f" {self.database} ".encode()
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    line = path.read_bytes()
                except OSError:
                    continue
                if line.startswith(b"postgres: ") and marker in line:
                    backends.append(int(path.parent.name))
        return sorted(server | children), backends


def _ppid(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each of `pids` so far (one that has exited is left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings: by the processes alive at the second, since the first
    (a process started meanwhile, such as a new database backend, counts whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def requests_for(scenario: str, data, count: int):
    """`count` (method, path, token, body) of `scenario`, cycling over users and tasks as
    scenarios.lua does, so that no row is written twice in a row."""
    readers, writers = data.readers, data.writers
    for n in range(count):
        user_id, token, ids = readers[n % len(readers)]
        path = f"/api/{user_id}/tasks/{ids[(n // len(readers)) % len(ids)]}"
        if scenario == "list":
            yield "GET", f"/api/{user_id}/tasks", token, None
        elif scenario == "get":
            yield "GET", path, token, None
        elif scenario == "create":
            writer_id, writer_token = writers[n % len(writers)]
            yield "POST", f"/api/{writer_id}/tasks", writer_token, {"title": f"cpu {n}"}
        elif scenario == "update":
            yield "PUT", path, token, {"title": f"Updated task {n}", "description": "cpu.py"}
        elif scenario == "toggle":
            yield "PATCH", f"{path}/complete", token, None
        elif scenario == "healthz":
            yield "GET", "/healthz", token, None  # the probe reads no token


def measure(target: Target, who: Measured, scenario: str, data, count: int) -> dict:
    api = Api(target.url)
    work = list(requests_for(scenario, data, count))
    # One unmeasured request opens the keep-alive connection (and a database connection).
    method, path, token, body = work[0]
    api.call(method, path, token, body, json_type=True)
    server, backends = who.pids(target.port)
    app_before, db_before = cpu_seconds(server), cpu_seconds(backends)
    started = time.perf_counter()
    for method, path, token, body in work:
        status, _ = api.call(method, path, token, body, json_type=True)
        if not 200 <= status < 300:
            raise BenchError(f"{target.name}: {method} {path} returned {status}")
    wall = time.perf_counter() - started
    server, backends = who.pids(target.port)
    return {
        "app_us": spent(app_before, cpu_seconds(server)) / count * 1e6,
        "db_us": spent(db_before, cpu_seconds(backends)) / count * 1e6,
        "wall_us": wall / count * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        action="append",
        required=True,
        help="NAME=URL[,db=DATABASE] (the database whose backends to count); repeat",
    )
    parser.add_argument("--secret", default=os.environ.get("BENCH_SECRET", DEFAULT_SECRET))
    parser.add_argument("--requests", type=int, default=2000, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=2, help="A,B then B,A ... (2)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument(
        "--scenarios", default=",".join(REQUESTS), help=f"some of {','.join(MEASURED)}"
    )
    opts = parser.parse_args(argv)
    unknown = set(opts.scenarios.split(",")) - set(MEASURED)
    if unknown:
        parser.error(
            f"unknown scenarios {','.join(sorted(unknown))}; choose from {','.join(MEASURED)}"
        )
    targets, who = [], {}
    for spec in opts.target:
        name, _, rest = spec.partition("=")
        url, *options = rest.split(",")
        database = dict(o.split("=", 1) for o in options).get("db")
        targets.append(Target(name, url, url))
        who[name] = Measured(name, database)
    try:
        check_answers(targets)
        datasets = {t.name: seed(t, opts.secret, opts.users, opts.tasks, 8) for t in targets}
        results: dict[tuple[str, str], list[dict]] = {}
        for scenario in opts.scenarios.split(","):
            for round_no in range(opts.rounds):
                for target in targets if round_no % 2 == 0 else targets[::-1]:
                    r = measure(
                        target, who[target.name], scenario, datasets[target.name], opts.requests
                    )
                    results.setdefault((target.name, scenario), []).append(r)
                    print(
                        f"{scenario:7} {target.name:10} app {r['app_us']:7.0f} µs  "
                        f"db {r['db_us']:6.0f} µs  wall {r['wall_us']:7.0f} µs",
                        file=sys.stderr,
                        flush=True,
                    )
    except BenchError as error:
        print(f"cpu.py: {error}", file=sys.stderr)
        return 2
    first = targets[0].name
    rows = []
    for (name, scenario), runs in results.items():
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append({"target": name, "scenario": scenario, **median})
    base = {(r["scenario"]): r for r in rows if r["target"] == first}
    print(
        f"{'scenario':8} {'target':10} {'app µs':>8} {'db µs':>7} {'total µs':>9} "
        f"{'wall µs':>8} {'total/' + first:>12}"
    )
    for r in rows:
        total = r["app_us"] + r["db_us"]
        ratio = total / (base[r["scenario"]]["app_us"] + base[r["scenario"]]["db_us"])
        print(
            f"{r['scenario']:8} {r['target']:10} {r['app_us']:8.0f} {r['db_us']:7.0f} "
            f"{total:9.0f} {r['wall_us']:8.0f} {ratio:12.2f}"
        )
        print(
            "CPU_JSON "
            + json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
