"""_forge_runners.probe and flywheel_health's forge_runners against the forge doubles.

Runners are listed over real HTTP; the outcome per enrollment is what a broken matcher
(wrong field, wrong status values, a runner of another enrollment) would get wrong.
"""

from __future__ import annotations

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _forge_runners as forge_runners,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _health as health,
)
from ansible_collections.glorious.flywheel.plugins.modules.flywheel_health import (
    main,
)
from ansible_collections.glorious.flywheel.tests.doubles.forgejo import Forgejo
from ansible_collections.glorious.flywheel.tests.doubles.github import GitHub
from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.inprocess import run_module


def check(name, pool, forge, token, **extra):
    return {"name": name, "pool": pool, "forge": dict(forge, **extra), "token": token}


def gitlab_check(gitlab, name, pool="docker", token=None):
    forge = {"type": "gitlab", "url": gitlab.url, "scope": "group", "target": "42"}
    return check(name, pool, forge, token or gitlab.user_token)


def test_gitlab_runner_online_offline_and_missing(serve_double):
    gitlab = serve_double(GitLab)
    gitlab.add_runner("rdp-docker", status="online")
    gitlab.add_runner("rdp-nix", status="offline")
    gitlab.add_runner("rdp-gpu", status="online", paused=True)
    # Another group's runner with the same description is not ours.
    gitlab.groups.add(43)
    gitlab.add_runner("rdp-kvm", status="online", group_id=43)

    answers = {
        name: forge_runners.probe(gitlab_check(gitlab, name), retries=0)
        for name in ("rdp-docker", "rdp-nix", "rdp-gpu", "rdp-kvm")
    }
    assert answers["rdp-docker"]["outcome"] == forge_runners.ONLINE_ALL
    assert answers["rdp-docker"]["online"] == [
        {"name": "rdp-docker", "status": "online", "busy": None}
    ]
    assert answers["rdp-nix"]["outcome"] == forge_runners.NONE_ONLINE
    assert "offline" in answers["rdp-nix"]["message"]
    # Paused runners take no jobs, whatever their connection says.
    assert answers["rdp-gpu"]["outcome"] == forge_runners.NONE_ONLINE
    assert answers["rdp-kvm"]["outcome"] == forge_runners.NONE_ONLINE
    assert "no runner named rdp-kvm at gitlab group 42" in answers["rdp-kvm"]["message"]
    assert all(r.path == "/api/v4/groups/42/runners" for r in gitlab.requests)
    assert {r.query.get("type") for r in gitlab.requests} == {"group_type"}


@pytest.mark.parametrize("flavour", ["forgejo", "gitea"])
def test_forgejo_and_gitea_status_values(serve_double, flavour):
    forge = serve_double(Forgejo, flavour=flavour)
    key = "repos/acme/widgets"
    forge.add_runner(key, "fj-idle", status="idle")
    forge.add_runner(key, "fj-busy", status="active")
    forge.add_runner(key, "fj-down", status="offline")
    scope = {
        "type": "forgejo",
        "url": forge.url,
        "scope": "repo",
        "target": "acme/widgets",
    }

    def outcome(name):
        return forge_runners.probe(
            check(name, "nix", scope, forge.alice.value), retries=0
        )["outcome"]

    assert outcome("fj-idle") == forge_runners.ONLINE_ALL
    assert outcome("fj-busy") == forge_runners.ONLINE_ALL
    assert outcome("fj-down") == forge_runners.NONE_ONLINE


def test_github_scale_set_runners_are_counted_by_label_not_judged(serve_double):
    github = serve_double(GitHub)
    key = "orgs/acme"
    labels = ["self-hosted", "Linux", "X64", "arc-docker"]
    github.add_runner(key, "arc-docker-abcde-runner-1", labels=labels)
    github.add_runner(key, "arc-docker-abcde-runner-2", labels=labels, status="offline")
    github.add_runner(
        key, "arc-docker-heavy-x-runner-1", labels=[*labels[:3], "arc-docker-heavy"]
    )
    scope = {
        "type": "github",
        "url": "https://github.com",
        "scope": "org",
        "target": "acme",
    }
    answer = forge_runners.probe(
        check("arc-docker", "docker", scope, github.pat, api_url=github.url), retries=0
    )
    assert answer["outcome"] == forge_runners.REPORTED
    assert [r["name"] for r in answer["online"]] == ["arc-docker-abcde-runner-1"]
    assert [r["name"] for r in answer["offline"]] == ["arc-docker-abcde-runner-2"]


