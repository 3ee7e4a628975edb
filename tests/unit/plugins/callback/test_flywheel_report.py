"""The flywheel_report callback on a localhost playbook (the cluster store is the lab
test's subject, tests/lab/test_redeploy.py): the local report's record, failures
redacted, a check run recorded as drift and failed by the gate, and nothing recorded
from results."""

from __future__ import annotations

import json

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The pool this job runs on
      ansible.builtin.set_fact:
        flywheel_self_pool: nix
    - name: A change, with a secret in its result
      ansible.builtin.debug:
        msg: "hunter2-canary-result"
      changed_when: true
    - name: A failure naming a token
      ansible.builtin.command: "false glpat-canary-0123456789"
      ignore_errors: "{{ ansible_check_mode }}"
      check_mode: false
      when: fail_once | default(false) | bool
    - name: Gate
      ansible.builtin.fail:
        msg: "drift {{ report.changed }}"
      vars:
        report: "{{ lookup('glorious.flywheel.flywheel_report') }}"
        flywheel_report_drift_gate: true
      when: ansible_check_mode and report.enabled and report.changed > 0
"""


def run(run_playbook, tmp_path, *args):
    report_dir = tmp_path / "report"
    completed = run_playbook(
        PLAYBOOK,
        *args,
        extra_env={
            "ANSIBLE_CALLBACKS_ENABLED": "glorious.flywheel.flywheel_report",
            "FLYWHEEL_REPORT_DIR": str(report_dir),
            "FLYWHEEL_REPORT_CLUSTER": "false",
        },
    )
    record = json.loads((report_dir / "drift.json").read_text())
    files = "".join(p.read_text() for p in report_dir.iterdir())
    return completed, record, files


def test_a_run_and_a_check_run_are_recorded(run_playbook, tmp_path):
    completed, record, files = run(run_playbook, tmp_path, "-e", "fail_once=true")
    assert completed.returncode == 2
    assert record["playbook"] == "playbook" and record["pool"] == "nix"
    assert (record["ok"], record["changed"], record["failed"]) == (False, 1, 1)
    assert record["changes"] == [
        {
            "host": "localhost",
            "task": "A change, with a secret in its result",
            "kind": None,
            "namespace": None,
            "name": None,
        }
    ]
    (failure,) = record["failures"]
    assert failure["task"] == "A failure naming a token"
    assert "glpat-canary" not in files and "hunter2-canary" not in files
    assert "failed: localhost: A failure naming a token" in files

    checked, check_record, _files = run(run_playbook, tmp_path, "--check")
    # Not bootstrap or redeploy: the file's name is kept, the gate still fails.
    assert checked.returncode == 2
    assert "drift 1" in checked.stdout
    assert check_record["ok"] is True and check_record["failures"] == []
    assert check_record["drift"] is True
    history = (tmp_path / "report" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in history] == [
        record["run_id"],
        check_record["run_id"],
    ]
