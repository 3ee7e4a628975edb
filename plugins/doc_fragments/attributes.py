# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What each attribute means. Every module uses this one, then declares its own
    # support level (full / partial / none, with details) under `attributes:`, or
    # uses one of the fragments below when it fits truthfully.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Can run in C(check_mode) and return a changed status prediction without
        modifying the target.
  diff_mode:
    description:
      - Returns details on what has changed (or would change in C(check_mode)) when in
        diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode with the same arguments, the second
        run reports no change.
      - This assumes the system controlled or queried by the module has not changed in
        a relevant way.
"""

    # A module that reads current state, compares, and writes only the differences.
    READ_COMPARE_WRITE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - Reads the current state and reports what would change; only the write is
        skipped.
  diff_mode:
    support: full
    details:
      - Secret values are shown as C(<redacted>).
  idempotent:
    support: full
"""

    # A module that only reads.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""
