"""roles/arc against the lab's real Kubernetes control plane and Helm.

The upstream ARC charts (OCI on ghcr.io) cannot be fetched here, so the role is pointed at
the stand-ins under tests/charts/: they keep the upstream chart names and version and record
the values each release receives in a ConfigMap `<release>-recorded-values`, which these
tests read back. Each test has its own tenant namespaces and controller namespace; the
tenant namespaces are made here (runner_namespaces' job, tested on its own) and everything
is deleted afterwards.
"""

import json
import re
import uuid

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.doubles.github import GitHub
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
CHARTS = ROOT / "tests" / "charts"
# Not a usable key: nothing here signs with it when the installation id is given.
FAKE_KEY = "-----BEGIN RSA PRIVATE KEY-----\narc-test\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def lab_names(kube_lab):
    """Fresh tenant and controller namespace names; deletes whatever they hold afterwards."""
    suffix = uuid.uuid4().hex[:6]
    names = {
        "suffix": suffix,
        "tenant_a": f"arct-a-{suffix}",
        "tenant_b": f"arct-b-{suffix}",
        "controller": f"arct-sys-{suffix}",
    }
    namespaces = [
        f"flywheel-runners-{names['tenant_a']}",
        f"flywheel-runners-{names['tenant_b']}",
        names["controller"],
    ]
    names["ns_a"], names["ns_b"] = namespaces[:2]
    yield names
    for namespace in namespaces:
        kubectl(kube_lab, "delete", "namespace", namespace, "--wait=true", check=False)


def make_tenant_namespaces(kube_lab, names):
    for namespace in (names["ns_a"], names["ns_b"]):
        kubectl(kube_lab, "create", "namespace", namespace)


def enrollments(names, max_a=5):
    return [
        {
            "name": f"arct-{names['suffix']}-repo",
            "forge": {"type": "github", "scope": "repo", "target": "acme/widgets"},
            "tenant": {"name": names["tenant_a"]},
            "pool": "nix",
            "runners": {"min": 0, "max": max_a},
        },
        {
            "name": f"arct-{names['suffix']}-org",
            "forge": {"type": "github", "scope": "org", "target": "acme"},
            "tenant": {"name": names["tenant_b"]},
            "pool": "docker",
        },
    ]


@pytest.fixture
def role(run_playbook, kube_lab):
    """Runs the arc role with ROLE_VARS; returns the completed process, with `changed`
    set to the play recap's count."""

    def run(names, *args, **role_vars):
        role_vars = {
            "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
            "arc_helm_binary": kube_lab["HELM_BIN"],
            "arc_controller_chart_ref": str(CHARTS / "gha-runner-scale-set-controller"),
            "arc_scale_set_chart_ref": str(CHARTS / "gha-runner-scale-set"),
            "arc_controller_namespace": names["controller"],
            "arc_controller_service_account": f"arct-{names['suffix']}-controller",
            "arc_controller_wait_timeout": "120s",
            "arc_github_app_id": "424242",
            "arc_github_app_private_key": FAKE_KEY,
            "arc_github_app_installation_id": "777",
            "arc_attic_url": "http://attic.arct.test",
            **role_vars,
        }
        playbook = f"""
- hosts: localhost
  gather_facts: false
  roles:
    - role: glorious.flywheel.arc
      vars: {json.dumps(role_vars)}
"""
        completed = run_playbook(playbook, *args)
        match = RECAP.search(completed.stdout)
        completed.changed = int(match["changed"]) if match else None
        return completed

    return run


