#!/usr/bin/env python3
"""Benchmark the task API with wrk, alone or beside other servers of the same contract.

Data is seeded through the API itself, so every server that speaks the contract (ours, or
another implementation of the same routes) is measured the same way. These machines are
noisy (about +-30 % run to run), so the figure that matters is a ratio measured in one
invocation: `compare` interleaves the targets A, B, B, A, ... per scenario so that drift hits
every target alike.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SECRET = "bench-only-secret-0123456789abcdef0123456789"
# The task API's requests; `mixed` interleaves them, and `healthz` (GET /healthz, no token)
# measures what the same server does for a request that does nothing.
REQUESTS = ("list", "get", "create", "update", "toggle")
SCENARIOS = (*REQUESTS, "mixed", "healthz")
# The request kinds each scenario sends; a target must answer every one of them with 2xx.
USES = {**{s: (s,) for s in REQUESTS}, "mixed": REQUESTS, "healthz": ("healthz",)}
LUA_SCRIPT = Path(__file__).resolve().with_name("scenarios.lua")
ID_ALPHABET = string.ascii_letters + string.digits
DESCRIPTION = "Seeded by bench.py so that list responses have a realistic size."


class BenchError(Exception):
    """A problem the user must fix (wrong secret, read-only server, wrk missing)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_token(secret: str, sub: str, ttl: int = 86_400) -> str:
    """An HS256 JWT signed like Better Auth's shared-secret mode (raw UTF-8 secret bytes).

    Written out by hand (two base64url JSON parts and one HMAC) so the tool is stdlib only.
    """
    now = int(time.time())
    parts = [{"alg": "HS256", "typ": "JWT"}, {"sub": sub, "iat": now, "exp": now + ttl}]
    signing_input = ".".join(_b64url(json.dumps(p, separators=(",", ":")).encode()) for p in parts)
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def new_user(secret: str) -> tuple[str, str]:
    """A fresh random user id (32 alphanumerics, like Better Auth's) and its token.

    Fresh ids per run keep runs from seeing each other's data; the server creates the user on
    its first valid token.
    """
    user_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(32))
    return user_id, make_token(secret, user_id)