def test_unreachable_or_refused_forge_says_why_without_the_token(serve_double):
    gitlab = serve_double(GitLab)
    refused = forge_runners.probe(
        gitlab_check(gitlab, "rdp-docker", token="glpat-wrong-secret"), retries=0
    )
    assert refused["outcome"] == forge_runners.UNREACHABLE
    assert refused["http_status"] == 401
    assert "401 Unauthorized" in refused["message"]
    assert "glpat-wrong-secret" not in repr(refused)
    missing = forge_runners.probe(dict(gitlab_check(gitlab, "x"), token=""))
    assert missing["outcome"] == forge_runners.UNREACHABLE
    assert "no API token" in missing["message"]


def test_github_api_root_from_the_web_url():
    assert (
        forge_runners.github_api_url("https://github.com/") == "https://api.github.com"
    )
    assert (
        forge_runners.github_api_url("https://ghe.example.org")
        == "https://ghe.example.org/api/v3"
    )


def test_forge_answers_degrade_a_ready_pool_and_create_an_absent_one():
    pools = {
        "docker": {
            "status": health.POOL_HEALTHY,
            "ready": 1,
            "expected": 1,
            "pods": 1,
            "namespaces": ["a"],
        },
        "nix": {
            "status": health.POOL_HEALTHY,
            "ready": 1,
            "expected": 1,
            "pods": 1,
            "namespaces": ["b"],
        },
    }
    results = [
        {"pool": "docker", "enrollment": "d", "outcome": "online", "message": "ok"},
        {
            "pool": "nix",
            "enrollment": "n",
            "outcome": "none_online",
            "message": "offline",
        },
        {"pool": "gpu", "enrollment": "g", "outcome": "online", "message": "ok"},
    ]
    forges = health.apply_forge_runners(pools, results)
    assert forges["status"] == health.HEALTHY
    assert pools["docker"]["status"] == health.POOL_HEALTHY
    assert pools["nix"]["status"] == health.POOL_DEGRADED
    assert pools["gpu"]["status"] == health.POOL_DOWN
    state, _states, degraded = health.classify(
        {"runners": health.runners_component(pools), "forges": forges}
    )
    assert state == "pool_degraded" and degraded == ["gpu", "nix"]

    unknown = health.apply_forge_runners(
        {},
        [
            {
                "pool": "docker",
                "enrollment": "d",
                "outcome": "unreachable",
                "message": "gitlab: 503",
            }
        ],
    )
    assert unknown["status"] == health.DEGRADED
    assert unknown["evidence"]["unreachable"] == ["d"]


def test_module_reports_forges_and_refuses_a_bad_check(serve_double):
    gitlab = serve_double(GitLab)
    gitlab.add_runner("rdp-docker", status="stale")
    result = run_module(
        main,
        {
            "forge_runners": [gitlab_check(gitlab, "rdp-docker")],
            "retries": 0,
            "timeout": 2,
        },
    )
    assert not result.get("failed"), result
    forges = result["components"]["forges"]
    assert forges["status"] == "healthy", forges
    assert gitlab.user_token not in result["_stdout"]

    bad = run_module(
        main,
        {
            "forge_runners": [
                {
                    "name": "x",
                    "pool": "p",
                    "forge": {"type": "svn", "url": "u", "scope": "s"},
                }
            ]
        },
    )
    assert bad["failed"]
    assert (
        "forge_runners[0].forge.type must be one of gitlab, forgejo, github"
        in bad["msg"]
    )


def test_a_runner_managers_poll_brings_its_runner_online(serve_double):
    gitlab = serve_double(GitLab)
    gitlab.add_runner("rdp-docker")
    before = forge_runners.probe(gitlab_check(gitlab, "rdp-docker"), retries=0)
    assert before["offline"] == [
        {"name": "rdp-docker", "status": "never_contacted", "busy": None}
    ]
    gitlab.contact_all()
    after = forge_runners.probe(gitlab_check(gitlab, "rdp-docker"), retries=0)
    assert after["outcome"] == forge_runners.ONLINE_ALL
