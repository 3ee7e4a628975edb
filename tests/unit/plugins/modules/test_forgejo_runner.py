"""forgejo_runner through real ansible-playbook runs against the Forgejo / Gitea double.

Each test is one or two playbooks of several tasks, to keep the suite quick; requests
are counted at the double, so "no second runner" and "no write in check mode" are
measured there.
"""

from __future__ import annotations

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.forgejo import Forgejo, Token
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    output,
    play,
    task,
)

REPO = "/api/v1/repos/acme/widgets/actions/runners"


def fj_task(forge, title, token=None, **options):
    options.update(
        api_url=forge.url,
        api_token=(token or forge.alice).value,
        retries=options.pop("retries", 0),
    )
    return task(title, "forgejo_runner", options)


def failing(entry):
    entry["ignore_errors"] = True
    return entry


def revealed(tasks):
    """TASKS each registered and shown by a debug task "<name> result": the module's
    results holding a token are censored, the registered variables are not."""
    shown = []
    for index, entry in enumerate(tasks):
        entry["register"] = f"got_{index}"
        shown.append(
            {
                "name": f"{entry['name']} result",
                "ansible.builtin.debug": {"var": f"got_{index}"},
            }
        )
    return tasks + shown


def registered(results, name):
    return next(v for k, v in results[f"{name} result"].items() if k.startswith("got_"))


def log(forge):
    return [(r.method, r.path) for r in forge.requests]


def test_registration_token_at_each_scope_is_hidden(serve_double, run_playbook):
    forge = serve_double(Forgejo)
    # Gitea/Forgejo answer 429 with Retry-After when their rate limiter is on.
    forge.rate_limit(count=1, retry_after=1, route="token_orgs")
    tasks = revealed(
        [
            fj_task(forge, "repo", repository="acme/widgets"),
            fj_task(forge, "org", organization="acme", retries=2),
            fj_task(forge, "user", user="alice"),
            fj_task(forge, "instance", forge.admin, instance=True),
        ]
    )
    completed, results = play(run_playbook, tasks)
    keys = {
        "repo": "repos/acme/widgets",
        "org": "orgs/acme",
        "user": "user/alice",
        "instance": "admin",
    }
    for name, key in keys.items():
        assert "censored" in results[name] and "token" not in results[name], name
        got = registered(results, name)
        assert got["changed"] is False
        assert got["token"] == forge.registration_tokens[key], name
        assert got["server"] == forge.version_string
    assert log(forge) == [
        ("GET", "/api/v1/version"),
        ("GET", f"{REPO}/registration-token"),
        ("GET", "/api/v1/version"),
        ("GET", "/api/v1/orgs/acme/actions/runners/registration-token"),
        ("GET", "/api/v1/orgs/acme/actions/runners/registration-token"),
        ("GET", "/api/v1/user"),
        ("GET", "/api/v1/version"),
        ("GET", "/api/v1/user/actions/runners/registration-token"),
        ("GET", "/api/v1/version"),
        ("GET", "/api/v1/admin/runners/registration-token"),
    ]
    assert [r.status for r in forge.requests[3:5]] == [429, 200]
    assert all(
        r.headers.get("Authorization") == "token <redacted>"
        for r in forge.requests
        if r.path != "/api/v1/version"
    )
    # The debug tasks print the registered tokens on purpose; the module's own
    # results must not. Count: each token appears exactly once (its debug task).
    for token in forge.registration_tokens.values():
        assert output(completed).count(token) == 1


@pytest.mark.parametrize(
    ("flavour", "repo_request", "instance_request"),
    [
        (
            "gitea",
            ("POST", f"{REPO}/registration-token"),
            ("POST", "/api/v1/admin/actions/runners/registration-token"),
        ),
        (
            "gitea-1.22",
            ("GET", f"{REPO}/registration-token"),
            ("GET", "/api/v1/admin/runners/registration-token"),
        ),
        (
            "forgejo-old",
            ("GET", f"{REPO}/registration-token"),
            ("GET", "/api/v1/admin/runners/registration-token"),
        ),
    ],
)
def test_registration_token_method_follows_the_server_version(
    serve_double, run_playbook, flavour, repo_request, instance_request
):
    forge = serve_double(Forgejo, flavour=flavour)
    tasks = revealed(
        [
            fj_task(forge, "repo", repository="acme/widgets"),
            fj_task(forge, "instance", forge.admin, instance=True),
        ]
    )
    _completed, results = play(run_playbook, tasks)
    assert (
        registered(results, "repo")["token"]
        == forge.registration_tokens["repos/acme/widgets"]
    )
    assert (
        registered(results, "instance")["token"] == forge.registration_tokens["admin"]
    )
    writes_or_tokens = [
        entry for entry in log(forge) if "registration-token" in entry[1]
    ]
    assert writes_or_tokens == [repo_request, instance_request]


