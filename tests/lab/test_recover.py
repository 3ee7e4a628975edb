"""playbooks/recover.yml on the lab: each degradation state is made, classified, and
recovered, and health is healthy again.

One bootstrap (module fixture) deploys a platform of this module's own: Attic and the
Bazel cache in namespaces of their own, two GitLab enrollments against the GitLab
double (pools docker and nix, in tenant namespaces of their own) through the test chart
of tests/charts/gitlab-runner, and a Headscale converged by the headscale role in a
host-network systemd container (the tailnet control plane the inventory runs, so
recover can restart it; the lab's shared Headscale is never touched). Health reads only
these namespaces, so other tests' objects cannot change the classification.

kwok runs no containers, so neither atticd nor the dashboard answers in the lab: their
endpoints are stand-ins on loopback that answer (`nix-cache-info`, `/api/health`) while
the component's Deployment has a ready replica, and 503 otherwise (as an ingress with no
ready endpoint behind it does). The nix-cache-info body is upstream's
(zhaofengli/attic server/src/api/binary_cache.rs, get_nix_cache_info).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.lab.kube import get, kubectl
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

CHART = ROOT / "tests" / "charts" / "gitlab-runner"
DASHBOARD = "flywheel-dashboard"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=\d+\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandInHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        stand_in = self.server
        if not self.path.endswith(stand_in.path):
            self.send_error(404)
        elif not stand_in.ready():
            self.send_error(503)
        else:
            self.send_response(200)
            self.send_header("Content-Type", stand_in.content_type)
            self.send_header("Content-Length", str(len(stand_in.body)))
            self.end_headers()
            self.wfile.write(stand_in.body)

    def log_message(self, *args):
        pass


class StandIn(ThreadingHTTPServer):
    """Answers PATH like the component would while its Deployment has a ready replica,
    503 otherwise."""

    def __init__(self, kube_lab, namespace, deployment, path, body, content_type):
        self.kube_lab, self.namespace, self.deployment = kube_lab, namespace, deployment
        self.path, self.body, self.content_type = path, body, content_type
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def ready(self):
        live = get(self.kube_lab, self.namespace, "deployment", self.deployment) or {}
        return live.get("status", {}).get("readyReplicas", 0) >= 1


@pytest.fixture(scope="module")
def platform(ansible_env, kube_lab, tailnet_lab, hosts_lab, tmp_path_factory):
    s = uuid.uuid4().hex[:6]
    tmp = tmp_path_factory.mktemp("recover")
    names = {
        "cache_ns": f"rcv-cache-{s}",
        "bazel_ns": f"rcv-bazel-{s}",
        "tenant_a": f"rcv-a-{s}",
        "tenant_b": f"rcv-b-{s}",
        "enrollment_a": f"rcv-{s}-docker",
        "enrollment_b": f"rcv-{s}-nix",
        "headscale": f"rcv-headscale-{s}",
        "dashboard_ns": f"rcv-dash-{s}",
    }
    names["ns_a"] = f"flywheel-runners-{names['tenant_a']}"
    names["ns_b"] = f"flywheel-runners-{names['tenant_b']}"
    gitlab = GitLab()
    gitlab.start()
    attic = StandIn(
        kube_lab,
        names["cache_ns"],
        "attic",
        "/nix-cache-info",
        b"WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n",
        "text/x-nix-cache-info",
    )
    dashboard = StandIn(
        kube_lab,
        names["dashboard_ns"],
        DASHBOARD,
        "/api/health",
        b'{"status": "ok"}',
        "application/json",
    )
    subprocess.run(
        [
            "podman",
            "run",
            "-d",
            "--name",
            names["headscale"],
            "--network",
            "host",
            "--systemd",
            "always",
            "localhost/flywheel-host:current",
            "/sbin/init",
        ],
        check=True,
        capture_output=True,
    )
    headscale_port = free_port()
    headscale_url = f"http://127.0.0.1:{headscale_port}"
    key_file = tmp / "headscale-api-key"
    forge = {"type": "gitlab", "scope": "group", "target": "42", "url": gitlab.url}
    inventory = {
        "all": {
            "vars": {
                "flywheel_enrollments": [
                    {
                        "name": names["enrollment_a"],
                        "forge": forge,
                        "tenant": {"name": names["tenant_a"]},
                        "pool": "docker",
                    },
                    {
                        "name": names["enrollment_b"],
                        "forge": forge,
                        "tenant": {"name": names["tenant_b"]},
                        "pool": "nix",
                    },
                ],
                "flywheel_attic_url": attic.url,
                "flywheel_dashboard_url": dashboard.url,
                "dashboard_namespace": names["dashboard_ns"],
                "flywheel_health_attic_cache": f"{names['tenant_a']}-main",
                "flywheel_health_namespaces": [
                    names["cache_ns"],
                    names["bazel_ns"],
                    names["ns_a"],
                    names["ns_b"],
                    names["dashboard_ns"],
                ],
                "flywheel_health_pools": ["docker", "nix"],
                "flywheel_health_timeout": 3,
                "flywheel_helm_binary": kube_lab["HELM_BIN"],
                "attic_namespace": names["cache_ns"],
                "bazel_remote_namespace": names["bazel_ns"],
                "gitlab_runner_helm_binary": kube_lab["HELM_BIN"],
                "gitlab_runner_chart_ref": str(CHART),
                "gitlab_runner_wait_timeout": "120s",
                "gitlab_runner_api_token": gitlab.user_token,
            },
            "children": {
                "flywheel_tailnet_servers": {
                    "hosts": {
                        names["headscale"]: {
                            "ansible_connection": "containers.podman.podman",
                            "ansible_python_interpreter": "/usr/bin/python3",
                            "headscale_binary_src": tailnet_lab["HEADSCALE_BIN"],
                            "headscale_server_url": headscale_url,
                            "headscale_listen_addr": f"127.0.0.1:{headscale_port}",
                            "headscale_metrics_listen_addr": f"127.0.0.1:{free_port()}",
                            "headscale_grpc_listen_addr": f"127.0.0.1:{free_port()}",
                            "headscale_derp_urls": [],
                            "headscale_derp_server_enabled": True,
                            "headscale_derp_stun_listen_addr": f"127.0.0.1:{free_port()}",
                            "headscale_derp_server_ipv4": "127.0.0.1",
                            "headscale_base_domain": "recover.flywheel.test",
                            "headscale_api_key_file": str(key_file),
                        }
                    }
                }
            },
        }
    }
    extra_inventory = tmp / "recover.yml"
    extra_inventory.write_text(yaml.safe_dump(inventory))
    # The lab's group_vars/all.yml names the lab's Headscale (and preflight checks it);
    # extra vars outrank it. The key is the one the headscale role stores on its first run.
    tailnet = json.dumps(
        {
            "flywheel_tailnet": {"control_plane": "headscale", "url": headscale_url},
            # Preflight runs before the tailnet phase starts this Headscale.
            "preflight_endpoints": [],
            "flywheel_tailnet_api_token": "{{ lookup('ansible.builtin.file', '"
            + str(key_file)
            + "') }}",
        }
    )
    env = {**ansible_env, **kube_lab, **tailnet_lab, **hosts_lab}
    # The all_runners_down runbook runs the local path only off CI.
    env.pop("CI", None)

    def run(playbook, *args, extra_env=None):
        return subprocess.run(
            [
                "ansible-playbook",
                f"playbooks/{playbook}.yml",
                "-i",
                "inventories/lab",
                "-i",
                str(extra_inventory),
                "-e",
                tailnet,
                *args,
            ],
            cwd=ROOT,
            env={**env, **(extra_env or {})},
            text=True,
            capture_output=True,
            check=False,
        )

    # The lab's few PersistentVolumes are shared: each data claim gets one of its own.
    claims = [
        (names["cache_ns"], "attic-data"),
        (names["dashboard_ns"], f"{DASHBOARD}-data"),
    ] + [
        (names["bazel_ns"], f"bazel-cache-{names[t]}-data")
        for t in ("tenant_a", "tenant_b")
    ]
    for index, (namespace, claim) in enumerate(claims):
        volume = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"rcv-{s}-{index}"},
            "spec": {
                "capacity": {"storage": "1000Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": f"/tmp/rcv-{s}-{index}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(volume))
    try:
        # systemd in the container has to be up before the role starts a service.
        subprocess.run(
            [
                "podman",
                "exec",
                names["headscale"],
                "systemctl",
                "is-system-running",
                "--wait",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        # Verify probes the shared namespaces too, which other tests break on purpose;
        # health here is recover's, on this module's namespaces only.
        first = run("bootstrap", "--skip-tags", "verify")
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr
        # kwok's pods run no gitlab-runner: the managers' first job poll is made here,
        # with the tokens the role registered, so GitLab lists the runners online.
        gitlab.contact_all()
        yield {"run": run, "names": names, "kube": kube_lab, "gitlab": gitlab}
    finally:
        subprocess.run(
            ["podman", "rm", "-f", "-t", "0", names["headscale"]],
            capture_output=True,
            check=False,
        )
        for namespace in ("cache_ns", "bazel_ns", "ns_a", "ns_b", "dashboard_ns"):
            kubectl(
                kube_lab,
                "delete",
                "namespace",
                names[namespace],
                "--wait=false",
                check=False,
            )
        for index in range(len(claims)):
            kubectl(
                kube_lab,
                "delete",
                "pv",
                f"rcv-{s}-{index}",
                "--wait=false",
                check=False,
            )
        attic.shutdown()
        dashboard.shutdown()
        gitlab.stop()


def recap(completed):
    return {m["host"]: int(m["changed"]) for m in RECAP.finditer(completed.stdout)}


def found(completed):
    """The state recover's first probe printed."""
    match = re.search(r'"platform: (\w+)"', completed.stdout)
    return match and match[1]


