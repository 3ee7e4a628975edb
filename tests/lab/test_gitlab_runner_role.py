"""roles/gitlab_runner against the lab's real Kubernetes control plane and Helm, and the
GitLab double.

The upstream gitlab-runner chart (https://charts.gitlab.io) cannot be fetched here, so the
role is pointed at the stand-in under tests/charts/gitlab-runner: it keeps the upstream
chart name and version, records the values each release receives in a ConfigMap
`<release>-recorded-values` (read back here, config.toml included), and renders a manager
Deployment from podLabels, priorityClassName, strategy and runners.secret whose rollout
the role waits for under kwok.

Each test has its own tenant namespaces (made here: runner_namespaces' job, tested on its
own) and its own manager PriorityClass, so no other test's clean-up can pull them away;
all of it is deleted afterwards.
"""

import json
import re
import uuid

import pytest
import tomllib

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.lab.kube import (
    get,
    kubectl,
    recorded,
    releases,
    secret_data,
)
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

RECAP = re.compile(r"^localhost\s+: ok=\d+\s+changed=(?P<changed>\d+)", re.MULTILINE)
CHART = ROOT / "tests" / "charts" / "gitlab-runner"
ATTIC_URL = "http://attic.flywheel-cache.svc"
BAZEL_URL = "grpc://bazel-cache-{tenant}.flywheel-cache.svc:9092"


@pytest.fixture
def lab_names(kube_lab):
    """Fresh tenant namespaces and manager PriorityClass; deleted afterwards."""
    suffix = uuid.uuid4().hex[:6]
    names = {
        "suffix": suffix,
        "tenant_a": f"glrt-a-{suffix}",
        "tenant_b": f"glrt-b-{suffix}",
        "priority_class": f"glrt-{suffix}-manager",
    }
    names["ns_a"] = f"flywheel-runners-{names['tenant_a']}"
    names["ns_b"] = f"flywheel-runners-{names['tenant_b']}"
    yield names
    for namespace in (names["ns_a"], names["ns_b"]):
        kubectl(kube_lab, "delete", "namespace", namespace, "--wait=true", check=False)
    kubectl(kube_lab, "delete", "priorityclass", names["priority_class"], check=False)


def make_tenant_namespaces(kube_lab, names):
    for namespace in (names["ns_a"], names["ns_b"]):
        kubectl(kube_lab, "create", "namespace", namespace)
    kubectl(
        kube_lab, "create", "priorityclass", names["priority_class"], "--value=1000"
    )


def enrollments(names, gitlab):
    """A group runner (nix), a project runner (gpu), an instance runner (kvm through a
    host path, so privileged) and a GitHub enrollment the role must leave alone."""
    s = names["suffix"]
    return [
        {
            "name": f"glrt-{s}-group",
            "forge": {
                "type": "gitlab",
                "scope": "group",
                "target": "42",
                "url": gitlab.url,
            },
            "tenant": {"name": names["tenant_a"]},
            "pool": "nix",
        },
        {
            "name": f"glrt-{s}-project",
            "forge": {
                "type": "gitlab",
                "scope": "project",
                "target": 7,
                "url": gitlab.url,
            },
            "tenant": {"name": names["tenant_b"]},
            "pool": {"name": "gpu", "concurrency": 3},
        },
        {
            "name": f"glrt-{s}-instance",
            "forge": {"type": "gitlab", "scope": "instance", "url": gitlab.url},
            "tenant": {"name": names["tenant_a"]},
            "pool": {"name": "kvm", "kvm_access": "host-path"},
        },
        {
            "name": f"glrt-{s}-github",
            "forge": {"type": "github", "scope": "org", "target": "acme"},
            "tenant": {"name": names["tenant_b"]},
            "pool": "docker",
        },
    ]


@pytest.fixture
def role(run_playbook, kube_lab):
    """Runs the gitlab_runner role; returns (completed process, changed count)."""

    def run(names, gitlab, *args, **role_vars):
        role_vars = {
            "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
            "gitlab_runner_helm_binary": kube_lab["HELM_BIN"],
            "gitlab_runner_chart_ref": str(CHART),
            "gitlab_runner_wait_timeout": "120s",
            "gitlab_runner_manager_priority_class": names["priority_class"],
            "gitlab_runner_attic_url": ATTIC_URL,
            "gitlab_runner_bazel_url": BAZEL_URL,
            "gitlab_runner_api_token": gitlab.user_token,
            # Instance runners need an administrator.
            "gitlab_runner_api_tokens": {
                f"glrt-{names['suffix']}-instance": gitlab.admin_token
            },
            "gitlab_runner_enrollments": enrollments(names, gitlab),
            **role_vars,
        }
        playbook = f"""
- hosts: localhost
  gather_facts: false
  roles:
    - role: glorious.flywheel.gitlab_runner
      vars: {json.dumps(role_vars)}
"""
        completed = run_playbook(playbook, *args)
        match = RECAP.search(completed.stdout)
        return completed, int(match["changed"]) if match else None

    return run


