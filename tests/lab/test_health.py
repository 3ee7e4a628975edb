"""flywheel_health and playbooks/health.yml against the lab's real Kubernetes control plane.

kwok makes scheduled pods Ready; a pod whose node selector matches no node stays
Pending, which is how a pool is broken here. Each test works in its own namespace
and deletes it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from ansible_collections.glorious.flywheel.plugins.modules.flywheel_health import (
    main,
)
from ansible_collections.glorious.flywheel.tests.inprocess import run_module
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

POOL_LABEL = "glorious.flywheel/pool"
NOWHERE = {"glorious.flywheel/health-test": "no-such-node"}


@pytest.fixture
def kube(kube_lab):
    kubeconfig = kube_lab["KUBECONFIG"]
    api = kube_config.new_client_from_config(config_file=kubeconfig)
    return kubeconfig, kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)


@pytest.fixture
def namespace(kube):
    _kubeconfig, core, _apps = kube
    name = f"health-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        kube_client.V1Namespace(
            metadata=kube_client.V1ObjectMeta(
                name=name, labels={"app.kubernetes.io/part-of": "glorious-flywheel"}
            )
        )
    )
    yield name
    core.delete_namespace(name)


def deployment(name, pool, replicas=2, node_selector=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            # Recreate: a broken template replaces every pod, as a bad rollout of a
            # pool's manager would once the old pods are gone.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, POOL_LABEL: pool}},
                "spec": {
                    "nodeSelector": node_selector,
                    "containers": [{"name": "runner", "image": "registry.invalid/r:1"}],
                },
            },
        },
    }


def settle(core, apps, namespace, name, ready, pending=0):
    """Waits until NAME has READY ready replicas and PENDING pending pods."""
    for _attempt in range(120):
        live = apps.read_namespaced_deployment(name, namespace)
        pods = core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        waiting = [
            p
            for p in pods
            if p.status.phase == "Pending" and p.metadata.deletion_timestamp is None
        ]
        # A Recreate rollout is over once the old pods are gone, not when they stop.
        terminating = any(p.metadata.deletion_timestamp is not None for p in pods)
        if (
            (live.status.ready_replicas or 0) == ready
            and len(waiting) == pending
            and not terminating
        ):
            return
        time.sleep(0.5)
    raise AssertionError(
        f"{namespace}/{name} never reached {ready} ready, {pending} pending"
    )


def probe(kubeconfig, namespace, **args):
    args.update(kubeconfig=kubeconfig, namespaces=[namespace], timeout=3, retries=0)
    return run_module(main, args)


def test_pools_healthy_degraded_down_and_all_down(kube, namespace):
    kubeconfig, core, apps = kube
    apps.create_namespaced_deployment(namespace, deployment("pool-a", "health-a"))
    apps.create_namespaced_deployment(namespace, deployment("pool-b", "health-b"))
    settle(core, apps, namespace, "pool-a", ready=2)
    settle(core, apps, namespace, "pool-b", ready=2)

    result = probe(kubeconfig, namespace)
    assert result["state"] == "healthy", result["summary"]
    pools = result["components"]["runners"]["evidence"]["pools"]
    assert pools["health-a"]["status"] == "HEALTHY"
    assert pools["health-a"]["ready"] == 2
    assert pools["health-b"]["status"] == "HEALTHY"

    # A second manager Deployment of pool b that cannot schedule: b is DEGRADED.
    apps.create_namespaced_deployment(
        namespace, deployment("pool-b2", "health-b", replicas=1, node_selector=NOWHERE)
    )
    settle(core, apps, namespace, "pool-b2", ready=0, pending=1)
    result = probe(kubeconfig, namespace)
    pools = result["components"]["runners"]["evidence"]["pools"]
    assert pools["health-b"]["status"] == "DEGRADED"
    assert (pools["health-b"]["ready"], pools["health-b"]["expected"]) == (2, 3)
    assert result["state"] == "pool_degraded"
    assert result["degraded_pools"] == ["health-b"]
    # The stuck rollout is named as evidence too.
    not_ready = result["components"]["rollouts"]["evidence"]["not_ready"]
    assert [w["name"] for w in not_ready] == ["pool-b2"]

    # Pool a's template moved to a node selector nobody matches: a is DOWN.
    apps.patch_namespaced_deployment(
        "pool-a",
        namespace,
        {"spec": {"template": {"spec": {"nodeSelector": NOWHERE}}}},
    )
    settle(core, apps, namespace, "pool-a", ready=0, pending=2)
    result = probe(kubeconfig, namespace)
    pools = result["components"]["runners"]["evidence"]["pools"]
    assert pools["health-a"]["status"] == "DOWN"
    assert result["state"] == "pool_degraded"
    assert result["degraded_pools"] == ["health-a", "health-b"]

    # Pool b's healthy manager gone too: no pool has a ready runner.
    apps.patch_namespaced_deployment(
        "pool-b",
        namespace,
        {"spec": {"template": {"spec": {"nodeSelector": NOWHERE}}}},
    )
    settle(core, apps, namespace, "pool-b", ready=0, pending=2)
    result = probe(kubeconfig, namespace)
    assert result["state"] == "all_runners_down"
    assert result["components"]["runners"]["status"] == "down"


def test_an_expected_pool_with_nothing_deployed_is_down(kube, namespace):
    kubeconfig, core, apps = kube
    apps.create_namespaced_deployment(namespace, deployment("pool-a", "health-a"))
    settle(core, apps, namespace, "pool-a", ready=2)
    result = probe(kubeconfig, namespace, pools=["health-a", "health-ghost"])
    pools = result["components"]["runners"]["evidence"]["pools"]
    assert pools["health-ghost"] == {
        "status": "DOWN",
        "ready": 0,
        "expected": 1,
        "pods": 0,
        "namespaces": [],
    }
    assert result["degraded_pools"] == ["health-ghost"]
    assert result["state"] == "pool_degraded"


def test_default_namespaces_are_the_platform_and_tenant_ones(kube):
    kubeconfig, core, _apps = kube
    suffix = uuid.uuid4().hex[:6]
    part_of = {"app.kubernetes.io/part-of": "glorious-flywheel"}
    made = {
        f"flywheel-runners-health-{suffix}": part_of,
        f"health-tenant-{suffix}": {**part_of, "glorious.flywheel/tenant": "t"},
        f"health-other-{suffix}": part_of,
        f"flywheel-runners-unlabelled-{suffix}": {},
    }
    for name, labels in made.items():
        core.create_namespace(
            kube_client.V1Namespace(
                metadata=kube_client.V1ObjectMeta(name=name, labels=labels)
            )
        )
    try:
        result = run_module(main, {"kubeconfig": kubeconfig, "retries": 0})
    finally:
        for name in made:
            core.delete_namespace(name)
    evidence = result["components"]["rollouts"]["evidence"]
    read = set(evidence["namespaces"]) | set(evidence["absent_namespaces"])
    assert {"flywheel-system", "flywheel-cache"} <= read
    assert f"flywheel-runners-health-{suffix}" in read
    assert f"health-tenant-{suffix}" in read
    assert f"health-other-{suffix}" not in read
    assert f"flywheel-runners-unlabelled-{suffix}" not in read


def test_a_closed_api_port_is_cluster_unreachable(kube, tmp_path):
    kubeconfig, _core, _apps = kube
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    broken = tmp_path / "closed.kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    result = run_module(main, {"kubeconfig": str(broken), "timeout": 2, "retries": 0})
    assert not result.get("failed"), result
    assert result["state"] == "cluster_unreachable"
    for name in ("cluster", "rollouts", "runners"):
        assert result["components"][name]["status"] == "unreachable"
    assert str(port) in result["components"]["cluster"]["message"]


def test_tailnet_nodes_online_and_a_refused_key(tailnet_lab):
    url = tailnet_lab["HEADSCALE_URL"]
    key = Path(tailnet_lab["HEADSCALE_API_KEY_FILE"]).read_text().strip()
    seen = run_module(main, {"tailnet_url": url, "tailnet_token": key, "timeout": 3})
    tailnet = seen["components"]["tailnet"]
    assert tailnet["status"] == "healthy", tailnet
    online = tailnet["evidence"]["online"]

    wanted = [*online, "health-no-such-node"]
    missing = run_module(
        main,
        {"tailnet_url": url, "tailnet_token": key, "tailnet_nodes": wanted},
    )
    assert missing["components"]["tailnet"]["status"] == "degraded"
    assert missing["components"]["tailnet"]["evidence"]["not_online"] == [
        "health-no-such-node"
    ]
    assert missing["state"] == "degraded"

    refused = run_module(
        main,
        {"tailnet_url": url, "tailnet_token": "hskey-api-wrong", "retries": 0},
    )
    assert refused["components"]["tailnet"]["status"] == "unreachable"
    assert refused["components"]["tailnet"]["evidence"]["http_status"] == 401
    assert refused["state"] == "tailnet_unreachable"
    assert key not in seen["_stdout"] + missing["_stdout"]


def run_health_playbook(ansible_env, tailnet_lab, tmp_path, *extra):
    return subprocess.run(
        [
            "ansible-playbook",
            "playbooks/health.yml",
            "-i",
            "inventories/lab",
            "-e",
            f"flywheel_health_report_dir={tmp_path}",
            *extra,
        ],
        cwd=ROOT,
        env=dict(
            ansible_env,
            **tailnet_lab,
            FLYWHEEL_LAB_DIR=os.environ.get("FLYWHEEL_LAB_DIR", str(ROOT / ".lab")),
        ),
        text=True,
        capture_output=True,
        check=False,
    )


def test_playbook_exit_code_follows_the_classification(
    kube, namespace, ansible_env, tailnet_lab, tmp_path
):
    _kubeconfig, core, apps = kube
    apps.create_namespaced_deployment(namespace, deployment("pool-a", "health-a"))
    settle(core, apps, namespace, "pool-a", ready=2)
    scope = json.dumps({"flywheel_health_namespaces": [namespace]})

    healthy = run_health_playbook(ansible_env, tailnet_lab, tmp_path, "-e", scope)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    report = json.loads((tmp_path / "lab.json").read_text())
    assert report["state"] == "healthy"
    assert (
        report["components"]["runners"]["evidence"]["pools"]["health-a"]["ready"] == 2
    )
    # The inventory's tailnet control plane is probed with the lab's API key (the lab's
    # hosts stay off the tailnet, so no node is expected online).
    tailnet = report["components"]["tailnet"]
    assert tailnet["status"] == "healthy", tailnet
    assert tailnet["evidence"]["not_online"] == [], tailnet
    assert "platform: healthy" in healthy.stdout

    apps.patch_namespaced_deployment(
        "pool-a",
        namespace,
        {"spec": {"template": {"spec": {"nodeSelector": NOWHERE}}}},
    )
    settle(core, apps, namespace, "pool-a", ready=0, pending=2)
    broken = run_health_playbook(ansible_env, tailnet_lab, tmp_path, "-e", scope)
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "lab is all_runners_down" in broken.stdout
    report = json.loads((tmp_path / "lab.json").read_text())
    assert report["state"] == "all_runners_down"

    # Report-only mode, tailnet left out: same classification, exit code 0.
    quiet = run_health_playbook(
        ansible_env,
        tailnet_lab,
        tmp_path,
        "-e",
        scope,
        "-e",
        "flywheel_health_fail_on_unhealthy=false",
        "-e",
        "flywheel_health_tailnet=false",
    )
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    report = json.loads((tmp_path / "lab.json").read_text())
    assert report["state"] == "all_runners_down"
    assert report["components"]["tailnet"]["status"] == "not_configured"
