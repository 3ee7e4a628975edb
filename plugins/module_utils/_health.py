# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health probes of a flywheel platform and the classification they add up to.

Private to the collection (the leading underscore): it may change in any release.

Each probe returns one component: ``{"status", "message", "evidence"}``. A status is
``healthy``, ``degraded``, ``down`` or ``unreachable``; a component nobody asked to
probe is ``not_configured`` and never counts as healthy. :func:`classify` turns the
components into the platform states the recover runbooks act on.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    ApiError,
    Auth,
    quote_segment,
)

HEALTHY = "healthy"
DEGRADED = "degraded"
DOWN = "down"
UNREACHABLE = "unreachable"
NOT_CONFIGURED = "not_configured"

# Per-pool status words as the upstream health check printed them (../shared/UPSTREAM.md).
POOL_HEALTHY = "HEALTHY"
POOL_DEGRADED = "DEGRADED"
POOL_DOWN = "DOWN"

POOL_LABEL = "glorious.flywheel/pool"
TENANT_LABEL = "glorious.flywheel/tenant"
PART_OF_SELECTOR = "app.kubernetes.io/part-of=glorious-flywheel"
PLATFORM_NAMESPACES = ("flywheel-system", "flywheel-cache")
RUNNER_NAMESPACE_PREFIX = "flywheel-runners-"

# Most severe first: ``state`` is the first that applies, ``states`` all of them.
STATES = (
    "cluster_unreachable",
    "tailnet_unreachable",
    "all_runners_down",
    "attic_down",
    "pool_degraded",
    "bazel_down",
    "dashboard_down",
    "degraded",
)


def component(status, message, **evidence):
    return {"status": status, "message": message, "evidence": evidence}


def not_configured(option):
    return component(NOT_CONFIGURED, f"not probed: {option} is not set")


def http_client(
    url,
    timeout,
    retries,
    validate_certs=True,
    ca_path=None,
    token=None,
    auth=None,
    headers=None,
):
    """An ApiClient whose whole call, retries included, ends within a few timeouts: what a
    probe needs. TOKEN is sent as a Bearer token, unless AUTH gives another Auth."""
    return ApiClient(
        url,
        auth=auth or (Auth.bearer(token) if token else None),
        timeout=timeout,
        retries=retries,
        deadline=timeout * (retries + 1),
        backoff_base=0.2,
        backoff_max=1.0,
        validate_certs=validate_certs,
        ca_path=ca_path,
        headers=headers or {"Accept": "*/*"},
    )


def _failure(error):
    """(status, evidence) of an ApiError: no answer is down, an answer is its status."""
    evidence = {"error": str(error), "http_status": error.status}
    if error.status is None or error.status >= 500:
        return DOWN, evidence
    return DEGRADED, evidence


def probe_attic(client, cache, token_client=None):
    """Attic: the substituter's ``nix-cache-info`` and, with a token, the cache config.

    Both routes are upstream's (zhaofengli/attic server/src/api/binary_cache.rs and
    server/src/api/v1/cache_config.rs). Attic answers 401 both for a private cache
    asked anonymously and for a cache that does not exist.
    """
    evidence = {"cache": cache}
    path = f"{quote_segment(cache)}/nix-cache-info"
    try:
        answer = client.get(path, allow_status=(401,))
    except ApiError as error:
        status, detail = _failure(error)
        evidence.update(nix_cache_info=detail)
        word = "is down" if status == DOWN else "refused nix-cache-info"
        return component(status, f"Attic {word}: {error}", **evidence)
    readable = answer.status == 200 and "StoreDir:" in (answer.body or "")
    evidence["nix_cache_info"] = {"http_status": answer.status, "readable": readable}
    if token_client is None:
        if readable:
            return component(HEALTHY, f"Attic serves cache {cache}", **evidence)
        return component(
            DEGRADED,
            f"Attic answers but cache {cache} is not readable anonymously (private, "
            "or no such cache): give attic_token to check it with a token",
            **evidence,
        )
    try:
        token_client.get(f"_api/v1/cache-config/{quote_segment(cache)}")
    except ApiError as error:
        status, detail = _failure(error)
        evidence["token_check"] = detail
        if status == DOWN:
            return component(DOWN, f"Attic is down: {error}", **evidence)
        return component(
            DEGRADED,
            f"Attic serves, but the token cannot read cache {cache}: {error}",
            **evidence,
        )
    evidence["token_check"] = {"http_status": 200}
    return component(
        HEALTHY, f"Attic serves cache {cache}; the token reads it", **evidence
    )


