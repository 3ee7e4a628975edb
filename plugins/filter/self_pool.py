# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: self_pool
short_description: The execution pool a CI job of the platform runs on, from the job's environment
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - Tells playbooks/redeploy.yml which pool it runs on, so it updates that pool last.
  - "The first of these that is set decides: C(FLYWHEEL_POOL), a pool name, set by the
    pipeline templates; C(CI_RUNNER_DESCRIPTION), GitLab's predefined variable
    (glorious.flywheel.gitlab_runner describes each runner by its enrollment name);
    C(RUNNER_NAME), GitHub Actions' runner name (ARC names each ephemeral runner
    C(<scale set>-<suffix>-runner-<suffix>) and the scale set after its enrollment)."
  - Returns null when none of them names a known pool or enrollment (a run from a
    workstation, with no pool to protect).
options:
  _input:
    description: The expanded enrollments (the C(enrollments) result of glorious.flywheel.flywheel_enrollments).
    type: list
    elements: dict
    required: true
  environment:
    description: The job's environment variables (only the three above are read).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The pool this job runs on
  ansible.builtin.set_fact:
    flywheel_self_pool: >-
      {{ expanded.enrollments | glorious.flywheel.self_pool({
           'FLYWHEEL_POOL': lookup('ansible.builtin.env', 'FLYWHEEL_POOL'),
           'CI_RUNNER_DESCRIPTION': lookup('ansible.builtin.env', 'CI_RUNNER_DESCRIPTION'),
           'RUNNER_NAME': lookup('ansible.builtin.env', 'RUNNER_NAME')}) }}
"""

RETURN = r"""
_value:
  description: The pool name, or null.
  type: str
"""

from ansible.errors import AnsibleFilterError


def self_pool(enrollments, environment):
    if not isinstance(enrollments, list) or not isinstance(environment, dict):
        raise AnsibleFilterError(
            "self_pool takes the expanded enrollments and a mapping of environment variables"
        )
    by_name = {e["name"]: e["pool"]["name"] for e in enrollments}
    pools = set(by_name.values())
    explicit = environment.get("FLYWHEEL_POOL") or ""
    if explicit:
        # A pool the enrollments do not use has nothing to protect, but a typo must not
        # silently turn the ordering off.
        if explicit not in pools:
            raise AnsibleFilterError(
                f"FLYWHEEL_POOL={explicit!r} is not a pool of any enrollment; "
                f"known: {', '.join(sorted(pools)) or 'none'}"
            )
        return explicit
    description = environment.get("CI_RUNNER_DESCRIPTION") or ""
    if description in by_name:
        return by_name[description]
    runner = environment.get("RUNNER_NAME") or ""
    # The longest enrollment name wins: `docker` must not claim a runner of `docker-heavy`.
    for name in sorted(by_name, key=len, reverse=True):
        if runner.startswith(f"{name}-"):
            return by_name[name]
    return None


class FilterModule:
    def filters(self):
        return {"self_pool": self_pool}
