"""The flywheel's MCP server (Python ``mcp`` SDK), spoken over stdio.

An MCP client (an assistant, an editor) starts it on the operator's machine:

    PYTHONPATH=dashboard python -m flywheel_mcp

Read tools use the same probe code as ``flywheel_health`` and the dashboard
(plugins/module_utils/_health.py), so all three agree on what a pool's state is. The two
runbook tools run playbooks/recover.yml and playbooks/redeploy.yml through
ansible-runner (what AWX runs) and are refused unless the server was started with
FLYWHEEL_MCP_ROLE=operator and the call says ``confirm: true``: the role is fixed by
whoever launches the server, so nothing a client sends can raise it.

Environment:
  KUBECONFIG                 cluster to read (else the pod's service account)
  FLYWHEEL_MCP_NAMESPACE     namespace of the flywheel-drift ConfigMap (flywheel-system)
  FLYWHEEL_MCP_CACHE_NAMESPACE  namespace of Attic and the Bazel caches (flywheel-cache)
  FLYWHEEL_MCP_POOL_NAMESPACES  comma-separated namespaces holding pools (default: what
                             flywheel_health searches: platform and labelled tenant ones)
  FLYWHEEL_MCP_ATTIC_URL, FLYWHEEL_MCP_ATTIC_CACHE, FLYWHEEL_MCP_BAZEL_URL,
  FLYWHEEL_MCP_DASHBOARD_URL  endpoints read_health probes (unset: not probed)
  FLYWHEEL_MCP_FORGE_RUNNERS  JSON list of forge checks (the forge_runner_checks
                             filter's output, tokens included): enrolled runners are
                             looked up at their forges (unset: not probed)
  FLYWHEEL_MCP_ROLE          viewer (default) or operator
  FLYWHEEL_MCP_INVENTORY     inventory the runbooks run against
  FLYWHEEL_MCP_PLAYBOOKS     directory of recover.yml and redeploy.yml (the collection's)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import ansible_runner
import anyio
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from urllib3.exceptions import HTTPError as Urllib3Error

from flywheel_dashboard.collection import forge_runners, health

ARC_GROUP, ARC_VERSION = "actions.github.com", "v1alpha1"
DRIFT_CONFIGMAP = "flywheel-drift"
CACHE_KINDS = {"attic": "attic", "bazel-remote": "bazel"}
RUNBOOKS = {"recover": "recover.yml", "redeploy": "redeploy.yml"}
TIMEOUT = 5

mcp = MCPServer(
    "glorious-flywheel",
    instructions=(
        "Read the GloriousFlywheel platform: health, runner pools and runners, caches, "
        "drift. run_recover and run_redeploy change the platform: they need an operator "
        "server and confirm=true; ask the person before confirming."
    ),
)


def env(name, default=None):
    value = os.environ.get(f"FLYWHEEL_MCP_{name}", "")
    return value if value else default


def describe(error):
    if isinstance(error, ApiException):
        try:
            message = json.loads(error.body).get("message") or error.reason
        except (TypeError, ValueError, AttributeError):
            message = error.reason
        return f"HTTP {error.status}: {message}"
    return f"{type(error).__name__}: {error}"


def api_client():
    try:
        if os.environ.get("KUBECONFIG"):
            return kube_config.new_client_from_config(
                config_file=os.environ["KUBECONFIG"]
            )
        configuration = kube_client.Configuration()
        kube_config.load_incluster_config(client_configuration=configuration)
        return kube_client.ApiClient(configuration)
    except (kube_config.ConfigException, OSError) as error:
        raise ToolError(
            f"no Kubernetes configuration: set KUBECONFIG or run in a pod ({error})"
        ) from None


def read_cluster(api):
    """(namespaces, cluster) as flywheel_health reads them."""
    core, apps = kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)
    wanted = [n for n in env("POOL_NAMESPACES", "").split(",") if n.strip()]
    namespaces = health.cluster_namespaces(core, [n.strip() for n in wanted], TIMEOUT)
    return namespaces, health.read_cluster(core, apps, namespaces, TIMEOUT)


def kube_call(what, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except (ApiException, Urllib3Error, OSError) as error:
        raise ToolError(f"{what}: {describe(error)}") from None


def forge_answers(pool=None):
    """The forges' answers for FLYWHEEL_MCP_FORGE_RUNNERS (of POOL when given); None when
    it is not set. Tokens stay in the checks: no answer carries one."""
    text = env("FORGE_RUNNERS")
    if not text:
        return None
    try:
        checks = forge_runners.validate(json.loads(text))
    except ValueError as error:
        raise ToolError(f"FLYWHEEL_MCP_FORGE_RUNNERS: {error}") from None
    return [
        forge_runners.probe(check, timeout=TIMEOUT, retries=0)
        for check in checks
        if pool is None or check["pool"] == pool
    ]


@mcp.tool()
def read_health() -> dict[str, Any]:
    """Probe the platform as flywheel_health does and classify it: state (healthy,
    attic_down, dashboard_down, pool_degraded, all_runners_down, cluster_unreachable...),
    every state that applies, the degraded pools and each component's evidence."""
    components = {}
    api = api_client()
    try:
        cluster = read_cluster(api)[1]
    except (ApiException, Urllib3Error, OSError) as error:
        unreachable = health.component(
            health.UNREACHABLE,
            f"the Kubernetes API did not answer the health probe: {describe(error)}",
        )
        for name in ("cluster", "rollouts", "runners"):
            components[name] = unreachable
    else:
        components["cluster"] = health.component(
            health.HEALTHY, "the Kubernetes API answers", host=api.configuration.host
        )
        components["rollouts"] = health.rollouts_component(cluster)
        pools = health.pools_from_cluster(cluster)
        answers = forge_answers()
        components["forges"] = (
            health.not_configured("FLYWHEEL_MCP_FORGE_RUNNERS")
            if answers is None
            else health.apply_forge_runners(pools, answers)
        )
        components["runners"] = health.runners_component(pools)
    for name, probe in (
        ("attic", lambda c: health.probe_attic(c, env("ATTIC_CACHE", "main"))),
        ("bazel", health.probe_bazel),
        ("dashboard", health.probe_dashboard),
    ):
        url = env(f"{name.upper()}_URL")
        components[name] = (
            probe(health.http_client(url, TIMEOUT, 1))
            if url
            else health.not_configured(f"FLYWHEEL_MCP_{name.upper()}_URL")
        )
    state, states, degraded = health.classify(components)
    return {
        "state": state,
        "states": states,
        "degraded_pools": degraded,
        "components": components,
        "summary": health.summary_lines(state, components),
    }