def probe_json_endpoint(client, path, name):
    """A GET that must answer 2xx; the JSON it returns is the evidence."""
    try:
        answer = client.get(path)
    except ApiError as error:
        status, detail = _failure(error)
        return component(status, f"{name} is {status}: {error}", **detail)
    body = answer.body if isinstance(answer.body, dict) else {}
    return component(
        HEALTHY, f"{name} answers {path}", http_status=answer.status, body=body
    )


def probe_bazel(client):
    """bazel-remote's ``/status`` (buchgr/bazel-remote server/http.go, statusPageData)."""
    found = probe_json_endpoint(client, "status", "Bazel remote cache")
    if found["status"] == HEALTHY:
        body = found["evidence"].pop("body")
        found["evidence"].update(
            {
                k: body[k]
                for k in ("CurrSize", "MaxSize", "NumFiles", "GitCommit")
                if k in body
            }
        )
    return found


def probe_dashboard(client):
    found = probe_json_endpoint(client, "api/health", "The dashboard")
    found["evidence"].pop("body", None)
    return found


def probe_tailnet(api, expected_nodes=()):
    """Nodes of the tailnet and whether each of EXPECTED_NODES is online.

    API is a HeadscaleApi or TailscaleApi (module_utils/_tailnet_module.py: connect).
    """
    try:
        devices = api.list_devices()
    except ApiError as error:
        return component(
            UNREACHABLE,
            f"the tailnet control plane did not answer: {error}",
            error=str(error),
            http_status=error.status,
        )
    online = sorted(d["name"] for d in devices if d["online"])
    offline = sorted(d["name"] for d in devices if not d["online"])
    missing = [name for name in expected_nodes if name not in online]
    evidence = {"online": online, "offline": offline, "not_online": missing}
    if missing:
        return component(
            DEGRADED, f"tailnet nodes not online: {', '.join(missing)}", **evidence
        )
    return component(
        HEALTHY, f"{len(online)} of {len(devices)} tailnet nodes online", **evidence
    )


# Kubernetes -------------------------------------------------------------------


class ClusterUnreachable(Exception):
    """The API server did not answer, or refused the credentials."""


def cluster_namespaces(core, namespaces, timeout):
    """NAMESPACES, or the platform's: its fixed namespaces plus labelled tenant ones."""
    if namespaces:
        return list(dict.fromkeys(namespaces))
    labelled = core.list_namespace(
        label_selector=PART_OF_SELECTOR, _request_timeout=timeout
    ).items
    # A tenant may name its namespace (enrollment `tenant.namespace`); the
    # runner_namespaces role labels it with the tenant either way.
    runners = sorted(
        ns.metadata.name
        for ns in labelled
        if ns.metadata.name.startswith(RUNNER_NAMESPACE_PREFIX)
        or TENANT_LABEL in (ns.metadata.labels or {})
    )
    return list(PLATFORM_NAMESPACES) + runners


def _pod_ready(pod):
    for condition in pod.status.conditions or ():
        if condition.type == "Ready":
            return condition.status == "True"
    return False


