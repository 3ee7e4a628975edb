"""github_app_token, github_runner_registration_token and github_runner through real
ansible-playbook runs against the GitHub double over HTTP.

Each test is one playbook of several tasks, to keep the suite quick; requests are
counted at the double.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.github import GitHub
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    output,
    play,
    task,
)


@pytest.fixture
def github(serve_double):
    return serve_double(GitHub)


def gh_task(github, title, module, token=None, **options):
    options.update(api_url=github.url, retries=options.pop("retries", 0))
    if token is not None:
        options["api_token"] = token
    return task(title, module, options)


def app_task(github, title, **options):
    options.setdefault("app_id", github.app_id)
    options.setdefault("private_key", github.private_key)
    return gh_task(github, title, "github_app_token", **options)


def failing(entry):
    entry["ignore_errors"] = True
    return entry


def revealed(tasks):
    """TASKS each registered, then each result shown by a debug task named "<name> result":
    the token modules' own results are censored, the registered variables are not."""
    shown = []
    for index, entry in enumerate(tasks):
        entry["register"] = f"minted_{index}"
        shown.append(
            {
                "name": f"{entry['name']} result",
                "ansible.builtin.debug": {"var": f"minted_{index}"},
            }
        )
    return tasks + shown


def registered(results, name):
    return next(
        v for k, v in results[f"{name} result"].items() if k.startswith("minted_")
    )


def test_app_token_for_repo_org_and_enterprise(github, run_playbook, tmp_path):
    github.install("repos/acme/widgets")
    org = github.install("orgs/acme")
    for index in range(105):  # the enterprise installation is on the second page
        github.install(f"orgs/filler-{index:03d}")
    enterprise = github.install(
        "enterprises/acme-corp",
        account={"slug": "acme-corp", "name": "ACME"},
        target_type="Enterprise",
    )
    key_file = tmp_path / "app.pem"
    key_file.write_text(github.private_key)
    tasks = [
        app_task(github, "repo", repository="acme/widgets"),
        app_task(
            github,
            "org",
            organization="acme",
            private_key=None,
            private_key_path=str(key_file),
            permissions={"administration": "write"},
        ),
        app_task(github, "enterprise", enterprise="acme-corp"),
    ]
    for entry in tasks:
        entry["glorious.flywheel.github_app_token"] = {
            k: v
            for k, v in entry["glorious.flywheel.github_app_token"].items()
            if v is not None
        }
    started = time.time()
    completed, results = play(run_playbook, revealed(tasks))
    finished = time.time()
    for name in ("repo", "org", "enterprise"):
        assert "token" not in results[name] and "censored" in results[name]
        assert results[name]["changed"] is False
        assert registered(results, name)["token"] in github.installation_tokens, name
    assert registered(results, "org")["installation_id"] == org
    assert registered(results, "enterprise")["installation_id"] == enterprise
    routes = [r.route for r in github.requests]
    assert routes == [
        "repo_installation",
        "access_token",
        "org_installation",
        "access_token",
        "list_installations",
        "list_installations",
        "access_token",
    ]
    assert github.requests[4].query["per_page"] == "100"
    assert all(
        r.headers.get("X-Github-Api-Version") == "2022-11-28"
        and r.headers.get("Accept") == "application/vnd.github+json"
        for r in github.requests
    )
    for claims in github.jwt_claims:
        assert claims["iss"] == github.app_id
        # Backdated 60 s against clock drift; expiring at most 10 minutes after iat.
        assert started - 61 <= claims["iat"] <= finished - 59
        assert 0 < claims["exp"] - claims["iat"] <= 600
    assert "PRIVATE KEY" not in output(completed)


def test_app_token_bad_input_is_a_clear_message(github, run_playbook):
    github.install("orgs/acme")
    other_key = GitHub().private_key
    tasks = [
        failing(app_task(github, "no key", organization="acme", private_key=None)),
        failing(app_task(github, "not installed", organization="elsewhere")),
        failing(
            app_task(github, "wrong key", organization="acme", private_key=other_key)
        ),
        failing(
            app_task(
                github, "garbage key", organization="acme", private_key="not a pem"
            )
        ),
        failing(app_task(github, "no scope")),
        failing(app_task(github, "bad repo", repository="just-a-name")),
    ]
    tasks[0]["glorious.flywheel.github_app_token"].pop("private_key")
    completed, results = play(run_playbook, tasks)
    messages = {name: r.get("msg", "") for name, r in results.items()}
    assert all(r.get("failed") for r in results.values()), messages
    assert "private key is missing" in messages["no key"]
    assert (
        "not installed on organization elsewhere (HTTP 404)"
        in messages["not installed"]
    )
    assert "rejected the App's JWT (HTTP 401)" in messages["wrong key"]
    assert "not a usable RSA private key" in messages["garbage key"]
    assert "give exactly one scope" in messages["no scope"]
    assert "repository must be owner/name" in messages["bad repo"]
    assert "PRIVATE KEY" not in output(completed)


