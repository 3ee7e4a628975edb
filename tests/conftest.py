"""Shared pytest fixtures: the collection on sys.path, and the lab's real peers.

Lab fixtures are session-scoped. Each brings its component up through `hack/lab up`
(the same entry point a person uses), returns the lab env file as a dict, and takes the
component down at the end of the session only if this session started it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "hack" / "lab"
LAB_DIR = Path(os.environ.get("FLYWHEEL_LAB_DIR", ROOT / ".lab"))

# Importing `ansible_collections.glorious.flywheel...` needs the checkout exposed as a
# collection; hack/lib/venv.sh makes that link.
_collections = LAB_DIR / "collections"
if str(_collections) not in sys.path:
    sys.path.insert(0, str(_collections))


def lab(*args, check=True):
    """Runs hack/lab with ARGS and returns the completed process."""
    return subprocess.run(
        [str(LAB), *args], cwd=ROOT, check=check, text=True, capture_output=True
    )


def lab_env():
    """The lab env file as a dict (what `hack/lab env` prints)."""
    out = lab("env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


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

    def run(playbook_text, *args, inventory=None, extra_env=None):
        playbook = tmp_path / "playbook.yml"
        playbook.write_text(playbook_text)
        if inventory is None:
            inventory = tmp_path / "localhost.ini"
            inventory.write_text(
                f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            )
        env = dict(ansible_env, **(extra_env or {}))
        return subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(playbook), *args],
            cwd=ROOT,
            env=env,
            text=True,
            capture_output=True,
        )

    return run
