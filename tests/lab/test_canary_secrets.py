"""Canary secrets: bootstrap on the lab with a recognisable fake value in every secret
variable the roles take (argument_specs with no_log, and the tokens they read from the
environment), at -vvv through ansible-runner, then every byte Ansible wrote - its stdout,
its log file, the runner's artifacts and job events - is searched for each canary, raw and
base64-encoded at every alignment. None may appear.

The run enrols one GitHub organisation (a GitHub App, its installation id given, so ARC
needs no API call) and one GitLab group against the GitLab double, whose runner tokens
(glrt-, minted by the double) are searched for too. Everything lands in namespaces of this
test (the platform and cache namespaces are renamed through the roles' variables) and is
deleted afterwards (the dashboard's too); the lab has no volume provisioner, so the test pre-binds a
PersistentVolume of its own to each claim (the lab's shared volumes stay free). Preflight handles no secret and is skipped; verify probes the shared
namespaces, and the tailnet phase converges the lab's shared Headscale, so neither runs here.
"""

import base64
import json
import uuid

import ansible_runner
import pytest

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.lab.kube import kubectl
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

CHARTS = ROOT / "tests" / "charts"
STORAGE = "20Gi"


def canary(name):
    return f"CANARY-{name}-{uuid.uuid4().hex}"


def encodings(secret):
    """SECRET as it would show raw, or inside a base64 blob at any of the three byte
    alignments (the base64 characters that depend on the secret's bytes alone)."""
    data = secret.encode()
    forms = {data}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        forms.add(encoded[(4 if offset else 0) : -4])
    return forms


