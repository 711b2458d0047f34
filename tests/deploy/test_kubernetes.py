"""deploy/kubernetes/: each kustomization renders to objects the Kubernetes API accepts, and
those objects keep the policy: probes, resources, locked-down containers, released images,
one beat, disruption budgets, autoscalers and network policies.

Rendering needs `kubectl` (its built-in kustomize) in .venv/bin (where .ci/run installs a
pinned one) or on PATH, or the standalone `kustomize` on PATH; without one these tests skip,
unless K8S_TESTS_REQUIRED=1 (.ci/run sets it), when they fail instead. Validation uses the
schemas shipped in the kubernetes-validate package: nothing is fetched.
"""

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

KUBERNETES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUSTOMIZATIONS = ["base", "overlays/production", "overlays/minikube"]
REQUIRED = os.environ.get("K8S_TESTS_REQUIRED") == "1"
# The oldest Kubernetes release still commonly run, and the newest the package knows.
SCHEMA_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
SCALED = {"web", "realtime", "worker"}
PROCESSES = SCALED | {"beat"}


@cache
def render(kustomization: str) -> tuple[dict, ...]:
    """The objects `kubectl kustomize` (or `kustomize build`) renders from the directory."""
    directory = KUBERNETES / kustomization
    kubectl = shutil.which(Path(sys.executable).parent / "kubectl") or shutil.which("kubectl")
    if kubectl:
        command = [kubectl, "kustomize", str(directory)]
    elif kustomize := shutil.which("kustomize"):
        command = [kustomize, "build", str(directory)]
    else:
        (pytest.fail if REQUIRED else pytest.skip)(
            "needs kubectl or kustomize on PATH to render deploy/kubernetes"
            " (.ci/run installs kubectl)"
        )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(document for document in yaml.safe_load_all(result.stdout) if document)


@pytest.fixture(params=KUSTOMIZATIONS)
def objects(request) -> tuple[dict, ...]:
    return render(request.param)


def of_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects) -> dict[str, dict]:
    """Each workload's pod spec, by `Kind/name`."""
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in {"Deployment", "Job"}
    }


def matches(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if not {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def admitted(objects, source: dict, destination: dict, port: int) -> bool:
    """Whether the NetworkPolicies let a pod (`source`: its labels and namespace labels)
    open a connection to a pod of this namespace with `destination` labels on `port`."""
    policies = [
        p
        for p in of_kind(objects, "NetworkPolicy").values()
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"]["podSelector"], destination)
    ]
    if not policies:
        return True  # no policy selects the pod: Kubernetes admits everything
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = [entry["port"] for entry in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            for peer in rule.get("from", []):
                namespace_ok = (
                    matches(peer["namespaceSelector"], source["namespace"])
                    if "namespaceSelector" in peer
                    else source["namespace"] == {"kubernetes.io/metadata.name": "todo"}
                )
                pod_ok = matches(peer.get("podSelector", {}), source["labels"])
                if namespace_ok and pod_ok:
                    return True
    return False


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_each_kustomization_renders_objects_the_api_accepts(kustomization, version):
    for document in render(kustomization):
        # Strict: an unknown or misspelt field is an error, not silently dropped.
        kubernetes_validate.validate(document, version, strict=True)


def test_every_container_is_locked_down_with_requests_and_limits(objects):
    for workload, spec in pod_specs(objects).items():
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("seccompProfile") == {"type": "RuntimeDefault"}, workload
        assert spec.get("automountServiceAccountToken") is False, workload
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{workload} {container['name']}"
            security = {**pod_security, **container.get("securityContext", {})}
            assert security.get("runAsNonRoot") is True, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) >= {"cpu", "memory"}, where
            # A read-only root needs somewhere to write: /tmp is an emptyDir.
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], where


def test_every_image_is_a_released_tag_never_latest(objects):
    for workload, spec in pod_specs(objects).items():
        for container in spec["containers"] + spec.get("initContainers", []):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{workload}: {image} has no tag"
            assert tag != "latest", f"{workload}: {image}"


def test_long_running_containers_have_liveness_and_readiness_probes(objects):
    """Deployments' containers all have both. The migration Job runs to completion, where a
    probe has nothing to decide: its exit status is its health."""
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{name} {container['name']} has no {probe}"
            liveness, readiness = container["livenessProbe"], container["readinessProbe"]
            if name not in PROCESSES:  # minikube's PostgreSQL and Redis
                continue
            if name in {"web", "realtime"}:
                assert liveness["httpGet"]["path"] == "/healthz", name
                assert readiness["httpGet"]["path"] == "/readyz", name
            else:  # no HTTP port: the Celery node's ping through the broker
                assert "inspect ping" in " ".join(liveness["exec"]["command"]), name
                assert readiness == liveness, name


def test_beat_is_one_replica_that_is_replaced_not_rolled(objects):
    beat = of_kind(objects, "Deployment")["beat"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" not in {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in of_kind(objects, "HorizontalPodAutoscaler").values()
    }


def test_each_deployment_has_a_disruption_budget_and_the_scaled_ones_an_autoscaler(objects):
    deployments = of_kind(objects, "Deployment")
    budgets = of_kind(objects, "PodDisruptionBudget").values()
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler").values()

    assert set(deployments) >= PROCESSES
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if matches(b["spec"]["selector"], labels)], name
    scaled = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in autoscalers}
    assert set(scaled) == SCALED
    for name in SCALED:
        # The autoscaler owns the count; a `replicas` in the manifest would reset it on apply.
        assert "replicas" not in deployments[name]["spec"], name


