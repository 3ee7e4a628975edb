# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The runner scope of the Forgejo / Gitea modules; mirrors
    # module_utils/_forgejo.py SCOPE_OPTIONS. Exactly one of the four is required.
    DOCUMENTATION = r"""
options:
  repository:
    description:
      - V(owner/name) of the repository.
      - Exactly one of O(repository), O(organization), O(user) and O(instance=true) is required.
    type: str
  organization:
    description:
      - Name of the organization.
    type: str
  user:
    description:
      - Login of the user whose own runners are managed. The API only reaches the runners of
        the token's owner (C(/api/v1/user/actions/runners)), so this must be the login
        O(api_token) belongs to; the module checks it.
    type: str
  instance:
    description:
      - Manage instance-wide (global) runners. Needs a site administrator's token.
    type: bool
    default: false
"""