@pytest.fixture
def names(kube_lab):
    suffix = uuid.uuid4().hex[:6]
    names = {
        "suffix": suffix,
        "system": f"canary-sys-{suffix}",
        "cache": f"canary-cache-{suffix}",
        "arc": f"canary-arc-{suffix}",
        "tenant": f"cnry-{suffix}",
    }
    claims = {
        "attic": (names["cache"], "attic-data"),
        "bazel": (names["cache"], f"bazel-cache-{names['tenant']}-data"),
        "dashboard": (names["system"], "flywheel-dashboard-data"),
    }
    for volume, (namespace, claim) in claims.items():
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": f"canary-{suffix}-{volume}",
                "labels": {"flywheel-test": f"canary-{suffix}"},
            },
            "spec": {
                "capacity": {"storage": STORAGE},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "hostPath": {"path": f"/tmp/canary-{suffix}-{volume}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(pv))
    yield names
    for namespace in (
        names["system"],
        names["cache"],
        names["arc"],
        f"flywheel-runners-{names['tenant']}",
    ):
        kubectl(kube_lab, "delete", "namespace", namespace, "--wait=true", check=False)
    kubectl(
        kube_lab, "delete", "pv", "-l", f"flywheel-test=canary-{suffix}", check=False
    )


def test_no_secret_reaches_any_output(
    names, ansible_env, kube_lab, tailnet_lab, hosts_lab, serve_double, tmp_path
):
    gitlab = serve_double(GitLab)
    gitlab.user_token = canary("gitlab")
    secrets = {
        "gitlab_env": canary("gitlab-env"),
        "forgejo": canary("forgejo"),
        "forgejo_env": canary("forgejo-env"),
        "github_key": canary("github-app-key"),
        "github_pat": canary("github-pat"),
        "bazel": canary("bazel"),
        "attic_jwt": canary("attic-jwt"),
        "rke2": canary("rke2"),
        "tailscale": canary("tailscale"),
        "headscale": canary("headscale"),
        "s3": canary("s3"),
        "dashboard_session": canary("dashboard-session"),
        "dashboard_admin": canary("dashboard-admin"),
    }
    secrets["gitlab"] = gitlab.user_token
    suffix = names["suffix"]
    extravars = {
        "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
        "flywheel_enrollments": [
            {
                "name": f"cnry-{suffix}-gh",
                "forge": {"type": "github", "scope": "org", "target": "acme"},
                "tenant": {"name": names["tenant"]},
                "pool": "docker",
            },
            {
                "name": f"cnry-{suffix}-gl",
                "forge": {
                    "type": "gitlab",
                    "scope": "group",
                    "target": "42",
                    "url": gitlab.url,
                },
                "tenant": {"name": names["tenant"]},
                "pool": "nix",
            },
        ],
        "cluster_baseline_namespaces": [
            {"name": names["system"], "pod_security": "restricted"},
            {"name": names["cache"], "pod_security": "restricted"},
        ],
        "attic_namespace": names["cache"],
        "attic_data_volume_size": STORAGE,
        "attic_jwt_hs256_secret_base64": base64.b64encode(
            secrets["attic_jwt"].encode()
        ).decode(),
        "bazel_remote_namespace": names["cache"],
        "bazel_remote_max_size": 10,
        "bazel_remote_storage_size": STORAGE,
        "bazel_remote_wait_timeout": 120,
        "bazel_remote_users": [{"name": "ci", "password": secrets["bazel"]}],
        "bazel_remote_s3_access_key_id": "",
        "bazel_remote_s3_secret_access_key": secrets["s3"],
        "runner_namespaces_cache_namespace": names["cache"],
        "arc_helm_binary": kube_lab["HELM_BIN"],
        "arc_controller_chart_ref": str(CHARTS / "gha-runner-scale-set-controller"),
        "arc_scale_set_chart_ref": str(CHARTS / "gha-runner-scale-set"),
        "arc_controller_namespace": names["arc"],
        "arc_controller_service_account": f"cnry-{suffix}-controller",
        "arc_controller_wait_timeout": "120s",
        "arc_github_app_id": "424242",
        "arc_github_app_installation_id": "777",
        "arc_github_app_private_key": "-----BEGIN RSA PRIVATE KEY-----\n"
        f"{secrets['github_key']}\n-----END RSA PRIVATE KEY-----\n",
        "arc_github_token": secrets["github_pat"],
        "gitlab_runner_helm_binary": kube_lab["HELM_BIN"],
        "gitlab_runner_chart_ref": str(CHARTS / "gitlab-runner"),
        "gitlab_runner_wait_timeout": "120s",
        "gitlab_runner_api_token": secrets["gitlab"],
        "dashboard_namespace": names["system"],
        "dashboard_data_volume_size": STORAGE,
        "dashboard_rollout_timeout": 120,
        "dashboard_session_key": secrets["dashboard_session"],
        "dashboard_admin_token": secrets["dashboard_admin"],
        "forgejo_runner_api_token": secrets["forgejo"],
        "rke2_token": secrets["rke2"],
        "tailscale_auth_key": secrets["tailscale"],
        "headscale_api_key": secrets["headscale"],
    }
    log_path = tmp_path / "ansible.log"
    envvars = {
        **ansible_env,
        **kube_lab,
        **tailnet_lab,
        **hosts_lab,
        "GITLAB_TOKEN": secrets["gitlab_env"],
        "FORGEJO_TOKEN": secrets["forgejo_env"],
        "ANSIBLE_LOG_PATH": str(log_path),
    }
    data_dir = tmp_path / "runner"
    data_dir.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(data_dir),
        playbook=str(ROOT / "playbooks" / "bootstrap.yml"),
        inventory=str(ROOT / "inventories" / "lab"),
        envvars=envvars,
        extravars=extravars,
        tags="cluster,cache,runners,dashboard",
        skip_tags="preflight",
        cmdline="-vvv",
        ident="canary",
        quiet=True,
    )
    stdout = result.stdout.read()
    assert (result.status, result.rc) == ("successful", 0), stdout[-5000:]
    # The run did use the secrets: the GitLab double took the canary token and minted a
    # runner token.
    assert gitlab.tokens(), "no GitLab runner was registered"
    assert (
        "-vvv"
        in json.loads((data_dir / "artifacts" / "canary" / "command").read_text())[
            "command"
        ]
    )

    # Every byte Ansible wrote. The runner's env/ and inventory are the inputs, not output,
    # and so is artifacts/<ident>/command: ansible-runner records there the environment it
    # was handed, so the canaries given as environment variables (and only those) show in it.
    command = data_dir / "artifacts" / "canary" / "command"
    given_by_env = {"gitlab_env", "forgejo_env"}
    in_command = {n for n, v in secrets.items() if v.encode() in command.read_bytes()}
    assert in_command == given_by_env, in_command
    outputs = {"stdout": stdout.encode(), "log": log_path.read_bytes()}
    for path in (data_dir / "artifacts").rglob("*"):
        if path.is_file() and path != command:
            outputs[str(path.relative_to(data_dir))] = path.read_bytes()
    assert len(outputs) > 10 and len(outputs["log"]) > 10_000, sorted(outputs)

    searched = {**secrets, **{f"glrt-{n}": t for n, t in enumerate(gitlab.tokens())}}
    leaks = [
        f"{name} in {where}: ...{data[max(0, data.find(form) - 300) : data.find(form)]!r}"
        for name, secret in searched.items()
        for form in encodings(secret)
        for where, data in outputs.items()
        if form in data
    ]
    assert not leaks, leaks
