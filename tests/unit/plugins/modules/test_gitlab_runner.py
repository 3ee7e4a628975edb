"""gitlab_runner through real ansible-playbook runs against the GitLab double over HTTP.

Requests are counted at the double, so "steady state is one list call per scope and
no write" is a measurement, not a claim of the module about itself.
"""

from __future__ import annotations

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
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


@pytest.mark.parametrize(
    ("options", "token_kind", "expected"),
    [
        (
            {"group_id": "my-org/platform", "description": "x"},
            "user",
            "group_id must be the numeric id of the group, got 'my-org/platform'",
        ),
        ({"group_id": "42", "description": "x"}, "wrong", "HTTP 401"),
        (
            {"runner_type": "instance_type", "description": "x"},
            "user",
            "needs an administrator token",
        ),
        ({"group_id": "99", "description": "x"}, "user", "GitLab found no group 99"),
        (
            {"runner_type": "galaxy_type", "description": "x"},
            "user",
            "value of runner_type must be one of",
        ),
        (
            {"group_id": "42", "description": "x", "maximum_timeout": 60},
            "user",
            "needs to be at least 10 minutes",
        ),
    ],
    ids=[
        "group-path",
        "401",
        "403-instance",
        "404-group",
        "unknown-scope",
        "422-timeout",
    ],
)
def test_bad_input_is_a_clear_message(
    gitlab, run_playbook, options, token_kind, expected
):
    token = {"user": gitlab.user_token, "wrong": "glpat-wrong"}[token_kind]
    tasks = [runner_task(gitlab, "bad", token=token, **options)]
    tasks[0]["ignore_errors"] = True
    _completed, results = play(run_playbook, tasks)
    assert results["bad"]["failed"] is True
    assert expected in results["bad"]["msg"], results["bad"]["msg"]
    assert gitlab.writes() == 0 or expected.startswith("needs")
    if token_kind == "wrong":
        assert "Check that api_token is valid" in results["bad"]["msg"]
    if "must be" in expected:
        assert gitlab.requests == []


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
