"""roles/dashboard against the lab's Kubernetes control plane.

One namespace per test run, with a PersistentVolume pre-bound (claimRef) to the role's
data claim, so the lab's shared volumes stay free. kwok fakes the pods: they become Ready
without the image being pulled, so the rollout completes here as on a real cluster.
"""

import json
import re
import uuid

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.lab.kube import (
    get,
    kubectl,
    secret_bytes,
)
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

CHECKSUM = "flywheel.glorious/config-checksum"


@pytest.fixture
def namespace(kube_lab):
    name = f"dash-t-{uuid.uuid4().hex[:6]}"
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{name}-data"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "hostPath": {"path": f"/tmp/{name}"},
            "claimRef": {"namespace": name, "name": "flywheel-dashboard-data"},
        },
    }
    kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(volume))
    yield name
    kubectl(kube_lab, "delete", "namespace", name, "--wait=false", check=False)
    kubectl(kube_lab, "delete", "pv", f"{name}-data", "--wait=false", check=False)
    for kind in ("clusterrolebinding", "clusterrole"):
        kubectl(kube_lab, "delete", kind, f"{name}-flywheel-dashboard", check=False)


@pytest.fixture
def role(run_playbook, kube_lab):
    def run(namespace, *args, **role_vars):
        role_vars = {
            "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
            "dashboard_namespace": namespace,
            "dashboard_rollout_timeout": 120,
            **role_vars,
        }
        playbook = (
            "- hosts: localhost\n"
            "  gather_facts: false\n"
            "  roles:\n"
            "    - role: glorious.flywheel.dashboard\n"
            f"      vars: {json.dumps(role_vars)}\n"
        )
        completed = run_playbook(playbook, *args, json_output=True, extra_env=kube_lab)
        stats = completed.json["stats"]["localhost"]
        assert completed.returncode == 0 and not stats["failures"], completed.stdout[
            -6000:
        ]
        return completed, stats

    return run


def rolled_out(deployment):
    status = deployment["status"]
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == 1
        and status.get("availableReplicas") == 1
    )


def test_image_tag_is_the_collection_version():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    defaults = yaml.safe_load((ROOT / "roles/dashboard/defaults/main.yml").read_text())
    specs = yaml.safe_load(
        (ROOT / "roles/dashboard/meta/argument_specs.yml").read_text()
    )
    image = f"ghcr.io/glorious-flywheel/dashboard:{version}"
    assert defaults["dashboard_image"] == image
    options = specs["argument_specs"]["main"]["options"]
    assert options["dashboard_image"]["default"] == image
    # Every default is documented with the same value, and nothing undocumented is set.
    assert set(defaults) == set(options) - {"flywheel_kubeconfig"}
    assert all(options[k]["default"] == v for k, v in defaults.items())


