# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: forge_runner_checks
short_description: The forge checks of flywheel_health and the dashboard, made from the expanded enrollments
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - "One check per enrollment - its pool, its name (the GitLab runner's description, the Forgejo
    runner's name, the ARC scale set's name), its C(forge) and the API token that may list the
    scope's runners - for the O(glorious.flywheel.flywheel_health#module:forge_runners) option
    and the dashboard's C(FLYWHEEL_DASHBOARD_FORGE_RUNNERS)."
  - The token of an enrollment is its entry in O(overrides) for its forge type, else the forge
    type's entry in O(tokens). An enrollment without a token is still checked, and reported as
    unreachable with a message that says to set one.
options:
  _input:
    description: The expanded enrollments (the C(enrollments) result of glorious.flywheel.flywheel_enrollments).
    type: list
    elements: dict
    required: true
  tokens:
    description: One API token per forge type (C(gitlab), C(forgejo), C(github)); empty ones are ignored.
    type: dict
    required: true
  overrides:
    description:
      - Per forge type, a mapping of enrollment name to token (as C(gitlab_runner_api_tokens) and
        C(forgejo_runner_api_tokens) give them to the roles).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Probe the platform, the forges included
  glorious.flywheel.flywheel_health:
    kubeconfig: "{{ flywheel_kubeconfig }}"
    forge_runners: >-
      {{ expanded.enrollments | glorious.flywheel.forge_runner_checks(
           {'gitlab': gitlab_runner_api_token, 'forgejo': forgejo_runner_api_token},
           {'gitlab': gitlab_runner_api_tokens | default({})}) }}
"""

RETURN = r"""
_value:
  description: "The checks, each C({pool, name, forge: {type, url, scope, target}, token})."
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

FORGE_KEYS = ("type", "url", "scope", "target")


def forge_runner_checks(enrollments, tokens, overrides=None):
    if not isinstance(enrollments, list) or not isinstance(tokens, dict):
        raise AnsibleFilterError(
            "forge_runner_checks takes the expanded enrollments and a mapping of forge type to token"
        )
    overrides = overrides or {}
    checks = []
    for enrollment in enrollments:
        try:
            forge = enrollment["forge"]
            kind = forge["type"]
            check = {
                "pool": enrollment["pool"]["name"],
                "name": enrollment["name"],
                "forge": {key: forge.get(key) for key in FORGE_KEYS},
            }
        except (KeyError, TypeError) as error:
            raise AnsibleFilterError(
                f"forge_runner_checks needs expanded enrollments (from glorious.flywheel."
                f"flywheel_enrollments); this entry has no {error}"
            ) from None
        token = (overrides.get(kind) or {}).get(enrollment["name"]) or tokens.get(kind)
        check["token"] = token or ""
        checks.append(check)
    return checks


class FilterModule:
    def filters(self):
        return {"forge_runner_checks": forge_runner_checks}