@pytest.mark.parametrize("kustomization", ["base", "overlays/production"])
def test_scaled_processes_keep_two_pods_so_one_may_be_down(kustomization):
    """A rollout or a drain (one pod down, as the budgets allow) leaves one serving; a laptop's
    minikube runs one of each."""
    for hpa in of_kind(render(kustomization), "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] >= 2, hpa["metadata"]["name"]


def test_only_the_ingress_controller_reaches_the_apps(objects):
    controller = {
        "namespace": {"kubernetes.io/metadata.name": "ingress-nginx"},
        "labels": {"app.kubernetes.io/name": "ingress-nginx"},
    }
    neighbour = {
        "namespace": {"kubernetes.io/metadata.name": "todo"},
        "labels": {"app.kubernetes.io/name": "something-else"},
    }
    web = {"app.kubernetes.io/name": "todo", "app.kubernetes.io/component": "web"}
    realtime = {**web, "app.kubernetes.io/component": "realtime"}
    worker = {**web, "app.kubernetes.io/component": "worker"}

    assert admitted(objects, controller, web, 8000)
    assert admitted(objects, controller, realtime, 8001)
    assert not admitted(objects, controller, worker, 8000)
    assert not admitted(objects, controller, web, 5432)
    assert not admitted(objects, neighbour, web, 8000)
    assert not admitted(objects, neighbour, realtime, 8001)


def test_only_the_apps_reach_postgresql_and_redis(objects):
    namespace = {"kubernetes.io/metadata.name": "todo"}
    postgresql = {"app.kubernetes.io/name": "postgresql"}
    redis = {"app.kubernetes.io/name": "redis"}
    controller = {
        "namespace": {"kubernetes.io/metadata.name": "ingress-nginx"},
        "labels": {"app.kubernetes.io/name": "ingress-nginx"},
    }
    neighbour = {"namespace": namespace, "labels": {"app.kubernetes.io/name": "something-else"}}

    for component in ("web", "realtime", "worker", "beat", "migrate"):
        app = {
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "todo", "app.kubernetes.io/component": component},
        }
        assert admitted(objects, app, postgresql, 5432), component
        assert admitted(objects, app, redis, 6379), component
    for outsider in (controller, neighbour):
        assert not admitted(objects, outsider, postgresql, 5432)
        assert not admitted(objects, outsider, redis, 6379)
