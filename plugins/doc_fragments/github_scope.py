# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The runner scope shared by the GitHub runner modules; mirrors
    # module_utils/_github.py SCOPE_OPTIONS. Exactly one of the three is required.
    DOCUMENTATION = r"""
options:
  repository:
    description:
      - V(owner/name) of the repository.
      - Exactly one of O(repository), O(organization) and O(enterprise) is required.
    type: str
  organization:
    description:
      - Login of the organization.
    type: str
  enterprise:
    description:
      - Slug of the enterprise.
    type: str
"""