def test_registration_and_remove_tokens_at_each_scope(github, run_playbook):
    github.install("repos/acme/widgets")
    github.install("orgs/acme")
    github.install("enterprises/acme-corp", target_type="Enterprise")
    module = "github_runner_registration_token"
    tasks = revealed(
        [
            gh_task(github, "repo", module, github.pat, repository="acme/widgets"),
            gh_task(
                github, "org", module, github.pat, organization="acme", kind="remove"
            ),
            gh_task(github, "enterprise", module, github.pat, enterprise="acme-corp"),
        ]
    ) + [
        gh_task(github, "hidden", module, github.pat, organization="acme"),
        failing(
            gh_task(github, "wrong token", module, "ghp_wrong", organization="acme")
        ),
        failing(
            gh_task(
                github, "read only", module, github.readonly_pat, organization="acme"
            )
        ),
        failing(
            gh_task(github, "unknown scope", module, github.pat, organization="nope")
        ),
        failing(
            gh_task(
                github,
                "two scopes",
                module,
                github.pat,
                organization="acme",
                enterprise="x",
            )
        ),
    ]
    completed, results = play(run_playbook, tasks)
    assert [r.route for r in github.requests[:4]] == [
        "registration_token_repos",
        "remove_token_orgs",
        "registration_token_enterprises",
        "registration_token_orgs",
    ]
    for name in ("repo", "org", "enterprise"):
        assert "token" not in results[name] and results[name]["changed"] is False
        assert registered(results, name)["token"] in github.minted
    hidden = github.minted[3]
    assert "censored" in results["hidden"]
    assert hidden not in output(completed)
    messages = {name: r.get("msg", "") for name, r in results.items()}
    assert (
        "HTTP 401" in messages["wrong token"]
        and "Bad credentials" in messages["wrong token"]
    )
    assert (
        "HTTP 403" in messages["read only"]
        and "Self-hosted runners" in messages["read only"]
    )
    assert "HTTP 404" in messages["unknown scope"]
    assert "give exactly one scope" in messages["two scopes"]


def test_rate_limits_are_waited_out(github, run_playbook):
    github.install("orgs/acme")
    github.secondary_rate_limit(count=1, retry_after=1)
    github.rate_limit(count=1, retry_after=1)
    tasks = [
        gh_task(
            github,
            "patient",
            "github_runner_registration_token",
            github.pat,
            organization="acme",
            retries=3,
        )
    ]
    _completed, results = play(run_playbook, revealed(tasks))
    assert registered(results, "patient").get("token") in github.minted, results
    assert [r.status for r in github.requests] == [403, 429, 201]


def test_runner_deletes_offline_runners_by_name_or_label_idempotently(
    github, run_playbook
):
    key = "orgs/acme"
    github.install(key)
    for index in range(120):  # two pages of 100
        github.add_runner(key, f"keep-{index:03d}")
    stale_by_name = github.add_runner(key, "arc-nix-old", status="offline")
    stale_by_label = github.add_runner(
        key, "gpu-1", status="offline", labels=["self-hosted", "gpu"]
    )
    github.add_runner(key, "arc-nix-live")
    github.add_runner(key, "arc-nix-busy", status="offline", busy=True)
    github.add_runner(key, "gpu-2", labels=["self-hosted", "gpu"])

    def runner_task(title, **options):
        return gh_task(
            github, title, "github_runner", github.pat, organization="acme", **options
        )

    tasks = [
        runner_task("list"),
        runner_task("check", state="absent", names=["arc-nix-*"]),
    ]
    _completed, results = play(run_playbook, tasks, "--check")
    assert len(results["list"]["runners"]) == 125
    assert results["list"]["changed"] is False
    assert [r["name"] for r in results["check"]["deleted"]] == ["arc-nix-old"]
    assert results["check"]["changed"] is True
    assert github.count("DELETE") == 0
    pages = [
        r.query.get("page") for r in github.requests if r.route == "list_runners_orgs"
    ]
    assert pages == [None, "2", None, "2"]

    github.reset()
    tasks = [
        runner_task("by name", state="absent", names=["arc-nix-*"]),
        runner_task("by label", state="absent", labels=["gpu"]),
        runner_task("again", state="absent", names=["arc-nix-*"]),
    ]
    _completed, results = play(run_playbook, tasks)
    assert [r["id"] for r in results["by name"]["deleted"]] == [stale_by_name.id]
    assert [r["id"] for r in results["by label"]["deleted"]] == [stale_by_label.id]
    assert results["again"]["changed"] is False
    assert github.count("DELETE") == 2
    names = {r.name for r in github.runners[key].values()}
    assert {"arc-nix-live", "arc-nix-busy", "gpu-2"} <= names
