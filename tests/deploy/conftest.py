"""gunicorn (config/gunicorn.conf.py) and nginx (deploy/nginx/nginx.conf) as real processes.

Debian's `nginx` package provides the proxy; without it these tests skip, unless
PROXY_TESTS_REQUIRED=1 (CI sets it), when they fail instead. Servers listen on loopback
only, on free ports (from TEST_SERVER_PORTS, e.g. `8140-8149`, when that is set).
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REQUIRED = os.environ.get("PROXY_TESTS_REQUIRED") == "1"
NGINX = Path(os.environ.get("NGINX", "/usr/sbin/nginx"))
REPOSITORY = Path(__file__).resolve().parents[2]
NGINX_CONF = REPOSITORY / "deploy" / "nginx" / "nginx.conf"
COMPOSE = REPOSITORY / "docker-compose.yml"
KUBERNETES_BASE = REPOSITORY / "deploy" / "kubernetes" / "base"
GUNICORN = Path(sys.executable).parent / "gunicorn"
STARTUP_SECONDS = 20


def compose_services() -> dict[str, dict]:
    """docker-compose.yml's services, as written (before Compose interpolates `$$`)."""
    return yaml.safe_load(COMPOSE.read_text())["services"]


def base_objects() -> list[dict]:
    """The objects of deploy/kubernetes/base's resources, as written (unrendered)."""
    kustomization = yaml.safe_load((KUBERNETES_BASE / "kustomization.yaml").read_text())
    return [
        document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((KUBERNETES_BASE / resource).read_text())
        if document
    ]


def free_port() -> int:
    """A loopback port nobody listens on: from TEST_SERVER_PORTS when set, else any."""
    first, _, last = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in TEST_SERVER_PORTS={os.environ['TEST_SERVER_PORTS']}")


def get(port: int, path: str, timeout: float = 3, headers: dict | None = None):
    """One GET on a fresh connection: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def wait_until_answering(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if get(port, "/healthz", timeout=1)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer on {port}:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Server:
    port: int
    log: Path
    process: subprocess.Popen


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory) -> Iterator[Server]:
    """gunicorn as production runs it (DEBUG off), with one worker of four threads.

    The requests these tests send touch neither database nor cache, so an empty SQLite file
    and the local-memory cache suffice.
    """
    workdir = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {
        **os.environ,
        "READ_DOTENV": "false",
        "DEBUG": "false",
        "SECRET_KEY": "deploy-test-only-secret-key",
        "BETTER_AUTH_SECRET": "deploy-test-only-better-auth-secret-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
    }
    log = workdir / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(GUNICORN), "--config", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=REPOSITORY,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_answering(port, process, log)
        yield Server(port, log, process)
    finally:
        stop(process)


def proxy_config(
    listen_port: int, web_ports: list[int], realtime_ports: list[int], workdir: Path
) -> str:
    """deploy/nginx/nginx.conf with loopback ports and its files in `workdir`: its upstreams
    list `web_ports` (gunicorn) and `realtime_ports` (the ASGI process)."""
    text = NGINX_CONF.read_text()

    def servers(ports: list[int]) -> str:
        return "\n        ".join(f"server 127.0.0.1:{port};" for port in ports)

    replacements = {
        r"listen 8000;": f"listen 127.0.0.1:{listen_port};",
        r"server web:8000;": servers(web_ports),
        r"server realtime:8001;": servers(realtime_ports),
        r"worker_processes auto;": "worker_processes 2;",
        r"access_log /dev/stdout api;": (
            f"access_log {workdir / 'access.log'} api;\n"
            + "".join(
                f"    {kind}_temp_path {workdir / kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
        ),
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(re.escape(pattern), replacement, text)
        assert count == 1, f"{pattern!r} is no longer in {NGINX_CONF}"
    return text


def start_proxy(workdir: Path, web_ports: list[int], realtime_ports: list[int]) -> Server:
    """Debian's nginx with the project's proxy config in front of those upstreams; stop it
    with `stop(server.process)`. Skips (fails under PROXY_TESTS_REQUIRED=1) without nginx."""
    if not NGINX.exists() or not shutil.which(str(NGINX)):
        (pytest.fail if REQUIRED else pytest.skip)(f"no nginx at {NGINX} (apt-get install nginx)")
    workdir.chmod(0o755)  # nginx's workers run as an unprivileged user when started as root
    port = free_port()
    (workdir / "nginx.conf").write_text(proxy_config(port, web_ports, realtime_ports, workdir))
    log = workdir / "error.log"
    directives = f"daemon off; pid {workdir / 'nginx.pid'}; error_log {log} warn;"
    process = subprocess.Popen(
        [str(NGINX), "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", directives],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.touch()
    try:
        wait_until_answering(port, process, log)
    except BaseException:
        stop(process)
        raise
    return Server(port, workdir / "access.log", process)


@pytest.fixture(scope="module")
def proxy(gunicorn: Server, tmp_path_factory) -> Iterator[Server]:
    """Debian's nginx with the project's proxy config, in front of `gunicorn` (which serves
    the ASGI process's routes too, here)."""
    server = start_proxy(tmp_path_factory.mktemp("nginx"), [gunicorn.port], [gunicorn.port])
    try:
        yield server
    finally:
        stop(server.process)
