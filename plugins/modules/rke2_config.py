#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rke2_config
short_description: Write an RKE2 configuration file from layered dictionaries
version_added: 0.1.0
description:
  - Merges O(layers) (for example cluster, then group, then host) into one flat RKE2
    configuration and writes it to O(path) (C(/etc/rancher/rke2/config.yaml) or a drop-in
    under C(config.yaml.d/)) with mode C(0600), since it holds the join token.
  - A later layer replaces a key of an earlier one; a key ending in C(+) appends to the list
    of the key without it, as RKE2 itself does across drop-ins.
  - For an agent, leaves out the keys only servers take (C(cni), C(tls-san), C(cluster-cidr),
    ...), so one cluster-wide layer serves both; RV(ignored_keys) lists them.
  - Validates the merged configuration before writing (unknown CNI, a join without a token,
    an agent without a server) and fails without touching the file.
  - Returns RV(must_match), the values of the keys that must be identical on every server
    (secrets as SHA-256 digests), so that a play can compare them across servers before it
    changes any host.
  - Reports RV(restart_required) when the content changed; a mode fix alone does not need a
    restart.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.read_compare_write
options:
  layers:
    description:
      - Configuration dictionaries, merged in order. Keys are RKE2 flags without the dashes
        (C(token), C(server), C(tls-san), C(node-ip), ...); values are scalars or lists of
        scalars. A V(null) value drops the key.
    type: list
    elements: dict
    required: true
  role:
    description: Whether the node is an RKE2 server or agent; decides what is valid.
    type: str
    choices: [server, agent]
    default: server
  path:
    description: The file to write.
    type: path
    default: /etc/rancher/rke2/config.yaml
  complete:
    description:
      - Whether O(path) is the node's whole configuration. V(false) for a drop-in under
        C(config.yaml.d/), which is one part of the configuration, so only what is wrong on
        its own (an unknown CNI) is refused, not a missing C(server) or C(token).
    type: bool
    default: true
  validate_only:
    description:
      - Merge and validate, return RV(config) and RV(must_match), and never read or write
        O(path).
    type: bool
    default: false
  header:
    description: Comment written at the top of the file.
    type: str
    default: Managed by glorious.flywheel.rke2_config; local edits are overwritten.
notes:
  - The values of C(token) and C(agent-token) are never returned and show as C(<redacted>)
    in the diff.
seealso:
  - module: glorious.flywheel.rke2_node_info
"""

EXAMPLES = r"""
- name: Write the node's RKE2 configuration
  glorious.flywheel.rke2_config:
    role: server
    layers:
      - "{{ rke2_cluster_config }}"
      - "{{ rke2_group_config }}"
      - "{{ rke2_host_config }}"
      - token: "{{ rke2_token }}"
        tls-san: ["{{ tailscale_ipv4 }}", "{{ tailscale_fqdn }}"]
  register: rke2_config
  notify: Restart rke2

- name: A drop-in that appends a label
  glorious.flywheel.rke2_config:
    role: agent
    complete: false
    path: /etc/rancher/rke2/config.yaml.d/50-labels.yaml
    layers:
      - node-label+: [flywheel.dev/pool=ci]
"""

RETURN = r"""
path:
  description: The file written (or that would be).
  returned: always
  type: str
  sample: /etc/rancher/rke2/config.yaml
config:
  description: The merged configuration, secrets as C(<redacted>).
  returned: always
  type: dict
  sample: {"token": "<redacted>", "node-ip": "100.64.0.11", "tls-san": ["100.64.0.11"]}
must_match:
  description:
    - The keys that must be identical on every server that this configuration sets, secrets
      as C(sha256:<hex>).
  returned: always
  type: dict
  sample: {"cluster-cidr": "10.42.0.0/16"}
ignored_keys:
  description: Keys left out because the node is an agent.
  returned: always
  type: list
  elements: str
  sample: [cni, tls-san]
restart_required:
  description: Whether the content changed, so that the RKE2 service must restart to apply it.
  returned: always
  type: bool
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils import _rke2

MODE = 0o600


def must_match_values(config):
    values = {}
    for key in _rke2.MUST_MATCH_KEYS:
        if key not in config:
            continue
        value = _rke2.normalise(config[key])
        if key in _rke2.SECRET_KEYS:
            value = "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()
        values[key] = value
    return values


def main():
    module = AnsibleModule(
        argument_spec={
            "layers": {"type": "list", "elements": "dict", "required": True},
            "role": {
                "type": "str",
                "choices": ["server", "agent"],
                "default": "server",
            },
            "path": {"type": "path", "default": _rke2.CONFIG_PATH},
            "complete": {"type": "bool", "default": True},
            "validate_only": {"type": "bool", "default": False},
            "header": {
                "type": "str",
                "default": "Managed by glorious.flywheel.rke2_config; local edits are overwritten.",
            },
        },
        supports_check_mode=True,
    )
    params = module.params
    config, ignored = _rke2.for_role(
        _rke2.merge_layers(params["layers"]), params["role"]
    )
    for key in _rke2.SECRET_KEYS:
        if config.get(key):
            module.no_log_values.add(str(config[key]))
    problems = _rke2.validate(config, params["role"], params["complete"])
    try:
        content = _rke2.render_config(config, params["header"])
    except _rke2.Rke2Error as exc:
        problems.append(str(exc))
    result = {
        "changed": False,
        "path": params["path"],
        "config": _rke2.redact(config),
        "must_match": must_match_values(config),
        "ignored_keys": ignored,
        "restart_required": False,
    }
    if problems:
        module.fail_json(
            msg="invalid RKE2 {} configuration: {}".format(
                params["role"], "; ".join(problems)
            ),
            **result,
        )
    if params["validate_only"]:
        module.exit_json(**result)

    path = params["path"]
    before = _rke2.read_text(path)
    content_changed = before != content
    mode_changed = before is not None and (os.stat(path).st_mode & 0o777) != MODE
    result["restart_required"] = content_changed
    result["changed"] = content_changed or mode_changed
    if module._diff and content_changed:
        redacted_before = before
        if before is not None:
            for secret in module.no_log_values:
                redacted_before = redacted_before.replace(secret, _rke2.REDACTED)
        result["diff"] = {
            "before_header": path,
            "after_header": path,
            "before": redacted_before or "",
            "after": _rke2.render_config(_rke2.redact(config), params["header"]),
        }
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    if content_changed:
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".rke2-config-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        os.chmod(tmp, MODE)
        module.atomic_move(tmp, path)
    os.chmod(path, MODE)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
