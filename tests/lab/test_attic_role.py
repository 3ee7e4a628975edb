"""roles/attic against the lab's Kubernetes control plane and the Attic HTTP double.

Each test gets its own namespace. The lab has no volume provisioner, so the test makes
a PersistentVolume pre-bound (claimRef) to the role's data claim. kwok fakes the pods:
they become Ready without running atticd, so a rollout completes without pulling an image.
"""

import base64
import json
import urllib.error
import urllib.request
import uuid

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.lab.kube import (
    get,
    kubectl,
    secret_bytes,
)

pytestmark = pytest.mark.lab

TENANTS = [{"name": "alpha"}, {"name": "beta", "caches": ["main", "ci"]}]


@pytest.fixture
def namespace(kube_lab):
    name = f"attic-t-{uuid.uuid4().hex[:6]}"
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{name}-data"},
        "spec": {
            "capacity": {"storage": "20Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "hostPath": {"path": f"/tmp/{name}"},
            "claimRef": {"namespace": name, "name": "attic-data"},
        },
    }
    kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(volume))
    yield name
    kubectl(kube_lab, "delete", "namespace", name, "--wait=false", check=False)
    kubectl(kube_lab, "delete", "pv", f"{name}-data", "--wait=false", check=False)


@pytest.fixture
def role(run_playbook, kube_lab):
    def run(namespace, **role_vars):
        role_vars = {
            "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
            "attic_namespace": namespace,
            "attic_rollout_timeout": 120,
            "attic_manage_caches": False,
            **role_vars,
        }
        playbook = (
            "- hosts: localhost\n"
            "  gather_facts: false\n"
            "  roles:\n"
            "    - role: glorious.flywheel.attic\n"
            f"      vars: {json.dumps(role_vars)}\n"
        )
        completed = run_playbook(playbook, json_output=True, extra_env=kube_lab)
        stats = completed.json["stats"]["localhost"]
        assert completed.returncode == 0 and not stats["failures"], completed.stdout[
            -6000:
        ]
        return stats

    return run


def rolled_out(deployment):
    status = deployment["status"]
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == deployment["spec"]["replicas"]
        and status.get("availableReplicas") == deployment["spec"]["replicas"]
    )


def replica_sets(kube_lab, namespace):
    items = get(kube_lab, namespace, "replicasets")["items"]
    return {
        rs["metadata"]["labels"]["pod-template-hash"]
        for rs in items
        if rs["metadata"]["labels"].get("app.kubernetes.io/component") == "server"
    }


