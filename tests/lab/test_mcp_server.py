"""The flywheel MCP server (dashboard/flywheel_mcp) through the SDK's own stdio client,
against the lab's Kubernetes control plane.

Everything the server reads lives in a namespace of this test: two labelled pools (one
rolls out under kwok, one can never be scheduled) and a flywheel-drift ConfigMap. The
server is pointed at it with FLYWHEEL_MCP_NAMESPACE and FLYWHEEL_MCP_POOL_NAMESPACES.
"""

import json
import sys
import uuid
from contextlib import AsyncExitStack

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.lab.kube import kubectl
from ansible_collections.glorious.flywheel.tests.support import LAB_DIR, ROOT

pytestmark = pytest.mark.lab

POOL = "glorious.flywheel/pool"
DRIFT = {"playbook": "redeploy.yml", "changed": 2, "tasks": ["attic : Deployment"]}
TOOLS = {
    "read_health",
    "list_pools",
    "list_runners",
    "list_caches",
    "show_drift",
    "run_recover",
    "run_redeploy",
}


def deployment(namespace, name, replicas, labels, **pod_spec):
    labels = {"app": name, **labels}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "runner", "image": "runner:lab"}],
                    **pod_spec,
                },
            },
        },
    }


@pytest.fixture(scope="module")
def namespace(kube_lab):
    name = f"mcp-t-{uuid.uuid4().hex[:6]}"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        deployment(name, "mcp-ok", 2, {POOL: "mcp-ok"}),
        # No node carries this label: its runner stays Pending, the pool is DOWN.
        deployment(
            name, "mcp-stuck", 1, {POOL: "mcp-stuck"}, nodeSelector={"mcp": "nowhere"}
        ),
        # The cache plane's namespace is this one too (FLYWHEEL_MCP_CACHE_NAMESPACE).
        deployment(name, "attic", 1, {"app.kubernetes.io/name": "attic"}),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "flywheel-drift", "namespace": name},
            "data": {"drift.json": json.dumps(DRIFT), "summary.txt": "2 changed"},
        },
    ]
    for item in objects:
        kubectl(kube_lab, "apply", "-f", "-", stdin=json.dumps(item))
    for ready in ("mcp-ok", "attic"):
        kubectl(
            kube_lab,
            *("-n", name, "rollout", "status", f"deployment/{ready}", "--timeout=120s"),
        )
    yield name
    kubectl(kube_lab, "delete", "namespace", name, "--wait=false", check=False)


def server(kube_lab, namespace, **env):
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "flywheel_mcp"],
        cwd=str(ROOT),
        env={
            "PYTHONPATH": str(ROOT / "dashboard"),
            "KUBECONFIG": kube_lab["KUBECONFIG"],
            "ANSIBLE_COLLECTIONS_PATH": str(LAB_DIR / "collections"),
            "FLYWHEEL_MCP_NAMESPACE": namespace,
            "FLYWHEEL_MCP_POOL_NAMESPACES": namespace,
            "FLYWHEEL_MCP_CACHE_NAMESPACE": namespace,
            **env,
        },
    )


def call_all(parameters, calls):
    """[(name, arguments)] -> [CallToolResult], plus the listed tools, in one session."""

    async def run():
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(parameters))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(n, a) for n, a in calls]
            return tools, results

    return anyio.run(run)


def text(result):
    return "".join(getattr(block, "text", "") for block in result.content)


def structured(result):
    assert not result.is_error, text(result)
    return result.structured_content