def test_converges_idempotent_and_a_max_change_touches_one_release(
    role, lab_names, kube_lab
):
    make_tenant_namespaces(kube_lab, lab_names)
    repo, org = (e["name"] for e in enrollments(lab_names))

    first = role(lab_names, arc_enrollments=enrollments(lab_names))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "arc-test" not in first.stdout  # the key never shows

    controller = recorded(kube_lab, lab_names["controller"], "arc")
    assert controller["serviceAccount"] == {
        "create": True,
        "name": f"arct-{lab_names['suffix']}-controller",
    }
    values = recorded(kube_lab, lab_names["ns_a"], repo)
    assert values["githubConfigUrl"] == "https://github.com/acme/widgets"
    assert values["runnerScaleSetName"] == repo
    assert values["githubConfigSecret"] == f"{repo}-github-config"
    assert values["controllerServiceAccount"] == {
        "namespace": lab_names["controller"],
        "name": f"arct-{lab_names['suffix']}-controller",
    }
    # kubernetes mode (nix pool): the runner container is the Actions runner; the pool's
    # resources and cache env go to job pods through the hook template, mounted here.
    spec = values["template"]["spec"]
    assert values["containerMode"]["type"] == "kubernetes"
    assert spec["containers"] == [
        {
            "name": "runner",
            "image": "ghcr.io/actions/actions-runner:2.329.0",
            "command": ["/home/runner/run.sh"],
            "env": [
                {
                    "name": "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
                    "value": "/home/runner/hook-template/job-pod.yaml",
                }
            ],
            "volumeMounts": [
                {
                    "name": "hook-template",
                    "mountPath": "/home/runner/hook-template",
                    "readOnly": True,
                }
            ],
        }
    ]
    assert spec["volumes"] == [
        {"name": "hook-template", "configMap": {"name": f"{repo}-hook-template"}}
    ]
    assert spec["priorityClassName"] == "flywheel-runner-job"
    hook_map = get(kube_lab, lab_names["ns_a"], "configmap", f"{repo}-hook-template")
    assert list(hook_map["data"]) == ["job-pod.yaml"]
    hook = yaml.safe_load(hook_map["data"]["job-pod.yaml"])
    assert hook["metadata"]["labels"]["glorious.flywheel/pool"] == "nix"
    assert hook["spec"]["priorityClassName"] == "flywheel-runner-job"
    (job,) = hook["spec"]["containers"]
    assert job["name"] == "$job" and "image" not in job
    assert job["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }
    job_env = {e["name"]: e["value"] for e in job["env"]}
    assert job_env["ATTIC_SERVER"] == "http://attic.arct.test"
    assert job_env["ATTIC_CACHE"] == f"{lab_names['tenant_a']}-main"
    assert (
        f"extra-substituters = http://attic.arct.test/{lab_names['tenant_a']}-main"
        in job_env["NIX_CONFIG"]
    )
    # docker pool: no cache, so the job pods get the pool's resources and nothing else.
    org_hook = get(kube_lab, lab_names["ns_b"], "configmap", f"{org}-hook-template")
    org_job = yaml.safe_load(org_hook["data"]["job-pod.yaml"])["spec"]["containers"][0]
    assert "env" not in org_job
    assert org_job["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert recorded(kube_lab, lab_names["ns_b"], org)["githubConfigUrl"] == (
        "https://github.com/acme"
    )
    assert secret_data(kube_lab, lab_names["ns_a"], f"{repo}-github-config") == {
        "github_app_id": "424242",
        "github_app_installation_id": "777",
        "github_app_private_key": FAKE_KEY,
    }
    secret_version = get(
        kube_lab, lab_names["ns_a"], "secret", f"{repo}-github-config"
    )["metadata"]["resourceVersion"]

    second = role(lab_names, arc_enrollments=enrollments(lab_names))
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changed == 0, second.stdout

    third = role(lab_names, arc_enrollments=enrollments(lab_names, max_a=9))
    assert third.returncode == 0, third.stdout + third.stderr
    assert third.changed == 1, third.stdout
    assert releases(kube_lab, lab_names["ns_a"]) == {repo: 2}
    assert releases(kube_lab, lab_names["ns_b"]) == {org: 1}
    assert releases(kube_lab, lab_names["controller"]) == {"arc": 1}
    assert recorded(kube_lab, lab_names["ns_a"], repo)["maxRunners"] == 9
    after = get(kube_lab, lab_names["ns_a"], "secret", f"{repo}-github-config")
    assert after["metadata"]["resourceVersion"] == secret_version


def test_check_mode_creates_nothing(role, lab_names, kube_lab):
    make_tenant_namespaces(kube_lab, lab_names)
    repo, org = (e["name"] for e in enrollments(lab_names))

    completed = role(lab_names, "--check", arc_enrollments=enrollments(lab_names))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.changed > 0  # it reports what a real run would do
    assert get(kube_lab, "", "namespace", lab_names["controller"]) is None
    assert releases(kube_lab, lab_names["ns_a"]) == {}
    assert releases(kube_lab, lab_names["ns_b"]) == {}
    assert secret_data(kube_lab, lab_names["ns_a"], f"{repo}-github-config") is None
    assert secret_data(kube_lab, lab_names["ns_b"], f"{org}-github-config") is None


def test_installation_id_found_through_the_github_api(
    role, lab_names, kube_lab, serve_double
):
    github = serve_double(GitHub)
    repo_installation = github.install("repos/acme/widgets")
    org_installation = github.install("orgs/acme")
    make_tenant_namespaces(kube_lab, lab_names)
    repo, org = (e["name"] for e in enrollments(lab_names))

    app = {
        "arc_enrollments": enrollments(lab_names),
        "arc_github_app_id": github.app_id,
        "arc_github_app_private_key": github.private_key,
        "arc_github_app_installation_id": "",
        "arc_github_api_url": github.url,
    }
    completed = role(lab_names, **app)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "PRIVATE KEY" not in completed.stdout
    assert [r.route for r in github.requests] == [
        "repo_installation",
        "access_token",
        "org_installation",
        "access_token",
    ]
    repo_secret = secret_data(kube_lab, lab_names["ns_a"], f"{repo}-github-config")
    org_secret = secret_data(kube_lab, lab_names["ns_b"], f"{org}-github-config")
    assert repo_secret["github_app_installation_id"] == str(repo_installation)
    assert org_secret["github_app_installation_id"] == str(org_installation)
    assert repo_secret["github_app_private_key"] == github.private_key

    # The installations are kept in the Secrets: a second run asks GitHub nothing.
    again = role(lab_names, **app)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.changed == 0, again.stdout
    assert len(github.requests) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"name": "arct-" + "x" * 41},
            "ARC's runnerScaleSetName is at most 45 characters (46 given)",
        ),
        (
            {"runners": {"min": 6, "max": 2}},
            "field runners.min: 6 is more than runners.max (2)",
        ),
        (
            {"credentials": {"arc_github_app_private_key": ""}},
            "forge.auth app needs arc_github_app_id and arc_github_app_private_key",
        ),
        (
            {"forge": {"type": "github", "scope": "enterprise", "target": "acme-corp"}},
            "GitHub Apps cannot register enterprise-level runners; set auth: pat",
        ),
    ],
    ids=["long-name", "min-above-max", "missing-app-key", "app-at-enterprise"],
)
def test_a_bad_enrollment_fails_before_any_object(
    role, lab_names, kube_lab, change, message
):
    make_tenant_namespaces(kube_lab, lab_names)
    good, bad = enrollments(lab_names)
    credentials = change.pop("credentials", {})
    bad.update(change)

    completed = role(lab_names, arc_enrollments=[good, bad], **credentials)
    assert completed.returncode != 0
    assert message in completed.stdout, completed.stdout
    assert get(kube_lab, "", "namespace", lab_names["controller"]) is None
    assert releases(kube_lab, lab_names["ns_a"]) == {}
    assert releases(kube_lab, lab_names["ns_b"]) == {}
    assert (
        secret_data(kube_lab, lab_names["ns_a"], f"{good['name']}-github-config")
        is None
    )
