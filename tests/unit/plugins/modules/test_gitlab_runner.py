"""gitlab_runner through real ansible-playbook runs against the GitLab double over HTTP.

Requests are counted at the double, so "steady state is one list call per scope and
no write" is a measurement, not a claim of the module about itself.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.support import task_result
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    output,
    play,
    task,
)

GROUP_LIST = "/api/v4/groups/42/runners"


@pytest.fixture
def gitlab(serve_double):
    return serve_double(GitLab)


def runner_task(gitlab, title, token=None, **options):
    options.setdefault("runner_type", "group_type")
    if options["runner_type"] == "group_type":
        options.setdefault("group_id", "42")
    options.update(
        api_url=gitlab.url,
        api_token=token if token is not None else gitlab.user_token,
        retries=0,
    )
    return task(title, "gitlab_runner", options)


def log(gitlab):
    return [(r.method, r.path) for r in gitlab.requests]


def test_create_then_second_run_is_one_list_call_and_no_write(gitlab, run_playbook):
    options = dict(
        description="nix-pool",
        tag_list=["nix", "linux"],
        run_untagged=False,
        maximum_timeout=3600,
        paused=False,
    )
    tasks = [runner_task(gitlab, "enrol", **options)]
    completed, results = play(run_playbook, tasks, "--diff")
    first = results["enrol"]
    assert first["changed"] is True, first.get("msg")
    assert log(gitlab) == [("GET", GROUP_LIST), ("POST", "/api/v4/user/runners")]
    created = gitlab.requests[1].json
    assert created == {
        "runner_type": "group_type",
        "group_id": 42,
        "description": "nix-pool",
        "paused": False,
        "tag_list": ["nix", "linux"],
        "run_untagged": False,
        "maximum_timeout": 3600,
    }
    (runner,) = gitlab.runners.values()
    assert first["runner"]["id"] == runner.id
    assert "token" not in first["runner"]
    assert runner.token not in output(completed)
    assert first["diff"]["after"]["nix-pool"]["tag_list"] == ["nix", "linux"]

    gitlab.reset()
    completed, results = play(run_playbook, tasks, "--diff")
    second = results["enrol"]
    assert second["changed"] is False, second
    assert "diff" not in second
    # One list call, then the details the list does not carry (tags, timeout), no write.
    assert log(gitlab) == [("GET", GROUP_LIST), ("GET", f"/api/v4/runners/{runner.id}")]
    assert gitlab.requests[0].query == {
        "type": "group_type",
        "per_page": "100",
        "page": "1",
    }
    assert second["requests"] == {"list": 1, "details": 1}
    assert len(gitlab.runners) == 1


def test_only_listed_attributes_need_no_details(gitlab, run_playbook):
    gitlab.add_runner("plain", paused=True)
    tasks = [runner_task(gitlab, "pause", description="plain", paused=True)]
    _completed, results = play(run_playbook, tasks)
    assert results["pause"]["changed"] is False
    assert log(gitlab) == [("GET", GROUP_LIST)]


def test_drift_is_updated_with_one_put_of_only_what_differs(gitlab, run_playbook):
    runner = gitlab.add_runner("drifty", tag_list=["b", "a"], locked=False)
    tasks = [
        runner_task(
            gitlab, "same tags other order", description="drifty", tag_list=["a", "b"]
        ),
        runner_task(
            gitlab,
            "drift",
            description="drifty",
            tag_list=["a", "c"],
            locked=True,
            access_level="ref_protected",
        ),
    ]
    _completed, results = play(run_playbook, tasks, "--diff")
    assert results["same tags other order"]["changed"] is False
    drift = results["drift"]
    assert drift["changed"] is True
    puts = [r for r in gitlab.requests if r.method == "PUT"]
    assert len(puts) == 1
    assert puts[0].json == {
        "tag_list": ["a", "c"],
        "locked": True,
        "access_level": "ref_protected",
    }
    assert sorted(runner.tag_list) == ["a", "c"]
    assert runner.access_level == "ref_protected"
    assert drift["diff"]["before"]["drifty"]["locked"] is False


def test_delete_is_idempotent(gitlab, run_playbook):
    gitlab.add_runner("old")
    tasks = [
        runner_task(gitlab, "delete", description="old", state="absent"),
        runner_task(gitlab, "delete again", description="old", state="absent"),
    ]
    _completed, results = play(run_playbook, tasks)
    assert results["delete"]["changed"] is True
    assert results["delete again"]["changed"] is False
    assert gitlab.runners == {}
    assert gitlab.count("DELETE") == 1


def test_check_mode_writes_nothing(gitlab, run_playbook):
    gitlab.add_runner("exists", locked=False)
    gitlab.add_runner("doomed")
    tasks = [
        runner_task(gitlab, "would create", description="new"),
        runner_task(gitlab, "would update", description="exists", locked=True),
        runner_task(gitlab, "would delete", description="doomed", state="absent"),
        runner_task(gitlab, "would rotate", description="exists", reset_token=True),
    ]
    _completed, results = play(run_playbook, tasks, "--check")
    assert all(r["changed"] for r in results.values()), results
    assert gitlab.writes() == 0
    assert results["would create"]["runner"]["id"] is None


def test_reset_token_rotates_and_writes_the_token_only_when_asked(gitlab, run_playbook):
    runner = gitlab.add_runner("rotating")
    old = runner.token
    tasks = [
        runner_task(
            gitlab, "rotate", description="rotating", reset_token=True, verify=True
        ),
    ]
    completed, results = play(run_playbook, tasks)
    rotated = results["rotate"]
    assert rotated["changed"] is True
    assert runner.token != old
    assert rotated["runner"]["verified"] is True
    assert runner.token not in output(completed)
    assert (
        gitlab.count("POST", f"/api/v4/runners/{runner.id}/reset_authentication_token")
        == 1
    )

    tasks = [
        runner_task(
            gitlab,
            "rotate and return",
            description="rotating",
            reset_token=True,
            return_token=True,
        ),
    ]
    _completed, results = play(run_playbook, tasks)
    assert results["rotate and return"]["runner"]["token"] == runner.token
    assert runner.token.startswith("glrt-")


def test_many_runners_share_one_list_call_across_pages(gitlab, run_playbook):
    for index in range(30):
        gitlab.add_runner(f"filler-{index}")
    items = [{"description": f"pool-{index}"} for index in range(3)]
    tasks = [runner_task(gitlab, "batch", runners=items, paused=False)]
    play(run_playbook, tasks)
    assert gitlab.count("POST", "/api/v4/user/runners") == 3
    gitlab.reset()
    _completed, results = play(run_playbook, tasks)
    assert results["batch"]["changed"] is False
    assert log(gitlab) == [("GET", GROUP_LIST)]


def test_pagination_follows_x_next_page(gitlab, run_playbook):
    for index in range(230):
        gitlab.add_runner(f"r-{index}")
    tasks = [runner_task(gitlab, "last", description="r-229", state="absent")]
    _completed, results = play(run_playbook, tasks)
    assert results["last"]["changed"] is True
    pages = [r.query.get("page") for r in gitlab.requests if r.method == "GET"]
    assert pages == ["1", "2", "3"]


def test_rate_limit_is_retried_after_retry_after(gitlab, run_playbook):
    gitlab.rate_limit(count=1, retry_after=1)
    options = dict(description="patient", retries=2)
    tasks = [runner_task(gitlab, "patient", **options)]
    tasks[0]["glorious.flywheel.gitlab_runner"]["retries"] = 2
    _completed, results = play(run_playbook, tasks)
    assert results["patient"]["changed"] is True, results["patient"].get("msg")
    assert [r.status for r in gitlab.requests][:2] == [429, 200]


def test_bad_input_is_a_clear_message(gitlab, run_playbook):
    cases = {
        "group path": (
            {"group_id": "my-org/platform"},
            gitlab.user_token,
            "group_id must be the numeric id of the group, got 'my-org/platform'",
        ),
        "401": ({}, "glpat-wrong", "HTTP 401 Unauthorized: 401 Unauthorized"),
        "403 instance": (
            {"runner_type": "instance_type"},
            gitlab.user_token,
            "needs an administrator token (HTTP 403",
        ),
        "404 group": (
            {"group_id": "99"},
            gitlab.user_token,
            "GitLab found no group 99",
        ),
        "unknown scope": (
            {"runner_type": "galaxy_type"},
            gitlab.user_token,
            "value of runner_type must be one of",
        ),
        "400 timeout": (
            {"maximum_timeout": 60},
            gitlab.user_token,
            "needs to be at least 10 minutes",
        ),
    }
    if importlib.util.find_spec("kubernetes") is None:
        cases["no kubernetes library"] = (
            {"token_secret": {"namespace": "runners", "name": "t"}},
            gitlab.user_token,
            "Failed to import the required Python library (kubernetes (for token_secret))",
        )
    tasks = []
    for title, (options, token, _expected) in cases.items():
        entry = runner_task(gitlab, title, token=token, description="x", **options)
        entry["ignore_errors"] = True
        tasks.append(entry)
    _completed, results = play(run_playbook, tasks)
    for title, (_options, _token, expected) in cases.items():
        assert results[title].get("failed") is True, title
        assert expected in results[title]["msg"], (title, results[title]["msg"])
    assert "Check that api_token is valid" in results["401"]["msg"]
    # Refused before any request: the path and the unknown scope.
    assert [r.path for r in gitlab.requests if "my-org" in r.path] == []
    assert gitlab.runners == {}


def test_legacy_registration_flow_explains_410(gitlab, run_playbook):
    tasks = [
        runner_task(
            gitlab,
            "legacy",
            runner_type="instance_type",
            token=gitlab.admin_token,
            description="legacy",
            registration_token=gitlab.registration_token,
        )
    ]
    tasks[0]["ignore_errors"] = True
    completed, results = play(run_playbook, tasks)
    msg = results["legacy"]["msg"]
    assert "HTTP 410" in msg and "registration tokens are disabled" in msg, msg
    assert gitlab.registration_token not in output(completed)

    gitlab.legacy_registration = True
    tasks[0].pop("ignore_errors")
    _completed, results = play(run_playbook, tasks)
    assert results["legacy"]["changed"] is True
    assert gitlab.count("POST", "/api/v4/runners") == 2
    assert gitlab.count("POST", "/api/v4/user/runners") == 0


FAKE_KUBERNETES = {
    "__init__.py": "",
    "client/__init__.py": """
