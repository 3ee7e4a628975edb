"""roles/bazel_remote against the lab's real Kubernetes control plane.

Each test gets its own namespace. The lab has no storage provisioner, so the tests stand in
for one: a PersistentVolume pre-bound (claimRef) to each claim the role will make.
"""

import base64
import json
import re
import uuid

import bcrypt
import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.lab.kube import (
    get,
    kubectl,
)

pytestmark = pytest.mark.lab

RECAP = re.compile(r"^localhost\s+: ok=\d+\s+changed=(?P<changed>\d+)", re.MULTILINE)
# The PVs the tests make are this big; the role is told to claim exactly that, since a
# claim can never ask for less than the volume it is bound to.
STORAGE = "200Gi"


@pytest.fixture
def cache_ns(kube_lab):
    """A fresh namespace name, PVs bound to the claims the role will make, and cleanup."""
    namespace = f"br-{uuid.uuid4().hex[:8]}"
    volumes = []

    def provision(*instances):
        for instance in instances:
            name = f"{namespace}-{instance}"
            volumes.append(name)
            pv = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"flywheel-test": namespace}},
                "spec": {
                    "capacity": {"storage": STORAGE},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "hostPath": {"path": f"/tmp/{name}"},
                    "claimRef": {"namespace": namespace, "name": f"{instance}-data"},
                },
            }
            kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(pv))

    yield namespace, provision
    kubectl(kube_lab, "delete", "namespace", namespace, "--wait=true", check=False)
    kubectl(kube_lab, "delete", "pv", "-l", f"flywheel-test={namespace}", check=False)


@pytest.fixture
def role(run_playbook, kube_lab):
    """Runs the role with VARS; returns the completed process, with `.changed` the
    number of changed tasks from the play recap."""

    def run(namespace, *args, **role_vars):
        role_vars = {
            "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
            "bazel_remote_namespace": namespace,
            "bazel_remote_storage_size": STORAGE,
            "bazel_remote_wait_timeout": 120,
            **role_vars,
        }
        playbook = f"""
- hosts: localhost
  gather_facts: false
  roles:
    - role: glorious.flywheel.bazel_remote
      vars: {json.dumps(role_vars)}
  post_tasks:
    - name: Show the endpoints
      ansible.builtin.debug:
        msg: "ENDPOINTS={{{{ bazel_remote_endpoints | to_json }}}}"
"""
        completed = run_playbook(playbook, *args)
        match = RECAP.search(completed.stdout)
        completed.changed = int(match["changed"]) if match else None
        return completed

    return run


def endpoints(completed):
    line = next(x for x in completed.stdout.splitlines() if "ENDPOINTS=" in x)
    return json.loads(line.split("ENDPOINTS=", 1)[1].rstrip('"').replace('\\"', '"'))


def secret_text(secret, key):
    return base64.b64decode(secret["data"][key]).decode()


def rolled_out(deployment):
    """The current template's rollout completed: the deployment controller says its
    ReplicaSet became available. (Not "is ready now": the lab's kwok nodes can miss a
    heartbeat, after which their pods stay unready; the role's own wait saw them ready.)"""
    status = deployment["status"]
    progressing = next(
        (c for c in status.get("conditions", []) if c["type"] == "Progressing"), {}
    )
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == deployment["spec"]["replicas"]
        and progressing.get("reason") == "NewReplicaSetAvailable"
    )


