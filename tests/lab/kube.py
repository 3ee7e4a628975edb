"""kubectl and helm against the lab's Kubernetes control plane, for the role tests.

`kube_lab` is the env of `hack/lab env` (the `kube_lab` fixture): its KUBECONFIG and
HELM_BIN point at the lab.
"""

from __future__ import annotations

import base64
import json
import subprocess

import yaml

from ansible_collections.glorious.flywheel.tests.support import LAB_DIR


def kubectl(kube_lab, *args, stdin=None, check=True):
    return subprocess.run(
        [
            str(LAB_DIR / "bin" / "kubectl"),
            "--kubeconfig",
            kube_lab["KUBECONFIG"],
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
    )


def get(kube_lab, namespace, kind, name=None):
    """The object (or list, without NAME) as a dict; None when it does not exist.
    NAMESPACE None reads cluster-scoped kinds."""
    args = ["get", kind] + ([name] if name else []) + ["-o", "json"]
    if namespace:
        args = ["-n", namespace, *args]
    completed = kubectl(kube_lab, *args, check=False)
    return json.loads(completed.stdout) if completed.returncode == 0 else None


def secret_bytes(kube_lab, namespace, name):
    """The Secret's data, decoded to bytes; None when there is no such Secret."""
    secret = get(kube_lab, namespace, "secret", name)
    if secret is None:
        return None
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def secret_data(kube_lab, namespace, name):
    """The Secret's data as text; None when there is no such Secret."""
    data = secret_bytes(kube_lab, namespace, name)
    return None if data is None else {k: v.decode() for k, v in data.items()}


def releases(kube_lab, namespace):
    """{release name: revision} of the Helm releases in NAMESPACE."""
    completed = subprocess.run(
        [kube_lab["HELM_BIN"], "--kubeconfig", kube_lab["KUBECONFIG"], "-n", namespace]
        + ["list", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {r["name"]: int(r["revision"]) for r in json.loads(completed.stdout)}


def recorded(kube_lab, namespace, release):
    """The values a stand-in chart (tests/charts) recorded for RELEASE."""
    config_map = get(kube_lab, namespace, "configmap", f"{release}-recorded-values")
    return yaml.safe_load(config_map["data"]["values.yaml"])
