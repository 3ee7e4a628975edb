"""Fixtures of the dashboard tests: a namespace of the lab's Kubernetes with a labelled
runner pool, the history/drift ConfigMaps the callback plugin would write, the app, and
a real uvicorn on loopback.

One namespace serves the whole directory (session scope): creating a Deployment and
waiting for kwok to make it Ready is the slow part.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import uvicorn
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from ansible_collections.glorious.flywheel.tests.dashboard.support import (
    DEPLOYMENT,
    DRIFT,
    POOL,
    POOL_LABEL,
    RUNS,
    add_user,
    config_map,
    free_port,
    make_settings,
    wait_ready,
)
from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab

# pylint: disable=wrong-import-order
from flywheel_dashboard.app import create_app  # noqa: E402
from flywheel_dashboard.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def kube(kube_lab):
    api = kube_config.new_client_from_config(config_file=kube_lab["KUBECONFIG"])
    return {
        "kubeconfig": kube_lab["KUBECONFIG"],
        "core": kube_client.CoreV1Api(api),
        "apps": kube_client.AppsV1Api(api),
        "batch": kube_client.BatchV1Api(api),
    }


@pytest.fixture(scope="session")
def lab_namespace(kube):
    """A namespace holding pool dash-docker (2 ready replicas) and the ConfigMaps."""
    core, apps = kube["core"], kube["apps"]
    name = f"dashboard-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        kube_client.V1Namespace(metadata=kube_client.V1ObjectMeta(name=name))
    )
    labels = {"app": DEPLOYMENT, POOL_LABEL: POOL}
    apps.create_namespaced_deployment(
        name,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": DEPLOYMENT}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {"name": "runner", "image": "registry.invalid/r:1"}
                        ]
                    },
                },
            },
        },
    )
    history = "\n".join(json.dumps(run) for run in RUNS) + "\nnot a run record\n"
    core.create_namespaced_config_map(
        name, config_map("flywheel-history", {"history.jsonl": history})
    )
    core.create_namespaced_config_map(
        name,
        config_map(
            "flywheel-drift",
            {
                "drift.json": json.dumps(DRIFT),
                "summary.txt": "2 tasks drifted: dash-docker replicas",
            },
        ),
    )
    wait_ready(apps, name, 2)
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def dashboard(kube, lab_namespace, tmp_path_factory):
    """The app (in-process), its store, and signed sessions of a viewer and an operator."""
    settings = make_settings(kube, lab_namespace, tmp_path_factory.mktemp("dash"))
    store = Store(settings.db)
    app = create_app(settings, store=store)
    sessions = {
        role: {"uid": add_user(store, f"{role}-1", role), "csrf": uuid.uuid4().hex}
        for role in ("viewer", "operator")
    }
    return {"app": app, "settings": settings, "store": store, "sessions": sessions}


@pytest.fixture(scope="session")
def live_server(kube, lab_namespace, tmp_path_factory):
    """uvicorn on loopback, origin http://localhost:<port> (WebAuthn wants a host name)."""
    port = free_port()
    # The pool's GitLab runner, online at a GitLab double: the pages show it at its forge.
    gitlab = GitLab()
    gitlab.start()
    gitlab.add_runner(f"{POOL}-gitlab", status="online")
    forge_check = {
        "pool": POOL,
        "name": f"{POOL}-gitlab",
        "forge": {
            "type": "gitlab",
            "url": gitlab.url,
            "scope": "group",
            "target": "42",
        },
        "token": gitlab.user_token,
    }
    settings = make_settings(
        kube,
        lab_namespace,
        tmp_path_factory.mktemp("live"),
        origin=f"http://localhost:{port}",
        rp_id="localhost",
        forge_runners=(forge_check,),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    yield {"url": f"http://localhost:{port}", "settings": settings, "gitlab": gitlab}
    server.should_exit = True
    thread.join(10)
    gitlab.stop()