def read_cluster(core, apps, namespaces, timeout):
    """{namespace: {"workloads": [...], "pods": [...]}} as plain dicts.

    A namespace that does not exist is left out (None), not an error: a fresh
    cluster has not got every platform namespace yet.
    """
    existing = {
        ns.metadata.name for ns in core.list_namespace(_request_timeout=timeout).items
    }
    found = {}
    for namespace in namespaces:
        if namespace not in existing:
            found[namespace] = None
            continue
        workloads = []
        for kind, lister in (
            ("Deployment", apps.list_namespaced_deployment),
            ("StatefulSet", apps.list_namespaced_stateful_set),
        ):
            for item in lister(namespace, _request_timeout=timeout).items:
                template = item.spec.template.metadata
                workloads.append(
                    {
                        "kind": kind,
                        "name": item.metadata.name,
                        "desired": item.spec.replicas
                        if item.spec.replicas is not None
                        else 1,
                        "ready": item.status.ready_replicas or 0,
                        "pool": ((template.labels or {}) if template else {}).get(
                            POOL_LABEL
                        ),
                    }
                )
        pods = [
            {
                "name": pod.metadata.name,
                "pool": pod.metadata.labels[POOL_LABEL],
                "phase": pod.status.phase,
                "ready": _pod_ready(pod),
            }
            for pod in core.list_namespaced_pod(
                namespace, label_selector=POOL_LABEL, _request_timeout=timeout
            ).items
            # A finished job pod (ARC runners are ephemeral) is not a runner to wait for.
            if pod.metadata.deletion_timestamp is None
            and pod.status.phase not in ("Succeeded", "Failed")
        ]
        found[namespace] = {"workloads": workloads, "pods": pods}
    return found


def rollouts_component(cluster):
    pending, counted, absent = [], 0, []
    for namespace, content in cluster.items():
        if content is None:
            absent.append(namespace)
            continue
        for workload in content["workloads"]:
            counted += 1
            if workload["ready"] < workload["desired"]:
                pending.append(
                    {
                        "namespace": namespace,
                        "kind": workload["kind"],
                        "name": workload["name"],
                        "ready": workload["ready"],
                        "desired": workload["desired"],
                    }
                )
    evidence = {
        "namespaces": [ns for ns in cluster if cluster[ns] is not None],
        "absent_namespaces": absent,
        "workloads": counted,
        "not_ready": pending,
    }
    if pending:
        names = ", ".join(f"{p['namespace']}/{p['name']}" for p in pending)
        return component(DEGRADED, f"rollouts not complete: {names}", **evidence)
    return component(HEALTHY, f"{counted} workloads ready", **evidence)


def pool_status(ready, expected):
    if ready == 0:
        return POOL_DOWN
    return POOL_HEALTHY if ready >= expected else POOL_DEGRADED


def pools_from_cluster(cluster, expected_pools=()):
    """{pool: {status, ready, expected, namespaces}} from labelled workloads and pods.

    ``expected`` is the larger of the replicas the pool's workloads want and the pods
    that exist (an ARC scale set has no Deployment, only runner pods). A pool named in
    EXPECTED_POOLS with nothing in the cluster is DOWN.
    """
    pools = {
        name: {"ready": 0, "desired": 0, "pods": 0, "namespaces": set()}
        for name in expected_pools
    }
    for namespace, content in cluster.items():
        if content is None:
            continue
        for workload in content["workloads"]:
            if workload["pool"]:
                pool = pools.setdefault(
                    workload["pool"],
                    {"ready": 0, "desired": 0, "pods": 0, "namespaces": set()},
                )
                pool["desired"] += workload["desired"]
                pool["namespaces"].add(namespace)
        for pod in content["pods"]:
            pool = pools.setdefault(
                pod["pool"], {"ready": 0, "desired": 0, "pods": 0, "namespaces": set()}
            )
            pool["pods"] += 1
            pool["ready"] += 1 if pod["ready"] else 0
            pool["namespaces"].add(namespace)
    result = {}
    for name, pool in sorted(pools.items()):
        expected = max(pool["desired"], pool["pods"], 1)
        result[name] = {
            "status": pool_status(pool["ready"], expected),
            "ready": pool["ready"],
            "expected": expected,
            "pods": pool["pods"],
            "namespaces": sorted(pool["namespaces"]),
        }
    return result


