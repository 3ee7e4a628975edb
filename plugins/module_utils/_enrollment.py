# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The enrollment model: one entry of `flywheel_enrollments` per forge scope, placed along
four dimensions (forge scope, operator tenant, execution pool, cache plane), checked and
expanded into everything the runner and cache roles derive from it.

Private to the collection (the leading underscore): it may change in any release.

The pool catalogue lives here and nowhere else; roles read the expanded enrollments.
Defaults follow the reference deployment (docs/forge-*.md, ../shared/UPSTREAM.md there);
nix-heavy and kvm are defined here.
"""

from __future__ import annotations

import copy
import re

FORGE_SCOPES = {
    "github": ("repo", "org", "enterprise"),
    "gitlab": ("project", "group", "instance"),
    "forgejo": ("repo", "org", "user", "instance"),
}
FORGE_URLS = {
    "github": "https://github.com",
    "gitlab": "https://gitlab.com",
    "forgejo": "https://codeberg.org",
}
TENANT_KINDS = ("team", "org", "enterprise", "customer")
AUTH_KINDS = {"github": ("app", "pat"), "gitlab": ("token",), "forgejo": ("token",)}

UPSTREAM_NIX_CACHE = "https://cache.nixos.org"
# Job pods never carry a `kubernetes` label/tag: platform jobs must not land on tenant
# runners by accident (the reference deployment keeps the same rule).
RESERVED_LABELS = frozenset(("kubernetes",))

# One entry per pool: what the runner roles put in the job pod. `cache` says whether the
# pool's jobs get the Nix substituter, push token and Bazel cache environment.
POOLS = {
    "docker": {
        "image": "docker.io/library/alpine:3.21",
        "labels": ["docker", "linux", "amd64"],
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
        "concurrency": 12,
        "node_selector": {},
        "tolerations": [],
        "runtime_class": None,
        "extra_resources": {},
        "privileged": False,
        "host_paths": [],
        "cache": False,
    },
    "nix": {
        "image": "docker.io/nixos/nix:2.24.9",
        "labels": ["nix", "flakes", "linux", "amd64"],
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
        "concurrency": 6,
        "node_selector": {},
        "tolerations": [],
        "runtime_class": None,
        "extra_resources": {},
        "privileged": False,
        "host_paths": [],
        "cache": True,
    },
    # Large closures (compilers, images) on nodes kept for them.
    "nix-heavy": {
        "image": "docker.io/nixos/nix:2.24.9",
        "labels": ["nix", "flakes", "heavy", "linux", "amd64"],
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"cpu": "8", "memory": "32Gi"},
        "concurrency": 2,
        "node_selector": {"glorious.flywheel/pool": "nix-heavy"},
        "tolerations": [
            {
                "key": "glorious.flywheel/pool",
                "operator": "Equal",
                "value": "nix-heavy",
                "effect": "NoSchedule",
            }
        ],
        "runtime_class": None,
        "extra_resources": {},
        "privileged": False,
        "host_paths": [],
        "cache": True,
    },
    "gpu": {
        "image": "docker.io/nvidia/cuda:12.4.1-devel-ubuntu22.04",
        "labels": ["gpu", "nvidia", "cuda", "linux", "amd64"],
        "requests": {"cpu": "1", "memory": "4Gi"},
        "limits": {"cpu": "8", "memory": "32Gi"},
        "concurrency": 2,
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ],
        "runtime_class": "nvidia",
        "extra_resources": {"nvidia.com/gpu": "1"},
        "privileged": False,
        "host_paths": [],
        "cache": False,
    },
    # /dev/kvm through the KubeVirt device plugin's resource by default; `kvm_access:
    # host-path` mounts the device from the node instead (needs a privileged pod).
    "kvm": {
        "image": "docker.io/nixos/nix:2.24.9",
        "labels": ["kvm", "nix", "linux", "amd64"],
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
        "concurrency": 2,
        "node_selector": {"glorious.flywheel/kvm": "true"},
        "tolerations": [],
        "runtime_class": None,
        "extra_resources": {"devices.kubevirt.io/kvm": "1"},
        "privileged": False,
        "host_paths": [],
        "cache": True,
    },
}
POOL_FIELDS = frozenset(next(iter(POOLS.values()))) | {"kvm_access"}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")
_GITLAB_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_ATTIC_CACHE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Helm release names are DNS labels of at most 53 characters; ARC refuses a
# runnerScaleSetName longer than 45 (its chart's validation).
MAX_RELEASE_NAME = 53
MAX_SCALE_SET_NAME = 45
ENROLLMENT_KEYS = frozenset(("name", "forge", "tenant", "pool", "cache", "runners"))


class EnrollmentError(ValueError):
    """A bad enrollment, caught before any API call; names the entry and the field."""

    def __init__(self, enrollment, field, problem):
        self.enrollment = enrollment
        self.field = field
        super().__init__(f"enrollment {enrollment!r}, field {field}: {problem}")


def pool_catalogue(overrides=None):
    """POOLS with OVERRIDES merged in: a known pool's fields replaced one by one, or a new
    pool given whole (based on `docker` for the fields it leaves out)."""
    pools = copy.deepcopy(POOLS)
    for name, fields in (overrides or {}).items():
        if not _DNS_LABEL.match(name):
            raise EnrollmentError(
                "-", f"pools.{name}", "a pool name must be a DNS label"
            )
        if not isinstance(fields, dict):
            raise EnrollmentError("-", f"pools.{name}", "must be a mapping of fields")
        unknown = sorted(set(fields) - POOL_FIELDS)
        if unknown:
            raise EnrollmentError(
                "-",
                f"pools.{name}.{unknown[0]}",
                f"unknown pool field; known: {', '.join(sorted(POOL_FIELDS))}",
            )
        base = pools.get(name) or copy.deepcopy(POOLS["docker"])
        base.update(copy.deepcopy(fields))
        pools[name] = base
    return pools


def _mapping(entry, name, key, default=None):
    value = entry.get(key, default)
    if value is None:
        raise EnrollmentError(name, key, "is required")
    if isinstance(value, str) and key == "pool":
        return {"name": value}
    if not isinstance(value, dict):
        raise EnrollmentError(
            name, key, f"must be a mapping, got {type(value).__name__}"
        )
    return value


def _forge(entry, name):
    forge = _mapping(entry, name, "forge")
    kind = forge.get("type")
    if kind == "gitea":
        kind = "forgejo"  # same runner and API for our purposes
    if kind not in FORGE_SCOPES:
        raise EnrollmentError(
            name, "forge.type", f"{kind!r} is not one of {', '.join(FORGE_SCOPES)}"
        )
    scope = forge.get("scope")
    if scope not in FORGE_SCOPES[kind]:
        raise EnrollmentError(
            name,
            "forge.scope",
            f"{scope!r} is not a {kind} scope; use one of {', '.join(FORGE_SCOPES[kind])}",
        )
    target = forge.get("target")
    if scope == "instance":
        if target:
            raise EnrollmentError(
                name, "forge.target", "an instance-wide enrollment takes no target"
            )
    elif not target:
        raise EnrollmentError(name, "forge.target", f"a {scope} enrollment needs one")
    else:
        _check_target(name, kind, scope, str(target))
    auth = forge.get("auth") or AUTH_KINDS[kind][0]
    if auth not in AUTH_KINDS[kind]:
        raise EnrollmentError(
            name,
            "forge.auth",
            f"{auth!r} is not a {kind} credential; use one of {', '.join(AUTH_KINDS[kind])}",
        )
    # docs.github.com, "Authenticating ARC to the GitHub API": a GitHub App cannot
    # register runners at the enterprise level.
    if kind == "github" and scope == "enterprise" and auth == "app":
        raise EnrollmentError(
            name,
            "forge.auth",
            "GitHub Apps cannot register enterprise-level runners; set auth: pat "
            "(a classic token with manage_runners:enterprise)",
        )
    url = str(forge.get("url") or FORGE_URLS[kind]).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise EnrollmentError(name, "forge.url", f"{url!r} is not an http(s) URL")
    return {
        "type": kind,
        "scope": scope,
        "target": target or None,
        "auth": auth,
        "url": url,
        "config_url": _config_url(kind, scope, target, url),
    }


def _check_target(name, kind, scope, target):
    if scope == "repo" and not _OWNER_NAME.match(target):
        raise EnrollmentError(
            name, "forge.target", f"a repo is owner/name, got {target!r}"
        )
    if kind == "gitlab" and scope in ("project", "group"):
        if not (target.isdigit() or _GITLAB_PATH.match(target)):
            raise EnrollmentError(
                name,
                "forge.target",
                f"a GitLab {scope} is a numeric id or a path like group/sub, got {target!r}",
            )
        if scope == "project" and not target.isdigit() and "/" not in target:
            raise EnrollmentError(
                name,
                "forge.target",
                f"a GitLab project path includes its namespace (group/project), got {target!r}",
            )
    if scope in ("org", "user", "enterprise") and not _SLUG.match(target):
        raise EnrollmentError(
            name, "forge.target", f"a {scope} is a login or slug, got {target!r}"
        )


def _config_url(kind, scope, target, url):
    """Where the runner registers: ARC's githubConfigUrl, the GitLab or Forgejo URL."""
    if kind != "github":
        return url
    if scope == "enterprise":
        return f"{url}/enterprises/{target}"
    return f"{url}/{target}"


