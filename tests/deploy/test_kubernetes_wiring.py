"""deploy/kubernetes runs what the code expects: every setting production needs reaches
every process (secrets from the Secret, the rest from the ConfigMap), every queue has its
worker and its scaler, the probes and commands name what exists, and the pieces point at
each other (Services, the nginx upstream, network policies, autoscalers)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import typer.main

from syndicator.channels.registry import ALL_QUEUES, CHANNEL_QUEUES, EVENTS_QUEUE
from syndicator.cli import app as cli_app
from syndicator.config_reference import VARIABLES
from syndicator.web.ops import router as ops_router
from tests.deploy.manifests import (
    KUBERNETES,
    ROOT,
    app_containers,
    named,
    pod_templates,
    resources,
    variables_set,
)

REFERENCE = {v.name: v for v in VARIABLES}
REQUIRED = {v.name for v in VARIABLES if v.required}
SECRET = {v.name for v in VARIABLES if v.secret}
DOCS = ROOT / "docs" / "kubernetes.md"


def test_every_syndicator_variable_set_is_one_the_code_reads() -> None:
    (config,) = named("ConfigMap", "syndicator-config")
    set_anywhere = set(config["data"])
    for _, container in app_containers():
        set_anywhere |= set(variables_set(container))
    unknown = {n for n in set_anywhere if n.startswith("SYNDICATOR_")} - set(REFERENCE)
    assert not unknown, f"not in src/syndicator/config_reference.py: {sorted(unknown)}"


def test_every_process_gets_what_production_requires() -> None:
    assert REQUIRED, "config_reference marks nothing required: the marks were lost"
    containers = list(app_containers())
    assert {name for name, _ in containers} >= {"web", "beat", "migrate"}
    for workload, container in containers:
        missing = REQUIRED - set(variables_set(container))
        assert not missing, f"{workload} lacks {sorted(missing)}"


def test_secrets_come_from_the_secret_and_only_from_it() -> None:
    assert not named("Secret"), "a Secret with values is committed: reference it instead"
    (config,) = named("ConfigMap", "syndicator-config")
    assert not SECRET & set(config["data"]), "a secret setting sits in the ConfigMap"
    for workload, container in app_containers():
        for name, source in variables_set(container).items():
            if name in SECRET:
                assert source.startswith("secret:syndicator/"), (workload, name, source)


def test_the_guide_lists_every_key_of_the_secret() -> None:
    keys = {
        source.partition("/")[2]
        for _, container in app_containers()
        for source in variables_set(container).values()
        if source.startswith("secret:")
    }
    for _, resource in resources():
        for ref in resource.get("spec", {}).get("secretTargetRef", []):
            keys.add(ref["key"])
    guide = DOCS.read_text(encoding="utf-8")
    assert not {k for k in keys if f"`{k}`" not in guide}, "docs/kubernetes.md misses a key"


def _queues_consumed(container: dict[str, Any]) -> set[str]:
    command = container["command"]
    return set(command[command.index("-Q") + 1].split(","))


def _workers() -> dict[str, dict[str, Any]]:
    found = {}
    for workload, container in app_containers():
        if container["command"][:4] == ["celery", "-A", "workers.app", "worker"]:
            found[workload] = container
    return found


def test_every_channel_queue_has_its_worker_which_also_takes_events() -> None:
    consumed = {name: _queues_consumed(c) for name, c in _workers().items()}
    for queue in CHANNEL_QUEUES:
        assert consumed.get(f"worker-{queue}") == {queue, EVENTS_QUEUE}, queue
    assert set().union(*consumed.values()) == set(ALL_QUEUES)


def test_every_worker_is_scaled_on_the_length_of_its_own_queue() -> None:
    workers = _workers()
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in named("ScaledObject")}
    assert set(scaled) == set(workers)
    for name, container in workers.items():
        assert scaled[name]["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        (trigger,) = scaled[name]["spec"]["triggers"]
        queue = trigger["metadata"]["listName"]
        assert queue in CHANNEL_QUEUES and queue in _queues_consumed(container), name
        assert name == f"worker-{queue}"
        assert scaled[name]["spec"]["minReplicaCount"] >= 1, "a queue needs a live consumer"


def test_the_processes_run_commands_that_exist() -> None:
    commands = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]  # a Group
    for workload, container in app_containers():
        command = container["command"]
        if command[0] == "syndicator":
            assert command[1] in commands, (workload, command)
        else:
            assert command[:3] == ["celery", "-A", "workers.app"], (workload, command)
            assert command[3] in {"worker", "beat"}
    assert importlib.util.find_spec("workers.app") is not None
    (job,) = named("Job", "migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["syndicator", "migrate"]


def test_beat_runs_as_two_replicas() -> None:
    (beat,) = named("Deployment", "beat")
    assert beat["spec"]["replicas"] == 2


def _probe_path(container: dict[str, Any], probe: str) -> str:
    get = container[probe]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert get["port"] in ports or get["port"] in ports.values()
    return str(get["path"])


def test_web_is_ready_on_readyz_and_alive_on_healthz() -> None:
    (web,) = [c for name, c in app_containers() if name == "web"]
    routes = {getattr(route, "path", None) for route in ops_router.routes}
    assert _probe_path(web, "readinessProbe") == "/readyz"
    assert _probe_path(web, "livenessProbe") == "/healthz"
    assert {"/readyz", "/healthz"} <= routes
    assert web["ports"][0]["containerPort"] == int(
        web["command"][web["command"].index("--port") + 1]
    )


def test_front_runs_deploy_nginx_conf_upstream_the_web_service() -> None:
    original = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    copy = (KUBERNETES / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    assert copy == original, "cp deploy/nginx/nginx.conf deploy/kubernetes/nginx/nginx.conf"
    (upstream,) = re.findall(r"^\s*server\s+([\w.-]+):(\d+);", original, re.M)
    (service,) = named("Service", upstream[0])
    assert int(upstream[1]) in {p["port"] for p in service["spec"]["ports"]}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _pods_selected(selector: dict[str, Any]) -> list[str]:
    return [
        w["metadata"]["name"]
        for w, t in pod_templates()
        if _selects(selector, t["metadata"]["labels"])
    ]


def test_services_budgets_and_policies_select_the_pods_they_mean() -> None:
    for service in named("Service"):
        assert _pods_selected({"matchLabels": service["spec"]["selector"]}) == [
            service["metadata"]["name"]
        ]
    for budget in named("PodDisruptionBudget"):
        assert _pods_selected(budget["spec"]["selector"]) == [budget["metadata"]["name"]]
    for workload, template in pod_templates():
        if workload["kind"] == "Deployment":
            assert _selects(workload["spec"]["selector"], template["metadata"]["labels"])


def test_only_front_and_web_take_connections_and_web_only_from_front() -> None:
    policies = named("NetworkPolicy")
    (deny,) = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]
    opened = {}
    for policy in policies:
        if policy is not deny:
            (pod,) = _pods_selected(policy["spec"]["podSelector"])
            opened[pod] = policy["spec"]["ingress"]
    assert set(opened) == {"front", "web"}
    (rule,) = opened["web"]
    (peer,) = rule["from"]
    assert _pods_selected(peer["podSelector"]) == ["front"]
    assert [p["port"] for p in rule["ports"]] == [8000]


def test_autoscaled_deployments_request_cpu_and_start_their_own_size() -> None:
    for hpa in named("HorizontalPodAutoscaler"):
        (target,) = named("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        for container in target["spec"]["template"]["spec"]["containers"]:
            assert "cpu" in container["resources"]["requests"]
        assert hpa["spec"]["minReplicas"] >= 2, "one web pod is a single point of failure"


def test_app_pods_run_unprivileged_on_a_read_only_root() -> None:
    for workload, container in app_containers():
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        data_dir = variables_set(container).get("SYNDICATOR_DATA_DIR")
        assert data_dir and "/app/var" in mounts, workload
    for workload, template in pod_templates():
        if any(c["image"].startswith("syndicator") for c in template["spec"]["containers"]):
            assert template["spec"]["securityContext"]["runAsNonRoot"], workload


def test_the_data_dir_in_the_config_map_is_the_mounted_one() -> None:
    (config,) = named("ConfigMap", "syndicator-config")
    assert Path(config["data"]["SYNDICATOR_DATA_DIR"]) == Path("/app/var")
