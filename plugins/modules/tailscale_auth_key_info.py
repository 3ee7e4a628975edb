#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tailscale_auth_key_info
short_description: List tailnet pre-auth keys on Tailscale or Headscale, without secrets
version_added: 0.1.0
description:
  - Lists the pre-authentication keys of a Tailscale tailnet or a Headscale server
    with their properties, the same keys on both control planes.
  - Never returns a key's secret, also where the API lists it (Headscale before 0.28).
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.tailnet
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  id:
    description:
      - Only the key with this id.
    type: str
  user:
    description:
      - Headscale only. Only the keys of this user (name or numeric id).
    type: str
  valid_only:
    description:
      - Only keys that can still join a node (not expired, revoked or used up).
    type: bool
    default: false
notes:
  - Tailscale lists the keys of the user who owns the API token, or the tailnet's
    keys for an OAuth client; it takes one request per key.
seealso:
  - module: glorious.flywheel.tailscale_auth_key
"""

EXAMPLES = r"""
- name: Find the keys that can still join nodes
  glorious.flywheel.tailscale_auth_key_info:
    api_url: https://headscale.example.net
    user: ci
    valid_only: true
  register: keys

- name: Revoke them
  glorious.flywheel.tailscale_auth_key:
    api_url: https://headscale.example.net
    id: "{{ item.id }}"
    state: absent
  loop: "{{ keys.auth_keys }}"
"""

RETURN = r"""
auth_keys:
  description:
    - The keys, oldest first, with the fields of the C(auth_key) value that
      M(glorious.flywheel.tailscale_auth_key) returns.
  returned: always
  type: list
  elements: dict
  sample:
    - id: "4"
      control_plane: headscale
      user: ci
      reusable: false
      ephemeral: true
      preauthorized: true
      tags: []
      description: null
      created: "2026-01-02T03:04:05Z"
      expires: "2026-01-02T04:04:05Z"
      used: false
      valid: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    HEADSCALE,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect_module,
    tailnet_argspec,
    tailnet_errors,
)


def main():
    module = AnsibleModule(
        argument_spec=tailnet_argspec(
            id={"type": "str"},
            user={"type": "str"},
            valid_only={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    with tailnet_errors(module, "Could not list the auth keys"):
        api = connect_module(module)
        user = None
        if api.control_plane == HEADSCALE and params["user"] is not None:
            user = api.find_user(params["user"])
        if params["id"] is not None:
            record = api.key_by_id(params["id"], user)
            records = [record] if record is not None else []
        else:
            records = api.list_keys(user)
        keys = [api.key_facts(r) for r in records]
        if params["valid_only"]:
            keys = [k for k in keys if k["valid"]]
        keys.sort(key=lambda k: (k["created"] or "", k["id"]))
    module.exit_json(changed=False, auth_keys=keys)


if __name__ == "__main__":
    main()
