#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tailscale_device_info
short_description: List a tailnet's devices with the same facts on Tailscale and Headscale
version_added: 0.1.0
description:
  - Lists the devices (nodes) of a Tailscale tailnet or a Headscale server as
    normalised facts that have the same keys on both control planes.
  - Optionally narrows the list by name, id, address, tags, online state or OS.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.tailnet
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  name:
    description:
      - Only the device with this machine name, MagicDNS FQDN or OS hostname (any case).
    type: str
  id:
    description:
      - Only the device with this id.
    type: str
  address:
    description:
      - Only the device with this tailnet address.
    type: str
  tags:
    description:
      - Only devices that have every one of these tags.
    type: list
    elements: str
  online:
    description:
      - Only devices that are (V(true)) or are not (V(false)) connected to the control
        server.
    type: bool
  os:
    description:
      - Only devices running one of these operating systems (for example V(linux)),
        any case.
      - Headscale does not report a device's OS, so this matches nothing there.
    type: list
    elements: str
notes:
  - One request lists every device, on both control planes (neither pages).
seealso:
  - module: glorious.flywheel.tailscale_device
  - plugin: glorious.flywheel.tailnet
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Every online server of the tailnet
  glorious.flywheel.tailscale_device_info:
    tags: [tag:server]
    online: true
  register: servers

- name: Their tailnet addresses
  ansible.builtin.debug:
    msg: "{{ servers.devices | map(attribute='ipv4') }}"
"""

RETURN = r"""
devices:
  description: The matching devices, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Tailscale C(nodeId); Headscale node id.
      type: str
    control_plane:
      description: V(tailscale) or V(headscale).
      type: str
    name:
      description: Machine name (the MagicDNS short name).
      type: str
    fqdn:
      description:
        - MagicDNS name. Headscale does not report it; it is built from
          O(base_domain), and null without it.
      type: str
    hostname:
      description: The OS hostname the device reported.
      type: str
    addresses:
      description: Tailnet addresses.
      type: list
      elements: str
    ipv4:
      description: The tailnet IPv4 address.
      type: str
    ipv6:
      description: The tailnet IPv6 address.
      type: str
    tags:
      description: Tags, sorted.
      type: list
      elements: str
    online:
      description: Whether it is connected to the control server (null if unknown).
      type: bool
    last_seen:
      description: When it was last connected (RFC 3339); Tailscale omits it while online.
      type: str
    os:
      description: Operating system (null on Headscale).
      type: str
    client_version:
      description: Tailscale client version (null on Headscale).
      type: str
    authorized:
      description: Whether it is authorized (always true on Headscale).
      type: bool
    key_expiry_disabled:
      description: Whether its node key never expires.
      type: bool
    expires:
      description: When its node key expires (RFC 3339), null if never.
      type: str
    expired:
      description: Whether its node key has expired.
      type: bool
    routes:
      description: Subnet routes, C(advertised) by the device and C(approved) for it.
      type: dict
    user:
      description: The user it belongs to.
      type: str
    ephemeral:
      description: Whether it is ephemeral (null if unknown).
      type: bool
    created:
      description: When it joined (RFC 3339).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    check_tags,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect_module,
    select_devices,
    tailnet_argspec,
    tailnet_errors,
)


def keep(device, tags, online, systems):
    if tags and not set(tags) <= set(device["tags"]):
        return False
    if online is not None and bool(device["online"]) != online:
        return False
    return not systems or (device["os"] or "").lower() in systems


def main():
    module = AnsibleModule(
        argument_spec=tailnet_argspec(
            name={"type": "str"},
            id={"type": "str"},
            address={"type": "str"},
            tags={"type": "list", "elements": "str"},
            online={"type": "bool"},
            os={"type": "list", "elements": "str"},
        ),
        supports_check_mode=True,
    )
    params = module.params
    systems = {s.lower() for s in params["os"] or ()}
    with tailnet_errors(module, "Could not list the devices"):
        check_tags(params["tags"])
        api = connect_module(module)
        devices = select_devices(
            api, name=params["name"], device_id=params["id"], address=params["address"]
        )
        devices = [
            api.with_routes(d)
            for d in devices
            if keep(d, params["tags"], params["online"], systems)
        ]
    devices.sort(key=lambda d: ((d["name"] or "").lower(), d["id"]))
    module.exit_json(changed=False, devices=devices)


if __name__ == "__main__":
    main()