@dataclass
class Target:
    name: str
    url: str
    seed_url: str  # where tasks are POSTed: another server on the same database for read-only ones

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class Api:
    """A small JSON client with one keep-alive connection per thread.

    Keep-alive matters: seeding 5,000 tasks must not pay 5,000 TCP handshakes.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.netloc, self.prefix = parts.netloc, parts.path.rstrip("/")
        self.local = threading.local()

    def call(
        self, method: str, path: str, token: str, body: dict | None = None, json_type: bool = False
    ) -> tuple[int, object]:
        """Send one request; return (status, decoded JSON body or the raw bytes)."""
        conn = getattr(self.local, "conn", None)
        reused = conn is not None
        conn = conn or self.cls(self.netloc, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None or json_type:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (ConnectionError, http.client.BadStatusLine):
            conn.close()
            self.local.conn = None
            if reused:  # the server closed an idle keep-alive connection: retry on a new one
                return self.call(method, path, token, body, json_type)
            raise
        self.local.conn = None if response.will_close else conn
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw[:200]


@dataclass
class Dataset:
    """Who the wrk scripts act as, written to a Lua file for them.

    Readers own exactly --tasks tasks each (list, get, update and toggle use them); writers
    start empty and receive every create, so a reader's list never grows between scenarios.
    """

    readers: list[tuple[str, str, list[int]]]
    writers: list[tuple[str, str]]

    def write_lua(self, path: Path, prefix: str) -> None:
        lines = ["return {", f"  prefix = {json.dumps(prefix)},", "  readers = {"]
        for user_id, token, ids in self.readers:
            tasks = ",".join(map(str, ids))
            lines.append(f'    {{id = "{user_id}", auth = "Bearer {token}", tasks = {{{tasks}}}}},')
        lines.append("  },\n  writers = {")
        lines += [f'    {{id = "{uid}", auth = "Bearer {tok}"}},' for uid, tok in self.writers]
        lines.append("  },\n}\n")
        path.write_text("\n".join(lines))


def _hint(status: int) -> str:
    if status in (301, 308):
        return " (it redirects to HTTPS: run it with SECURE_SSL_REDIRECT=false, or use https://)"
    if status == 401:
        return " (token rejected: pass the server's BETTER_AUTH_SECRET with --secret)"
    if status in (404, 405):
        return " (read-only server? seed it through a server on the same database: --seed-url)"
    return ""


def check_answers(targets: list[Target], timeout: float = 5.0) -> None:
    """Every target URL and seed URL answers HTTP, before anything is seeded anywhere.

    Any status will do (without a token the API answers 401); a refused or silent address
    stops the run, naming the target, instead of a traceback after seeding the others.
    """
    down = []
    for target in targets:
        for url in dict.fromkeys([target.url, target.seed_url]):
            parts = urlsplit(url)
            https = parts.scheme == "https"
            cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
            conn = cls(parts.netloc, timeout=timeout)
            try:
                conn.request("GET", parts.path.rstrip("/") + "/healthz")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException) as exc:
                down.append(f"{target.name} at {url} ({exc.__class__.__name__}: {exc})")
            finally:
                conn.close()
    if down:
        raise BenchError("no answer from " + "; ".join(down) + ": start it, or fix --url")


def seed(target: Target, secret: str, users: int, tasks: int, workers: int) -> Dataset:
    """Create users x tasks tasks through POST, concurrently, and register the writers."""
    api = Api(target.seed_url)
    readers = [new_user(secret) for _ in range(users)]
    writers = [new_user(secret) for _ in range(users)]
    ids: list[list[int]] = [[] for _ in readers]

    def post(job: tuple[int, int]) -> None:
        index, k = job
        user_id, token = readers[index]
        body = {"title": f"Seeded task {k:05d}", "description": DESCRIPTION if k % 2 else None}
        status, task = api.call("POST", f"/api/{user_id}/tasks", token, body)
        if status != 201 or not isinstance(task, dict):
            raise BenchError(f"{target.name}: seeding POST returned {status}{_hint(status)}")
        ids[index].append(task["id"])

    def touch(user: tuple[str, str]) -> None:
        # The first request creates the user; doing it now keeps that out of `create`.
        status, _ = api.call("GET", f"/api/{user[0]}/tasks", user[1])
        if status != 200:
            raise BenchError(f"{target.name}: GET tasks returned {status}{_hint(status)}")

    started = time.monotonic()
    pool = ThreadPoolExecutor(workers)
    try:
        list(pool.map(post, [(u, k) for u in range(users) for k in range(tasks)]))
        list(pool.map(touch, writers))
    finally:
        pool.shutdown(cancel_futures=True)
    elapsed = time.monotonic() - started
    log(f"{target.name}: seeded {users * tasks} tasks for {users} users in {elapsed:.1f} s")
    return Dataset([(u, t, sorted(i)) for (u, t), i in zip(readers, ids, strict=True)], writers)


def probe(target: Target, data: Dataset, tasks: int) -> dict[str, str]:
    """Send each kind of request once; return scenario -> why it is skipped ("" = runs).

    A read-only server (peer `floor`) answers writes with 404/405; measuring those would print
    a meaningless figure over 100 % errors, so such scenarios are skipped for that target.
    """
    api = Api(target.url)
    user_id, token, task_ids = data.readers[0]
    writer_id, writer_token = data.writers[0]
    path = f"/api/{user_id}/tasks/{task_ids[0]}"
    requests = {
        "list": ("GET", f"/api/{user_id}/tasks", token, None),
        "get": ("GET", path, token, None),
        "create": ("POST", f"/api/{writer_id}/tasks", writer_token, {"title": "Probe"}),
        "update": ("PUT", path, token, {"title": "Seeded task 00000", "description": None}),
        "toggle": ("PATCH", f"{path}/complete", token, None),
        "healthz": ("GET", "/healthz", token, None),
    }
    failed = {}
    for kind, (method, url, tok, body) in requests.items():
        status, payload = api.call(method, url, tok, body, json_type=True)
        if status in (401, 403):
            raise BenchError(f"{target.name}: {method} {url} returned {status}{_hint(status)}")
        if not 200 <= status < 300:
            failed[kind] = f"{method} -> {status}"
        elif kind == "list" and (not isinstance(payload, list) or len(payload) != tasks):
            count = len(payload) if isinstance(payload, list) else "no"
            log(f"{target.name}: warning: list returned {count} tasks, not {tasks} (paginated?)")
    return {s: ", ".join(failed[k] for k in USES[s] if k in failed) for s in SCENARIOS}


def connection_spread(port: int) -> dict[str, int]:
    """Established server-side connections per process on `port`, from `ss -tnp`.

    With one shared listening socket (gunicorn, `uvicorn --workers`) the worker that wakes
    first can accept nearly all of wrk's connections, so "2 workers" measures as one. Processes
    listening on the port with no connection are listed with 0 (a master process shows up so).
    """

    def pids_per_line(*args: str) -> list[list[str]]:
        out = subprocess.run(["ss", "-Htnp", *args], capture_output=True, text=True).stdout
        return [re.findall(r"pid=(\d+)", line) for line in out.splitlines()]

    counts: dict[str, int] = {}
    for pids in pids_per_line("-l", f"sport = :{port}"):
        for pid in pids:
            counts.setdefault(pid, 0)
    for pids in pids_per_line("state", "established", f"( sport = :{port} )"):
        key = pids[0] if pids else "?"
        counts[key] = counts.get(key, 0) + 1
    return counts


def uneven(spread: dict[str, int]) -> bool:
    """True when one of several processes holds at least 3/4 of the connections.

    A master process that only listens (gunicorn) counts as one of the several, so a
    single-worker server is flagged too; the per-pid counts printed beside it tell which.
    """
    total = sum(spread.values())
    return len(spread) > 1 and total > 0 and max(spread.values()) >= 0.75 * total


@dataclass
class Result:
    target: str
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    requests: int
    codes: dict[str, int]
    rps_runs: list[float] = field(default_factory=list)
    spread: dict[str, int] | None = None

    def json(self) -> dict:
        line = {k: v for k, v in vars(self).items() if v is not None}
        rounded = {k: round(line[k], 2) for k in ("rps", "p50_ms", "p99_ms")}
        return line | rounded | {"rps_runs": [round(r, 1) for r in self.rps_runs]}


def run_wrk(
    target: Target, scenario: str, data_file: Path, opts: argparse.Namespace, duration: int
) -> Result:
    """Run wrk once and parse the BENCH_JSON line that scenarios.lua's done() prints."""
    cmd = [
        "wrk", f"-t{opts.threads}", f"-c{opts.connections}", f"-d{duration}s",
        f"--timeout={opts.timeout}s", "--latency", "-s", str(LUA_SCRIPT), target.url,
        "--", scenario, str(data_file),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spread = None
    if opts.check_spread:
        time.sleep(duration / 2)  # wrk opens its connections at the start; sample mid-run
        spread = connection_spread(target.port)
    out, err = proc.communicate()
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode or line is None:
        raise BenchError(f"wrk failed on {target.name}/{scenario}:\n{err}{out}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    rps = raw["requests"] / (raw["duration_us"] / 1e6)
    return Result(
        target=target.name,
        scenario=scenario,
        rps=rps,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=sum(
            raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        requests=raw["requests"],
        codes=raw["codes"],
        rps_runs=[rps],
        spread=spread,
    )


def combine(runs: list[Result]) -> Result:
    """Medians of rates and percentiles over rounds; counts are summed."""
    spreads = [r.spread for r in runs if r.spread is not None]
    codes: dict[str, int] = {}
    for run in runs:
        for status, count in run.codes.items():
            codes[status] = codes.get(status, 0) + count
    return Result(
        target=runs[0].target,
        scenario=runs[0].scenario,
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        non2xx=sum(r.non2xx for r in runs),
        socket_errors=sum(r.socket_errors for r in runs),
        requests=sum(r.requests for r in runs),
        codes=codes,
        rps_runs=[r.rps for r in runs],
        spread=spreads[-1] if spreads else None,
    )


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Fixed-width text table: first two columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [
            str(c).ljust(w) if i < 2 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def bench(targets: list[Target], opts: argparse.Namespace) -> None:
    """Seed and probe every target, then measure each scenario over interleaved rounds."""
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed (apt-get install -y wrk)")
    check_answers(targets)
    skipped: dict[str, dict[str, str]] = {}
    runs: dict[tuple[str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        files, datasets = {}, {}
        for i, target in enumerate(targets):
            # Targets seeded through the same URL share a database: one dataset serves them all.
            if target.seed_url not in datasets:
                datasets[target.seed_url] = seed(
                    target, opts.secret, opts.users, opts.tasks, opts.seed_workers
                )
            data = datasets[target.seed_url]
            skipped[target.name] = probe(target, data, opts.tasks)
            files[target.name] = Path(tmp, f"target{i}.lua")
            data.write_lua(files[target.name], urlsplit(target.url).path.rstrip("/"))
        for scenario in opts.scenarios:
            active = [t for t in targets if not skipped[t.name][scenario]]
            for target in targets:
                if reason := skipped[target.name][scenario]:
                    log(f"{target.name}: {scenario} skipped ({reason})")
            for target in active if opts.warmup else []:
                run_wrk(target, scenario, files[target.name], opts, opts.warmup)
            for round_no in range(opts.rounds):
                for target in active if round_no % 2 == 0 else active[::-1]:
                    r = run_wrk(target, scenario, files[target.name], opts, opts.duration)
                    runs.setdefault((target.name, scenario), []).append(r)
                    spread = ""
                    if r.spread is not None:
                        spread = "  connections: " + ", ".join(
                            f"pid {pid} {n}" for pid, n in r.spread.items()
                        )
                        if uneven(r.spread):
                            spread += "  <- uneven (shared listening socket?)"
                    log(
                        f"{scenario:7} {target.name}: {r.rps:8.1f} req/s  p50 {r.p50_ms:.1f} ms"
                        f"  p99 {r.p99_ms:.1f} ms  non-2xx {r.non2xx}{spread}"
                    )
    report(targets, opts, {k: combine(v) for k, v in runs.items()}, skipped)


def report(
    targets: list[Target],
    opts: argparse.Namespace,
    results: dict[tuple[str, str], Result],
    skipped: dict[str, dict[str, str]],
) -> None:
    """Print the medians table, the ratio table (several targets) and the JSON lines."""
    rows, lines = [], []
    for target in targets:
        for scenario in opts.scenarios:
            r = results.get((target.name, scenario))
            if r is None:
                rows.append([target.name, scenario, "skipped", "", "", "", "", ""])
                lines.append(
                    {
                        "target": target.name,
                        "scenario": scenario,
                        "skipped": skipped[target.name][scenario],
                    }
                )
                continue
            half_range = (max(r.rps_runs) - min(r.rps_runs)) / 2 / r.rps * 100 if r.rps else 0
            spread = f"±{half_range:.0f}%" if len(r.rps_runs) > 1 else "-"
            rows.append([
                target.name, scenario, f"{r.rps:,.1f}", spread, f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}", str(r.non2xx), str(r.socket_errors),
            ])  # fmt: skip
            lines.append(r.json())
    pairs = [(b, a) for i, a in enumerate(targets) for b in targets[i + 1 :]]
    ratio_rows = []
    for scenario in opts.scenarios:
        row = [scenario, ""]
        for b, a in pairs:
            rb, ra = results.get((b.name, scenario)), results.get((a.name, scenario))
            if rb is None or ra is None:
                row += ["-", "-"]
                continue
            ratio = {
                "rps": rb.rps / ra.rps,
                "p50": rb.p50_ms / ra.p50_ms,
                "p99": rb.p99_ms / ra.p99_ms,
            }
            row += [f"{ratio['rps']:.2f}", f"{ratio['p99']:.2f}"]
            rounded = {k: round(v, 3) for k, v in ratio.items()}
            lines.append({"scenario": scenario, "ratio": f"{b.name}/{a.name}"} | rounded)
        if any(cell != "-" for cell in row[2:]):
            ratio_rows.append(row)
    if not opts.json_only:
        headers = ["target", "scenario", "req/s", "range", "p50 ms", "p99 ms", "non-2xx", "errors"]
        print(
            f"\nmedians of {opts.rounds} round(s) of {opts.duration} s"
            f" at {opts.connections} connections"
        )
        print(table(headers, rows))
        if pairs:
            print("\nratios X/Y of the medians (X faster: req/s ratio > 1, p99 ratio < 1)")
            names = [f"{b.name}/{a.name} {m}" for b, a in pairs for m in ("req/s", "p99")]
            print(table(["scenario", "", *names], ratio_rows))
        print()
    for line in lines:
        print(json.dumps(line))


def split_named(spec: str, default_name: str | None = None) -> tuple[str, str]:
    """NAME=URL, or a bare URL named default_name (else after its host:port)."""
    name, sep, url = spec.partition("=")
    if not sep or "/" in name or ":" in name:
        name, url = default_name or urlsplit(spec).netloc, spec
    if not re.fullmatch(r"https?://[^/]+(/.*)?", url):
        raise BenchError(f"not an http(s) URL: {url}")
    return name, url.rstrip("/")


def parse_scenarios(value: str) -> list[str]:
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return [s for s in SCENARIOS if s in wanted]  # reads run first: writes change the rows


EPILOG = """\
scenarios (each request picks the next user or user/task pair, so load spreads over all):
  list    GET  /api/{user}/tasks              a reader's whole list (--tasks tasks)
  get     GET  /api/{user}/tasks/{id}         one task
  create  POST /api/{writer}/tasks            into separate "writer" users: lists never grow
  update  PUT  /api/{user}/tasks/{id}         title + description
  toggle  PATCH /api/{user}/tasks/{id}/complete, empty body
  mixed   8 list, 8 get, 2 update, 1 toggle, 1 create per 20 requests (80 % reads)
  healthz GET  /healthz                       no token: what a request that does nothing costs
A scenario whose requests a target answers with 404/405 on a probe is skipped for it.

examples:
  bench.py run --url http://127.0.0.1:8000
  bench.py compare --url django=http://127.0.0.1:8000 --url other=http://127.0.0.1:8101
  bench.py compare --url django=http://127.0.0.1:8000 --url ro=http://127.0.0.1:8102 \\
      --seed-url ro=http://127.0.0.1:8101 --check-spread   # ro is read-only: seed it via 8101
"""


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--secret",
        default=os.environ.get("BETTER_AUTH_SECRET", DEFAULT_SECRET),
        help=f"HS256 secret for the tokens (default: $BETTER_AUTH_SECRET, else {DEFAULT_SECRET})",
    )
    common.add_argument("--users", type=int, default=50, help="users seeded per target (50)")
    common.add_argument("--tasks", type=int, default=100, help="tasks per user = list size (100)")
    common.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    common.add_argument("--warmup", type=int, default=1, help="unmeasured seconds first (1)")
    common.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    common.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (1: leaves the other core to the server)",
    )
    common.add_argument("--timeout", type=int, default=5, help="wrk request timeout, s (5)")
    common.add_argument(
        "--scenarios",
        type=parse_scenarios,
        default=list(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (all)",
    )
    common.add_argument("--seed-workers", type=int, default=16, help="seeding threads (16)")
    common.add_argument(
        "--check-spread",
        action="store_true",
        help="count established connections per server process mid-run (ss -tnp; local only)",
    )
    common.add_argument("--json-only", action="store_true", help="print only the JSON lines")

    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    run = sub.add_parser(
        "run", parents=[common], help="measure one server", epilog=EPILOG, formatter_class=fmt
    )
    run.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    run.add_argument("--seed-url", help="POST the seed data here instead (same database)")
    run.add_argument("--rounds", type=int, default=1, help="runs per scenario; medians (1)")
    cmp = sub.add_parser(
        "compare",
        parents=[common],
        help="measure several servers in alternation and print ratios",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    cmp.add_argument(
        "--url", action="append", required=True, help="NAME=URL (or URL: named A, B, ...); repeat"
    )
    cmp.add_argument(
        "--seed-url",
        action="append",
        default=[],
        help="NAME=URL: seed target NAME through URL (a read-only server on the same database)",
    )
    cmp.add_argument("--rounds", type=int, default=2, help="rounds, ordered A,B then B,A ... (2)")
    opts = parser.parse_args(argv)

    try:
        if min(opts.users, opts.tasks, opts.duration, opts.rounds, opts.connections) < 1:
            raise BenchError(
                "--users, --tasks, --duration, --rounds and --connections must be >= 1"
            )
        if opts.command == "run":
            name, url = split_named(opts.url)
            targets = [Target(name, url, opts.seed_url or url)]
        else:
            named = [split_named(spec, chr(ord("A") + i)) for i, spec in enumerate(opts.url)]
            seed_urls = dict(split_named(spec, "?") for spec in opts.seed_url)
            targets = [Target(name, url, seed_urls.pop(name, url)) for name, url in named]
            if len({t.name for t in targets}) != len(targets) or seed_urls:
                raise BenchError("target names must be unique, and --seed-url must name one")
        bench(targets, opts)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
