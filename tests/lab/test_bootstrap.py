"""playbooks/bootstrap.yml against the lab inventory: it converges, a re-run changes
nothing, preflight names a target it cannot reach, and the tailnet phase joins a host
that can reach the lab's Headscale."""

import json
import re
import subprocess
import urllib.request
import uuid

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.support import ROOT, lab

pytestmark = pytest.mark.lab

RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@pytest.fixture
def bootstrap(ansible_env, kube_lab, tailnet_lab, hosts_lab):
    env = {**ansible_env, **kube_lab, **tailnet_lab, **hosts_lab}

    def run(*args):
        return subprocess.run(
            [
                "ansible-playbook",
                "playbooks/bootstrap.yml",
                "-i",
                "inventories/lab",
                *args,
            ],
            cwd=ROOT,
            env=env,
            text=True,
            capture_output=True,
            check=False,
        )

    run.env = env
    return run


def recap(completed):
    return {
        m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
        for m in RECAP.finditer(completed.stdout)
    }


def test_bootstrap_converges_then_changes_nothing(bootstrap):
    first = bootstrap()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "preflight passed: 3 targets checked" in first.stdout
    assert '"cluster lab is bootstrapped:",' in first.stdout
    # Verify probed the tailnet control plane too, with the inventory's credentials.
    assert '"tailnet: healthy - ' in first.stdout
    assert '"platform: healthy",' in first.stdout
    # The cache phase stood Attic and the Bazel cache up, and they rolled out.
    deployments = subprocess.run(
        ["kubectl", "-n", "flywheel-cache", "get", "deployments", "-o", "json"],
        env=bootstrap.env,
        text=True,
        capture_output=True,
        check=True,
    )
    available = {
        d["metadata"]["name"]: d["status"].get("availableReplicas", 0)
        for d in json.loads(deployments.stdout)["items"]
    }
    assert available.get("attic", 0) >= 1 and available.get("bazel-cache", 0) >= 1, (
        available
    )

    second = bootstrap()
    assert second.returncode == 0, second.stdout + second.stderr
    hosts = recap(second)
    assert set(hosts) == {
        "localhost",
        "lab-cluster-api",
        "flywheel-lab-1",
        "flywheel-lab-2",
    }
    assert all(counts["changed"] == 0 for counts in hosts.values()), hosts


def test_preflight_names_an_unreachable_host(bootstrap, hosts_lab):
    stopped = hosts_lab["LAB_HOSTS"].split(",")[-1]
    subprocess.run(
        ["podman", "stop", "--time", "5", stopped], check=True, capture_output=True
    )
    try:
        result = bootstrap("--tags", "preflight", "-e", "preflight_connect_timeout=5")
        assert result.returncode != 0
        assert f"preflight failed for {stopped}" in result.stdout
        assert "preflight passed" not in result.stdout
    finally:
        lab("up", "hosts")


@pytest.fixture
def joiner(tailnet_lab, hosts_lab, tmp_path):
    """A platform host that can reach the lab's Headscale: a systemd container of the lab's
    host image sharing this machine's network (127.0.0.1 is Headscale), with the
    tailscale role's settings for such a host, as the tailscale molecule scenario has them."""
    name = f"flywheel-joiner-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        ["podman", "run", "--detach", "--name", name, "--hostname", name]
        + ["--network", "host", "--systemd=always", hosts_lab["LAB_HOST_IMAGE"]]
        + ["/sbin/init"],
        check=True,
        capture_output=True,
    )
    inventory = tmp_path / "joiner.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "flywheel_hosts": {
                            "children": {"joiners": {"hosts": {name: None}}}
                        },
                        "joiners": {
                            "vars": {
                                "ansible_connection": "containers.podman.podman",
                                "ansible_python_interpreter": "/usr/bin/python3",
                                "tailscale_install_method": "binary",
                                "tailscale_binary_src": tailnet_lab["TAILSCALE_BIN"],
                                "tailscale_daemon_binary_src": tailnet_lab[
                                    "TAILSCALED_BIN"
                                ],
                                "tailscale_userspace_networking": True,
                                "tailscale_port": 0,
                                "tailscale_daemon_env": {
                                    "TS_DEBUG_USE_DERP_HTTP": "1",
                                    "TS_DISABLE_PORTMAPPER": "1",
                                },
                                "tailscale_daemon_args": ["--no-logs-no-support"],
                                "tailscale_headscale_user": tailnet_lab[
                                    "HEADSCALE_USER"
                                ],
                                "tailscale_hostname": name,
                                "tailscale_accept_dns": False,
                                "tailscale_ephemeral": True,
                            }
                        },
                    }
                }
            }
        )
    )
    try:
        subprocess.run(
            ["podman", "exec", name, "systemctl", "is-system-running", "--wait"],
            check=False,
            capture_output=True,
            timeout=120,
        )
        yield name, inventory
    finally:
        subprocess.run(
            ["podman", "rm", "--force", "--time", "0", name],
            check=False,
            capture_output=True,
        )
        headscale = Headscale(tailnet_lab)
        for node in headscale.nodes():
            if node["name"] == name:
                headscale.delete_node(node["id"])


class Headscale:
    """The lab Headscale's REST API, for what the test checks and cleans up."""

    def __init__(self, env):
        self.url = env["HEADSCALE_URL"]
        self.key = env["HEADSCALE_API_KEY"]

    def _call(self, method, path):
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"Bearer {self.key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"{}")

    def nodes(self):
        return self._call("GET", "/api/v1/node").get("nodes", [])

    def delete_node(self, node_id):
        self._call("DELETE", f"/api/v1/node/{node_id}")


def test_the_tailnet_phase_joins_the_hosts_then_changes_nothing(bootstrap, joiner):
    name, inventory = joiner
    # Preflight checks the whole inventory, which --limit leaves out.
    args = ("-i", str(inventory), "--tags", "tailnet", "--skip-tags", "preflight")
    args += ("--limit", f"localhost,{name}")
    first = bootstrap(*args)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr
    assert recap(first)[name]["changed"] > 0, recap(first)
    online = {node["name"]: node["online"] for node in Headscale(bootstrap.env).nodes()}
    assert online.get(name) is True, online

    second = bootstrap(*args)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr
    assert all(counts["changed"] == 0 for counts in recap(second).values()), recap(
        second
    )
