# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""For modules whose result is a secret (a token they minted): the module runs as usual,
and a successful result is marked no_log, so callbacks and logs show it censored while
`register` still gets every field. no_log on a module's options cannot do this: the
secret is created by the module, it is not one of its inputs. A failure holds no token
(the module's errors are redacted) and stays visible, so the operator sees why."""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class SecretResultAction(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        result.update(self._execute_module(task_vars=task_vars))
        if not result.get("failed"):
            result["_ansible_no_log"] = True
        return result
