"""The lab's hosts are real: systemd containers that Ansible reaches through the `lab` inventory.

The last test stops one container and shows the same check failing for it alone, then
brings it back through `hack/lab up hosts`.
"""

import json
import subprocess

import pytest

from ansible_collections.glorious.flywheel.tests.support import ROOT, lab

pytestmark = pytest.mark.lab

LAB_INVENTORY = str(ROOT / "inventories" / "lab")

FACTS_PLAYBOOK = """
- hosts: lab_hosts
  gather_facts: true
  tasks:
    - name: Ask systemd whether the host finished booting
      ansible.builtin.command: systemctl is-system-running
      register: system_state
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
def run_on_lab(run_playbook):
    """Runs a playbook against inventories/lab; returns (process, ansible.posix.json report)."""

    def run(playbook_text):
        result = run_playbook(
            playbook_text,
            inventory=LAB_INVENTORY,
            extra_env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        )
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"no JSON report from ansible-playbook:\n{result.stdout}\n{result.stderr}")
        return result, report

    return run


def host_results(report, task_name):
    """The per-host results of the task called TASK_NAME in an ansible.posix.json report."""
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                return task["hosts"]
    raise AssertionError(f"task {task_name!r} not in the report")


def test_inventory_names_the_lab_hosts(hosts_lab, ansible_env):
    listed = subprocess.run(
        ["ansible-inventory", "-i", LAB_INVENTORY, "--list"],
        env=ansible_env,
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = json.loads(listed.stdout)
    assert sorted(inventory["lab_hosts"]["hosts"]) == sorted(hosts_lab["LAB_HOSTS"].split(","))
    assert "lab_hosts" in inventory["flywheel_hosts"]["children"]
    assert "lab_cluster" in inventory["flywheel_clusters"]["children"]


def test_facts_show_systemd_as_pid_1_and_python(hosts_lab, run_on_lab):
    result, report = run_on_lab(FACTS_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr

    facts = host_results(report, "Gathering Facts")
    assert sorted(facts) == sorted(hosts_lab["LAB_HOSTS"].split(","))
    for name, gathered in facts.items():
        host = gathered["ansible_facts"]
        # service_mgr is read from /proc/1/comm: systemd really is PID 1.
        assert host["ansible_service_mgr"] == "systemd", name
        assert host["ansible_python"]["executable"] == "/usr/bin/python3", name
        assert host["ansible_distribution"] == "Debian", name
        assert host["ansible_distribution_release"] == hosts_lab["LAB_HOST_IMAGE"].split(":")[1].split("-r")[0]
        assert host["ansible_virtualization_type"] == "podman", name
        # Each inventory name is its own container, not one container reached twice.
        assert host["ansible_hostname"] == name

    states = host_results(report, "Ask systemd whether the host finished booting")
    assert {name: state["stdout"] for name, state in states.items()} == dict.fromkeys(facts, "running")


def test_ping_fails_for_a_stopped_host_until_the_lab_restarts_it(hosts_lab, run_on_lab):
    running, stopped = hosts_lab["LAB_HOSTS"].split(",")
    result, report = run_on_lab(PING_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr

    subprocess.run(["podman", "stop", "--time", "5", stopped], check=True, capture_output=True)
    try:
        status = lab("status", "hosts", check=False)
        assert status.returncode != 0
        assert f"{stopped} stopped" in status.stdout

        result, report = run_on_lab(PING_PLAYBOOK)
        assert result.returncode != 0
        assert report["stats"][running]["ok"] == 1
        assert report["stats"][running]["unreachable"] == report["stats"][running]["failures"] == 0
        assert report["stats"][stopped]["ok"] == 0
        assert report["stats"][stopped]["unreachable"] + report["stats"][stopped]["failures"] == 1
    finally:
        lab("up", "hosts")

    result, report = run_on_lab(PING_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(report["stats"][name]["ok"] == 1 for name in (running, stopped))