def test_converges_secure_idempotent_and_keeps_its_secret(role, namespace, kube_lab):
    # Check mode first: the namespace is missing, so nothing at all may appear.
    checked, stats = role(namespace, "--check")
    assert stats["changed"] > 0
    assert get(kube_lab, None, "namespace", namespace) is None
    assert get(kube_lab, None, "clusterrole", f"{namespace}-flywheel-dashboard") is None

    first, stats = role(namespace)
    assert stats["changed"] > 0
    labels = get(kube_lab, None, "namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    secret = secret_bytes(kube_lab, namespace, "flywheel-dashboard")
    assert re.fullmatch(rb"[A-Za-z0-9]{64}", secret["FLYWHEEL_DASHBOARD_SESSION_KEY"])
    assert re.fullmatch(rb"[A-Za-z0-9]{40}", secret["FLYWHEEL_DASHBOARD_ADMIN_TOKEN"])
    assert secret["FLYWHEEL_DASHBOARD_RP_ID"] == b"localhost"
    assert secret["FLYWHEEL_DASHBOARD_ORIGIN"] == b"http://localhost:8080"
    for completed in (checked, first):
        for value in (
            secret["FLYWHEEL_DASHBOARD_SESSION_KEY"],
            secret["FLYWHEEL_DASHBOARD_ADMIN_TOKEN"],
        ):
            assert value.decode() not in completed.stdout + completed.stderr
    assert "get secret flywheel-dashboard" in first.stdout

    deployment = get(kube_lab, namespace, "deployment", "flywheel-dashboard")
    assert rolled_out(deployment)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "flywheel-dashboard"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/glorious-flywheel/dashboard:0.1.0"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/api/health"
    assert container["envFrom"] == [{"secretRef": {"name": "flywheel-dashboard"}}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FLYWHEEL_DASHBOARD_NAMESPACE"] == namespace
    assert env["FLYWHEEL_DASHBOARD_TRUSTED_PROXY_HEADERS"] == "false"
    assert env["FLYWHEEL_DASHBOARD_DB"].endswith(
        "/var/lib/flywheel-dashboard/dashboard.db"
    )
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {}
    claim = volumes[mounts["/var/lib/flywheel-dashboard"]]["persistentVolumeClaim"]
    assert claim["claimName"] == "flywheel-dashboard-data"
    pvc = get(kube_lab, namespace, "pvc", "flywheel-dashboard-data")
    assert pvc["status"]["phase"] == "Bound"
    checksum = deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
    service = get(kube_lab, namespace, "service", "flywheel-dashboard")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert get(kube_lab, namespace, "ingress", "flywheel-dashboard") is None

    # RBAC: reads, plus exactly the operator verbs; nothing touches Secrets.
    cluster_role = get(kube_lab, None, "clusterrole", f"{namespace}-flywheel-dashboard")
    writes = {
        (group, resource, verb)
        for rule in cluster_role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if verb not in ("get", "list", "watch")
    }
    assert writes == {
        ("apps", "deployments", "patch"),
        ("actions.github.com", "autoscalingrunnersets", "patch"),
    }
    assert not any("secrets" in rule["resources"] for rule in cluster_role["rules"])
    binding = get(
        kube_lab, None, "clusterrolebinding", f"{namespace}-flywheel-dashboard"
    )
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "flywheel-dashboard",
            "namespace": namespace,
        }
    ]
    namespaced = get(kube_lab, namespace, "role", "flywheel-dashboard")["rules"]
    assert {"create"} == {verb for rule in namespaced for verb in rule["verbs"]} - {
        "get",
        "list",
        "watch",
    }
    assert next(r for r in namespaced if "jobs" in r["resources"])["apiGroups"] == [
        "batch"
    ]
    # The service account may act as the role says, and no further.
    sa = f"system:serviceaccount:{namespace}:flywheel-dashboard"
    for verb, resource, where, allowed in (
        ("patch", "deployments.apps", "default", "yes"),
        ("delete", "deployments.apps", "default", "no"),
        ("update", "deployments.apps", "default", "no"),
        ("create", "jobs.batch", namespace, "yes"),
        ("create", "jobs.batch", "default", "no"),
        ("get", "secrets", namespace, "no"),
    ):
        answer = kubectl(
            kube_lab,
            *("auth", "can-i", verb, *resource.split(), "-n", where, "--as", sa),
            check=False,
        ).stdout.strip()
        assert answer == allowed, (verb, resource, where)

    second, stats = role(namespace)
    assert stats["changed"] == 0, second.stdout[-4000:]
    assert secret_bytes(kube_lab, namespace, "flywheel-dashboard") == secret

    # A changed setting in check mode is reported, and nothing changes.
    checked, stats = role(namespace, "--check", dashboard_rp_name="Flywheel Lab")
    assert stats["changed"] > 0
    assert secret_bytes(kube_lab, namespace, "flywheel-dashboard") == secret
    same = get(kube_lab, namespace, "deployment", "flywheel-dashboard")
    assert same["metadata"]["generation"] == deployment["metadata"]["generation"]

    # For real: the Secret takes the new setting, keeps its keys, and the pods roll.
    third, stats = role(namespace, dashboard_rp_name="Flywheel Lab")
    assert stats["changed"] > 0
    changed = secret_bytes(kube_lab, namespace, "flywheel-dashboard")
    assert changed["FLYWHEEL_DASHBOARD_RP_NAME"] == b"Flywheel Lab"
    for key in ("FLYWHEEL_DASHBOARD_SESSION_KEY", "FLYWHEEL_DASHBOARD_ADMIN_TOKEN"):
        assert changed[key] == secret[key]
    rolled = get(kube_lab, namespace, "deployment", "flywheel-dashboard")
    assert rolled["spec"]["template"]["metadata"]["annotations"][CHECKSUM] != checksum
    assert rolled_out(rolled)