def runner_by_description(gitlab, description):
    (runner,) = [r for r in gitlab.runners.values() if r.description == description]
    return runner


def test_converges_idempotent_and_a_lost_token_is_replaced(
    role, lab_names, kube_lab, serve_double
):
    gitlab = serve_double(GitLab)
    make_tenant_namespaces(kube_lab, lab_names)
    s = lab_names["suffix"]
    group, project, instance = (
        f"glrt-{s}-{k}" for k in ("group", "project", "instance")
    )

    first, _changed = role(lab_names, gitlab)
    assert first.returncode == 0, first.stdout + first.stderr
    for secret in (gitlab.user_token, gitlab.admin_token, *gitlab.tokens()):
        assert secret not in first.stdout + first.stderr

    # GitLab: one runner per GitLab enrollment, in its scope, with the pool's tags.
    assert sorted(r.description for r in gitlab.runners.values()) == sorted(
        (group, project, instance)
    )
    assert (
        runner_by_description(gitlab, group).runner_type,
        runner_by_description(gitlab, group).group_id,
    ) == ("group_type", 42)
    assert runner_by_description(gitlab, project).project_id == 7
    assert runner_by_description(gitlab, instance).runner_type == "instance_type"
    assert runner_by_description(gitlab, group).tag_list == [
        "nix",
        "flakes",
        "linux",
        "amd64",
    ]
    assert all(r.run_untagged is False for r in gitlab.runners.values())

    # The Secret holds exactly the token GitLab issued, plus the chart's empty key.
    for name, namespace in ((group, "ns_a"), (project, "ns_b"), (instance, "ns_a")):
        data = secret_data(kube_lab, lab_names[namespace], f"{name}-runner-token")
        assert data == {
            "runner-token": runner_by_description(gitlab, name).token,
            "runner-registration-token": "",
        }
    assert releases(kube_lab, lab_names["ns_a"]) == {group: 1, instance: 1}
    assert releases(kube_lab, lab_names["ns_b"]) == {project: 1}

    values = recorded(kube_lab, lab_names["ns_a"], group)
    assert values["gitlabUrl"] == gitlab.url
    assert values["concurrent"] == 6
    assert values["runners"]["secret"] == f"{group}-runner-token"
    assert values["rbac"] == {"create": True}
    assert values["unregisterRunners"] is False
    assert values["priorityClassName"] == lab_names["priority_class"]
    assert values["podLabels"]["app.kubernetes.io/component"] == "runner-manager"
    assert values["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    config = tomllib.loads(values["runners"]["config"])
    (runner,) = config["runners"]
    kubernetes = runner["kubernetes"]
    assert kubernetes["namespace"] == lab_names["ns_a"]
    assert kubernetes["image"] == "docker.io/nixos/nix:2.24.9"
    assert (kubernetes["cpu_request"], kubernetes["cpu_limit"]) == ("500m", "4")
    assert (kubernetes["memory_request"], kubernetes["memory_limit"]) == ("1Gi", "8Gi")
    assert kubernetes["privileged"] is False
    assert kubernetes["priority_class_name"] == "flywheel-runner-job"
    environment = dict(e.split("=", 1) for e in runner["environment"])
    assert environment["ATTIC_CACHE"] == f"{lab_names['tenant_a']}-main"
    assert environment["BAZEL_REMOTE_CACHE"] == BAZEL_URL.format(
        tenant=lab_names["tenant_a"]
    )
    assert "fallback = true" in environment["NIX_CONFIG"].splitlines()
    assert "pod_spec" not in kubernetes

    gpu = tomllib.loads(
        recorded(kube_lab, lab_names["ns_b"], project)["runners"]["config"]
    )
    gpu_kubernetes = gpu["runners"][0]["kubernetes"]
    assert gpu_kubernetes["runtime_class_name"] == "nvidia"
    assert gpu_kubernetes["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu_kubernetes["node_tolerations"] == {"nvidia.com/gpu": "NoSchedule"}
    (patch,) = gpu_kubernetes["pod_spec"]
    assert patch["patch_type"] == "strategic"
    assert json.loads(patch["patch"])["containers"] == [
        {
            "name": "build",
            "resources": {
                "requests": {"nvidia.com/gpu": "1"},
                "limits": {"nvidia.com/gpu": "1"},
            },
        }
    ]
    assert gpu["runners"][0]["feature_flags"]["FF_USE_ADVANCED_POD_SPEC_CONFIGURATION"]
    assert "environment" not in gpu["runners"][0]  # the gpu pool uses no cache
    assert recorded(kube_lab, lab_names["ns_b"], project)["concurrent"] == 3

    kvm = tomllib.loads(
        recorded(kube_lab, lab_names["ns_a"], instance)["runners"]["config"]
    )
    kvm_kubernetes = kvm["runners"][0]["kubernetes"]
    assert kvm_kubernetes["privileged"] is True
    assert kvm_kubernetes["volumes"]["host_path"] == [
        {"name": "host-dev-kvm", "mount_path": "/dev/kvm", "host_path": "/dev/kvm"}
    ]

    # The role waited for the manager's rollout (Helm counts ready pods of the new
    # ReplicaSet; the Deployment's own status may trail a moment behind).
    deployment = get(
        kube_lab, lab_names["ns_a"], "deployment", f"{group}-gitlab-runner"
    )
    replica_sets = json.loads(
        kubectl(
            kube_lab,
            "-n",
            lab_names["ns_a"],
            "get",
            "replicaset",
            "-o",
            "json",
            "-l",
            f"app={group}-gitlab-runner",
        ).stdout
    )["items"]
    assert [rs["status"].get("readyReplicas") for rs in replica_sets] == [1]
    template = deployment["spec"]["template"]
    assert (
        template["metadata"]["labels"]["app.kubernetes.io/component"]
        == "runner-manager"
    )
    assert template["spec"]["priorityClassName"] == lab_names["priority_class"]

    writes, tokens = gitlab.writes(), {r.id: r.token for r in gitlab.runners.values()}
    secret_version = get(
        kube_lab, lab_names["ns_a"], "secret", f"{group}-runner-token"
    )["metadata"]["resourceVersion"]

    second, changed = role(lab_names, gitlab)
    assert second.returncode == 0, second.stdout + second.stderr
    assert changed == 0, second.stdout
    assert gitlab.writes() == writes  # no runner created, no token reset
    assert {r.id: r.token for r in gitlab.runners.values()} == tokens
    assert releases(kube_lab, lab_names["ns_a"]) == {group: 1, instance: 1}
    after = get(kube_lab, lab_names["ns_a"], "secret", f"{group}-runner-token")
    assert after["metadata"]["resourceVersion"] == secret_version

    # A Secret that lost its token gets a fresh one: a reset, not a second runner.
    kubectl(
        kube_lab, "-n", lab_names["ns_b"], "delete", "secret", f"{project}-runner-token"
    )
    third, _changed = role(lab_names, gitlab)
    assert third.returncode == 0, third.stdout + third.stderr
    assert len(gitlab.runners) == 3
    project_runner = runner_by_description(gitlab, project)
    assert project_runner.token != tokens[project_runner.id]
    assert secret_data(kube_lab, lab_names["ns_b"], f"{project}-runner-token") == {
        "runner-token": project_runner.token,
        "runner-registration-token": "",
    }
    new_writes = [
        (r.method, r.path)
        for r in gitlab.requests
        if r.method in ("POST", "PUT", "DELETE")
    ][writes:]
    assert new_writes == [
        ("POST", f"/api/v4/runners/{project_runner.id}/reset_authentication_token")
    ]


def test_check_mode_creates_nothing(role, lab_names, kube_lab, serve_double):
    gitlab = serve_double(GitLab)
    make_tenant_namespaces(kube_lab, lab_names)
    s = lab_names["suffix"]

    completed, changed = role(lab_names, gitlab, "--check")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert changed > 0  # it reports what a real run would do
    assert gitlab.writes() == 0
    assert gitlab.runners == {}
    assert releases(kube_lab, lab_names["ns_a"]) == {}
    assert releases(kube_lab, lab_names["ns_b"]) == {}
    for name, namespace in (
        ("group", "ns_a"),
        ("project", "ns_b"),
        ("instance", "ns_a"),
    ):
        assert (
            secret_data(kube_lab, lab_names[namespace], f"glrt-{s}-{name}-runner-token")
            is None
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"forge": {"type": "gitlab", "scope": "group", "target": "acme/platform"}},
            "field forge.target: GitLab creates group runners (POST /api/v4/user/runners) "
            'for the numeric group id, got the path "acme/platform"',
        ),
        (
            {"forge": {"type": "gitlab", "scope": "project", "target": "widgets"}},
            "field forge.target: a GitLab project path includes its namespace",
        ),
        (
            {"forge": {"type": "gitlab", "scope": "repo", "target": "acme/widgets"}},
            "field forge.scope: 'repo' is not a gitlab scope",
        ),
        (
            {"token": ""},
            "no GitLab API token; set gitlab_runner_api_token",
        ),
    ],
    ids=["group-path", "project-without-namespace", "repo-scope", "no-token"],
)
def test_a_bad_enrollment_fails_before_any_api_call(
    role, lab_names, kube_lab, serve_double, change, message
):
    gitlab = serve_double(GitLab)
    make_tenant_namespaces(kube_lab, lab_names)
    good, bad = enrollments(lab_names, gitlab)[:2]
    token = change.pop("token", gitlab.user_token)
    if "forge" in change:
        change["forge"]["url"] = gitlab.url
    bad.update(change)

    completed, _changed = role(
        lab_names,
        gitlab,
        gitlab_runner_enrollments=[good, bad],
        gitlab_runner_api_token=token,
    )
    assert completed.returncode != 0
    assert message in completed.stdout, completed.stdout
    assert bad["name"] in completed.stdout
    assert gitlab.requests == []
    assert releases(kube_lab, lab_names["ns_a"]) == {}
    assert (
        secret_data(kube_lab, lab_names["ns_a"], f"{good['name']}-runner-token") is None
    )
