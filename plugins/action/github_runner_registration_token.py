# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""github_runner_registration_token returns a freshly minted token: its result is never displayed."""

from __future__ import annotations

from ansible_collections.glorious.flywheel.plugins.plugin_utils._secret_result import (
    SecretResultAction,
)


class ActionModule(SecretResultAction):
    pass