@mcp.tool()
def list_pools() -> dict[str, Any]:
    """Runner pools (pods and workloads labelled glorious.flywheel/pool): per pool its
    status (HEALTHY, DEGRADED, DOWN), ready and expected runners, and namespaces."""
    api = api_client()
    namespaces, cluster = kube_call("reading the cluster", read_cluster, api)
    return {
        "namespaces": namespaces,
        "pools": health.pools_from_cluster(cluster),
    }


@mcp.tool()
def list_runners(pool: str | None = None) -> dict[str, Any]:
    """Runners: pods labelled with a pool (GitLab and Forgejo managers, ARC runner pods),
    ARC EphemeralRunners with their phase, and each enrolled runner as its forge lists
    it (online or not). POOL narrows to one pool."""
    api = api_client()
    namespaces, cluster = kube_call("reading the cluster", read_cluster, api)
    pods = [
        dict(pod, namespace=namespace)
        for namespace, content in cluster.items()
        if content
        for pod in content["pods"]
        if pool is None or pod["pool"] == pool
    ]
    custom = kube_client.CustomObjectsApi(api)
    ephemeral, arc_error = [], None
    for namespace in namespaces:
        if cluster.get(namespace) is None:
            continue
        try:
            listing = custom.list_namespaced_custom_object(
                ARC_GROUP,
                ARC_VERSION,
                namespace,
                "ephemeralrunners",
                _request_timeout=TIMEOUT,
            )
        except ApiException as error:
            # No ARC installed: the CRD (so the route) does not exist.
            if error.status == 404:
                arc_error = "ARC is not installed (no ephemeralrunners resource)"
                break
            raise ToolError(f"listing EphemeralRunners: {describe(error)}") from None
        for item in listing.get("items", []):
            meta = item["metadata"]
            labels = meta.get("labels") or {}
            if pool is not None and labels.get(health.POOL_LABEL) != pool:
                continue
            ephemeral.append(
                {
                    "namespace": namespace,
                    "name": meta["name"],
                    "pool": labels.get(health.POOL_LABEL),
                    "phase": (item.get("status") or {}).get("phase"),
                }
            )
    result = {"pods": pods, "ephemeral_runners": ephemeral}
    answers = forge_answers(pool)
    if answers is not None:
        result["at_forges"] = answers
    if arc_error:
        result["ephemeral_runners_error"] = arc_error
    return result


@mcp.tool()
def list_caches() -> dict[str, Any]:
    """The cache plane: Attic and Bazel remote cache workloads (namespace flywheel-cache)
    with their ready replicas, and the answer of each cache endpoint that is configured."""
    namespace = env("CACHE_NAMESPACE", "flywheel-cache")
    apps = kube_client.AppsV1Api(api_client())
    deployments = kube_call(
        f"listing Deployments in {namespace}",
        apps.list_namespaced_deployment,
        namespace,
        _request_timeout=TIMEOUT,
    ).items
    caches = []
    for item in deployments:
        kind = CACHE_KINDS.get(
            (item.metadata.labels or {}).get("app.kubernetes.io/name")
        )
        if kind:
            caches.append(
                {
                    "kind": kind,
                    "name": item.metadata.name,
                    "tenant": (item.metadata.labels or {}).get(health.TENANT_LABEL),
                    "desired": item.spec.replicas,
                    "ready": item.status.ready_replicas or 0,
                }
            )
    probes = {}
    if env("ATTIC_URL"):
        probes["attic"] = health.probe_attic(
            health.http_client(env("ATTIC_URL"), TIMEOUT, 1), env("ATTIC_CACHE", "main")
        )
    if env("BAZEL_URL"):
        probes["bazel"] = health.probe_bazel(
            health.http_client(env("BAZEL_URL"), TIMEOUT, 1)
        )
    return {"namespace": namespace, "caches": caches, "probes": probes}


