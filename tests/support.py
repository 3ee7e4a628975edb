"""Helpers the tests import: the lab entry point and ansible-playbook results.

Import as `ansible_collections.glorious.flywheel.tests.support` (tests/conftest.py
puts the collection on sys.path); fixtures live in tests/conftest.py.
"""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "hack" / "lab"
LAB_DIR = Path(os.environ.get("FLYWHEEL_LAB_DIR", ROOT / ".lab"))


def lab(*args, check=True):
    """Runs hack/lab with ARGS and returns the completed process."""
    return subprocess.run(
        [str(LAB), *args], cwd=ROOT, check=check, text=True, capture_output=True
    )


def lab_env():
    """The lab env file as a dict (what `hack/lab env` prints)."""
    out = lab("env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def task_result(completed, task_name, host="localhost"):
    """The result of TASK_NAME on HOST from a run_playbook(..., json_output=True) run."""
    for play in completed.json["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                return task["hosts"][host]
    raise KeyError(f"no task named {task_name!r} in the run")
