"""The forge_runner_checks filter, on enrollments as _enrollment.expand returns them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.glorious.flywheel.plugins.filter.forge_runner_checks import (
    forge_runner_checks,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _enrollment as enrollment,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _forge_runners as forge_runners,
)

ENROLLMENTS = [
    {
        "name": "acme-docker",
        "forge": {"type": "gitlab", "scope": "group", "target": "42"},
        "tenant": {"name": "acme"},
        "pool": "docker",
    },
    {
        "name": "acme-nix",
        "forge": {
            "type": "forgejo",
            "scope": "org",
            "target": "acme",
            "url": "https://forge.example.org",
        },
        "tenant": {"name": "acme"},
        "pool": "nix",
    },
    {
        "name": "beta-gpu",
        "forge": {
            "type": "gitlab",
            "scope": "instance",
            "url": "https://gitlab.example.org",
        },
        "tenant": {"name": "beta"},
        "pool": "gpu",
    },
]


def test_checks_carry_pool_name_forge_and_the_right_token():
    expanded = enrollment.expand(ENROLLMENTS)
    checks = forge_runner_checks(
        expanded,
        {"gitlab": "glpat-shared", "forgejo": "", "github": "ghp-x"},
        {"gitlab": {"beta-gpu": "glpat-admin"}},
    )
    assert checks == [
        {
            "pool": "docker",
            "name": "acme-docker",
            "forge": {
                "type": "gitlab",
                "url": "https://gitlab.com",
                "scope": "group",
                "target": "42",
            },
            "token": "glpat-shared",
        },
        {
            "pool": "nix",
            "name": "acme-nix",
            "forge": {
                "type": "forgejo",
                "url": "https://forge.example.org",
                "scope": "org",
                "target": "acme",
            },
            "token": "",
        },
        {
            "pool": "gpu",
            "name": "beta-gpu",
            "forge": {
                "type": "gitlab",
                "url": "https://gitlab.example.org",
                "scope": "instance",
                "target": None,
            },
            "token": "glpat-admin",
        },
    ]
    # What the module accepts.
    assert forge_runners.validate(checks) == checks


def test_raw_enrollments_are_refused_with_a_pointer():
    with pytest.raises(AnsibleFilterError, match="expanded enrollments"):
        forge_runner_checks(
            [{"name": "x", "forge": {"type": "gitlab"}, "pool": "docker"}], {}
        )
