"""roles/forgejo_runner against the lab's real Kubernetes control plane and two doubles:
a recent Forgejo (runners created through its API, .runner kept in a Secret) and a Gitea
1.24 (a registration token in a Secret; the pod registers itself onto a claim).

The role runs three times on one set of enrollments, shared by the tests below: in check
mode on a fresh cluster state, then for real, then again. kwok runs no container, so what
a restarted pod would do is asserted from the pod template (where .runner comes from).

The tenant namespaces are made here, labelled with the Pod Security level
runner_namespaces gives them (privileged for the tenant of a privileged pool, baseline
for the other), so the API server admits the DinD sidecar only where it must; with their
own manager PriorityClass and PersistentVolume, all deleted afterwards.
"""

import hashlib
import json
import re
import subprocess
import sys
import uuid
from types import SimpleNamespace

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.doubles.forgejo import Forgejo
from ansible_collections.glorious.flywheel.tests.lab.kube import (
    get,
    kubectl,
    secret_data,
)
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

RECAP = re.compile(r"^localhost\s+: ok=\d+\s+changed=(?P<changed>\d+)", re.MULTILINE)
ATTIC_URL = "http://attic.flywheel-cache.svc"
DOCKER_HOST = "tcp://docker.builds.invalid:2375"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ALPINE = "docker.io/library/alpine:3.21"
MANAGED = "app.kubernetes.io/managed-by=glorious.flywheel.forgejo_runner"


def enrollments(names, forgejo, gitea):
    """An organization runner on a privileged docker pool (DinD sidecar), a repository
    runner on the nix pool (external Docker daemon, cache env), a Gitea organization
    runner registering itself, and a GitHub enrollment the role must leave alone."""
    return [
        {
            "name": names.org,
            "forge": {
                "type": "forgejo",
                "scope": "org",
                "target": "acme",
                "url": forgejo.url,
            },
            "tenant": {"name": names.tenant_a},
            "pool": {"name": "docker", "privileged": True},
        },
        {
            "name": names.repo,
            "forge": {
                "type": "forgejo",
                "scope": "repo",
                "target": "acme/widgets",
                "url": forgejo.url,
            },
            "tenant": {"name": names.tenant_b},
            "pool": "nix",
        },
        {
            "name": names.gitea,
            "forge": {
                "type": "gitea",
                "scope": "org",
                "target": "acme",
                "url": gitea.url,
            },
            "tenant": {"name": names.tenant_b},
            "pool": "docker",
        },
        {
            "name": f"fjr-{names.suffix}-github",
            "forge": {"type": "github", "scope": "org", "target": "acme"},
            "tenant": {"name": names.tenant_b},
            "pool": "docker",
        },
    ]


def run_role(ansible_env, kube_lab, workdir, names, token, enrolled, *args, **extra):
    """Runs forgejo_runner alone; returns (completed process, changed count)."""
    play_vars = {
        "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
        "flywheel_enrollments": enrolled,
        "flywheel_attic_url": ATTIC_URL,
        "forgejo_runner_api_token": token,
        "forgejo_runner_docker_host": DOCKER_HOST,
        "forgejo_runner_manager_priority_class": names.priority_class,
        "forgejo_runner_data_storage_class": "",
        "forgejo_runner_wait_timeout": 120,
        **extra,
    }
    playbook = workdir / "playbook.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  vars: {json.dumps(play_vars)}
  roles:
    - role: glorious.flywheel.forgejo_runner