def test_check_mode_creates_nothing(role, cache_ns, kube_lab):
    namespace = cache_ns[0]
    completed = role(
        namespace, "--check", bazel_remote_users=[{"name": "ci", "password": "pw"}]
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert kubectl(kube_lab, "get", "namespace", namespace, check=False).returncode != 0


def test_converges_idempotent_and_a_config_change_rolls(role, cache_ns, kube_lab):
    namespace, provision = cache_ns
    provision("bazel-cache")

    first = role(namespace)
    assert first.returncode == 0, first.stdout + first.stderr
    deployment = get(kube_lab, namespace, "deployment", "bazel-cache")
    assert rolled_out(deployment), deployment["status"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["enableServiceLinks"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/status"
    assert container["livenessProbe"]["grpc"]["port"] == 9092
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    service = get(kube_lab, namespace, "service", "bazel-cache")
    assert {(p["name"], p["port"]) for p in service["spec"]["ports"]} == {
        ("http", 8080),
        ("grpc", 9092),
    }
    config = yaml.safe_load(
        get(kube_lab, namespace, "configmap", "bazel-cache-config")["data"][
            "config.yml"
        ]
    )
    assert config["max_size"] == 100
    assert "htpasswd_file" not in config
    assert endpoints(first) == [
        {
            "tenant": "",
            "name": "bazel-cache",
            "http_url": f"http://bazel-cache.{namespace}.svc.cluster.local:8080",
            "grpc_url": f"grpc://bazel-cache.{namespace}.svc.cluster.local:9092",
            "auth": False,
        }
    ]
    before = deployment["spec"]["template"]["metadata"]["annotations"][
        "checksum/config"
    ]

    second = role(namespace)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changed == 0, second.stdout

    third = role(namespace, bazel_remote_max_size=50)
    assert third.returncode == 0, third.stdout + third.stderr
    assert third.changed > 0
    rolled = get(kube_lab, namespace, "deployment", "bazel-cache")
    assert (
        rolled["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        != before
    )
    assert rolled["metadata"]["generation"] == deployment["metadata"]["generation"] + 1
    assert rolled["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert rolled_out(rolled), rolled["status"]
    config = yaml.safe_load(
        get(kube_lab, namespace, "configmap", "bazel-cache-config")["data"][
            "config.yml"
        ]
    )
    assert config["max_size"] == 50


def test_htpasswd_is_stable_until_a_password_changes(role, cache_ns, kube_lab):
    namespace, provision = cache_ns
    provision("bazel-cache")
    users = [
        {"name": "ci", "password": "first-pw"},
        {"name": "reader", "password": "read-pw"},
    ]

    first = role(namespace, bazel_remote_users=users)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "first-pw" not in first.stdout and "read-pw" not in first.stdout
    htpasswd = secret_text(
        get(kube_lab, namespace, "secret", "bazel-cache-htpasswd"), "htpasswd"
    )
    hashes = dict(line.split(":", 1) for line in htpasswd.splitlines())
    assert list(hashes) == ["ci", "reader"]
    assert all(h.startswith("$2y$05$") for h in hashes.values())
    assert bcrypt.checkpw(b"first-pw", hashes["ci"].encode())
    assert bcrypt.checkpw(b"read-pw", hashes["reader"].encode())
    config = yaml.safe_load(
        get(kube_lab, namespace, "configmap", "bazel-cache-config")["data"][
            "config.yml"
        ]
    )
    assert config["htpasswd_file"] == "/etc/bazel-remote/auth/htpasswd"
    secrets_sum = get(kube_lab, namespace, "deployment", "bazel-cache")["spec"][
        "template"
    ]["metadata"]["annotations"]["checksum/secrets"]

    second = role(namespace, bazel_remote_users=users)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changed == 0, second.stdout
    assert (
        secret_text(
            get(kube_lab, namespace, "secret", "bazel-cache-htpasswd"), "htpasswd"
        )
        == htpasswd
    )

    users[0]["password"] = "second-pw"
    third = role(namespace, bazel_remote_users=users)
    assert third.returncode == 0, third.stdout + third.stderr
    new_hashes = dict(
        line.split(":", 1)
        for line in secret_text(
            get(kube_lab, namespace, "secret", "bazel-cache-htpasswd"), "htpasswd"
        ).splitlines()
    )
    assert bcrypt.checkpw(b"second-pw", new_hashes["ci"].encode())
    assert new_hashes["reader"] == hashes["reader"]
    rolled = get(kube_lab, namespace, "deployment", "bazel-cache")
    assert (
        rolled["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"]
        != secrets_sum
    )


def test_s3_keys_live_only_in_their_secret(role, cache_ns, kube_lab):
    namespace, provision = cache_ns
    provision("bazel-cache")
    key_id, secret_key = "AKIAFLYWHEELTEST", "s3-secret-" + uuid.uuid4().hex

    first = role(namespace)
    assert first.returncode == 0, first.stdout + first.stderr
    assert get(kube_lab, namespace, "secret", "bazel-cache-s3-credentials") is None

    s3 = {
        "bazel_remote_s3_enabled": True,
        "bazel_remote_s3_endpoint": "minio.flywheel.invalid:9000",
        "bazel_remote_s3_bucket": "bazel",
        "bazel_remote_s3_prefix": "cache",
        "bazel_remote_s3_disable_ssl": True,
        "bazel_remote_s3_access_key_id": key_id,
        "bazel_remote_s3_secret_access_key": secret_key,
    }
    second = role(namespace, **s3)
    assert second.returncode == 0, second.stdout + second.stderr
    assert secret_key not in second.stdout + second.stderr

    credentials = secret_text(
        get(kube_lab, namespace, "secret", "bazel-cache-s3-credentials"), "credentials"
    )
    assert f"aws_access_key_id = {key_id}" in credentials
    assert f"aws_secret_access_key = {secret_key}" in credentials
    configmap = get(kube_lab, namespace, "configmap", "bazel-cache-config")
    config = yaml.safe_load(configmap["data"]["config.yml"])
    assert config["s3_proxy"] == {
        "endpoint": "minio.flywheel.invalid:9000",
        "bucket": "bazel",
        "prefix": "cache",
        "disable_ssl": True,
        "auth_method": "aws_credentials_file",
        "aws_shared_credentials_file": "/etc/bazel-remote/s3/credentials",
        "aws_profile": "default",
    }
    deployment = get(kube_lab, namespace, "deployment", "bazel-cache")
    spec_text = json.dumps(deployment["spec"]) + json.dumps(configmap)
    assert key_id not in spec_text and secret_key not in spec_text
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert (
        volumes["s3-credentials"]["secret"]["secretName"]
        == "bazel-cache-s3-credentials"
    )
    assert rolled_out(deployment), deployment["status"]


def test_each_tenant_gets_its_own_instance(role, cache_ns, kube_lab):
    namespace, provision = cache_ns
    provision("bazel-cache-alpha", "bazel-cache-beta")
    completed = role(
        namespace,
        bazel_remote_users=[{"name": "platform", "password": "platform-pw"}],
        bazel_remote_tenants=[
            {"name": "alpha"},
            {
                "name": "beta",
                "max_size": 20,
                "users": [{"name": "beta-ci", "password": "b-pw"}],
            },
        ],
        bazel_remote_s3_prefix="bazel",
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert [(e["tenant"], e["grpc_url"]) for e in endpoints(completed)] == [
        ("alpha", f"grpc://bazel-cache-alpha.{namespace}.svc.cluster.local:9092"),
        ("beta", f"grpc://bazel-cache-beta.{namespace}.svc.cluster.local:9092"),
    ]
    for tenant, max_size, user in (("alpha", 100, "platform"), ("beta", 20, "beta-ci")):
        name = f"bazel-cache-{tenant}"
        assert rolled_out(get(kube_lab, namespace, "deployment", name))
        config = yaml.safe_load(
            get(kube_lab, namespace, "configmap", f"{name}-config")["data"][
                "config.yml"
            ]
        )
        assert config["max_size"] == max_size
        htpasswd = secret_text(
            get(kube_lab, namespace, "secret", f"{name}-htpasswd"), "htpasswd"
        )
        assert [line.split(":")[0] for line in htpasswd.splitlines()] == [user]
        service = get(kube_lab, namespace, "service", name)
        assert service["spec"]["selector"]["app.kubernetes.io/instance"] == name


def test_a_bad_tenant_name_is_refused(role, cache_ns):
    namespace = cache_ns[0]
    completed = role(namespace, bazel_remote_tenants=[{"name": "Team_A"}])
    assert completed.returncode != 0
    assert (
        "bazel_remote_tenants: each name must be a lowercase DNS label"
        in completed.stdout
    )
    assert "Team_A" in completed.stdout
