"""The self_pool filter: which pool a CI job of the platform runs on."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.glorious.flywheel.plugins.filter.self_pool import self_pool

ENROLLMENTS = [
    {"name": "acme", "pool": {"name": "docker"}},
    {"name": "acme-nix", "pool": {"name": "nix"}},
    {"name": "heavy", "pool": {"name": "nix-heavy"}},
]


@pytest.mark.parametrize(
    ("environment", "pool"),
    [
        ({"FLYWHEEL_POOL": "nix-heavy", "CI_RUNNER_DESCRIPTION": "acme"}, "nix-heavy"),
        ({"CI_RUNNER_DESCRIPTION": "acme-nix"}, "nix"),
        # ARC's ephemeral runner names: <scale set>-<suffix>-runner-<suffix>.
        ({"RUNNER_NAME": "acme-nix-7xk2p-runner-9qz4t"}, "nix"),
        ({"RUNNER_NAME": "acme-7xk2p-runner-9qz4t"}, "docker"),
        ({"RUNNER_NAME": "GitHub Actions 2"}, None),
        ({"CI_RUNNER_DESCRIPTION": "someone-elses-runner"}, None),
        ({}, None),
    ],
    ids=["explicit", "gitlab", "arc-longest", "arc", "hosted", "foreign", "none"],
)
def test_the_pool_from_the_job_environment(environment, pool):
    assert self_pool(ENROLLMENTS, environment) == pool


def test_an_unknown_explicit_pool_is_an_error_naming_the_known_ones():
    with pytest.raises(
        AnsibleFilterError, match="FLYWHEEL_POOL='gpu'.*docker, nix, nix-heavy"
    ):
        self_pool(ENROLLMENTS, {"FLYWHEEL_POOL": "gpu"})