def runners_component(pools):
    if not pools:
        return component(
            NOT_CONFIGURED,
            f"no runner pools found (no pods or workloads labelled {POOL_LABEL}, "
            "and no pools option)",
            pools={},
        )
    bad = [name for name, pool in pools.items() if pool["status"] != POOL_HEALTHY]
    if not bad:
        return component(HEALTHY, f"{len(pools)} pools healthy", pools=pools)
    if all(pools[name]["status"] == POOL_DOWN for name in pools):
        return component(DOWN, "every runner pool is DOWN", pools=pools)
    text = ", ".join(f"{name} {pools[name]['status']}" for name in bad)
    return component(DEGRADED, f"pools not healthy: {text}", pools=pools)


def apply_forge_runners(pools, results):
    """Pools (from pools_from_cluster) judged by their forges too; returns the ``forges``
    component. RESULTS are _forge_runners.probe answers.

    A pool the cluster counts ready whose enrolled runner the forge does not see online
    takes no jobs: it becomes DEGRADED, which recover answers by redeploying that pool
    (re-registering it). An enrolled pool with no workload at all is DOWN. A forge that
    does not answer is reported in ``forges`` (degraded: the pools' state cannot be
    confirmed) and changes no pool.
    """
    if not results:
        return not_configured("forge_runners")
    unreachable = []
    for result in results:
        name = result["pool"]
        if result["outcome"] == "unreachable":
            unreachable.append(result)
        pool = pools.get(name)
        if pool is None:
            pool = pools[name] = {
                "status": POOL_DOWN,
                "ready": 0,
                "expected": 1,
                "pods": 0,
                "namespaces": [],
            }
        pool.setdefault("forge", []).append(result)
        if pool["status"] == POOL_HEALTHY and result["outcome"] in (
            "none_online",
            "some_offline",
        ):
            pool["status"] = POOL_DEGRADED
    if unreachable:
        return component(
            DEGRADED,
            "runner status unknown: " + "; ".join(r["message"] for r in unreachable),
            checks=len(results),
            unreachable=[r["enrollment"] for r in unreachable],
        )
    return component(
        HEALTHY,
        f"{len(results)} enrollment(s) read at their forges",
        checks=len(results),
        unreachable=[],
    )


# Classification -----------------------------------------------------------------


def classify(components):
    """(state, states, degraded_pools) of a {name: component} mapping."""
    status = {name: comp["status"] for name, comp in components.items()}
    states = set()
    if status.get("cluster") == UNREACHABLE:
        states.add("cluster_unreachable")
    if status.get("tailnet") == UNREACHABLE:
        states.add("tailnet_unreachable")
    runners = components.get("runners")
    degraded_pools = []
    if runners and runners["status"] in (DOWN, DEGRADED):
        pools = runners["evidence"]["pools"]
        degraded_pools = sorted(
            n for n, p in pools.items() if p["status"] != POOL_HEALTHY
        )
        states.add("all_runners_down" if runners["status"] == DOWN else "pool_degraded")
    for name, state in (
        ("attic", "attic_down"),
        ("bazel", "bazel_down"),
        ("dashboard", "dashboard_down"),
    ):
        if status.get(name) == DOWN:
            states.add(state)
    if any(s == DEGRADED for n, s in status.items() if n != "runners"):
        states.add("degraded")
    ordered = [s for s in STATES if s in states]
    return (ordered[0] if ordered else HEALTHY), ordered, degraded_pools


def summary_lines(state, components):
    lines = [f"platform: {state}"]
    for name, comp in components.items():
        lines.append(f"{name}: {comp['status']} - {comp['message']}")
        pools = comp["evidence"].get("pools") if name == "runners" else None
        for pool, facts in (pools or {}).items():
            lines.append(
                f"  pool {pool}: {facts['status']} ({facts['ready']}/{facts['expected']} ready)"
            )
            lines.extend(
                f"    {answer['message']}"
                for answer in facts.get("forge", [])
                if answer["outcome"] not in ("online", "reported")
            )
    return lines
