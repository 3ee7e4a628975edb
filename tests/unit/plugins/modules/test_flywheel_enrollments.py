"""flywheel_enrollments through a real ansible-playbook run: expansion is returned, a bad
entry fails the task with the enrollment and field named."""

from __future__ import annotations

from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    play,
    task,
)

GOOD = [
    {
        "name": "acme-widgets-nix",
        "forge": {"type": "github", "scope": "repo", "target": "acme/widgets"},
        "tenant": {"name": "acme", "kind": "org"},
        "pool": "nix",
    },
    {
        "name": "platform-docker",
        "forge": {"type": "gitlab", "scope": "instance", "url": "https://gl.example"},
        "tenant": {"name": "platform"},
        "pool": {"name": "docker", "concurrency": 4},
    },
]


def test_expands_in_check_mode_and_names_the_bad_field(run_playbook):
    bad = [dict(GOOD[0], cache={"attic": "platform-main"})]
    tasks = [
        task(
            "good",
            "flywheel_enrollments",
            {"enrollments": GOOD, "attic_url": "https://attic.example"},
        ),
        task(
            "bad",
            "flywheel_enrollments",
            {"enrollments": bad},
            ignore_errors=True,
        ),
    ]
    _completed, results = play(run_playbook, tasks, "--check")
    good = results["good"]
    assert good["changed"] is False
    assert [e["name"] for e in good["enrollments"]] == [
        "acme-widgets-nix",
        "platform-docker",
    ]
    assert good["enrollments"][1]["pool"]["concurrency"] == 4
    assert good["enrollments"][0]["cache"]["env"]["ATTIC_CACHE"] == "acme-main"
    assert set(good["tenants"]) == {"acme", "platform"}
    assert results["bad"]["failed"] is True
    assert results["bad"]["msg"].startswith(
        "enrollment 'acme-widgets-nix', field cache.attic: 'platform-main' is outside "
        "tenant acme's cache view"
    )
