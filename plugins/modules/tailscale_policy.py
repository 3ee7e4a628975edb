#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tailscale_policy
short_description: Manage the tailnet policy (ACLs, tags, SSH rules) on Tailscale or Headscale
version_added: 0.1.0
description:
  - Makes the tailnet policy file match O(policy), given as data or as HuJSON text
    (JSON with comments and trailing commas).
  - Compares the policies as data - comments, whitespace, key order and trailing
    commas are not a change - and writes only when the data differs. HuJSON text is
    sent as written, so its comments are kept on the server.
  - Tailscale - reads the policy with its ETag, validates the new one with the API,
    and writes it with C(If-Match), so a policy someone else changed in between is
    never overwritten (the module fails and says so).
  - Headscale - reads and writes C(/api/v1/policy). This works only when the server
    keeps its policy in the database (C(policy.mode) set to C(database)); with a policy file
    the module fails, in check mode too, and explains how to change it.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.tailnet
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the policy and reports whether it would change; Tailscale still
        validates the new policy (validation changes nothing).
  diff_mode:
    support: full
    details:
      - Shows both policies as indented, key-sorted JSON (comments are not part of
        the comparison, so they are not shown).
  idempotent:
    support: full
options:
  policy:
    description:
      - The whole policy, as a dictionary or as HuJSON/JSON text (for example from
        C(lookup('file', 'policy.hujson'))).
      - It replaces the current policy entirely.
    type: raw
    required: true
  validate:
    description:
      - Tailscale only. Validate the policy with the API (C(/acl/validate)) before
        writing it, and fail with the API's message when it is not valid. Headscale
        validates every policy it is given.
    type: bool
    default: true
notes:
  - Runs on the controller; delegate the task to C(localhost) or run it in a play on
    localhost.
seealso:
  - name: Tailscale policy syntax
    description: What a tailnet policy file contains.
    link: https://tailscale.com/kb/1337/policy-syntax
  - name: Headscale ACLs
    description: The policy Headscale understands, and policy.mode.
    link: https://headscale.net/stable/ref/acls/
"""

EXAMPLES = r"""
- name: Policy from a HuJSON file kept next to the playbook
  glorious.flywheel.tailscale_policy:
    api_url: https://headscale.example.net
    policy: "{{ lookup('ansible.builtin.file', 'tailnet-policy.hujson') }}"

- name: Policy as data
  glorious.flywheel.tailscale_policy:
    policy:
      tagOwners:
        tag:server: [admin@example.com]
      acls:
        - action: accept
          src: [autogroup:member]
          dst: ["tag:server:22,443"]
"""

RETURN = r"""
policy:
  description: The policy as data after the task (the wanted one in check mode).
  returned: always
  type: dict
  sample: {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.glorious.flywheel.plugins.module_utils._hujson import (
    HujsonError,
    canonical,
    loads,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    TAILSCALE,
    TailnetError,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect_module,
    tailnet_argspec,
    tailnet_errors,
)


def desired(policy):
    """(data, text to send) for the policy option (text or data)."""
    if isinstance(policy, (dict, list)):
        if not isinstance(policy, dict):
            raise TailnetError(
                "policy must be a dictionary or HuJSON text of one, got a list.",
                field="policy",
            )
        return policy, json.dumps(policy, indent=2) + "\n"
    text = to_text(policy)
    try:
        data = loads(text)
    except HujsonError as exc:
        raise TailnetError(f"policy: {exc}. Fix the text.", field="policy") from None
    if not isinstance(data, dict):
        raise TailnetError(
            "policy must be a JSON object ({...}) at the top level.", field="policy"
        )
    return data, text


def current_data(value):
    if value is None or isinstance(value, dict):
        return value
    try:
        return loads(value)
    except HujsonError as exc:
        raise TailnetError(
            f"The control server's current policy could not be read: {exc}."
        ) from None


def shown(data):
    if data is None:
        return ""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=tailnet_argspec(
            policy={"type": "raw", "required": True},
            validate={"type": "bool", "default": True},
        ),
        supports_check_mode=True,
    )
    with tailnet_errors(module, "Could not manage the tailnet policy"):
        wanted, text = desired(module.params["policy"])
        api = connect_module(module)
        value, etag = api.get_policy()
        before = current_data(value)
        changed = before is None or canonical(before) != canonical(wanted)
        if changed:
            api.check_policy_writable()
            if api.control_plane == TAILSCALE and module.params["validate"]:
                problem = api.validate_policy(text)
                if problem:
                    raise TailnetError(
                        f"The policy is not valid: {problem}", field="policy"
                    )
            if not module.check_mode:
                api.set_policy(text, etag)
    result = {"changed": changed, "policy": wanted}
    if changed:
        result["diff"] = {
            "before": shown(before),
            "after": shown(wanted),
            "before_header": "tailnet policy (before)",
            "after_header": "tailnet policy (after)",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
