"""flywheel_health's HTTP probes against real HTTP: the Attic double and a bazel-remote /status.

The module runs in this process (tests/inprocess.py); one test runs it through
ansible-playbook to prove no_log and the CI failure path the way a playbook sees them.
"""

from __future__ import annotations

import socket

import pytest
import yaml

from ansible_collections.glorious.flywheel.plugins.modules.flywheel_health import (
    main,
)
from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.inprocess import run_module
from ansible_collections.glorious.flywheel.tests.support import task_result

# The /status body of bazel-remote (buchgr/bazel-remote server/http.go, statusPageData;
# README "/status" example): sizes in bytes, the commit it was built from.
BAZEL_STATUS = {
    "CurrSize": 414081715503,
    "UncompressedSize": 0,
    "ReservedSize": 0,
    "MaxSize": 8589934592000,
    "NumFiles": 621413,
    "ServerTime": 1588329927,
    "GitCommit": "940d540d3a7f17939c3df0038530122eabef2f19",
    "NumGoroutines": 12,
}


@pytest.fixture
def attic(serve_double):
    double = serve_double(Attic)
    double.add_cache("main", is_public=True)
    double.add_cache("private")
    return double


@pytest.fixture
def bazel(httpserver):
    httpserver.expect_request("/status").respond_with_json(BAZEL_STATUS)
    return httpserver


def closed_url():
    """An http:// URL on a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def probe(**args):
    args.setdefault("retries", 0)
    args.setdefault("timeout", 2)
    return run_module(main, args)


def test_attic_and_bazel_answering_is_healthy(attic, bazel):
    token = attic.mint(caches={"main": "r"})
    result = probe(
        attic_url=attic.url,
        attic_token=token,
        bazel_url=bazel.url_for("/"),
    )
    assert not result.get("failed"), result
    assert result["state"] == "healthy"
    assert result["states"] == []
    assert result["changed"] is False
    components = result["components"]
    assert components["attic"]["status"] == "healthy"
    assert components["attic"]["evidence"]["token_check"] == {"http_status": 200}
    assert components["bazel"]["status"] == "healthy"
    assert components["bazel"]["evidence"]["NumFiles"] == 621413
    # What was not probed is said so, never counted healthy.
    for name in ("cluster", "rollouts", "runners", "dashboard"):
        assert components[name]["status"] == "not_configured"
    # The double saw exactly the two probes, the token only on the token check.
    assert [(r.method, r.path) for r in attic.requests] == [
        ("GET", "/main/nix-cache-info"),
        ("GET", "/_api/v1/cache-config/main"),
    ]
    assert "Authorization" not in attic.requests[0].headers
    assert token not in result["_stdout"]


def test_stopped_attic_is_attic_down(serve_double, bazel):
    attic = serve_double(Attic)
    url = attic.url
    attic.stop()
    result = probe(attic_url=url, bazel_url=bazel.url_for("/"))
    assert result["state"] == "attic_down"
    assert result["components"]["attic"]["status"] == "down"
    assert "Attic is down" in result["components"]["attic"]["message"]
    assert result["components"]["bazel"]["status"] == "healthy"


def test_a_private_cache_is_healthy_with_a_token_that_reads_it(attic):
    token = attic.mint(caches={"private": "r"})
    result = probe(attic_url=attic.url, attic_cache="private", attic_token=token)
    assert result["components"]["attic"]["status"] == "healthy"
    assert result["components"]["attic"]["evidence"]["nix_cache_info"] == {
        "http_status": 401,
        "readable": False,
    }


def test_a_token_attic_refuses_is_degraded_not_down(attic):
    # Public caches grant pull to everyone, so only a private cache can refuse.
    stranger = attic.mint(caches={"other": "r"})
    result = probe(attic_url=attic.url, attic_cache="private", attic_token=stranger)
    attic_result = result["components"]["attic"]
    assert attic_result["status"] == "degraded"
    assert attic_result["evidence"]["token_check"]["http_status"] == 401
    assert result["state"] == "degraded"
    assert stranger not in result["_stdout"]


def test_a_private_cache_without_token_is_not_called_healthy(attic):
    result = probe(attic_url=attic.url, attic_cache="private")
    assert result["components"]["attic"]["status"] == "degraded"
    assert "attic_token" in result["components"]["attic"]["message"]
    assert result["state"] != "healthy"


def test_bazel_error_and_dashboard_down_are_classified_most_severe_first(httpserver):
    httpserver.expect_request("/status").respond_with_data("boom", status=500)
    result = probe(bazel_url=httpserver.url_for("/"), dashboard_url=closed_url())
    assert result["components"]["bazel"]["status"] == "down"
    assert result["components"]["bazel"]["evidence"]["http_status"] == 500
    assert result["components"]["dashboard"]["status"] == "down"
    assert result["states"] == ["bazel_down", "dashboard_down"]
    assert result["state"] == "bazel_down"


def test_dashboard_health_answering_is_healthy(httpserver):
    httpserver.expect_request("/api/health").respond_with_json({"status": "ok"})
    result = probe(dashboard_url=httpserver.url_for("/"))
    assert result["components"]["dashboard"]["status"] == "healthy"
    assert result["state"] == "healthy"


def test_a_tailnet_control_plane_that_does_not_answer_is_tailnet_unreachable():
    result = probe(
        tailnet_url=closed_url(),
        tailnet_control_plane="headscale",
        tailnet_token="hskey-api-not-a-real-one",
    )
    assert result["components"]["tailnet"]["status"] == "unreachable"
    assert result["state"] == "tailnet_unreachable"
    assert "hskey-api-not-a-real-one" not in result["_stdout"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "Nothing to probe"),
        ({"attic_url": "attic:8080"}, "attic_url"),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, "does not exist"),
        ({"bazel_url": "http://127.0.0.1:1", "timeout": 0}, "timeout"),
    ],
)
def test_bad_input_fails_naming_the_field(args, message):
    result = probe(**args)
    assert result["failed"]
    assert message in result["msg"]


def test_fail_on_unhealthy_fails_with_the_summary_and_hides_the_token(
    serve_double, run_playbook
):
    attic = serve_double(Attic)
    token = attic.mint(caches={"main": "r"})
    url = attic.url
    attic.stop()
    task = {
        "name": "probe",
        "glorious.flywheel.flywheel_health": {
            "attic_url": url,
            "attic_token": token,
            "retries": 0,
            "timeout": 2,
            "fail_on_unhealthy": True,
        },
    }
    completed = run_playbook(
        yaml.safe_dump(
            [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
        ),
        json_output=True,
    )
    assert completed.returncode == 2
    result = task_result(completed, "probe")
    assert result["failed"]
    assert result["state"] == "attic_down"
    assert "platform: attic_down" in result["msg"]
    assert token not in completed.stdout + completed.stderr


def test_check_mode_probes_the_same_and_changes_nothing(attic):
    normal = probe(attic_url=attic.url)
    checked = run_module(
        main, {"attic_url": attic.url, "retries": 0, "timeout": 2}, check_mode=True
    )
    assert checked["changed"] is False
    assert checked["state"] == normal["state"] == "healthy"
    assert checked["components"] == normal["components"]
    assert attic.writes() == 0
