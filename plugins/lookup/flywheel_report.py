# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: flywheel_report
short_description: What the current run has changed so far, as the flywheel_report callback counts it
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - Returns the tally the glorious.flywheel.flywheel_report callback keeps for the run in
    progress, so a last task can fail a check run that found drift (playbooks/redeploy.yml).
  - Without the callback enabled it returns C(enabled=false) and C(changed=0).
options: {}
"""

EXAMPLES = r"""
- name: Fail when the check run found drift
  ansible.builtin.fail:
    msg: "drift: {{ report.changed }} task(s) would change"
  vars:
    report: "{{ lookup('glorious.flywheel.flywheel_report') }}"
  when: ansible_check_mode and report.enabled and report.changed > 0
"""

RETURN = r"""
_raw:
  description: One mapping.
  type: list
  elements: dict
  contains:
    enabled:
      description: Whether the callback is counting this run.
      type: bool
    run_id:
      description: The run's id in the history.
      type: str
    changed:
      description: Host-task results so far that changed (or would, in check mode).
      type: int
    changes:
      description: Host, task, and kind, namespace and name of each change so far.
      type: list
      elements: dict
    report_dir:
      description: Where the callback writes the local report.
      type: str
"""

from ansible.plugins.lookup import LookupBase

from ansible_collections.glorious.flywheel.plugins.plugin_utils import _run_report


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        report = _run_report.CURRENT["report"]
        if report is None:
            return [
                {
                    "enabled": False,
                    "run_id": None,
                    "changed": 0,
                    "changes": [],
                    "report_dir": None,
                }
            ]
        return [report.snapshot()]
