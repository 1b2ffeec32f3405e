"""deploy/kubernetes read as the cluster would get it: the resources kustomization.yaml
lists, and the pieces the tests ask about (pod templates, app containers, what each sets)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "APP_IMAGE",
    "KUBERNETES",
    "ROOT",
    "Resource",
    "app_containers",
    "kustomization",
    "named",
    "pod_templates",
    "resources",
    "variables_set",
]

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
# The image every syndicator process runs from (kustomization.yaml's `images` retags it).
APP_IMAGE = "syndicator"

Resource = dict[str, Any]


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))


@cache
def resources() -> list[tuple[str, Resource]]:
    """(file, resource) for every document of every file the kustomization lists (read
    once: treat them as read-only)."""
    found = []
    for name in kustomization()["resources"]:
        text = (KUBERNETES / name).read_text(encoding="utf-8")
        found += [(name, doc) for doc in yaml.safe_load_all(text) if doc is not None]
    return found


def named(kind: str, name: str | None = None) -> list[Resource]:
    return [
        r for _, r in resources() if r["kind"] == kind and name in (None, r["metadata"]["name"])
    ]


def pod_templates() -> Iterator[tuple[Resource, dict[str, Any]]]:
    """(workload, its pod template) for every Deployment and Job."""
    for _, resource in resources():
        if resource["kind"] in {"Deployment", "Job"}:
            yield resource, resource["spec"]["template"]


def app_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, container) for every container running the syndicator image."""
    for workload, template in pod_templates():
        for container in template["spec"]["containers"]:
            if container["image"].split(":")[0] == APP_IMAGE:
                yield workload["metadata"]["name"], container


def variables_set(container: dict[str, Any]) -> dict[str, str]:
    """Variable name -> where its value comes from: ``value``, ``secret:<name>/<key>`` or
    ``configmap:<name>`` (every key of a ConfigMap the container takes whole)."""
    sources: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        (config,) = named("ConfigMap", name)
        sources.update(dict.fromkeys(config["data"], f"configmap:{name}"))
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        sources[entry["name"]] = f"secret:{ref['name']}/{ref['key']}" if ref else "value"
    return sources
