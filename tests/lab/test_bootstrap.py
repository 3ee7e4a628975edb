"""playbooks/bootstrap.yml against the lab inventory: it converges, a re-run changes
nothing, and preflight names a target it cannot reach."""

import json
import re
import subprocess

import pytest

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
