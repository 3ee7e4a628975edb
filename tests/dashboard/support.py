"""Constants and helpers of the dashboard tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import json
import socket
import sys
import time
import uuid

import yaml
from itsdangerous import TimestampSigner

from ansible_collections.glorious.flywheel.tests.support import ROOT

# The dashboard is an application beside the collection, imported from its source tree.
if str(ROOT / "dashboard") not in sys.path:
    sys.path.insert(0, str(ROOT / "dashboard"))

# pylint: disable=wrong-import-position
from flywheel_dashboard.settings import Settings  # noqa: E402

# pylint: enable=wrong-import-position
POOL = "dash-docker"
DEPLOYMENT = "dash-runner"
POOL_LABEL = "glorious.flywheel/pool"
SESSION_KEY = "dashboard-test-session-key-" + uuid.uuid4().hex
ADMIN_TOKEN = "dashboard-test-admin-token-" + uuid.uuid4().hex

# As plugins/plugin_utils/_run_report.py (Report.record) writes them.
RUNS = [
    {
        "run_id": "r1",
        "playbook": "bootstrap",
        "cluster": "lab",
        "started_at": "2026-11-20T10:00:00Z",
        "finished_at": "2026-11-20T10:05:00Z",
        "duration_s": 300.0,
        "ok": True,
        "changed": 40,
        "failed": 0,
        "failures": [],
        "drift": True,
        "changes": [],
        "cache": {"pushed": 12, "deduplicated": 30, "already_present": 4},
        "pool": None,
    },
    {
        "run_id": "r2",
        "playbook": "redeploy",
        "cluster": "lab",
        "started_at": "2026-11-21T10:00:00Z",
        "finished_at": "2026-11-21T10:02:05Z",
        "duration_s": 125.0,
        "ok": False,
        "changed": 3,
        "failed": 1,
        "failures": [
            {
                "host": "lab-api",
                "task": "gitlab_runner : Deploy the release",
                "msg": "timed out",
            }
        ],
        "drift": True,
        "changes": [],
        "cache": None,
        "pool": POOL,
    },
]
DRIFT = dict(
    RUNS[1],
    playbook="drift",
    changes=[
        {
            "host": "lab-api",
            "task": "runner_namespaces : Apply the quota",
            "kind": "ResourceQuota",
            "namespace": "flywheel-runners-dash",
            "name": "runner-quota",
        }
    ],
)
RECOVER_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "ignored"},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "recover", "image": "registry.invalid/flywheel-runner:1"}
                ],
            }
        }
    },
}


def config_map(name, data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
    }


def wait_ready(apps, namespace, replicas, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = apps.read_namespaced_deployment(DEPLOYMENT, namespace)
        if (
            found.spec.replicas == replicas
            and (found.status.ready_replicas or 0) == replicas
        ):
            return found
        time.sleep(0.5)
    raise AssertionError(f"{DEPLOYMENT} did not reach {replicas} ready replicas")


def put_recover_template(kube, namespace):
    kube["core"].create_namespaced_config_map(
        namespace,
        config_map(
            "flywheel-dashboard-recover", {"job.yaml": yaml.safe_dump(RECOVER_JOB)}
        ),
    )


def make_settings(kube, namespace, tmp_path, **overrides):
    values = {
        "session_key": SESSION_KEY,
        "admin_token": ADMIN_TOKEN,
        "namespace": namespace,
        "pool_namespaces": (namespace,),
        "kubeconfig": kube["kubeconfig"],
        "db": f"sqlite:///{tmp_path}/dashboard.db",
        "refresh_s": 1.0,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def session_cookie(session, key=SESSION_KEY):
    """A session cookie as Starlette's SessionMiddleware signs it (itsdangerous)."""
    payload = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(key).sign(payload).decode()


def add_user(store, name, role):
    user_id = uuid.uuid4().hex
    store.add_user(user_id, name, role, f"cred-{user_id}", b"not-a-key", 0)
    return user_id


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
