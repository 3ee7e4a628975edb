"""The enrollment model: each dimension's checks name the enrollment and the field, and the
expansion carries the pool, forge, tenant and cache settings the roles deploy."""

from __future__ import annotations

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils import _enrollment
from ansible_collections.glorious.flywheel.plugins.module_utils._enrollment import (
    EnrollmentError,
    expand,
    tenants,
)

ATTIC = "https://attic.example.ts.net"
BAZEL = "grpc://bazel-cache-{tenant}.flywheel-cache.svc.cluster.local:9092"


def enrollment(**fields):
    entry = {
        "name": "acme-widgets-nix",
        "forge": {"type": "github", "scope": "repo", "target": "acme/widgets"},
        "tenant": {"name": "acme", "kind": "org"},
        "pool": "nix",
    }
    entry.update(fields)
    return entry


def one(**fields):
    return expand([enrollment(**fields)], attic_url=ATTIC, bazel_url=BAZEL)[0]


def refused(entries, **kwargs):
    with pytest.raises(EnrollmentError) as caught:
        expand(entries, **kwargs)
    return caught.value


def test_a_nix_enrollment_expands_along_all_four_dimensions():
    got = one(runners={"min": 1, "max": 10, "group": "ci"})
    assert got["forge"] == {
        "type": "github",
        "scope": "repo",
        "target": "acme/widgets",
        "auth": "app",
        "url": "https://github.com",
        "config_url": "https://github.com/acme/widgets",
    }
    assert got["tenant"] == {
        "name": "acme",
        "kind": "org",
        "namespace": "flywheel-runners-acme",
    }
    assert got["pool"]["name"] == "nix"
    assert got["pool"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert got["pool"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert got["pool"]["concurrency"] == 6
    assert got["runners"] == {"min": 1, "max": 10, "group": "ci"}
    cache = got["cache"]
    assert cache["attic"] == "acme-main"
    assert cache["attic_token_permissions"] == {"acme-main": ["pull", "push"]}
    env = cache["env"]
    assert env["ATTIC_SERVER"] == ATTIC and env["ATTIC_CACHE"] == "acme-main"
    assert f"extra-substituters = {ATTIC}/acme-main" in env["NIX_CONFIG"]
    # Upstream stays listed: builds fall back when Attic is down.
    assert "substituters = https://cache.nixos.org" in env["NIX_CONFIG"]
    assert "fallback = true" in env["NIX_CONFIG"]
    assert (
        env["BAZEL_REMOTE_CACHE"]
        == "grpc://bazel-cache-acme.flywheel-cache.svc.cluster.local:9092"
    )


def test_a_docker_pool_pulls_nothing_from_the_nix_cache_but_keeps_a_pull_scope():
    got = one(pool="docker")
    assert got["pool"]["image"] == "docker.io/library/alpine:3.21"
    assert got["pool"]["concurrency"] == 12
    assert got["cache"]["env"] == {}
    assert got["cache"]["attic_token_permissions"] == {"acme-main": ["pull"]}


@pytest.mark.parametrize(
    ("forge", "config_url"),
    [
        (
            {"type": "github", "scope": "org", "target": "acme"},
            "https://github.com/acme",
        ),
        (
            {
                "type": "github",
                "scope": "enterprise",
                "target": "acme-corp",
                "auth": "pat",
            },
            "https://github.com/enterprises/acme-corp",
        ),
        (
            {
                "type": "github",
                "scope": "repo",
                "target": "acme/widgets",
                "url": "https://ghe.example.com/",
            },
            "https://ghe.example.com/acme/widgets",
        ),
        (
            {
                "type": "gitlab",
                "scope": "group",
                "target": "platform/ci",
                "url": "https://gl.example",
            },
            "https://gl.example",
        ),
        ({"type": "gitlab", "scope": "project", "target": "42"}, "https://gitlab.com"),
        ({"type": "gitlab", "scope": "instance"}, "https://gitlab.com"),
        (
            {"type": "forgejo", "scope": "user", "target": "alice"},
            "https://codeberg.org",
        ),
        ({"type": "gitea", "scope": "org", "target": "acme"}, "https://codeberg.org"),
    ],
)
def test_every_forge_scope_has_its_registration_url(forge, config_url):
    got = one(forge=forge)
    assert got["forge"]["config_url"] == config_url
    assert got["forge"]["type"] in ("github", "gitlab", "forgejo")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        (
            {"forge": {"type": "gitlab", "scope": "repo", "target": "a/b"}},
            "forge.scope",
            "not a gitlab scope",
        ),
        (
            {"forge": {"type": "bitbucket", "scope": "repo"}},
            "forge.type",
            "'bitbucket'",
        ),
        (
            {"forge": {"type": "github", "scope": "repo", "target": "widgets"}},
            "forge.target",
            "owner/name",
        ),
        ({"forge": {"type": "github", "scope": "org"}}, "forge.target", "needs one"),
        (
            {"forge": {"type": "gitlab", "scope": "instance", "target": "x"}},
            "forge.target",
            "takes no target",
        ),
        (
            {"forge": {"type": "gitlab", "scope": "project", "target": "lonely"}},
            "forge.target",
            "group/project",
        ),
        (
            {"forge": {"type": "github", "scope": "enterprise", "target": "acme-corp"}},
            "forge.auth",
            "GitHub Apps cannot register enterprise-level runners",
        ),
        (
            {
                "forge": {
                    "type": "gitlab",
                    "scope": "group",
                    "target": "g",
                    "auth": "app",
                }
            },
            "forge.auth",
            "not a gitlab credential",
        ),
        (
            {
                "forge": {
                    "type": "github",
                    "scope": "org",
                    "target": "a",
                    "url": "github.com",
                }
            },
            "forge.url",
            "http(s)",
        ),
        ({"tenant": {"name": "Acme"}}, "tenant.name", "DNS label"),
        ({"tenant": {"name": "acme", "kind": "galaxy"}}, "tenant.kind", "'galaxy'"),
        ({"pool": "quantum"}, "pool.name", "'quantum' is not one of"),
        (
            {"pool": {"name": "docker", "colour": "red"}},
            "pool.colour",
            "unknown pool field",
        ),
        (
            {"pool": {"name": "docker", "labels": ["docker", "kubernetes"]}},
            "pool.labels",
            "reserved",
        ),
        (
            {"pool": {"name": "kvm", "kvm_access": "magic"}},
            "pool.kvm_access",
            "host-path",
        ),
        (
            {"pool": {"name": "docker", "concurrency": 0}},
            "pool.concurrency",
            "positive",
        ),
        (
            {"cache": {"attic": "beta-main"}},
            "cache.attic",
            "outside tenant acme's cache view",
        ),
        ({"cache": {"attic": "acme main"}}, "cache.attic", "not an Attic cache name"),
        ({"cache": {"attic": False, "push": True}}, "cache.push", "needs cache.attic"),
        ({"runners": {"min": 5, "max": 2}}, "runners.min", "more than runners.max"),
        ({"runners": {"max": -1}}, "runners.max", ">= 0"),
        ({"name": "Acme_Widgets"}, "name", "DNS label"),
        ({"name": "a" * 46}, "name", "runnerScaleSetName"),
        ({"flavour": "x"}, "flavour", "unknown field"),
    ],
)
def test_a_bad_enrollment_names_itself_and_the_field(fields, field, words):
    error = refused([enrollment(**fields)])
    assert error.field == field
    assert words in str(error)
    assert str(error).startswith(f"enrollment {error.enrollment!r}, field {field}:")


