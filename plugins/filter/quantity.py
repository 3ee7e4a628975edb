# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: quantity
short_description: A Kubernetes quantity as a number, to compare two of them
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - Reads a Kubernetes resource quantity such as C(500m), C(2), C(8Gi) or C(1G) and returns it in
    base units (cores, bytes), so templates can pick the larger of two limits.
options:
  _input:
    description: The quantity.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: The larger memory limit
  ansible.builtin.debug:
    msg: "{{ '8Gi' if ('8Gi' | glorious.flywheel.quantity) > ('6000Mi' | glorious.flywheel.quantity) else '6000Mi' }}"
"""

RETURN = r"""
_value:
  description: The quantity in base units.
  type: float
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.glorious.flywheel.plugins.module_utils._enrollment import (
    quantity as parse_quantity,
)


def quantity(value):
    try:
        return parse_quantity(value)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"quantity": quantity}