def attic_get(double, path, token):
    request = urllib.request.Request(
        double.url + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_deploys_caches_and_tokens_then_changes_nothing(
    role, namespace, kube_lab, serve_double
):
    # The first run has no API to talk to yet: it deploys and generates the signing key.
    first = role(namespace)
    assert first["changed"] > 0
    key = secret_bytes(kube_lab, namespace, "attic-jwt")["token-hs256-secret-base64"]
    assert base64.b64decode(key).decode().isalnum()

    labels = get(kube_lab, "", "namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    deployment = get(kube_lab, namespace, "deployment", "attic")
    assert rolled_out(deployment)
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["--mode", "monolithic"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    service = get(kube_lab, namespace, "service", "attic")
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert container["ports"][0] == {
        "name": "http",
        "containerPort": 8080,
        "protocol": "TCP",
    }
    toml = secret_bytes(kube_lab, namespace, "attic-config")["server.toml"].decode()
    assert f'[jwt.signing]\ntoken-hs256-secret-base64 = "{key.decode()}"' in toml
    # The deprecated top-level key (atticd refuses it) is never written.
    before_jwt = toml.split("[database]")[0]
    assert "token-hs256-secret-base64" not in before_jwt
    assert "level = 8\n" in toml and 'default-retention-period = "3 months"' in toml

    double = serve_double(Attic, hs256_secret_base64=key.decode())
    with_caches = {
        "attic_manage_caches": True,
        "attic_api_url": double.url + "/",
        "attic_tenants": TENANTS,
    }
    second = role(namespace, **with_caches)
    assert second["changed"] > 0
    assert sorted(c for c in double.caches if double.live(c)) == [
        "alpha-main",
        "beta-ci",
        "beta-main",
    ]
    alpha = secret_bytes(kube_lab, namespace, "attic-alpha-tokens")
    beta = secret_bytes(kube_lab, namespace, "attic-beta-tokens")
    assert alpha["caches"] == b"alpha-main"
    assert beta["caches"] == b"beta-main,beta-ci"

    path = "/_api/v1/cache-config/{}"
    assert (
        attic_get(double, path.format("alpha-main"), alpha["pull-token"].decode())
        == 200
    )
    assert attic_get(double, path.format("beta-ci"), beta["push-token"].decode()) == 200
    # A tenant's token gives nothing on another tenant's cache: Attic answers 401.
    assert attic_get(
        double, path.format("beta-main"), alpha["push-token"].decode()
    ) in (
        401,
        403,
    )
    assert attic_get(
        double, path.format("alpha-main"), beta["pull-token"].decode()
    ) in (
        401,
        403,
    )

    writes = double.writes()
    third = role(namespace, **with_caches)
    assert third["changed"] == 0
    assert double.writes() == writes
    assert secret_bytes(kube_lab, namespace, "attic-alpha-tokens") == alpha
    assert (
        secret_bytes(kube_lab, namespace, "attic-jwt")["token-hs256-secret-base64"]
        == key
    )


def test_config_change_rolls_and_storage_switch_changes_only_what_it_must(
    role, namespace, kube_lab
):
    role(namespace)
    jwt = get(kube_lab, namespace, "secret", "attic-jwt")
    deployment = get(kube_lab, namespace, "deployment", "attic")
    checksum = deployment["spec"]["template"]["metadata"]["annotations"][
        "flywheel.glorious/config-checksum"
    ]
    hashes = replica_sets(kube_lab, namespace)

    role(namespace, attic_compression_level=12)
    rolled = get(kube_lab, namespace, "deployment", "attic")
    new_checksum = rolled["spec"]["template"]["metadata"]["annotations"][
        "flywheel.glorious/config-checksum"
    ]
    assert new_checksum != checksum
    assert replica_sets(kube_lab, namespace) - hashes, "no new ReplicaSet"
    assert rolled_out(rolled)
    toml = secret_bytes(kube_lab, namespace, "attic-config")["server.toml"].decode()
    assert "level = 12\n" in toml

    s3 = {
        "attic_compression_level": 12,
        "attic_storage_type": "s3",
        "attic_s3_bucket": "attic",
        "attic_s3_endpoint": "https://s3.example.invalid",
        "attic_s3_access_key_id": "AKIAEXAMPLE",
        "attic_s3_secret_access_key": "not-a-real-secret",
    }
    role(namespace, **s3)
    toml = secret_bytes(kube_lab, namespace, "attic-config")["server.toml"].decode()
    assert '[storage]\ntype = "s3"\nregion = "us-east-1"\nbucket = "attic"' in toml
    assert "not-a-real-secret" not in toml and "/var/lib/attic/storage" not in toml
    credentials = secret_bytes(kube_lab, namespace, "attic-s3-credentials")
    assert credentials == {
        "AWS_ACCESS_KEY_ID": b"AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": b"not-a-real-secret",
    }
    # The signing key Secret is untouched (same bytes, same resourceVersion).
    after = get(kube_lab, namespace, "secret", "attic-jwt")
    assert after["data"] == jwt["data"]
    assert after["metadata"]["resourceVersion"] == jwt["metadata"]["resourceVersion"]
    # SQLite still lives on the data volume, so the claim stays and is still mounted.
    assert get(kube_lab, namespace, "pvc", "attic-data") is not None
    switched = get(kube_lab, namespace, "deployment", "attic")
    spec = switched["spec"]["template"]["spec"]
    assert {v["name"] for v in spec["volumes"]} == {"config", "tmp", "data"}
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in spec["containers"][0]["env"]
    }
    assert env == {
        "AWS_ACCESS_KEY_ID": {
            "name": "attic-s3-credentials",
            "key": "AWS_ACCESS_KEY_ID",
        },
        "AWS_SECRET_ACCESS_KEY": {
            "name": "attic-s3-credentials",
            "key": "AWS_SECRET_ACCESS_KEY",
        },
    }
    assert rolled_out(switched)

    assert role(namespace, **s3)["changed"] == 0


def test_api_server_topology_runs_migrations_first(role, namespace, kube_lab):
    url = base64.b64encode(b"postgresql://attic:pw@db.invalid/attic").decode()
    kubectl(
        kube_lab,
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": namespace},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "attic-db", "namespace": namespace},
                        "data": {"url": url},
                    },
                ],
            }
        ),
    )
    postgres = {
        "attic_database_type": "postgresql",
        "attic_postgresql_url_secret_name": "attic-db",
        "attic_storage_type": "s3",
        "attic_s3_bucket": "attic",
        "attic_s3_access_key_id": "AKIAEXAMPLE",
        "attic_s3_secret_access_key": "not-a-real-secret",
    }
    role(namespace, **postgres)
    jobs = get(kube_lab, namespace, "jobs")["items"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["metadata"]["name"].startswith("attic-db-migrations-")
    assert job["status"].get("succeeded") == 1
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-1] == (
        "db-migrations"
    )
    api = get(kube_lab, namespace, "deployment", "attic")
    gc = get(kube_lab, namespace, "deployment", "attic-garbage-collector")
    assert api["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "api-server"
    assert gc["spec"]["template"]["spec"]["containers"][0]["args"][-1] == (
        "garbage-collector"
    )
    env = api["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "ATTIC_SERVER_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "attic-db", "key": "url"}},
    } in env
    hpa = get(kube_lab, namespace, "hpa", "attic")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert sorted(
        (m["resource"]["name"], m["resource"]["target"]["averageUtilization"])
        for m in hpa["metrics"]
    ) == [("cpu", 70), ("memory", 80)]
    assert get(kube_lab, namespace, "pdb", "attic")["spec"]["minAvailable"] == 1
    # No data volume: PostgreSQL and S3 need none.
    assert get(kube_lab, namespace, "pvc", "attic-data") is None
    toml = secret_bytes(kube_lab, namespace, "attic-config")["server.toml"].decode()
    assert "[database]\n\n" in toml and "pw@" not in toml