def test_a_long_name_is_fine_outside_github_up_to_the_helm_limit():
    forge = {"type": "gitlab", "scope": "instance"}
    assert one(name="a" * 53, forge=forge)["name"] == "a" * 53
    assert refused([enrollment(name="a" * 54, forge=forge)]).field == "name"


def test_duplicate_names_are_refused():
    error = refused([enrollment(), enrollment()])
    assert (error.enrollment, error.field) == ("acme-widgets-nix", "name")
    assert "earlier enrollment" in str(error)


def test_kvm_through_a_host_path_is_privileged_and_drops_the_device_resource():
    plugin = one(pool="kvm")["pool"]
    assert plugin["extra_resources"] == {"devices.kubevirt.io/kvm": "1"}
    assert plugin["privileged"] is False
    host = one(pool={"name": "kvm", "kvm_access": "host-path"})["pool"]
    assert host["extra_resources"] == {}
    assert host["privileged"] is True
    assert host["host_paths"] == [{"path": "/dev/kvm", "type": "CharDevice"}]


def test_gpu_pool_asks_for_a_gpu_on_gpu_nodes():
    pool = one(pool="gpu")["pool"]
    assert pool["extra_resources"] == {"nvidia.com/gpu": "1"}
    assert pool["runtime_class"] == "nvidia"
    assert pool["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_pool_overrides_replace_fields_and_define_new_pools_without_touching_the_catalogue():
    pools = {
        "nix": {"concurrency": 3},
        "arm": {"labels": ["arm64"], "node_selector": {"kubernetes.io/arch": "arm64"}},
    }
    got = expand([enrollment(), enrollment(name="acme-arm", pool="arm")], pools=pools)
    assert got[0]["pool"]["concurrency"] == 3
    assert got[0]["pool"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert got[1]["pool"]["image"] == _enrollment.POOLS["docker"]["image"]
    assert got[1]["pool"]["node_selector"] == {"kubernetes.io/arch": "arm64"}
    assert _enrollment.POOLS["nix"]["concurrency"] == 6
    with pytest.raises(EnrollmentError) as caught:
        expand([enrollment()], pools={"nix": {"colour": "red"}})
    assert caught.value.field == "pools.nix.colour"


def test_tenants_gather_their_caches_pools_and_enrollments():
    got = tenants(
        expand(
            [
                enrollment(),
                enrollment(
                    name="acme-docker", pool="docker", cache={"attic": "acme-ci"}
                ),
                enrollment(
                    name="beta-site",
                    tenant={"name": "beta", "kind": "customer"},
                    forge={"type": "forgejo", "scope": "org", "target": "beta"},
                ),
            ]
        )
    )
    assert got["acme"] == {
        "kind": "org",
        "namespace": "flywheel-runners-acme",
        "attic_view": "acme-*",
        "attic_caches": ["acme-main", "acme-ci"],
        "bazel_prefixes": ["acme"],
        "pools": ["nix", "docker"],
        "enrollments": ["acme-widgets-nix", "acme-docker"],
        "largest_limits": {"cpu": "4", "memory": "8Gi"},
        "privileged": False,
        "extra_resources": [],
    }
    assert got["beta"]["attic_caches"] == ["beta-main"]
    assert got["beta"]["kind"] == "customer"


def test_one_tenant_described_two_ways_is_refused():
    with pytest.raises(EnrollmentError) as caught:
        tenants(
            expand(
                [
                    enrollment(),
                    enrollment(name="acme-2", tenant={"name": "acme", "kind": "team"}),
                ]
            )
        )
    assert (caught.value.enrollment, caught.value.field) == ("acme-2", "tenant")


def test_job_runners_never_carry_the_platform_label():
    for pool in _enrollment.POOLS.values():
        assert "kubernetes" not in pool["labels"]


def test_tenant_limits_privilege_and_devices_follow_its_largest_pools():
    got = tenants(
        expand(
            [
                enrollment(pool="docker"),
                enrollment(name="acme-heavy", pool="nix-heavy"),
                enrollment(
                    name="acme-kvm", pool={"name": "kvm", "kvm_access": "host-path"}
                ),
                enrollment(
                    name="acme-gpu",
                    pool={"name": "gpu", "limits": {"cpu": "16", "memory": "30000Mi"}},
                ),
            ]
        )
    )["acme"]
    # 16 CPU beats 8; 32Gi (34359738368) beats 30000Mi (31457280000).
    assert got["largest_limits"] == {"cpu": "16", "memory": "32Gi"}
    assert got["privileged"] is True
    assert got["extra_resources"] == ["nvidia.com/gpu"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5),
        ("2", 2),
        (4, 4),
        ("1Gi", 2**30),
        ("1G", 1e9),
        ("256Mi", 256 * 2**20),
    ],
)
def test_quantities_compare_as_kubernetes_reads_them(text, value):
    assert _enrollment.quantity(text) == pytest.approx(value)