def wait_ready(kube_lab, namespace, name, ready):
    for _attempt in range(120):
        live = get(kube_lab, namespace, "deployment", name) or {}
        pods = (get(kube_lab, namespace, "pods") or {}).get("items", [])
        going = any(p["metadata"].get("deletionTimestamp") for p in pods)
        if live.get("status", {}).get("readyReplicas", 0) == ready and not going:
            return
        time.sleep(0.5)
    raise AssertionError(f"{namespace}/{name} never had {ready} ready replicas")


def scale(platform, namespace, name, replicas):
    kubectl(
        platform["kube"],
        "-n",
        namespace,
        "scale",
        "deployment",
        name,
        f"--replicas={replicas}",
    )
    wait_ready(platform["kube"], namespace, name, replicas)


def manager(platform, key):
    return f"{platform['names'][f'enrollment_{key}']}-gitlab-runner"


def assert_recovered(completed, state):
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr
    assert found(completed) == state, completed.stdout[-3000:]
    assert f"was {state}, is healthy now" in completed.stdout


def test_healthy_platform_recover_does_nothing(platform):
    completed = platform["run"]("recover")
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr
    assert found(completed) == "healthy"
    assert "is healthy: nothing to do" in completed.stdout
    assert set(recap(completed).values()) == {0}, recap(completed)