def _tenant(entry, name):
    tenant = _mapping(entry, name, "tenant")
    tenant_name = tenant.get("name")
    if not tenant_name or not _DNS_LABEL.match(str(tenant_name)):
        raise EnrollmentError(
            name,
            "tenant.name",
            f"{tenant_name!r} must be a DNS label (lower case, digits, '-'): it names "
            "the tenant's namespace and caches",
        )
    kind = tenant.get("kind", "team")
    if kind not in TENANT_KINDS:
        raise EnrollmentError(
            name, "tenant.kind", f"{kind!r} is not one of {', '.join(TENANT_KINDS)}"
        )
    return {
        "name": tenant_name,
        "kind": kind,
        "namespace": tenant.get("namespace") or f"flywheel-runners-{tenant_name}",
    }


def _pool(entry, name, pools):
    chosen = _mapping(entry, name, "pool")
    pool_name = chosen.get("name")
    if pool_name not in pools:
        raise EnrollmentError(
            name, "pool.name", f"{pool_name!r} is not one of {', '.join(sorted(pools))}"
        )
    pool = copy.deepcopy(pools[pool_name])
    unknown = sorted(set(chosen) - POOL_FIELDS - {"name"})
    if unknown:
        raise EnrollmentError(
            name,
            f"pool.{unknown[0]}",
            f"unknown pool field; known: {', '.join(sorted(POOL_FIELDS))}",
        )
    pool.update({k: copy.deepcopy(v) for k, v in chosen.items() if k != "name"})
    pool["name"] = pool_name
    reserved = RESERVED_LABELS & set(pool["labels"])
    if reserved:
        raise EnrollmentError(
            name,
            "pool.labels",
            f"{sorted(reserved)[0]!r} is reserved for platform jobs; job runners never carry it",
        )
    if pool.get("kvm_access", "device-plugin") == "host-path":
        pool["extra_resources"].pop("devices.kubevirt.io/kvm", None)
        pool["privileged"] = True
        pool["host_paths"] = [{"path": "/dev/kvm", "type": "CharDevice"}]
    elif pool.get("kvm_access") not in (None, "device-plugin"):
        raise EnrollmentError(name, "pool.kvm_access", "use device-plugin or host-path")
    if not isinstance(pool["concurrency"], int) or pool["concurrency"] < 1:
        raise EnrollmentError(name, "pool.concurrency", "must be a positive integer")
    return pool