def test_a_limit_that_is_no_quantity_names_the_field():
    with pytest.raises(EnrollmentError) as caught:
        tenants(
            expand(
                [
                    enrollment(
                        pool={
                            "name": "docker",
                            "limits": {"cpu": "lots", "memory": "1Gi"},
                        }
                    )
                ]
            )
        )
    assert caught.value.field == "pool.limits.cpu"


def test_a_cache_in_a_longer_named_tenants_view_is_refused():
    entries = [
        enrollment(
            tenant={"name": "acme-ci", "kind": "org"}, cache={"attic": "acme-ci-main"}
        ),
        enrollment(name="acme-sneaky", cache={"attic": "acme-ci-main"}),
    ]
    with pytest.raises(EnrollmentError) as caught:
        tenants(expand(entries))
    assert (caught.value.enrollment, caught.value.field) == (
        "acme-sneaky",
        "cache.attic",
    )
    assert "tenant acme-ci's cache view" in str(caught.value)


def test_without_a_tenant_placeholder_every_tenant_shares_one_bazel_cache():
    shared = "grpc://bazel-cache.flywheel-cache.svc.cluster.local:9092"
    got = expand([enrollment()], bazel_url=shared)[0]
    assert got["cache"]["env"]["BAZEL_REMOTE_CACHE"] == shared