@pytest.mark.parametrize(
    ("role_vars", "message"),
    [
        (
            {
                "attic_tenants": [{"name": "Alpha_1"}],
                "attic_manage_caches": True,
                "attic_api_url": "http://127.0.0.1:9/",
            },
            "attic_tenants: Alpha_1 is not a valid tenant name",
        ),
        (
            {"attic_manage_caches": True},
            "attic_manage_caches needs attic_api_url",
        ),
        (
            {"attic_database_type": "sqlite", "attic_topology": "api-server"},
            "SQLite allows one writer only",
        ),
    ],
)
def test_inconsistent_settings_fail_before_any_change(
    run_playbook, kube_lab, role_vars, message
):
    name = f"attic-t-{uuid.uuid4().hex[:6]}"
    role_vars = {
        "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
        "attic_namespace": name,
        **role_vars,
    }
    completed = run_playbook(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        f"    - role: glorious.flywheel.attic\n      vars: {json.dumps(role_vars)}\n",
        extra_env=kube_lab,
    )
    assert completed.returncode != 0
    assert message in completed.stdout
    assert get(kube_lab, "", "namespace", name) is None


# A stand-in for the CloudNativePG operator's CRD: the operator itself cannot be installed
# here (no registry), and the role only needs the API to exist to create its Cluster.
CNPG_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusters.postgresql.cnpg.io"},
    "spec": {
        "group": "postgresql.cnpg.io",
        "scope": "Namespaced",
        "names": {"plural": "clusters", "singular": "cluster", "kind": "Cluster"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def test_postgresql_without_a_url_needs_cloudnativepg_then_gets_a_cluster(
    role, namespace, kube_lab, run_playbook
):
    settings = {
        "flywheel_kubeconfig": kube_lab["KUBECONFIG"],
        "attic_namespace": namespace,
        "attic_rollout_timeout": 120,
        "attic_manage_caches": False,
        "attic_database_type": "postgresql",
        "attic_storage_type": "s3",
        "attic_s3_bucket": "attic",
        "attic_s3_access_key_id": "AKIAEXAMPLE",
        "attic_s3_secret_access_key": "not-a-real-secret",
    }
    kubectl(kube_lab, "delete", "crd", CNPG_CRD["metadata"]["name"], check=False)
    refused = run_playbook(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        f"    - role: glorious.flywheel.attic\n      vars: {json.dumps(settings)}\n",
        extra_env=kube_lab,
    )
    assert refused.returncode != 0
    assert "the CloudNativePG operator is not installed" in refused.stdout

    kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(CNPG_CRD))
    kubectl(
        kube_lab,
        "wait",
        "--for=condition=Established",
        f"crd/{CNPG_CRD['metadata']['name']}",
        "--timeout=60s",
    )
    try:
        role(namespace, **{k: v for k, v in settings.items() if k.startswith("attic_")})
        cluster = get(kube_lab, namespace, "clusters.postgresql.cnpg.io", "attic-db")
        assert cluster["spec"]["instances"] == 3
        assert cluster["spec"]["bootstrap"]["initdb"] == {
            "database": "attic",
            "owner": "attic",
        }
        deployment = get(kube_lab, namespace, "deployment", "attic")
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        url = next(e for e in env if e["name"] == "ATTIC_SERVER_DATABASE_URL")
        # The operator's application Secret carries the URL; it never enters server.toml.
        assert url["valueFrom"]["secretKeyRef"] == {
            "name": "attic-db-app",
            "key": "uri",
        }
    finally:
        kubectl(kube_lab, "delete", "crd", CNPG_CRD["metadata"]["name"], check=False)
