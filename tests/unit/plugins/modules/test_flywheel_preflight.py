"""flywheel_preflight through a real ansible-playbook run, endpoints on a real HTTP server."""

import json

import pytest

from ansible_collections.glorious.flywheel.tests.support import task_result

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: preflight
      glorious.flywheel.flywheel_preflight:
        python_requirements: {requirements}
        commands: {commands}
        endpoints: {endpoints}
"""


def run(run_playbook, requirements=(), commands=(), endpoints=()):
    text = PLAYBOOK.format(
        requirements=json.dumps(list(requirements)),
        commands=json.dumps(list(commands)),
        endpoints=json.dumps(list(endpoints)),
    )
    completed = run_playbook(text, json_output=True)
    return task_result(completed, "preflight")


def test_reports_versions_when_everything_is_there(run_playbook, httpserver):
    httpserver.expect_request("/health").respond_with_json({"status": "pass"})
    httpserver.expect_request("/version").respond_with_json({"version": "v0.27.1"})
    result = run(
        run_playbook,
        requirements=["PyJWT>=2.0"],
        commands=[{"name": "python3"}],
        endpoints=[
            {
                "name": "headscale",
                "url": httpserver.url_for("/health"),
                "version_url": httpserver.url_for("/version"),
            }
        ],
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["PyJWT"]["ok"] and checks["PyJWT"]["version"].startswith("2.")
    assert checks["python3"]["version"].startswith("Python 3")
    assert checks["headscale"]["version"] == "v0.27.1"


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            {"requirements": ["surely-not-installed-dist>=1"]},
            "python surely-not-installed-dist: not installed",
        ),
        ({"requirements": ["PyJWT>=99"]}, "does not satisfy 'PyJWT>=99'"),
        (
            {"requirements": ["kubernetes>=1", "PyJWT>=99"]},
            "1 prerequisite(s) missing",
        ),
        (
            {"commands": [{"name": "no-such-command-here"}]},
            "command no-such-command-here: not on PATH",
        ),
    ],
)
def test_names_each_missing_prerequisite(run_playbook, kwargs, expected):
    result = run(run_playbook, **kwargs)
    assert result["failed"] is True
    assert expected in result["msg"]
    assert "Traceback" not in result["msg"]


def test_names_an_endpoint_that_does_not_answer(run_playbook, httpserver):
    httpserver.expect_request("/health").respond_with_data("down", status=500)
    result = run(
        run_playbook,
        endpoints=[{"name": "attic", "url": httpserver.url_for("/health")}],
    )
    assert result["failed"] is True
    assert "endpoint attic:" in result["msg"]
    assert "HTTP 500" in result["msg"]
