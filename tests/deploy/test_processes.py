"""docker-compose.yml and deploy/kubernetes/base run the same processes with the same commands
and per-process settings, and the Compose proxy (deploy/nginx/nginx.conf) and the Ingresses
send each path to the same process, buffered the same way, with the same read timeout and
body limit.

Both are read as files (no renderer needed); kustomize only adds names and labels to these.
"""

import re

import pytest

from tests.deploy.conftest import NGINX_CONF, REPOSITORY, base_objects, compose_services

PROCESSES = {"web", "realtime", "worker", "beat", "migrate"}
# Settings one process sets for itself on top of the shared ones.
PER_PROCESS_SETTINGS = {
    "DATABASE_CONN_MAX_AGE",
    "DATABASE_STATEMENT_TIMEOUT",
    "CELERY_BEAT_SCHEDULE_FILENAME",
}
PATHS = [
    "/",
    "/healthz",
    "/admin/login/",
    "/api/u1/tasks",
    "/api/u1/tasks/5",
    "/api/u1/events",
    "/api/u1/events/",
    "/api/u1/events/ticket",
    "/api/u1/eventsx",
    "/api/u1/x/events",
    "/mcp",
    "/mcp/",
    "/mcp/other",
    "/mcpx",
]


def workloads() -> dict[str, dict]:
    """The base's Deployments and Jobs: their main container, by workload name."""
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
        for o in base_objects()
        if o["kind"] in {"Deployment", "Job"}
    }


def nginx_route(path: str) -> tuple[str, bool, str]:
    """The Compose service nginx.conf sends `path` to, whether it buffers the answer, and how
    long it waits for one: regular-expression locations in order, then the longest prefix
    (nginx's rule)."""
    text = NGINX_CONF.read_text()
    upstreams = {
        name: re.search(r"server (\w+):\d+;", body).group(1)
        for name, body in re.findall(r"upstream (\w+) \{(.*?)\}", text, re.S)
    }
    locations = re.findall(r"location (~ |= )?(\S+) \{(.*?)\n        \}", text, re.S)
    chosen = None
    for modifier, pattern, body in locations:
        if modifier == "~ " and re.search(pattern, path):
            chosen = body
            break
    if chosen is None:
        prefixes = [(p, b) for m, p, b in locations if not m and path.startswith(p)]
        chosen = max(prefixes, key=lambda item: len(item[0]))[1]
    upstream = re.search(r"proxy_pass http://(\w+);", chosen).group(1)
    buffered = "proxy_buffering off;" not in chosen
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", chosen).group(1)
    return upstreams[upstream], buffered, read_timeout


def ingress_route(path: str) -> tuple[str, bool, str]:
    """The Service the Ingresses send `path` to, whether it buffers the answer, and how long
    it waits for one, as ingress-nginx does with use-regex: every path a case-insensitive
    expression anchored at its start, the longest first."""
    rules = []
    for ingress in (o for o in base_objects() if o["kind"] == "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
        buffered = annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "on"
        read_timeout = annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]
        for rule in ingress["spec"]["rules"]:
            for entry in rule["http"]["paths"]:
                service = entry["backend"]["service"]["name"]
                rules.append((entry["path"], (service, buffered, read_timeout)))
    for pattern, route in sorted(rules, key=lambda rule: -len(rule[0])):
        if re.match(pattern, path, re.I):
            return route
    raise AssertionError(f"no Ingress path matches {path}")


def test_compose_and_kubernetes_name_the_same_processes():
    services = compose_services()

    assert set(services) == PROCESSES | {"proxy", "db", "redis"}
    assert set(workloads()) == PROCESSES
    # Compose's proxy is Kubernetes' Ingress.
    assert {o["kind"] for o in base_objects()} >= {"Ingress"}
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_each_process_runs_the_same_command_and_own_settings(process):
    service, container = compose_services()[process], workloads()[process]

    assert service["command"] == container["command"]
    assert "args" not in container
    own_compose = {
        name: str(value)
        for name, value in service.get("environment", {}).items()
        if name in PER_PROCESS_SETTINGS
    }
    own_kubernetes = {
        entry["name"]: entry["value"]
        for entry in container.get("env", [])
        if entry["name"] in PER_PROCESS_SETTINGS
    }
    assert own_compose == own_kubernetes


def test_every_long_running_compose_service_has_a_health_check():
    """The image's HEALTHCHECK covers web; migrate is a one-shot whose exit status counts."""
    services = compose_services()
    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}
        elif name != "web":
            assert service["healthcheck"]["test"], name
    assert "HEALTHCHECK" in (REPOSITORY / "Dockerfile").read_text()


@pytest.mark.parametrize("path", PATHS)
def test_the_proxy_and_the_ingress_send_each_path_to_the_same_process_alike(path):
    assert nginx_route(path) == ingress_route(path)


def test_only_streams_and_mcp_go_to_realtime_unbuffered():
    realtime = {path for path in PATHS if nginx_route(path)[:2] == ("realtime", False)}

    assert realtime == {"/api/u1/events", "/api/u1/events/", "/mcp", "/mcp/"}
    assert all(nginx_route(path)[:2] == ("web", True) for path in set(PATHS) - realtime)


def test_the_proxy_and_the_ingress_take_the_same_largest_body():
    limit = re.search(r"client_max_body_size (\w+);", NGINX_CONF.read_text()).group(1)
    for ingress in (o for o in base_objects() if o["kind"] == "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == limit
