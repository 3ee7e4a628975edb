"""Shared pytest fixtures: the collection on sys.path, and the lab's real peers.

Lab fixtures are session-scoped. Each brings its component up through `hack/lab up`
(the same entry point a person uses), returns the lab env file as a dict, and takes the
component down at the end of the session only if this session started it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_LAB_DIR = Path(
    os.environ.get("FLYWHEEL_LAB_DIR", Path(__file__).resolve().parents[1] / ".lab")
)
# Importing `ansible_collections.glorious.flywheel...` needs the checkout exposed as a
# collection; hack/lib/venv.sh makes that link.
_collections = _LAB_DIR / "collections"
if str(_collections) not in sys.path:
    sys.path.insert(0, str(_collections))

# pylint: disable=wrong-import-position
from ansible_collections.glorious.flywheel.tests.doubles import fixtures as doubles  # noqa: E402
from ansible_collections.glorious.flywheel.tests.support import ROOT, lab, lab_env  # noqa: E402

# pylint: enable=wrong-import-position

serve_double = doubles.serve_double


def _component_fixture(component):
    @pytest.fixture(scope="session")
    def fixture():
        was_up = lab("status", component, check=False).returncode == 0
        started = lab("up", component, check=False)
        if started.returncode != 0:
            pytest.fail(
                f"hack/lab up {component} failed:\n{started.stdout}\n{started.stderr}"
            )
        yield lab_env()
        if not was_up and not os.environ.get("FLYWHEEL_KEEP_LAB"):
            lab("down", component, check=False)

    return fixture


kube_lab = _component_fixture("kube")
tailnet_lab = _component_fixture("tailnet")
hosts_lab = _component_fixture("hosts")


@pytest.fixture(scope="session")
def ansible_env():
    """Environment for running ansible-playbook / ansible-runner against the lab."""
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(_collections))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


@pytest.fixture
def run_playbook(ansible_env, tmp_path):
    """Runs a playbook text; returns the completed process (never raises on failure)."""

    def run(playbook_text, *args, inventory=None, extra_env=None, json_output=False):
        playbook = tmp_path / "playbook.yml"
        playbook.write_text(playbook_text)
        if inventory is None:
            inventory = tmp_path / "localhost.ini"
            inventory.write_text(
                f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            )
        env = dict(ansible_env, **(extra_env or {}))
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        completed = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(playbook), *args],
            cwd=ROOT,
            env=env,
            text=True,
            capture_output=True,
            check=False,
        )
        if json_output:
            completed.json = json.loads(completed.stdout)
        return completed

    return run
