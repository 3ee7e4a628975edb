# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""forgejo_runner returns a token when it fetched a registration token or created a
runner: such a result is never displayed. Lists, deletions and unchanged runners hold
no token and stay readable."""

from __future__ import annotations

from ansible_collections.glorious.flywheel.plugins.plugin_utils._secret_result import (
    SecretResultAction,
)


class ActionModule(SecretResultAction):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if not result.get("token"):
            result.pop("_ansible_no_log", None)
        return result