def test_api_url_with_api_v1_and_a_wrong_first_guess_still_get_the_token(
    serve_double, run_playbook
):
    # A Gitea that reports no usable version: GET first, then POST after the 405.
    forge = serve_double(Forgejo, flavour="gitea")
    forge.version_string = "unknown"
    entry = fj_task(forge, "repo", repository="acme/widgets")
    entry["glorious.flywheel.forgejo_runner"]["api_url"] = forge.url + "/api/v1/"
    _completed, results = play(run_playbook, revealed([entry]))
    assert (
        registered(results, "repo")["token"]
        == forge.registration_tokens["repos/acme/widgets"]
    )
    assert [(r.method, r.status) for r in forge.requests[1:]] == [
        ("GET", 405),
        ("POST", 200),
    ]


def test_create_runner_is_idempotent_and_check_mode_writes_nothing(
    serve_double, run_playbook
):
    forge = serve_double(Forgejo, max_items=20)
    for index in range(45):  # three pages of 20
        forge.add_runner("repos/acme/widgets", f"other-{index:02d}")
    create = fj_task(
        forge,
        "create",
        repository="acme/widgets",
        name="nix-pool-0",
        description="nix pool",
        state="present",
    )

    _completed, results = play(run_playbook, [create], "--check")
    assert results["create"]["changed"] is True
    assert results["create"]["runner"] == {"id": None, "name": "nix-pool-0"}
    assert forge.count("POST") == 0 and forge.created_tokens == []

    forge.reset()
    completed, results = play(run_playbook, revealed([create]))
    assert "censored" in results["create"]
    got = registered(results, "create")
    assert got["changed"] is True
    (runner,) = [
        r
        for r in forge.runners["repos/acme/widgets"].values()
        if r.name == "nix-pool-0"
    ]
    assert runner.description == "nix pool"
    assert got["runner"] == {"id": runner.id, "name": "nix-pool-0", "uuid": runner.uuid}
    assert got["token"] == runner.token
    assert output(completed).count(runner.token) == 1  # the debug task only
    lists = [r for r in forge.requests if r.method == "GET" and r.path == REPO]
    assert [r.query for r in lists] == [
        {"page": str(n), "limit": "50"} for n in (1, 2, 3)
    ]
    assert [(r.method, r.path) for r in forge.requests if r.method != "GET"] == [
        ("POST", REPO)
    ]
    assert forge.requests[-1].json == {"name": "nix-pool-0", "description": "nix pool"}

    forge.reset()
    completed, results = play(run_playbook, [create])
    again = results["create"]
    assert again["changed"] is False
    assert "censored" not in again and "token" not in again
    assert again["runner"]["id"] == runner.id
    assert {r.method for r in forge.requests} == {"GET"}
    assert len(forge.runners["repos/acme/widgets"]) == 46
    assert runner.token not in output(completed)


@pytest.mark.parametrize("flavour", ["forgejo", "gitea"])
def test_absent_deletes_every_runner_of_that_name(serve_double, run_playbook, flavour):
    forge = serve_double(Forgejo, flavour=flavour)
    key = "orgs/acme"
    forge.add_runner(key, "stale")
    forge.add_runner(key, "keep", status="active", labels=["nix", "linux"])
    forge.add_runner(key, "stale")

    def absent(title):
        return fj_task(forge, title, organization="acme", name="stale", state="absent")

    _completed, results = play(
        run_playbook,
        [absent("check"), fj_task(forge, "list", organization="acme", state="listed")],
        "--check",
    )
    assert [r["name"] for r in results["check"]["deleted"]] == ["stale", "stale"]
    assert results["check"]["changed"] is True
    assert forge.count("DELETE") == 0
    keep = next(r for r in results["list"]["runners"] if r["name"] == "keep")
    # One shape for both servers (Gitea: busy + label objects; Forgejo: status + strings).
    assert keep["busy"] is True and keep["labels"] == ["nix", "linux"]

    forge.reset()
    _completed, results = play(run_playbook, [absent("delete"), absent("again")])
    assert results["delete"]["changed"] is True
    assert results["again"]["changed"] is False
    assert forge.count("DELETE") == 2
    assert forge.names(key) == ["keep"]