"""
    )
    inventory = workdir / "localhost.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    completed = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook), *args],
        cwd=ROOT,
        env=ansible_env,
        text=True,
        capture_output=True,
        check=False,
    )
    match = RECAP.search(completed.stdout)
    return completed, int(match["changed"]) if match else None


def writes(double):
    return [(r.method, r.path) for r in double.requests if r.method in WRITES]


def managed_objects(kube_lab, names):
    """(namespace, kind, name) of every object the role labels as its own."""
    found = set()
    for namespace in (names.ns_a, names.ns_b):
        listed = kubectl(
            kube_lab,
            *("-n", namespace, "get", "secret,configmap,deployment,pvc"),
            *("-l", MANAGED, "-o", "json"),
        )
        for item in json.loads(listed.stdout)["items"]:
            found.add((namespace, item["kind"], item["metadata"]["name"]))
    return found


def registration(kube_lab, namespace, name):
    data = secret_data(kube_lab, namespace, f"{name}-runner")
    return None if data is None else json.loads(data[".runner"])


def only_runner(double, key):
    (runner,) = double.runners.get(key, {}).values()
    return runner


@pytest.fixture(scope="module")
def lab(kube_lab, ansible_env, tmp_path_factory):
    """Check mode, a converging run and a second run of the same enrollments."""
    suffix = uuid.uuid4().hex[:6]
    names = SimpleNamespace(
        suffix=suffix,
        tenant_a=f"fjr-a-{suffix}",
        tenant_b=f"fjr-b-{suffix}",
        org=f"fjr-{suffix}-org",
        repo=f"fjr-{suffix}-repo",
        gitea=f"fjr-{suffix}-gitea",
        priority_class=f"fjr-{suffix}-manager",
    )
    names.ns_a = f"flywheel-runners-{names.tenant_a}"
    names.ns_b = f"flywheel-runners-{names.tenant_b}"
    cluster_objects = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/warn": level,
                },
            },
        }
        for namespace, level in ((names.ns_a, "privileged"), (names.ns_b, "baseline"))
    ]
    cluster_objects += [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": names.priority_class},
            "value": 1000,
        },
        # The lab has no volume provisioner: a volume pre-bound to the Gitea runner's claim.
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{names.gitea}-data"},
            "spec": {
                "capacity": {"storage": "16Mi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": f"/tmp/{names.gitea}"},
                "claimRef": {
                    "namespace": names.ns_b,
                    "name": f"{names.gitea}-runner-data",
                },
            },
        },
    ]
    forgejo, gitea = Forgejo(), Forgejo(flavour="gitea")
    doubles = (forgejo, gitea)
    try:
        kubectl(
            kube_lab,
            *("apply", "-f", "-"),
            stdin=json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": cluster_objects}
            ),
        )
        for double in doubles:
            double.start()
        # A runner whose registration was lost (no Secret holds its token): the role must
        # replace it.
        stale = forgejo.add_runner("repos/acme/widgets", names.repo)
        workdir = tmp_path_factory.mktemp("forgejo_runner")
        enrolled = enrollments(names, forgejo, gitea)

        def run(*args, **extra):
            return run_role(
                ansible_env,
                kube_lab,
                workdir,
                names,
                forgejo.alice.value,
                enrolled,
                *args,
                forgejo_runner_registrations={names.gitea: "token"},
                forgejo_runner_api_tokens={names.gitea: gitea.alice.value},
                **extra,
            )

        state = SimpleNamespace(names=names, forgejo=forgejo, gitea=gitea, stale=stale)
        state.run = run
        state.check, state.check_changed = run("--check")
        state.check_writes = writes(forgejo) + writes(gitea)
        state.check_objects = managed_objects(kube_lab, names)
        state.check_runners = forgejo.names("repos/acme/widgets")

        state.first, _changed = run()
        state.first_requests = (len(forgejo.requests), len(gitea.requests))
        state.first_runners = {
            key: dict(runners) for key, runners in forgejo.runners.items()
        }
        state.first_registration_tokens = dict(gitea.registration_tokens)
        state.first_secrets = {
            (ns, name): secret_data(kube_lab, ns, name)
            for ns, name in (
                (names.ns_a, f"{names.org}-runner"),
                (names.ns_b, f"{names.repo}-runner"),
                (names.ns_b, f"{names.gitea}-runner-registration"),
            )
        }
        state.first_generations = {
            (ns, name): get(kube_lab, ns, "deployment", f"{name}-runner")["metadata"][
                "generation"
            ]
            for ns, name in (
                (names.ns_a, names.org),
                (names.ns_b, names.repo),
                (names.ns_b, names.gitea),
            )
        }
        state.second, state.second_changed = run()
        yield state
    finally:
        problems = []
        for double in doubles:
            double.stop()
            problems += [
                f"no route for {r.method} {r.path}" for r in double.unmatched()
            ]
            problems += [f"handler raised\n{e}" for e in double.errors]
        for namespace in (names.ns_a, names.ns_b):
            kubectl(
                kube_lab, "delete", "namespace", namespace, "--wait=false", check=False
            )
        kubectl(kube_lab, "delete", "priorityclass", names.priority_class, check=False)
        kubectl(
            kube_lab, "delete", "pv", f"{names.gitea}-data", "--wait=false", check=False
        )
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


def test_check_mode_reports_and_changes_nothing(lab):
    assert lab.check.returncode == 0, lab.check.stdout + lab.check.stderr
    assert lab.check_changed > 0  # it reports what a real run would do
    assert lab.check_writes == []
    assert lab.check_objects == set()
    assert lab.check_runners == [lab.names.repo]  # the stale runner is still there


def test_converges_in_one_run(lab, kube_lab):
    names, forgejo, gitea = lab.names, lab.forgejo, lab.gitea
    first = lab.first
    assert first.returncode == 0, first.stdout + first.stderr
    for secret in (
        forgejo.alice.value,
        *forgejo.created_tokens,
        *gitea.registration_tokens.values(),
    ):
        assert secret not in first.stdout + first.stderr

    # One runner per API enrollment, in its scope, named after the enrollment; the stale
    # runner whose token was lost went first.
    org_runner = only_runner(forgejo, "orgs/acme")
    repo_runner = only_runner(forgejo, "repos/acme/widgets")
    assert (org_runner.name, repo_runner.name) == (names.org, names.repo)
    assert repo_runner.id != lab.stale.id
    assert writes(forgejo) == [
        ("DELETE", f"/api/v1/repos/acme/widgets/actions/runners/{lab.stale.id}"),
        ("POST", "/api/v1/orgs/acme/actions/runners"),
        ("POST", "/api/v1/repos/acme/widgets/actions/runners"),
    ]

    # The Secret holds the .runner file forgejo-runner reads, from the API's answer.
    org_registration = registration(kube_lab, names.ns_a, names.org)
    assert org_registration == {
        "WARNING": org_registration["WARNING"],
        "id": org_runner.id,
        "uuid": org_runner.uuid,
        "name": names.org,
        "token": org_runner.token,
        "address": forgejo.url,
        "labels": [
            f"{label}:docker://{ALPINE}" for label in ("docker", "linux", "amd64")
        ],
    }
    assert registration(kube_lab, names.ns_b, names.repo)["uuid"] == repo_runner.uuid
    assert registration(kube_lab, names.ns_b, names.repo)["token"] == repo_runner.token

    # config.yaml: capacity, labels, cache server, privileged only for the DinD pool, and
    # the cache plane's job environment for the nix pool.
    org_config_map = get(
        kube_lab, names.ns_a, "configmap", f"{names.org}-runner-config"
    )
    org_config = yaml.safe_load(org_config_map["data"]["config.yaml"])
    assert org_config["runner"]["file"] == "/data/.runner"
    assert org_config["runner"]["capacity"] == 12
    assert org_config["runner"]["labels"][0] == f"docker:docker://{ALPINE}"
    assert org_config["cache"] == {"enabled": True, "dir": "/cache"}
    assert org_config["container"]["privileged"] is True
    assert org_config["runner"]["envs"] == {}  # the docker pool uses no cache
    repo_config = yaml.safe_load(
        get(kube_lab, names.ns_b, "configmap", f"{names.repo}-runner-config")["data"][
            "config.yaml"
        ]
    )
    assert repo_config["runner"]["capacity"] == 6
    assert repo_config["container"]["privileged"] is False
    assert repo_config["runner"]["envs"]["ATTIC_CACHE"] == f"{names.tenant_b}-main"
    assert "fallback = true" in repo_config["runner"]["envs"]["NIX_CONFIG"].splitlines()

    # Deployments rolled out (the role waited), a DinD sidecar for the privileged pool only.
    org_deployment = get(kube_lab, names.ns_a, "deployment", f"{names.org}-runner")
    assert org_deployment["status"].get("readyReplicas") == 1
    assert org_deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    template = org_deployment["spec"]["template"]
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "runner-manager"
    )
    assert template["metadata"]["labels"]["glorious.flywheel/pool"] == "docker"
    assert template["metadata"]["annotations"]["glorious.flywheel/config-checksum"] == (
        hashlib.sha256(org_config_map["data"]["config.yaml"].encode()).hexdigest()
    )
    assert template["metadata"]["annotations"]["glorious.flywheel/runner-id"] == str(
        org_runner.id
    )
    spec = template["spec"]
    assert spec["priorityClassName"] == names.priority_class
    runner, dind = spec["containers"]
    assert runner["image"] == "code.forgejo.org/forgejo/runner:11.3.1"
    assert runner["command"] == [
        "forgejo-runner",
        "daemon",
        "--config",
        "/etc/forgejo-runner/config.yaml",
    ]
    assert {"name": "DOCKER_HOST", "value": "tcp://127.0.0.1:2375"} in runner["env"]
    assert dind["securityContext"]["privileged"] is True
    assert dind["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    # A restarted pod starts from the Secret's .runner: it never registers by itself.
    (copy,) = spec["initContainers"]
    assert "register" not in " ".join(copy["command"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["registration"]["secret"]["secretName"] == f"{names.org}-runner"

    repo_deployment = get(kube_lab, names.ns_b, "deployment", f"{names.repo}-runner")
    assert repo_deployment["status"].get("readyReplicas") == 1
    assert repo_deployment["spec"]["template"]["metadata"]["annotations"][
        "glorious.flywheel/runner-id"
    ] == str(repo_runner.id)
    (repo_container,) = repo_deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "DOCKER_HOST", "value": DOCKER_HOST} in repo_container["env"]

    # Gitea: no runner made by the role, the scope's registration token in a Secret, and a
    # pod that registers itself once onto its claim.
    assert gitea.runners == {}
    assert writes(gitea) == [
        ("POST", "/api/v1/orgs/acme/actions/runners/registration-token")
    ]
    assert secret_data(kube_lab, names.ns_b, f"{names.gitea}-runner-registration") == {
        "token": gitea.registration_tokens["orgs/acme"]
    }
    claim = get(kube_lab, names.ns_b, "pvc", f"{names.gitea}-runner-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == ""
    gitea_deployment = get(kube_lab, names.ns_b, "deployment", f"{names.gitea}-runner")
    assert gitea_deployment["status"].get("readyReplicas") == 1
    assert gitea_deployment["spec"]["strategy"] == {"type": "Recreate"}
    gitea_spec = gitea_deployment["spec"]["template"]["spec"]
    (init,) = gitea_spec["initContainers"]
    script = init["command"][-1]
    assert script.startswith("test -s /data/.runner || exec forgejo-runner register")
    assert "--no-interactive" in script
    assert init["env"][0] == {"name": "FORGEJO_URL", "value": gitea.url}
    gitea_volumes = {v["name"]: v for v in gitea_spec["volumes"]}
    assert gitea_volumes["data"]["persistentVolumeClaim"]["claimName"] == (
        f"{names.gitea}-runner-data"
    )
    assert "registration" not in gitea_volumes

    # The GitHub enrollment got nothing.
    assert {kind_name[2] for kind_name in managed_objects(kube_lab, names)} == {
        f"{names.org}-runner",
        f"{names.org}-runner-config",
        f"{names.repo}-runner",
        f"{names.repo}-runner-config",
        f"{names.gitea}-runner",
        f"{names.gitea}-runner-config",
        f"{names.gitea}-runner-data",
        f"{names.gitea}-runner-registration",
    }


def test_second_run_changes_nothing_and_asks_nothing(lab, kube_lab):
    names = lab.names
    assert lab.second.returncode == 0, lab.second.stdout + lab.second.stderr
    assert lab.second_changed == 0, lab.second.stdout
    # No request at all: no runner registered, no token fetched or rotated.
    assert (len(lab.forgejo.requests), len(lab.gitea.requests)) == lab.first_requests
    assert {k: dict(v) for k, v in lab.forgejo.runners.items()} == lab.first_runners
    assert lab.gitea.registration_tokens == lab.first_registration_tokens
    for (namespace, name), data in lab.first_secrets.items():
        assert secret_data(kube_lab, namespace, name) == data
    for (namespace, name), generation in lab.first_generations.items():
        deployment = get(kube_lab, namespace, "deployment", f"{name}-runner")
        assert deployment["metadata"]["generation"] == generation, names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "forge": {
                    "type": "forgejo",
                    "scope": "project",
                    "target": "acme/widgets",
                }
            },
            "field forge.scope: 'project' is not a forgejo scope",
        ),
        (
            {"docker_host": ""},
            "field pool.privileged: forgejo-runner starts jobs in Docker containers",
        ),
        (
            {"registrations": "fjr-unknown"},
            "forgejo_runner_registrations: each key must be the name of a Forgejo enrollment",
        ),
    ],
    ids=["gitlab-scope", "no-docker-daemon", "unknown-registration-override"],
)
def test_a_bad_input_fails_before_any_request(
    lab, kube_lab, ansible_env, tmp_path, serve_double, change, message
):
    names = lab.names
    forgejo = serve_double(Forgejo)
    good = {
        "name": f"fjr-{names.suffix}-good",
        "forge": {
            "type": "forgejo",
            "scope": "org",
            "target": "acme",
            "url": forgejo.url,
        },
        "tenant": {"name": names.tenant_b},
        "pool": "nix",
    }
    bad = dict(good, name=f"fjr-{names.suffix}-bad")
    extra = {}
    if "forge" in change:
        bad["forge"] = dict(change["forge"], url=forgejo.url)
    if "docker_host" in change:
        extra["forgejo_runner_docker_host"] = change["docker_host"]
    if "registrations" in change:
        extra["forgejo_runner_registrations"] = {change["registrations"]: "token"}

    completed, _changed = run_role(
        ansible_env,
        kube_lab,
        tmp_path,
        names,
        forgejo.alice.value,
        [good, bad],
        **extra,
    )
    assert completed.returncode != 0
    assert message in completed.stdout, completed.stdout
    if "registrations" not in change:
        assert bad["name"] in completed.stdout
    assert forgejo.requests == []
    assert get(kube_lab, names.ns_b, "deployment", f"{good['name']}-runner") is None


def test_a_server_without_the_runner_api_fails_clearly(
    lab, kube_lab, ansible_env, tmp_path, serve_double
):
    names = lab.names
    forgejo = serve_double(Forgejo, flavour="forgejo-old")
    old = {
        "name": f"fjr-{names.suffix}-old",
        "forge": {
            "type": "forgejo",
            "scope": "org",
            "target": "acme",
            "url": forgejo.url,
        },
        "tenant": {"name": names.tenant_a},
        "pool": {"name": "docker", "privileged": True},
    }

    completed, _changed = run_role(
        ansible_env, kube_lab, tmp_path, names, forgejo.alice.value, [old]
    )
    assert completed.returncode != 0
    assert "creates runners only through Forgejo's POST" in completed.stdout
    assert f'enrollment "{old["name"]}"' in completed.stdout
    assert "set forgejo_runner_registration to token" in completed.stdout
    assert writes(forgejo) == []
    assert registration(kube_lab, names.ns_a, old["name"]) is None
