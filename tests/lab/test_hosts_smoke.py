"""The lab's hosts are real: systemd containers Ansible reaches through `inventories/lab`.

The last test stops one container and shows the same check failing for it alone, then
brings it back through `hack/lab up hosts`.
"""

import json
import subprocess

import pytest

from ansible_collections.glorious.flywheel.tests.support import ROOT, lab, task_result

pytestmark = pytest.mark.lab

LAB_INVENTORY = str(ROOT / "inventories" / "lab")

FACTS_PLAYBOOK = """
- hosts: lab_hosts
  gather_facts: true
  tasks:
    - name: Ask systemd whether the host finished booting
      ansible.builtin.command: systemctl is-system-running
      changed_when: false
"""

PING_PLAYBOOK = """
- hosts: lab_hosts
  gather_facts: false
  tasks:
    - name: Reach the host's Python
      ansible.builtin.ping:
"""


@pytest.fixture
def lab_hosts(hosts_lab):
    """Names of the lab's hosts, as `hack/lab up hosts` reported them."""
    return hosts_lab["LAB_HOSTS"].split(",")


@pytest.fixture
def run_on_lab(run_playbook):
    """Runs a playbook against inventories/lab with its JSON report on `.json`."""

    def run(playbook_text):
        return run_playbook(playbook_text, inventory=LAB_INVENTORY, json_output=True)

    return run


def test_inventory_names_the_lab_hosts(lab_hosts, ansible_env):
    listed = subprocess.run(
        ["ansible-inventory", "-i", LAB_INVENTORY, "--list"],
        env=ansible_env,
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = json.loads(listed.stdout)
    assert sorted(inventory["lab_hosts"]["hosts"]) == sorted(lab_hosts)
    assert "lab_hosts" in inventory["flywheel_hosts"]["children"]
    assert "lab_cluster" in inventory["flywheel_clusters"]["children"]


def test_facts_show_systemd_as_pid_1_and_python(hosts_lab, lab_hosts, run_on_lab):
    result = run_on_lab(FACTS_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr

    suite = hosts_lab["LAB_HOST_IMAGE"].rsplit(":", 1)[1].split("-r")[0]
    for name in lab_hosts:
        facts = task_result(result, "Gathering Facts", host=name)["ansible_facts"]
        # service_mgr is read from /proc/1/comm: systemd really is PID 1.
        assert facts["ansible_service_mgr"] == "systemd", name
        assert facts["ansible_python"]["executable"] == "/usr/bin/python3", name
        assert facts["ansible_distribution"] == "Debian", name
        assert facts["ansible_distribution_release"] == suite, name
        assert facts["ansible_virtualization_type"] == "podman", name
        # Each inventory name is its own container, not one container reached twice.
        assert facts["ansible_hostname"] == name

        state = task_result(
            result, "Ask systemd whether the host finished booting", host=name
        )
        assert state["stdout"] == "running", name


def test_ping_fails_for_a_stopped_host_until_the_lab_restarts_it(lab_hosts, run_on_lab):
    running, stopped = lab_hosts
    result = run_on_lab(PING_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr

    subprocess.run(
        ["podman", "stop", "--time", "5", stopped], check=True, capture_output=True
    )
    try:
        status = lab("status", "hosts", check=False)
        assert status.returncode != 0
        assert f"{stopped} stopped" in status.stdout

        result = run_on_lab(PING_PLAYBOOK)
        assert result.returncode != 0
        stats = result.json["stats"]
        assert (stats[running]["ok"], stats[running]["unreachable"]) == (1, 0)
        assert stats[running]["failures"] == 0
        assert stats[stopped]["ok"] == 0
        assert stats[stopped]["unreachable"] + stats[stopped]["failures"] == 1
    finally:
        lab("up", "hosts")

    result = run_on_lab(PING_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(result.json["stats"][name]["ok"] == 1 for name in lab_hosts)