def test_a_runner_offline_at_its_forge_degrades_its_pool(platform):
    names, gitlab = platform["names"], platform["gitlab"]
    runner = next(
        r for r in gitlab.runners.values() if r.description == names["enrollment_a"]
    )
    runner.status = "offline"
    try:
        offline = platform["run"]("health")
        assert offline.returncode == 2, offline.stdout[-4000:] + offline.stderr
        assert "lab is pool_degraded" in offline.stdout
        assert "pool docker: DEGRADED (1/1 ready)" in offline.stdout
        assert (
            f"runner {names['enrollment_a']} is not online at gitlab group 42 (offline)"
            in offline.stdout
        )
        assert gitlab.user_token not in offline.stdout + offline.stderr
    finally:
        gitlab.contact_all()
    online = platform["run"]("health")
    assert online.returncode == 0, online.stdout[-4000:] + online.stderr
    assert "forges: healthy - 2 enrollment(s) read at their forges" in online.stdout


def test_attic_down_is_redeployed(platform):
    names = platform["names"]
    scale(platform, names["cache_ns"], "attic", 0)
    completed = platform["run"]("recover")
    assert_recovered(completed, "attic_down")
    assert "builds keep going on the upstream substituters" in completed.stdout
    live = get(platform["kube"], names["cache_ns"], "deployment", "attic")
    assert live["status"]["readyReplicas"] == 1


