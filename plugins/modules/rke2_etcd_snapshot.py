#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rke2_etcd_snapshot
short_description: Save, list, delete and prune RKE2 etcd snapshots on a server
version_added: 0.1.0
description:
  - Runs the C(rke2 etcd-snapshot) sub-commands on an RKE2 server and returns the snapshots
    as a list of dicts, read with C(rke2 etcd-snapshot ls) before and after the change.
  - O(command=save) takes a named on-demand snapshot (RKE2 appends the node name and a
    timestamp to O(name)); O(command=delete) removes the snapshots named in O(snapshots) that
    exist; O(command=prune) keeps the newest O(retention) snapshots whose name starts with
    O(name); O(command=list) only reads.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: partial
    details:
      - O(command=delete) and O(command=prune) predict exactly which snapshots go;
        O(command=save) reports a change without taking one.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - O(command=save) takes a new snapshot on every run; the other commands are idempotent.
options:
  command:
    description: What to do.
    type: str
    choices: [save, list, delete, prune]
    default: list
  name:
    description:
      - For O(command=save), the snapshot name prefix; for O(command=prune), which snapshots
        to prune (those whose name starts with it).
    type: str
    default: on-demand
  snapshots:
    description: For O(command=delete), the snapshot names to delete.
    type: list
    elements: str
    default: []
  retention:
    description: For O(command=prune), how many of the newest matching snapshots to keep.
    type: int
    default: 5
  rke2_bin:
    description: The C(rke2) binary, by name on C(PATH) or by path.
    type: str
    default: rke2
seealso:
  - module: glorious.flywheel.rke2_node_info
"""

EXAMPLES = r"""
- name: Snapshot before the upgrade
  glorious.flywheel.rke2_etcd_snapshot:
    command: save
    name: pre-upgrade
  register: snapshot

- name: Keep the three newest pre-upgrade snapshots
  glorious.flywheel.rke2_etcd_snapshot:
    command: prune
    name: pre-upgrade
    retention: 3
"""

RETURN = r"""
snapshots:
  description: The snapshots after the command (before it in check mode), oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Snapshot name.
      type: str
    location:
      description: Where it is (a C(file://) URL or an S3 location).
      type: str
    size:
      description: Size in bytes.
      type: int
    created:
      description: Creation time as RKE2 prints it.
      type: str
created:
  description: For O(command=save), the snapshots that appeared.
  returned: always
  type: list
  elements: dict
removed:
  description: For O(command=delete) and O(command=prune), the snapshots that went (or would go).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils import _rke2


def listing(module, binary):
    _rc, out, _err = _rke2.run(module, [binary, "etcd-snapshot", "ls"])
    return sorted(
        _rke2.parse_snapshot_list(out), key=lambda snap: (snap["created"], snap["name"])
    )


def main():
    module = AnsibleModule(
        argument_spec={
            "command": {
                "type": "str",
                "choices": ["save", "list", "delete", "prune"],
                "default": "list",
            },
            "name": {"type": "str", "default": "on-demand"},
            "snapshots": {"type": "list", "elements": "str", "default": []},
            "retention": {"type": "int", "default": 5},
            "rke2_bin": {"type": "str", "default": _rke2.RKE2_BIN},
        },
        supports_check_mode=True,
    )
    params = module.params
    binary = module.get_bin_path(params["rke2_bin"], required=True)
    command = params["command"]
    try:
        before = listing(module, binary)
        names = [snap["name"] for snap in before]
        going = []
        args = None
        if command == "save":
            args = [binary, "etcd-snapshot", "save", "--name", params["name"]]
        elif command == "delete":
            going = [snap for snap in before if snap["name"] in params["snapshots"]]
            if going:
                args = [binary, "etcd-snapshot", "delete"] + [
                    snap["name"] for snap in going
                ]
        elif command == "prune":
            if params["retention"] < 1:
                module.fail_json(msg="retention must be at least 1")
            matching = [
                snap for snap in before if snap["name"].startswith(params["name"])
            ]
            going = matching[: max(0, len(matching) - params["retention"])]
            if going:
                args = [
                    binary,
                    "etcd-snapshot",
                    "prune",
                    "--name",
                    params["name"],
                    "--snapshot-retention",
                    str(params["retention"]),
                ]
        result = {
            "changed": args is not None,
            "snapshots": before,
            "created": [],
            "removed": going,
        }
        if args is None or module.check_mode:
            module.exit_json(**result)
        _rke2.run(module, args)
        after = listing(module, binary)
        after_names = [snap["name"] for snap in after]
        result["snapshots"] = after
        result["created"] = [snap for snap in after if snap["name"] not in names]
        result["removed"] = [snap for snap in before if snap["name"] not in after_names]
        if command == "save" and not result["created"]:
            module.fail_json(
                msg="rke2 etcd-snapshot save reported success but no new snapshot is listed",
                **result,
            )
    except _rke2.Rke2Error as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