import json
import os

from kubernetes.client.rest import ApiException


def _load():
    path = os.environ["FAKE_K8S_STORE"]
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def _save(data):
    with open(os.environ["FAKE_K8S_STORE"], "w") as handle:
        json.dump(data, handle)


class CoreV1Api:
    def patch_namespaced_secret(self, name, namespace, body):
        data = _load()
        key = namespace + "/" + name
        if key not in data:
            raise ApiException(404)
        data[key]["stringData"].update(body["stringData"])
        data[key]["writes"] += 1
        _save(data)

    def create_namespaced_secret(self, namespace, body):
        data = _load()
        key = namespace + "/" + body["metadata"]["name"]
        data[key] = {"stringData": dict(body["stringData"]), "writes": 1}
        _save(data)
""",
    "client/rest.py": """
class ApiException(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status
""",
    "config/__init__.py": """
class ConfigException(Exception):
    pass


def load_incluster_config():
    raise ConfigException("not in a cluster")


def load_kube_config(config_file=None):
    return None
""",
}


def test_token_goes_into_the_secret_and_nowhere_else(gitlab, run_playbook, tmp_path):
    """The kubernetes client is replaced by a fake package on PYTHONPATH recording the
    Secret (the real library is not installed here); what is tested is that the module
    hands exactly the runner's token to it, patches an existing Secret, and that the
    token appears in no output."""
    fake = tmp_path / "fake"
    for name, text in FAKE_KUBERNETES.items():
        path = fake / "kubernetes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    store = tmp_path / "secrets.json"
    secret = {"namespace": "runners-alpha", "name": "alpha-docker-token"}
    tasks = [
        runner_task(gitlab, "enrol", description="alpha-docker", token_secret=secret),
        runner_task(gitlab, "again", description="alpha-docker", token_secret=secret),
        runner_task(
            gitlab,
            "rotate",
            description="alpha-docker",
            reset_token=True,
            token_secret=dict(secret, key="token"),
        ),
    ]
    text = yaml.safe_dump(
        [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False
    )
    completed = run_playbook(
        text,
        json_output=True,
        extra_env={"PYTHONPATH": str(fake), "FAKE_K8S_STORE": str(store)},
    )
    results = {t["name"]: task_result(completed, t["name"]) for t in tasks}
    assert results["enrol"]["changed"] is True, results["enrol"].get("msg")
    assert (
        results["enrol"]["runner"]["token_secret"] == "runners-alpha/alpha-docker-token"
    )
    assert results["again"]["changed"] is False
    assert "token_secret" not in results["again"]["runner"]
    (runner,) = gitlab.runners.values()
    written = json.loads(store.read_text())["runners-alpha/alpha-docker-token"]
    # Created with the first token, then patched with the rotated one under another key.
    assert written["writes"] == 2
    assert written["stringData"]["token"] == runner.token
    assert written["stringData"]["runner-token"] != runner.token
    assert written["stringData"]["runner-token"].startswith("glrt-")
    for token in written["stringData"].values():
        assert token not in output(completed)