def _runners(entry, name):
    runners = entry.get("runners") or {}
    if not isinstance(runners, dict):
        raise EnrollmentError(name, "runners", "must be a mapping (min, max)")
    minimum, maximum = runners.get("min", 0), runners.get("max", 5)
    for field, value in (("min", minimum), ("max", maximum)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise EnrollmentError(
                name, f"runners.{field}", f"must be a whole number >= 0, got {value!r}"
            )
    if minimum > maximum:
        raise EnrollmentError(
            name, "runners.min", f"{minimum} is more than runners.max ({maximum})"
        )
    return {"min": minimum, "max": maximum, "group": runners.get("group")}


def _cache(entry, name, tenant, pool, attic_url, bazel_url):
    """The cache plane: the tenant's Attic cache view and token scope, its Bazel cache."""
    cache = entry.get("cache") or {}
    if not isinstance(cache, dict):
        raise EnrollmentError(name, "cache", "must be a mapping")
    view = f"{tenant['name']}-"
    attic_cache = cache.get("attic", f"{view}main")
    if attic_cache:
        if not _ATTIC_CACHE.match(str(attic_cache)):
            raise EnrollmentError(
                name,
                "cache.attic",
                f"{attic_cache!r} is not an Attic cache name (letters, digits, '.', '_', '-')",
            )
        # Each tenant's tokens reach its own caches only: the view is `<tenant>-*`.
        if not str(attic_cache).startswith(view):
            raise EnrollmentError(
                name,
                "cache.attic",
                f"{attic_cache!r} is outside tenant {tenant['name']}'s cache view "
                f"({view}*); name it {view}<something>",
            )
    push = bool(cache.get("push", pool["cache"]))
    if push and not attic_cache:
        raise EnrollmentError(name, "cache.push", "pushing needs cache.attic")
    bazel_prefix = cache.get("bazel", tenant["name"])
    if bazel_prefix and not _DNS_LABEL.match(str(bazel_prefix)):
        raise EnrollmentError(
            name, "cache.bazel", f"{bazel_prefix!r} must be a DNS label"
        )
    permissions = ["pull", "push"] if push else ["pull"]
    env = {}
    if pool["cache"] and attic_cache and attic_url:
        env["ATTIC_SERVER"] = attic_url
        env["ATTIC_CACHE"] = attic_cache
        # Upstream stays listed, so builds go on when Attic is down (only slower).
        env["NIX_CONFIG"] = "\n".join(
            (
                f"extra-substituters = {attic_url.rstrip('/')}/{attic_cache}",
                f"substituters = {UPSTREAM_NIX_CACHE}",
                "fallback = true",
                "connect-timeout = 5",
            )
        )
    if pool["cache"] and bazel_prefix and bazel_url:
        # roles/bazel_remote runs one instance per tenant (bazel-cache-<tenant>): the URL
        # names it through `{tenant}`; without the placeholder every tenant shares one.
        env["BAZEL_REMOTE_CACHE"] = bazel_url.replace("{tenant}", bazel_prefix)
    return {
        "attic": attic_cache or None,
        "attic_view": f"{view}*",
        # The exact cache, not the view's wildcard: `acme-*` would also reach the caches of
        # a tenant named acme-ci.
        "attic_token_permissions": {attic_cache: permissions} if attic_cache else {},
        "push": push,
        "bazel": bazel_prefix or None,
        "env": env,
    }


def expand(enrollments, pools=None, attic_url=None, bazel_url=None):
    """Checks ENROLLMENTS and returns them expanded; raises EnrollmentError on the first
    bad one. POOLS overrides the catalogue; the URLs fill the cache environment."""
    if not isinstance(enrollments, list):
        raise EnrollmentError("-", "flywheel_enrollments", "must be a list")
    catalogue = pool_catalogue(pools)
    expanded, seen = [], set()
    for index, entry in enumerate(enrollments):
        if not isinstance(entry, dict):
            raise EnrollmentError(f"#{index}", "-", "each enrollment is a mapping")
        name = entry.get("name")
        if not name or not _DNS_LABEL.match(str(name)) or len(name) > MAX_RELEASE_NAME:
            raise EnrollmentError(
                name or f"#{index}",
                "name",
                f"must be a DNS label of at most {MAX_RELEASE_NAME} characters: it names "
                "the Helm release",
            )
        if name in seen:
            raise EnrollmentError(name, "name", "is used by an earlier enrollment")
        seen.add(name)
        unknown = sorted(set(entry) - ENROLLMENT_KEYS)
        if unknown:
            raise EnrollmentError(
                name,
                unknown[0],
                f"unknown field; an enrollment has {', '.join(sorted(ENROLLMENT_KEYS))}",
            )
        forge = _forge(entry, name)
        if forge["type"] == "github" and len(name) > MAX_SCALE_SET_NAME:
            raise EnrollmentError(
                name,
                "name",
                f"ARC's runnerScaleSetName is at most {MAX_SCALE_SET_NAME} characters "
                f"({len(name)} given)",
            )
        tenant = _tenant(entry, name)
        pool = _pool(entry, name, catalogue)
        expanded.append(
            {
                "name": name,
                "forge": forge,
                "tenant": tenant,
                "pool": pool,
                "runners": _runners(entry, name),
                "cache": _cache(entry, name, tenant, pool, attic_url, bazel_url),
            }
        )
    return expanded


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIXES = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value):
    """A Kubernetes quantity ("500m", "8Gi", 2) as a number, to compare two of them."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"{value!r} is not a Kubernetes quantity like 500m, 2 or 8Gi")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def _larger(current, candidate):
    size = quantity(candidate)
    return candidate if current is None or size > quantity(current) else current


def _check_cache_owner(enrollment, expanded):
    """A cache belongs to the tenant with the longest name it starts with: tenant acme may
    not name acme-ci-main when a tenant acme-ci exists."""
    cache = enrollment["cache"]["attic"]
    if not cache:
        return
    names = {e["tenant"]["name"] for e in expanded}
    owner = max((n for n in names if cache.startswith(f"{n}-")), key=len)
    if owner != enrollment["tenant"]["name"]:
        raise EnrollmentError(
            enrollment["name"],
            "cache.attic",
            f"{cache!r} is in tenant {owner}'s cache view ({owner}-*); tenants never share caches",
        )


def tenants(expanded):
    """Per tenant: its namespace, Attic caches and view, Bazel prefixes, pools, enrollments,
    the largest limits its pools set (a LimitRange must admit them), whether a pool needs
    privileged pods, and the extended resources (GPUs, /dev/kvm) its pools ask for."""
    result = {}
    for enrollment in expanded:
        tenant = enrollment["tenant"]
        entry = result.setdefault(
            tenant["name"],
            {
                "kind": tenant["kind"],
                "namespace": tenant["namespace"],
                "attic_view": enrollment["cache"]["attic_view"],
                "attic_caches": [],
                "bazel_prefixes": [],
                "pools": [],
                "enrollments": [],
                "largest_limits": {"cpu": None, "memory": None},
                "privileged": False,
                "extra_resources": [],
            },
        )
        if entry["kind"] != tenant["kind"] or entry["namespace"] != tenant["namespace"]:
            raise EnrollmentError(
                enrollment["name"],
                "tenant",
                f"tenant {tenant['name']} is described differently by an earlier "
                "enrollment (kind or namespace)",
            )
        for key, value in (
            ("attic_caches", enrollment["cache"]["attic"]),
            ("bazel_prefixes", enrollment["cache"]["bazel"]),
            ("pools", enrollment["pool"]["name"]),
            ("enrollments", enrollment["name"]),
        ):
            if value and value not in entry[key]:
                entry[key].append(value)
        pool = enrollment["pool"]
        for resource in ("cpu", "memory"):
            try:
                entry["largest_limits"][resource] = _larger(
                    entry["largest_limits"][resource], pool["limits"][resource]
                )
            except (KeyError, ValueError) as exc:
                raise EnrollmentError(
                    enrollment["name"], f"pool.limits.{resource}", str(exc)
                ) from None
        entry["privileged"] = entry["privileged"] or bool(pool["privileged"])
        _check_cache_owner(enrollment, expanded)
        for resource in pool["extra_resources"]:
            if resource not in entry["extra_resources"]:
                entry["extra_resources"].append(resource)
    return result