def test_errors_carry_the_api_message_and_say_what_to_fix(serve_double, run_playbook):
    forge = serve_double(Forgejo)
    wrong = Token("nobody")  # never handed to the double: unknown to its auth hook
    tasks = [
        failing(fj_task(forge, "401", wrong, organization="acme")),
        failing(
            fj_task(
                forge,
                "403 scope",
                forge.readonly,
                repository="acme/widgets",
                name="x",
                state="present",
            )
        ),
        failing(fj_task(forge, "403 admin", instance=True)),
        failing(fj_task(forge, "404", repository="acme/nothing")),
        failing(fj_task(forge, "other user", user="bob")),
        failing(fj_task(forge, "no scope")),
        failing(fj_task(forge, "two scopes", organization="acme", instance=True)),
        failing(fj_task(forge, "bad repo", repository="widgets")),
        failing(fj_task(forge, "no name", organization="acme", state="present")),
    ]
    completed, results = play(run_playbook, tasks)
    messages = {name: r.get("msg", "") for name, r in results.items()}
    assert all(r.get("failed") for r in results.values()), messages
    assert "HTTP 401" in messages["401"]
    assert "token is required" in messages["401"]
    assert "write:repository scope" in messages["403 scope"]
    assert "required scope(s): [write:repository]" in messages["403 scope"]
    assert "HTTP 403" in messages["403 admin"]
    assert "user should be the site admin" in messages["403 admin"]
    assert "a site administrator" in messages["403 admin"]
    assert "repository does not exist" in messages["404"]
    assert "The target couldn't be found." in messages["404"]
    assert "belongs to 'alice'" in messages["other user"]
    assert "give exactly one scope" in messages["no scope"]
    assert "(got organization, instance)" in messages["two scopes"]
    assert "repository must be owner/name" in messages["bad repo"]
    assert "name" in messages["no name"] and "state is present" in messages["no name"]
    # The refused POST created nothing; the other POST was the 405'd token fallback.
    assert forge.created_tokens == [] and forge.runners == {}
    assert [r.status for r in forge.requests if r.method == "POST"] == [403, 405]
    assert forge.alice.value not in output(completed)
    assert forge.readonly.value not in output(completed)


def test_servers_without_the_runner_api_point_to_registration_tokens(
    serve_double, run_playbook
):
    old = serve_double(Forgejo, flavour="forgejo-old")
    gitea = serve_double(Forgejo, flavour="gitea")
    gitea.add_runner("repos/acme/widgets", "registered-by-token")

    def present(forge, title, name):
        return fj_task(
            forge, title, repository="acme/widgets", name=name, state="present"
        )

    tasks = [
        failing(present(old, "old forgejo", "nix-pool-0")),
        failing(present(gitea, "gitea create", "nix-pool-0")),
        present(gitea, "gitea existing", "registered-by-token"),
    ]
    _completed, results = play(run_playbook, tasks)
    old_msg = results["old forgejo"]["msg"]
    assert "Forgejo 7.0.14+gitea-1.21.0 has no runner list" in old_msg
    assert "state=registration_token" in old_msg
    gitea_msg = results["gitea create"]["msg"]
    assert "Gitea 1.24.3 has no runner creation" in gitea_msg
    assert "forgejo-runner register" in gitea_msg
    assert results["gitea existing"]["changed"] is False
    assert old.count("POST") == 0 and gitea.count("POST") == 0
    # The old server's 404 was told apart from a missing repository by looking at it.
    assert ("GET", "/api/v1/repos/acme/widgets") in log(old)
