#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tailscale_device
short_description: Manage one device (node) of a tailnet on Tailscale or Headscale
version_added: 0.1.0
description:
  - Finds one device of the tailnet by machine name, node id or tailnet address and
    makes it match what is asked - authorization, tags, approved routes, key expiry,
    its name - or expires its key, or removes it.
  - Works against Tailscale's SaaS control plane and a self-hosted Headscale. When the
    control plane (or the Headscale version found) has no API for a change, the module
    fails before changing anything and says so.
  - Returns the device's normalised facts, the same on both control planes (see
    M(glorious.flywheel.tailscale_device_info)).
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.tailnet
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.read_compare_write
options:
  name:
    description:
      - The device's machine name (MagicDNS short name), its MagicDNS FQDN, or its OS
        hostname; matched without regard to case.
      - Exactly one of O(name), O(id) and O(address) selects the device.
    type: str
  id:
    description:
      - The device's id (Tailscale C(nodeId) or its legacy numeric id; the Headscale
        node id).
    type: str
  address:
    description:
      - One of the device's tailnet addresses (IPv4 or IPv6).
    type: str
  state:
    description:
      - V(absent) removes the device from the tailnet; a device that is already gone
        is no change.
    type: str
    choices: [present, absent]
    default: present
  authorized:
    description:
      - On Tailscale, whether the device is authorized (device approval).
      - Headscale has no device approval, every node is authorized; V(false) fails.
    type: bool
  tags:
    description:
      - The device's tags, exactly; each starts with C(tag:).
      - Headscale up to 0.27 sets them as forced tags (kept apart from the tags a node
        advertises). From 0.28 tags are a node's identity - tagging a user's node makes
        it a tagged node for good, and every tag cannot be removed.
    type: list
    elements: str
  routes:
    description:
      - The subnet routes approved (enabled) for the device, exactly, in CIDR notation.
        An empty list approves none.
      - Approving V(0.0.0.0/0) or V(::/0) makes the device an exit node; Headscale
        approves both families together, so give both.
      - Headscale up to 0.25 can only enable routes the node advertises.
    type: list
    elements: str
  key_expiry_disabled:
    description:
      - Whether the device's node key never expires.
      - Headscale (0.27.1 or later) can disable expiry but has no API to enable it
        again; V(false) fails there when expiry is disabled.
    type: bool
  new_name:
    description:
      - Renames the device (its MagicDNS machine name).
      - When no device matches O(name) but one is called O(new_name), it counts as
        renamed already, so the task stays idempotent.
    type: str
  expire:
    description:
      - Expires the device's node key now, so it has to log in again. A device whose
        key has already expired is no change.
    type: bool
    default: false
notes:
  - Runs on the controller; delegate the task to C(localhost) or run it in a play on
    localhost.
  - Changes are made in this order - authorization, tags, routes, key expiry, name,
    expiry - after every check has passed.
seealso:
  - module: glorious.flywheel.tailscale_device_info
  - module: glorious.flywheel.tailscale_node
"""

EXAMPLES = r"""
- name: Tag a server and approve the subnet it routes
  glorious.flywheel.tailscale_device:
    name: build-01
    tags: [tag:server, tag:ci]
    routes: [10.20.0.0/16]
    key_expiry_disabled: true
  delegate_to: localhost

- name: Rename a node on Headscale, found by its address
  glorious.flywheel.tailscale_device:
    api_url: https://headscale.example.net
    address: 100.64.0.7
    new_name: cache-01

- name: Remove a retired runner
  glorious.flywheel.tailscale_device:
    name: runner-17
    state: absent
