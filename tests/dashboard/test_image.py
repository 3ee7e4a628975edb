"""The dashboard image (dashboard/Containerfile, built by hack/dashboard-image) run by
podman as the role's Deployment runs it: a non-root user, a read-only root filesystem,
writable /tmp and data volume only. Checks that it serves, that flywheel_health's
dashboard probe accepts it, and that it stops on the stop signal it declares.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request

import pytest

from ansible_collections.glorious.flywheel.plugins.modules.flywheel_health import (
    main as flywheel_health,
)
from ansible_collections.glorious.flywheel.tests.dashboard.support import free_port
from ansible_collections.glorious.flywheel.tests.inprocess import run_module
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab


def podman(*args, check=True):
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check
    )


@pytest.fixture(scope="module")
def image():
    built = subprocess.run(
        [str(ROOT / "hack" / "dashboard-image")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def container(image, kube_lab):
    name = f"flywheel-dashboard-test-{secrets.token_hex(3)}"
    port = free_port()
    podman(
        "run",
        "--detach",
        "--name",
        name,
        # The lab's API server listens on this machine's loopback.
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        # Owned by the image user, as fsGroup makes the claim writable under Kubernetes.
        "/var/lib/flywheel-dashboard:U",
        "--env",
        f"FLYWHEEL_DASHBOARD_LISTEN=127.0.0.1:{port}",
        "--env",
        f"FLYWHEEL_DASHBOARD_SESSION_KEY={secrets.token_hex(32)}",
        "--env",
        "KUBECONFIG=/kube/config",
        "--volume",
        f"{kube_lab['KUBECONFIG']}:/kube/config:ro",
        image,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(60):
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield {"name": name, "url": url}
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_the_image_serves_as_a_non_root_user_on_a_read_only_root(container, image):
    with urllib.request.urlopen(container["url"] + "/api/health", timeout=5) as answer:
        body = json.loads(answer.read())
    galaxy = (ROOT / "galaxy.yml").read_text()
    assert body == {"status": "ok", "version": galaxy.split("version: ")[1].split()[0]}
    with urllib.request.urlopen(container["url"] + "/login", timeout=5) as answer:
        assert answer.status == 200
        assert b"passkey" in answer.read().lower()
    # The process runs as the image's numeric user, which runAsNonRoot can check.
    users = podman("top", container["name"], "user", "huser").stdout.split()
    assert "10001" in users and "root" not in users, users
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    # Written nowhere but the volumes: the root filesystem refuses a write.
    denied = podman("exec", container["name"], "touch", "/opt/flywheel/x", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr

    probe = run_module(
        flywheel_health, {"dashboard_url": container["url"], "retries": 0}
    )
    assert probe["components"]["dashboard"]["status"] == "healthy", probe


def test_the_stop_signal_shuts_it_down_gracefully(container):
    podman("stop", "--time", "20", container["name"])
    logs = podman("logs", container["name"]).stderr
    assert "Finished server process" in logs, logs[-2000:]
    state = json.loads(podman("inspect", container["name"]).stdout)[0]["State"]
    assert state["ExitCode"] == 0, state
