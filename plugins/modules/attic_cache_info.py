#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: attic_cache_info
short_description: Read caches from an Attic binary cache server
version_added: 0.1.0
description:
  - Reads the configuration of Attic caches (C(GET /_api/v1/cache-config/<name>)), one request
    per cache, and reports which of the asked-for caches the token can see.
  - Attic has no endpoint that lists caches. This module therefore reads the caches named in
    O(name) or O(names); when neither is given, it reads the caches named exactly in
    O(api_token)'s own permission claim, and returns the token's wildcard patterns, which cannot
    be expanded, in RV(patterns_not_expanded). Public caches the token has no claim on are only
    found by name.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  api_url:
    description:
      - Base URL of the Attic server (its C(api-endpoint)), for example V(https://attic.example.net/).
      - Read from the E(ATTIC_SERVER) environment variable when not set.
    type: str
    required: true
  api_token:
    description:
      - An Attic JWT, sent as a C(Bearer) token in the C(Authorization) header. Reading a cache needs C(pull) (V(r)) on it;
        public caches can be read without a token.
      - Read from the E(ATTIC_TOKEN) environment variable when not set.
    type: str
  name:
    description:
      - Name of one cache to read. Its configuration is also returned as RV(cache).
    type: str
    aliases: [cache]
  names:
    description:
      - Names of caches to read.
      - Wildcards are not possible, since Attic cannot list caches.
    type: list
    elements: str
notes:
  - A cache the token cannot see is not an error; it is listed in RV(not_visible) with Attic's
    answer. Attic answers 401 both when the cache does not exist and when the token grants nothing
    on it, so the two cannot be told apart.
  - Reading the token's claim (when O(name) and O(names) are not given) only decodes it; it
    does not verify it. Use M(glorious.flywheel.attic_token_info) to verify a token.
seealso:
  - module: glorious.flywheel.attic_cache
  - module: glorious.flywheel.attic_token_info
"""

EXAMPLES = r"""
- name: Read one cache
  glorious.flywheel.attic_cache_info:
    api_url: https://attic.example.net/
    api_token: "{{ attic_pull_token }}"
    name: tenant-alpha
  register: alpha

- name: Which tenant caches can this token see?
  glorious.flywheel.attic_cache_info:
    api_url: https://attic.example.net/
    api_token: "{{ tenant_token }}"
    names: "{{ tenants | map('regex_replace', '^', 'tenant-') | list }}"
  register: visible

- name: Every cache the token names exactly
  glorious.flywheel.attic_cache_info:
    api_url: https://attic.example.net/
    api_token: "{{ tenant_token }}"
  register: mine
"""

RETURN = r"""
cache:
  description: The cache named in O(name), or V(null) when the token cannot see it.
  returned: when O(name) is given
  type: dict
  sample:
    name: tenant-alpha
    is_public: false
    store_dir: /nix/store
    priority: 41
    upstream_cache_key_names: [cache.nixos.org-1]
    retention_period: global
    public_key: "tenant-alpha:C929acssgtJoINkUtLbc81GFJPUW9maR77TxEu9ZpRw="
    substituter_endpoint: https://attic.example.net/tenant-alpha
    api_endpoint: https://attic.example.net/
caches:
  description:
    - The caches the token can read, in the order asked. Each has the keys of
      RV(glorious.flywheel.attic_cache#module:cache); C(retention_period) is V(global) or seconds.
  returned: always
  type: list
  elements: dict
not_visible:
  description: The caches asked for that could not be read, with Attic's answer.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Cache name.
      type: str
    status:
      description: HTTP status (401, 403 or 404).
      type: int
    reason:
      description:
        - V(hidden) (401, no permission on the cache, or no such cache), V(forbidden) (403, the
          token can see the cache but may not pull), or V(not_found) (404, the token could see
          the cache if it existed).
      type: str
    message:
      description: Attic's own message.
      type: str
  sample:
    - {name: tenant-gamma, status: 401, reason: hidden, message: "Unauthorized: Unauthorized."}
names:
  description: The names that were read, and where they came from (RV(names_from)).
  returned: always
  type: list
  elements: str
names_from:
  description: V(options) (O(name) or O(names)) or V(token) (the token's exact patterns).
  returned: always
  type: str
patterns_not_expanded:
  description: Wildcard patterns in the token's claim, which Attic cannot list.
  returned: when the names came from the token
  type: list
  elements: str
  sample: [tenant-alpha-*]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._attic import (
    CLAIM_NAMESPACE,
    AtticCaches,
    AtticInputError,
    cache_facts,
    check_cache_name,
    failure_message,
    unverified_claims,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)

REASONS = {401: "hidden", 403: "forbidden", 404: "not_found"}


def names_from_token(module):
    token = module.params["api_token"]
    if not token:
        module.fail_json(
            msg="Give name or names: Attic has no endpoint that lists caches, and "
            "without api_token there is no claim to take cache names from."
        )
    try:
        claims = unverified_claims(token, option="api_token")
    except AtticInputError as exc:
        module.fail_json(msg=str(exc))
    access = claims.get(CLAIM_NAMESPACE)
    caches = access.get("caches") if isinstance(access, dict) else None
    patterns = sorted(caches) if isinstance(caches, dict) else []
    exact = [p for p in patterns if "*" not in p]
    return exact, [p for p in patterns if "*" in p]


def main():
    argument_spec = generate_argspec(
        token_env="ATTIC_TOKEN",
        url_env="ATTIC_SERVER",
        name={"type": "str", "aliases": ["cache"]},
        names={"type": "list", "elements": "str"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("name", "names")],
    )
    params = module.params
    result = {"changed": False}
    if params["name"] is not None:
        names, result["names_from"] = [params["name"]], "options"
    elif params["names"] is not None:
        names, result["names_from"] = list(params["names"]), "options"
    else:
        names, result["patterns_not_expanded"] = names_from_token(module)
        result["names_from"] = "token"
    try:
        for index, name in enumerate(names):
            option = "name" if params["name"] is not None else f"names[{index}]"
            check_cache_name(name, option)
    except AtticInputError as exc:
        module.fail_json(msg=str(exc))

    caches = AtticCaches(client_from_module(module))
    found, not_visible = [], []
    for name in dict.fromkeys(names):
        try:
            config, refusal = caches.probe(name)
        except ApiError as error:
            fail_from_error(module, error, msg=failure_message(error, "read", name))
        if refusal is None:
            found.append(cache_facts(name, config))
        else:
            not_visible.append(
                {
                    "name": name,
                    "status": refusal.status,
                    "reason": REASONS[refusal.status],
                    "message": refusal.message,
                }
            )
    result.update(caches=found, not_visible=not_visible, names=names)
    if params["name"] is not None:
        result["cache"] = found[0] if found else None
    if (
        not_visible
        and all(entry["status"] == 401 for entry in not_visible)
        and not found
    ):
        module.warn(
            "Attic answered 401 for every cache asked for. Either the caches do not "
            "exist, or the token grants nothing on them - or it is invalid or expired, "
            "which Attic treats as no token at all."
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