@mcp.tool()
def show_drift() -> dict[str, Any]:
    """The latest drift report redeploy.yml wrote (ConfigMap flywheel-drift): the
    machine-readable record (drift.json) and the human summary (summary.txt)."""
    namespace = env("NAMESPACE", "flywheel-system")
    core = kube_client.CoreV1Api(api_client())
    try:
        found = core.read_namespaced_config_map(
            DRIFT_CONFIGMAP, namespace, _request_timeout=TIMEOUT
        )
    except ApiException as error:
        if error.status == 404:
            return {
                "namespace": namespace,
                "report": None,
                "message": f"no drift report yet (no ConfigMap {namespace}/{DRIFT_CONFIGMAP}): "
                "redeploy.yml writes it",
            }
        raise ToolError(f"reading {DRIFT_CONFIGMAP}: {describe(error)}") from None
    except (Urllib3Error, OSError) as error:
        raise ToolError(f"reading {DRIFT_CONFIGMAP}: {describe(error)}") from None
    data = found.data or {}
    try:
        report = json.loads(data["drift.json"]) if "drift.json" in data else None
    except ValueError as error:
        raise ToolError(f"{DRIFT_CONFIGMAP} drift.json is not JSON: {error}") from None
    return {
        "namespace": namespace,
        "report": report,
        "summary": data.get("summary.txt"),
        "updated": found.metadata.creation_timestamp.isoformat()
        if found.metadata.creation_timestamp
        else None,
    }


def authorise(runbook, confirm):
    """Refuses a runbook unless this server is an operator's and the call is confirmed."""
    role = env("ROLE", "viewer")
    if role != "operator":
        raise ToolError(
            f"run_{runbook} is for operators: this server runs with role {role!r}. "
            "Start it with FLYWHEEL_MCP_ROLE=operator to allow runbooks."
        )
    if confirm is not True:
        raise ToolError(
            f"run_{runbook} changes the platform: call it again with confirm=true once "
            "the person has agreed."
        )


def playbook_path(runbook):
    directory = env("PLAYBOOKS")
    if directory is None:
        # The collection's own playbooks, wherever it was imported from.
        directory = Path(health.__file__).resolve().parents[2] / "playbooks"
    path = Path(directory) / RUNBOOKS[runbook]
    if not path.is_file():
        raise ToolError(f"{path} does not exist: set FLYWHEEL_MCP_PLAYBOOKS")
    return path


def run_runbook(runbook, extravars, check):
    """ansible-runner, headless; its artifacts go to a temporary directory."""
    inventory = env("INVENTORY")
    if inventory is None:
        raise ToolError(
            "FLYWHEEL_MCP_INVENTORY is not set: name the inventory to act on"
        )
    path = playbook_path(runbook)
    with tempfile.TemporaryDirectory(prefix="flywheel-mcp-") as private:
        runner = ansible_runner.run(
            private_data_dir=private,
            project_dir=str(path.parent),
            playbook=str(path),
            inventory=inventory,
            extravars=extravars,
            cmdline="--check --diff" if check else None,
            quiet=True,
        )
        stats = runner.stats or {}
    return {
        "playbook": str(path),
        "status": runner.status,
        "rc": runner.rc,
        "check": check,
        "changed": stats.get("changed", {}),
        "failures": stats.get("failures", {}),
        "unreachable": stats.get("dark", {}),
    }


@mcp.tool()
async def run_recover(confirm: bool = False, check: bool = False) -> dict[str, Any]:
    """Operator only. Runs playbooks/recover.yml: it reads the health classification and
    runs the matching runbook (Attic down, dashboard down, pool degraded...). Needs
    confirm=true; check=true runs it in check mode."""
    authorise("recover", confirm)
    return await anyio.to_thread.run_sync(run_runbook, "recover", {}, check)


@mcp.tool()
async def run_redeploy(
    confirm: bool = False, check: bool = False, from_pool: str | None = None
) -> dict[str, Any]:
    """Operator only. Runs playbooks/redeploy.yml, converging the whole platform;
    FROM_POOL names the pool this runs on, updated last. Needs confirm=true;
    check=true gives the drift without changing anything."""
    authorise("redeploy", confirm)
    extravars = {"flywheel_self_pool": from_pool} if from_pool else {}
    return await anyio.to_thread.run_sync(run_runbook, "redeploy", extravars, check)


def main():
    mcp.run("stdio")