def test_one_pool_degraded_is_redeployed_from_another_pool(platform):
    names = platform["names"]
    scale(platform, names["ns_a"], manager(platform, "a"), 0)
    completed = platform["run"]("recover", extra_env={"FLYWHEEL_POOL": "nix"})
    assert_recovered(completed, "pool_degraded")
    assert "Pools not healthy: docker;" in completed.stdout
    assert "This run is on a runner of pool nix." in completed.stdout
    # Only the degraded pool's release was touched.
    assert f"Deployment {names['ns_a']}/{manager(platform, 'a')}" in completed.stdout
    assert f"{names['ns_b']}/" not in completed.stdout.split("A pool degraded")[1]
    live = get(platform["kube"], names["ns_a"], "deployment", manager(platform, "a"))
    assert live["status"]["readyReplicas"] == 1
    assert platform["gitlab"].user_token not in completed.stdout + completed.stderr


def test_all_runners_down_needs_the_local_path(platform):
    names = platform["names"]
    scale(platform, names["ns_a"], manager(platform, "a"), 0)
    scale(platform, names["ns_b"], manager(platform, "b"), 0)
    in_ci = platform["run"]("recover", extra_env={"CI": "true"})
    assert in_ci.returncode != 0
    assert found(in_ci) == "all_runners_down"
    assert "run `ansible-playbook glorious.flywheel.bootstrap -i " in in_ci.stdout
    assert "--tags runners` from a workstation" in in_ci.stdout
    assert (
        get(platform["kube"], names["ns_a"], "deployment", manager(platform, "a"))[
            "spec"
        ]["replicas"]
        == 0
    )

    local = platform["run"]("recover")
    assert_recovered(local, "all_runners_down")
    printed = re.search(
        r"  (ansible-playbook glorious\.flywheel\.bootstrap .*)\"", local.stdout
    )
    assert printed, local.stdout[-3000:]
    assert printed[1].endswith("--tags runners")
    # Both inventory sources, as given to recover, made absolute.
    assert re.search(
        r" -i /\S+/inventories/lab -i /\S+/recover\.yml --tags", printed[1]
    )
    for key in ("a", "b"):
        namespace = names[f"ns_{key}"]
        live = get(platform["kube"], namespace, "deployment", manager(platform, key))
        assert live["status"]["readyReplicas"] == 1


def test_tailnet_control_plane_down_is_restarted(platform):
    headscale = platform["names"]["headscale"]
    subprocess.run(
        ["podman", "exec", headscale, "systemctl", "stop", "headscale"],
        check=True,
        capture_output=True,
    )
    completed = platform["run"]("recover")
    assert_recovered(completed, "tailnet_unreachable")
    assert f"The headscale role converged {headscale} again" in completed.stdout
    active = subprocess.run(
        ["podman", "exec", headscale, "systemctl", "is-active", "headscale"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert active.stdout.strip() == "active"


def test_dashboard_down_is_redeployed(platform):
    names = platform["names"]
    kubectl(
        platform["kube"], "-n", names["dashboard_ns"], "delete", "deployment", DASHBOARD
    )
    completed = platform["run"]("recover")
    assert_recovered(completed, "dashboard_down")
    assert "the dashboard role redeployed it." in completed.stdout
    live = get(platform["kube"], names["dashboard_ns"], "deployment", DASHBOARD)
    assert live["status"]["readyReplicas"] == 1