def test_read_tools_see_the_lab(kube_lab, namespace):
    tools, results = call_all(
        server(kube_lab, namespace),
        [
            ("read_health", {}),
            ("list_pools", {}),
            ("list_runners", {"pool": "mcp-ok"}),
            ("show_drift", {}),
            ("list_caches", {}),
        ],
    )
    assert {tool.name for tool in tools} == TOOLS
    confirm = next(t for t in tools if t.name == "run_recover").input_schema
    assert confirm["properties"]["confirm"]["type"] == "boolean"

    health, pools, runners, drift, caches = (structured(r) for r in results)
    # One pool runs, the other can never be scheduled: degraded, not down, not healthy.
    assert health["state"] == "pool_degraded"
    assert health["degraded_pools"] == ["mcp-stuck"]
    assert health["components"]["cluster"]["status"] == "healthy"
    assert health["components"]["attic"]["status"] == "not_configured"
    stuck = health["components"]["rollouts"]["evidence"]["not_ready"]
    assert [(w["namespace"], w["name"]) for w in stuck] == [(namespace, "mcp-stuck")]

    assert pools["namespaces"] == [namespace]
    assert pools["pools"]["mcp-ok"]["status"] == "HEALTHY"
    assert (
        pools["pools"]["mcp-ok"]["ready"],
        pools["pools"]["mcp-ok"]["expected"],
    ) == (2, 2)
    assert pools["pools"]["mcp-stuck"]["status"] == "DOWN"

    assert len(runners["pods"]) == 2
    assert {(p["namespace"], p["pool"], p["ready"]) for p in runners["pods"]} == {
        (namespace, "mcp-ok", True)
    }

    assert drift["namespace"] == namespace
    assert drift["report"] == DRIFT
    assert drift["summary"] == "2 changed"

    # Only workloads named as a cache count; the pools' Deployments are not caches.
    assert [(c["kind"], c["name"], c["ready"]) for c in caches["caches"]] == [
        ("attic", "attic", 1)
    ]
    assert caches["probes"] == {}


def test_runners_are_looked_up_at_their_forges(kube_lab, namespace, serve_double):
    gitlab = serve_double(GitLab)
    gitlab.add_runner("mcp-ok-gitlab", status="offline")
    checks = [
        {
            "pool": "mcp-ok",
            "name": "mcp-ok-gitlab",
            "forge": {
                "type": "gitlab",
                "url": gitlab.url,
                "scope": "group",
                "target": "42",
            },
            "token": gitlab.user_token,
        }
    ]
    _tools, results = call_all(
        server(kube_lab, namespace, FLYWHEEL_MCP_FORGE_RUNNERS=json.dumps(checks)),
        [("read_health", {}), ("list_runners", {"pool": "mcp-ok"})],
    )
    health, runners = (structured(r) for r in results)
    # Its pods are ready, but GitLab does not see its runner online: it takes no jobs.
    assert health["degraded_pools"] == ["mcp-ok", "mcp-stuck"]
    assert health["components"]["forges"]["status"] == "healthy"
    assert [(a["enrollment"], a["outcome"]) for a in runners["at_forges"]] == [
        ("mcp-ok-gitlab", "none_online")
    ]
    assert gitlab.user_token not in "".join(text(r) for r in results)


def test_runbooks_need_an_operator_and_a_confirmation(kube_lab, namespace, tmp_path):
    # A stand-in runbook and inventory: the gate is what is tested, not recover.yml.
    (tmp_path / "recover.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug: {msg: recovered}\n"
    )
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    runbook_env = {
        "FLYWHEEL_MCP_PLAYBOOKS": str(tmp_path),
        "FLYWHEEL_MCP_INVENTORY": str(inventory),
    }
    viewer = call_all(
        server(kube_lab, namespace, **runbook_env),
        [("run_recover", {"confirm": True}), ("run_redeploy", {"confirm": True})],
    )[1]
    for result in viewer:
        assert result.is_error
        assert "is for operators" in text(result) and "'viewer'" in text(result)

    operator = call_all(
        server(kube_lab, namespace, FLYWHEEL_MCP_ROLE="operator", **runbook_env),
        [
            ("run_recover", {}),
            ("run_recover", {"confirm": False}),
            ("run_recover", {"confirm": True}),
        ],
    )[1]
    for result in operator[:2]:
        assert result.is_error and "confirm=true" in text(result)
    ran = structured(operator[2])
    assert ran["status"] == "successful" and ran["rc"] == 0
    assert ran["playbook"] == str(tmp_path / "recover.yml")