"""

RETURN = r"""
device:
  description:
    - The device's normalised facts after the change (before it, in check mode and
      for O(state=absent)); see M(glorious.flywheel.tailscale_device_info).
  returned: when the device exists
  type: dict
  sample:
    id: "7"
    control_plane: headscale
    name: build-01
    fqdn: build-01.tailnet.example.net
    hostname: build-01
    addresses: ["100.64.0.7", "fd7a:115c:a1e0::7"]
    ipv4: 100.64.0.7
    ipv6: fd7a:115c:a1e0::7
    tags: [tag:server]
    online: true
    last_seen: "2026-01-02T03:04:05Z"
    os: null
    client_version: null
    authorized: true
    key_expiry_disabled: true
    expires: null
    expired: false
    routes: {advertised: [10.20.0.0/16], approved: [10.20.0.0/16]}
    user: ci
    ephemeral: false
    created: "2026-01-01T00:00:00Z"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    DiffTracker,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    check_routes,
    check_tags,
    short_name,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect_module,
    one_device,
    tailnet_argspec,
    tailnet_errors,
)


def wanted_routes(api, routes):
    """ROUTES as the control plane will store them (Headscale pairs exit routes)."""
    if routes is None:
        return None
    routes = set(routes)
    if api.control_plane == "headscale" and routes & {"0.0.0.0/0", "::/0"}:
        routes |= {"0.0.0.0/0", "::/0"}
    return sorted(routes)


def plan(api, device, params):
    """A DiffTracker with every change DEVICE needs; raises Unsupported first."""
    tracker = DiffTracker()
    tracker.compare("authorized", params["authorized"], device["authorized"])
    tags = sorted(set(params["tags"])) if params["tags"] is not None else None
    tracker.compare("tags", tags, api.settable_tags(device), kind="set")
    tracker.compare(
        "routes",
        wanted_routes(api, params["routes"]),
        api.approved_routes(device),
        kind="set",
    )
    tracker.compare(
        "key_expiry_disabled",
        params["key_expiry_disabled"],
        device["key_expiry_disabled"],
    )
    if params["new_name"] is not None:
        tracker.compare("name", short_name(params["new_name"]), device["name"])
    if params["expire"] and not device["expired"]:
        tracker.add("expired", False, True)
    for name, after in tracker.changes().items():
        api.check_change(name, after, device)
    return tracker


def apply(api, device, changes):
    if "authorized" in changes:
        api.authorize(device, changes["authorized"])
    if "tags" in changes:
        api.set_tags(device, sorted(changes["tags"]))
    if "routes" in changes:
        api.set_routes(device, sorted(changes["routes"]))
    if "key_expiry_disabled" in changes:
        api.set_key_expiry_disabled(device, changes["key_expiry_disabled"])
    if "name" in changes:
        api.rename(device, changes["name"])
    if "expired" in changes:
        api.expire(device)


def find(api, params, required):
    renamed_to = None
    if params["name"] and params["new_name"]:
        # An earlier run renamed it: the new name finds it.
        renamed_to = short_name(params["new_name"])
    return one_device(
        api,
        name=params["name"],
        device_id=params["id"],
        address=params["address"],
        required=required,
        renamed_to=renamed_to,
    )


def main():
    module = AnsibleModule(
        argument_spec=tailnet_argspec(
            name={"type": "str"},
            id={"type": "str"},
            address={"type": "str"},
            state={
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
            authorized={"type": "bool"},
            tags={"type": "list", "elements": "str"},
            routes={"type": "list", "elements": "str"},
            key_expiry_disabled={"type": "bool"},
            new_name={"type": "str"},
            expire={"type": "bool", "default": False},
        ),
        mutually_exclusive=[("name", "id", "address")],
        required_one_of=[("name", "id", "address")],
        supports_check_mode=True,
    )
    params = module.params
    with tailnet_errors(module, "Could not manage the device"):
        check_tags(params["tags"])
        params["routes"] = check_routes(params["routes"])
        api = connect_module(module)

        if params["state"] == "absent":
            device = find(api, params, required=False)
            if device is None:
                module.exit_json(changed=False)
            if not module.check_mode:
                api.delete(device)
            module.exit_json(
                changed=True, device=device, diff={"before": device, "after": {}}
            )

        device = find(api, params, required=True)
        tracker = plan(api, device, params)
        if tracker.changed and not module.check_mode:
            apply(api, device, tracker.changes())
            device = api.with_routes(api.get_device(device["id"]) or device)
    module.exit_json(changed=tracker.changed, device=device, diff=tracker.diff())


if __name__ == "__main__":
    main()
