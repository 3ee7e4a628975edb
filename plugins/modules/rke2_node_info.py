#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rke2_node_info
short_description: Report a node's RKE2 installation, services, join token and Kubernetes node
version_added: 0.1.0
description:
  - Reports the installed RKE2 version (from C(rke2 --version)), whether the join token and the
    admin kubeconfig exist, and the state of the C(rke2-server) and C(rke2-agent) units.
  - With O(node_name), also asks the API server named in O(kubeconfig) for that Kubernetes node
    and reports whether it is C(Ready); a node that does not exist yet is not a failure.
  - Never returns the token itself.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  data_dir:
    description: RKE2's data directory (C(data-dir) in its configuration).
    type: path
    default: /var/lib/rancher/rke2
  kubeconfig:
    description: The admin kubeconfig RKE2 writes on servers.
    type: path
    default: /etc/rancher/rke2/rke2.yaml
  node_name:
    description: A Kubernetes node to look up through O(kubeconfig).
    type: str
  rke2_bin:
    description: The C(rke2) binary, by name on C(PATH) or by path.
    type: str
    default: rke2
seealso:
  - module: glorious.flywheel.rke2_config
"""

EXAMPLES = r"""
- name: Wait for this node to be Ready, asking the first server
  glorious.flywheel.rke2_node_info:
    node_name: "{{ rke2_node_name }}"
  delegate_to: "{{ rke2_first_server }}"
  register: rke2_info
  until: rke2_info.node.ready
  retries: 60
  delay: 5
"""

RETURN = r"""
installed:
  description: Whether the C(rke2) binary was found.
  returned: always
  type: bool
version:
  description: The installed version, or V(null).
  returned: always
  type: str
  sample: v1.31.4+rke2r1
token_present:
  description: Whether C(<data_dir>/server/node-token) exists (servers only).
  returned: always
  type: bool
token_path:
  description: Where the join token is.
  returned: always
  type: str
  sample: /var/lib/rancher/rke2/server/node-token
kubeconfig_path:
  description: The admin kubeconfig path.
  returned: always
  type: str
kubeconfig_present:
  description: Whether the admin kubeconfig exists.
  returned: always
  type: bool
services:
  description: C(active) and C(enabled) of each RKE2 unit, as systemctl prints them.
  returned: always
  type: dict
  sample: {"rke2-server": {"active": "active", "enabled": "enabled"}, "rke2-agent": {"active": "inactive", "enabled": "not-found"}}
node:
  description: The Kubernetes node O(node_name) as the API server sees it.
  returned: when O(node_name) is set
  type: dict
  contains:
    exists:
      description: Whether the node is registered.
      type: bool
    ready:
      description: Whether its C(Ready) condition is C(True).
      type: bool
    kubelet_version:
      description: The kubelet version it reports.
      type: str
    labels:
      description: Its labels.
      type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils import _rke2


def main():
    module = AnsibleModule(
        argument_spec={
            "data_dir": {"type": "path", "default": _rke2.DATA_DIR},
            "kubeconfig": {"type": "path", "default": _rke2.KUBECONFIG_PATH},
            "node_name": {"type": "str"},
            "rke2_bin": {"type": "str", "default": _rke2.RKE2_BIN},
        },
        supports_check_mode=True,
    )
    params = module.params
    binary = (
        module.get_bin_path(params["rke2_bin"])
        if "/" not in params["rke2_bin"]
        else params["rke2_bin"]
    )
    version = None
    if binary and os.path.exists(binary):
        rc, out, err = _rke2.run(module, [binary, "--version"], check_rc=False)
        if rc != 0:
            module.fail_json(
                msg=f"{binary} --version failed (rc={rc}): {(err or out).strip()}"
            )
        version = _rke2.version_string(out)
    token_path = os.path.join(params["data_dir"], "server", "node-token")
    result = {
        "changed": False,
        "installed": version is not None,
        "version": version,
        "token_present": os.path.exists(token_path),
        "token_path": token_path,
        "kubeconfig_path": params["kubeconfig"],
        "kubeconfig_present": os.path.exists(params["kubeconfig"]),
        "services": {
            unit: _rke2.service_state(unit) for unit in ("rke2-server", "rke2-agent")
        },
    }
    if params["node_name"]:
        if not result["kubeconfig_present"]:
            result["node"] = _rke2.node_summary(None)
        else:
            try:
                result["node"] = _rke2.node_summary(
                    _rke2.get_node(params["kubeconfig"], params["node_name"])
                )
            except _rke2.Rke2Error as exc:
                module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
