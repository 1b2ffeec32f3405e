"""Every manifest under deploy/kubernetes is valid for the cluster, offline: Kubernetes'
own kinds against the API schemas kubernetes-validate bundles (strict: an unknown field,
which the API server would drop without a word, fails), KEDA's kinds against the CRD
schemas vendored in tests/schemas (tests/schemas/README.md), made strict the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.manifests import KUBERNETES, ROOT, kustomization, named, resources

# The oldest Kubernetes the manifests are meant for, and the newest the package knows.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
SCHEMAS = ROOT / "tests" / "schemas"
KEDA = {
    "ScaledObject": SCHEMAS / "keda-2.20.2-scaledobject.json",
    "TriggerAuthentication": SCHEMAS / "keda-2.20.2-triggerauthentication.json",
}
# KEDA's redis scaler (pkg/scalers/redis_scaler.go at v2.20.2): the trigger metadata it
# reads. The CRD types metadata as any map of strings, so only this list catches a typo
# (`listname`), which the scaler would meet with its default instead. Credentials and
# addresses come from the TriggerAuthentication, never from metadata.
REDIS_METADATA = {"listName", "listLength", "activationListLength", "databaseIndex", "enableTLS"}
REDIS_AUTH_PARAMETERS = {"address", "addresses", "host", "hosts", "port", "ports"} | {
    "username", "password", "tls", "ca", "cert", "key", "keyPassword",
}  # fmt: skip


def _core() -> list[tuple[str, dict[str, Any]]]:
    return [(f, r) for f, r in resources() if r["apiVersion"].split("/")[0] != "keda.sh"]


def _label(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}:{item[1]['kind']}/{item[1]['metadata']['name']}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("item", _core(), ids=_label)
def test_each_kubernetes_resource_is_valid(item: tuple[str, dict[str, Any]], version: str) -> None:
    kubernetes_validate.validate(item[1], version, strict=True)


def strict(schema: Any) -> Any:
    """The schema with every object closed to fields it does not name, as
    kubernetes-validate's strict schemas are (x-kubernetes-preserve-unknown-fields and
    explicit additionalProperties keep their meaning)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


def keda_validator(kind: str) -> jsonschema.Draft7Validator:
    schema = strict(json.loads(KEDA[kind].read_text(encoding="utf-8")))
    return jsonschema.Draft7Validator(schema)


def _keda() -> list[tuple[str, dict[str, Any]]]:
    return [(f, r) for f, r in resources() if r["apiVersion"] == "keda.sh/v1alpha1"]


@pytest.mark.parametrize("item", _keda(), ids=_label)
def test_each_keda_resource_is_valid_for_its_crd(item: tuple[str, dict[str, Any]]) -> None:
    resource = item[1]
    errors = [e.message for e in keda_validator(resource["kind"]).iter_errors(resource)]
    assert not errors, errors


def test_the_strict_keda_schema_refuses_a_misspelt_field() -> None:
    (scaled, *_) = named("ScaledObject")
    wrong = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}}
    assert not keda_validator("ScaledObject").is_valid(wrong)
    wrong = {**scaled, "spec": {**scaled["spec"], "maxReplicaCount": "3"}}
    assert not keda_validator("ScaledObject").is_valid(wrong)


def test_redis_triggers_use_what_the_redis_scaler_reads() -> None:
    for scaled in named("ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            metadata = trigger["metadata"]
            assert set(metadata) <= REDIS_METADATA, set(metadata) - REDIS_METADATA
            assert int(metadata["listLength"]) > 0 and int(metadata["databaseIndex"]) >= 0
            (auth,) = named("TriggerAuthentication", trigger["authenticationRef"]["name"])
            parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
            assert parameters <= REDIS_AUTH_PARAMETERS and "address" in parameters


def test_the_kustomization_lists_every_manifest_and_only_files_that_exist() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    for generator in kustomization()["configMapGenerator"]:
        for entry in generator["files"]:
            assert (KUBERNETES / entry.partition("=")[2]).is_file(), entry


def test_kubectl_builds_the_kustomization() -> None:
    """What `kubectl apply -k deploy/kubernetes` would send, built offline."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (Debian/Kubernetes package kubectl)")
    built = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES)], capture_output=True, text=True, check=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    assert len(docs) == len(resources()) + len(kustomization()["configMapGenerator"])
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        kustomization()["namespace"]
    }
    fronts = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "front"]
    (volume,) = [v for v in fronts[0]["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    generated = [d for d in docs if d["kind"] == "ConfigMap" and "nginx.conf" in d.get("data", {})]
    assert volume["configMap"]["name"] == generated[0]["metadata"]["name"]
    assert generated[0]["data"]["nginx.conf"] == Path(ROOT / "deploy/nginx/nginx.conf").read_text()
