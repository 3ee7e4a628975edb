# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""flywheel_enrollments runs on the controller: it only checks and expands variables."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.glorious.flywheel.plugins.module_utils import _enrollment

ARGUMENT_SPEC = {
    "enrollments": {"type": "list", "elements": "dict", "required": True},
    "pools": {"type": "dict", "default": {}},
    "attic_url": {"type": "str"},
    "bazel_url": {"type": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            expanded = _enrollment.expand(
                args["enrollments"],
                pools=args["pools"],
                attic_url=args["attic_url"],
                bazel_url=args["bazel_url"],
            )
            tenants = _enrollment.tenants(expanded)
        except _enrollment.EnrollmentError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=False, enrollments=expanded, tenants=tenants)
        return result
