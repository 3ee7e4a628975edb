"""The lab's Kubernetes control plane is real: kubernetes.core drives it to Available.

The last test stops kube-apiserver and shows the same smoke check failing, then brings
the control plane back through `hack/lab up kube`.
"""

import json
import subprocess

import pytest

from ansible_collections.glorious.flywheel.tests.support import LAB_DIR, lab

pytestmark = pytest.mark.lab

DEPLOYMENT_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply a Deployment and wait for it to become Available
      kubernetes.core.k8s:
        state: present
        wait: true
        wait_timeout: 60
        wait_condition:
          type: Available
          status: "True"
        definition:
          apiVersion: apps/v1
          kind: Deployment
          metadata:
            name: smoke
            namespace: default
          spec:
            replicas: 2
            selector:
              matchLabels: {app: smoke}
            template:
              metadata:
                labels: {app: smoke}
              spec:
                containers:
                  - name: web
                    image: registry.invalid/smoke:1
      register: applied

    - name: Show the live object
      ansible.builtin.debug:
        msg: "READY={{ applied.result.status.readyReplicas | default(0) }}"
"""

JOB_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run a Job and wait for it to complete
      kubernetes.core.k8s:
        state: present
        wait: true
        wait_timeout: 60
        wait_condition:
          type: Complete
          status: "True"
        definition:
          apiVersion: batch/v1
          kind: Job
          metadata:
            name: smoke-job
            namespace: default
          spec:
            template:
              spec:
                restartPolicy: Never
                containers:
                  - name: once
                    image: registry.invalid/smoke:1
"""

CLEANUP_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Remove the smoke objects
      kubernetes.core.k8s:
        state: absent
        wait: true
        api_version: "{{ item.api }}"
        kind: "{{ item.kind }}"
        namespace: default
        name: "{{ item.name }}"
      loop:
        - {api: apps/v1, kind: Deployment, name: smoke}
        - {api: batch/v1, kind: Job, name: smoke-job}
"""


def kubectl(kube_lab, *args):
    return subprocess.run(
        [
            str(LAB_DIR / "bin" / "kubectl"),
            "--kubeconfig",
            kube_lab["KUBECONFIG"],
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def kube_env(kube_lab):
    return {"K8S_AUTH_KUBECONFIG": kube_lab["K8S_AUTH_KUBECONFIG"]}


def test_control_plane_reports_the_pinned_version(kube_lab):
    version = json.loads(kubectl(kube_lab, "version", "-o", "json"))
    assert (
        version["serverVersion"]["gitVersion"] == "v" + kube_lab["KUBERNETES_VERSION"]
    )


def test_kwok_nodes_are_ready(kube_lab):
    nodes = json.loads(kubectl(kube_lab, "get", "nodes", "-o", "json"))["items"]
    ready = {
        node["metadata"]["name"]
        for node in nodes
        for condition in node["status"]["conditions"]
        if condition["type"] == "Ready" and condition["status"] == "True"
    }
    assert {"lab-node-1", "lab-node-2", "lab-node-3"} <= ready


def test_deployment_becomes_available(run_playbook, kube_env, kube_lab):
    result = run_playbook(DEPLOYMENT_PLAYBOOK, extra_env=kube_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "READY=2" in result.stdout
    # The scheduler really bound the pods to kwok nodes.
    pods = json.loads(
        kubectl(kube_lab, "get", "pods", "-l", "app=smoke", "-o", "json")
    )["items"]
    assert len(pods) == 2
    assert all(pod["spec"]["nodeName"].startswith("lab-node-") for pod in pods)


def test_job_completes(run_playbook, kube_env):
    result = run_playbook(JOB_PLAYBOOK, extra_env=kube_env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_smoke_fails_while_the_apiserver_is_stopped(run_playbook, kube_env, kube_lab):
    cleanup = run_playbook(CLEANUP_PLAYBOOK, extra_env=kube_env)
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr

    lab("stop", "kube", "kube-apiserver")
    try:
        assert lab("status", "kube", check=False).returncode != 0
        result = run_playbook(DEPLOYMENT_PLAYBOOK, extra_env=kube_env)
        assert result.returncode != 0
        assert (
            "refused" in result.stdout.lower() or "max retries" in result.stdout.lower()
        ), result.stdout
    finally:
        lab("up", "kube")

    result = run_playbook(DEPLOYMENT_PLAYBOOK, extra_env=kube_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_playbook(CLEANUP_PLAYBOOK, extra_env=kube_env).returncode == 0
