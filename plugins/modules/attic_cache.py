#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: attic_cache
short_description: Create, configure and destroy caches on an Attic binary cache server
version_added: 0.1.0
description:
  - Manages one cache on an L(Attic,https://github.com/zhaofengli/attic) server through its
    cache-config API (C(/_api/v1/cache-config/<name>)).
  - Reads the cache once, compares, and writes only what differs; a cache already in the wanted
    state costs exactly one C(GET) and no write.
  - Attic cannot set a retention period when it creates a cache, so a new cache with
    O(retention_period) is created and then configured (two writes).
  - Attic never returns a cache's signing keypair. O(keypair) is write-only; see
    O(keypair_update) for when it is sent.
  - Returns the cache's public key and substituter endpoint, which Nix clients need.
author:
  - GloriousFlywheel developers
extends_documentation_fragment:
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.read_compare_write
attributes:
  check_mode:
    details:
      - Reads the current state and reports what would change; only the writes are skipped.
      - When a cache would be created, RV(public_key) and RV(substituter_endpoint) are unknown
        (V(null)), unless O(keypair) is given, from which the public key is derived.
  diff_mode:
    details:
      - Shows the cache's settings before and after. The keypair is never shown; a keypair
        change shows the public keys instead, or C(<redacted>) when Attic generates the key.
  idempotent:
    details:
      - Except with O(keypair_update=always), which sends the keypair on every run on purpose
        (a key rotation) and so reports a change each time.
options:
  api_url:
    description:
      - Base URL of the Attic server (its C(api-endpoint)), for example V(https://attic.example.net/).
      - Read from the E(ATTIC_SERVER) environment variable when not set.
    type: str
    required: true
  api_token:
    description:
      - An Attic JWT (as minted by M(glorious.flywheel.attic_token) or C(atticadm make-token)),
        sent as a C(Bearer) token in the C(Authorization) header.
      - Needs C(pull) (V(r)) on the cache to read it, and C(create_cache) (V(cc)),
        C(configure_cache) (V(cr)), C(configure_cache_retention) (V(cq)) or C(destroy_cache)
        (V(cd)) for each kind of change.
      - Attic answers HTTP 401 when the token grants no permission at all on the cache, whether or
        not the cache exists, and 403 when it can see the cache but lacks the permission needed.
      - Read from the E(ATTIC_TOKEN) environment variable when not set.
    type: str
  name:
    description:
      - Name of the cache.
      - Attic accepts 1 to 50 characters from V(A-Z), V(a-z), V(0-9), V(-), V(_) and V(+),
        starting with a letter or digit. The module checks this before any request.
    type: str
    required: true
    aliases: [cache]
  state:
    description:
      - V(present) creates the cache if needed and configures it.
      - V(absent) destroys it. Whether Attic deletes it or only marks it deleted (so the name
        cannot be reused) depends on the server's C(soft-delete-caches) setting.
    type: str
    choices: [present, absent]
    default: present
  is_public:
    description:
      - Whether anyone may pull from the cache without a token.
      - When not set, a new cache is private and an existing one is left as it is.
    type: bool
  store_dir:
    description:
      - The Nix store directory the cache serves.
      - When not set, a new cache uses V(/nix/store) and an existing one is left as it is.
    type: str
  priority:
    description:
      - Substituter priority announced to Nix; lower is preferred (C(cache.nixos.org) is 40).
      - When not set, a new cache uses V(41) (the C(attic) client's default) and an existing one
        is left as it is.
    type: int
  upstream_cache_key_names:
    description:
      - Signing key names of upstream caches; clients skip pushing paths signed with them.
      - When not set, a new cache uses V([cache.nixos.org-1]) and an existing one is left as it
        is. Compared as a set.
    type: list
    elements: str
  retention_period:
    description:
      - How long unaccessed objects are kept before garbage collection.
      - V(global) uses the server's C(default-retention-period).
      - Otherwise a duration as Attic parses it, for example V(3 months), V(90d), V(12h) or
        V(1y 6M) (units V(s), V(m) minutes, V(h), V(d), V(w), V(M)/V(months), V(y)/V(years)),
        or a whole number of seconds. V(0s) disables time-based garbage collection for the cache.
      - When not set, the retention period is left as it is.
      - Changing it needs the C(configure_cache_retention) (V(cq)) permission as well.
    type: str
  keypair:
    description:
      - The cache's Nix signing secret key, C(<key name>:<base64>), as written by
        C(nix key generate-secret --key-name <name>).
      - When not set, Attic generates a keypair named after the cache.
      - Write-only. Attic never returns a keypair, so the module cannot read it back; it is sent
        only as O(keypair_update) says. Its public half is compared with the cache's public key
        for O(keypair_update=on_change), and never shown.
    type: str
  keypair_update:
    description:
      - When the keypair is sent.
      - V(on_create) sends it only when the module creates the cache (O(keypair), or a
        generated one).
      - V(on_change) also sends O(keypair) when the cache's public key is not the public half of
        O(keypair); needs O(keypair).
      - V(always) sends it on every run (O(keypair), or asks Attic to generate a new one), so it
        reports a change every time. Clients must then trust the new public key.
    type: str
    choices: [on_create, on_change, always]
    default: on_create
notes:
  - Runs wherever the task runs; it only needs HTTP access to the Attic server. A public key
    check of O(keypair) uses C(cryptography) when it is installed.
seealso:
  - module: glorious.flywheel.attic_cache_info
  - module: glorious.flywheel.attic_token
  - name: Attic cache-config API (upstream source)
    description: The server side of the endpoints this module calls.
    link: https://github.com/zhaofengli/attic/blob/main/server/src/api/v1/cache_config.rs
"""

EXAMPLES = r"""
- name: Mint a short-lived admin token for cache management
  glorious.flywheel.attic_token:
    sub: ansible
    validity: 10m
    permissions:
      "*": [pull, create_cache, configure_cache, configure_cache_retention, destroy_cache]
    hs256_secret_base64: "{{ attic_hs256_secret_base64 }}"
  register: attic_admin

- name: A private cache per tenant, kept three months
  glorious.flywheel.attic_cache:
    api_url: https://attic.example.net/
    api_token: "{{ attic_admin.token }}"
    name: "tenant-{{ item }}"
    retention_period: 3 months
  loop: [alpha, beta]

- name: A public cache with a key we keep ourselves
  glorious.flywheel.attic_cache:
    api_url: https://attic.example.net/
    api_token: "{{ attic_admin.token }}"
    name: public
    is_public: true
    priority: 42
    keypair: "{{ lookup('file', 'secrets/public-cache.key') }}"
    keypair_update: on_change
  register: public_cache

- name: Tell Nix about it
  ansible.builtin.debug:
    msg: "extra-substituters = {{ public_cache.substituter_endpoint }}; trusted key {{ public_cache.public_key }}"

- name: Remove a cache
  glorious.flywheel.attic_cache:
    api_url: https://attic.example.net/
    api_token: "{{ attic_admin.token }}"
    name: old-cache
    state: absent
"""

RETURN = r"""
cache:
  description:
    - The cache after the run (in check mode, as it would be); V({}) when it is absent.
    - Never contains the keypair.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the cache.
      type: str
      sample: tenant-alpha
    is_public:
      description: Whether anyone may pull without a token.
      type: bool
      sample: false
    store_dir:
      description: Nix store directory.
      type: str
      sample: /nix/store
    priority:
      description: Substituter priority.
      type: int
      sample: 41
    upstream_cache_key_names:
      description: Signing key names of upstream caches.
      type: list
      elements: str
      sample: [cache.nixos.org-1]
    retention_period:
      description: V(global), or the retention period in seconds.
      type: raw
      sample: 7890048
    public_key:
      description: The cache's public signing key, for C(trusted-public-keys).
      type: str
      sample: "tenant-alpha:C929acssgtJoINkUtLbc81GFJPUW9maR77TxEu9ZpRw="
    substituter_endpoint:
      description: The cache's Nix binary cache URL, for C(substituters).
      type: str
      sample: https://attic.example.net/tenant-alpha
    api_endpoint:
      description: The server's API endpoint.
      type: str
      sample: https://attic.example.net/
public_key:
  description:
    - The cache's public signing key. V(null) when the cache is absent, or in check mode when it
      would be created with a generated key.
  returned: always
  type: str
  sample: "tenant-alpha:C929acssgtJoINkUtLbc81GFJPUW9maR77TxEu9ZpRw="
substituter_endpoint:
  description:
    - The cache's Nix binary cache URL. V(null) when the cache is absent, or in check mode when it
      would be created.
  returned: always
  type: str
  sample: https://attic.example.net/tenant-alpha
requests:
  description: What the module asked of Attic, by kind (C(read), C(create), C(configure), C(destroy)).
  returned: always
  type: dict
  sample: {read: 1}
diff:
  description: Settings before and after, when run with C(--diff).
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    DiffTracker,
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._attic import (
    CONFIG_FIELDS,
    CREATE_DEFAULTS,
    GLOBAL,
    AtticCaches,
    AtticInputError,
    cache_facts,
    check_cache_name,
    create_body,
    failure_message,
    keypair_to_api,
    parse_keypair,
    parse_retention,
    retention_to_api,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)

# Shown in diffs in place of a public key only Attic will know.
GENERATED = "<generated by Attic>"


class CacheRun:
    """One run against one cache: the calls made (counted) and the exit."""

    def __init__(self, module, retention, keypair, keypair_public):
        self.module = module
        self.params = module.params
        self.name = self.params["name"]
        self.retention = retention
        self.keypair = keypair
        self.keypair_public = keypair_public
        self.requests = {}
        self.caches = AtticCaches(client_from_module(module))

    def call(self, kind, action, function, *args):
        self.requests[kind] = self.requests.get(kind, 0) + 1
        try:
            return function(*args)
        except ApiError as error:
            fail_from_error(
                self.module,
                error,
                msg=failure_message(error, action, self.name),
                requests=self.requests,
            )

    def read(self):
        return self.call("read", "read", self.caches.get, self.name)

    def exit(self, changed, config, diff=None):
        facts = cache_facts(self.name, config) if config is not None else {}
        result = {
            "changed": changed,
            "cache": facts,
            "public_key": facts.get("public_key"),
            "substituter_endpoint": facts.get("substituter_endpoint"),
            "requests": self.requests,
        }
        if diff is not None and self.module._diff:
            result["diff"] = diff
        self.module.exit_json(**result)

    def absent(self, current):
        if current is None:
            self.exit(False, None)
        before = cache_facts(self.name, current)
        before.pop("api_endpoint", None)
        diff = {"before": before, "after": {}}
        if not self.module.check_mode:
            self.call("destroy", "destroy", self.caches.destroy, self.name)
        self.exit(True, None, diff)

    def create(self):
        after = {"name": self.name}
        for field in CONFIG_FIELDS:
            wanted = self.params[field]
            after[field] = CREATE_DEFAULTS[field] if wanted is None else wanted
        after["retention_period"] = self.retention or GLOBAL
        after["public_key"] = self.keypair_public or GENERATED
        diff = {"before": {}, "after": after}
        if self.module.check_mode:
            config = {field: after[field] for field in CONFIG_FIELDS}
            config["retention_period"] = retention_to_api(after["retention_period"])
            config["public_key"] = self.keypair_public
            self.exit(True, config, diff)
        body = create_body(self.params, self.keypair)
        self.call("create", "create", self.caches.create, self.name, body)
        if self.retention not in (None, GLOBAL):
            # Attic's CreateCacheRequest has no retention field: configure it after.
            retention = {"retention_period": retention_to_api(self.retention)}
            self.call(
                "configure",
                "configure_retention",
                self.caches.configure,
                self.name,
                retention,
            )
        self.exit(True, self.read(), diff)

    def update(self, current):
        facts = cache_facts(self.name, current)
        tracker = DiffTracker()
        for field in CONFIG_FIELDS:
            kind = "set" if field == "upstream_cache_key_names" else "value"
            tracker.compare(field, self.params[field], facts[field], kind=kind)
        tracker.compare("retention_period", self.retention, facts["retention_period"])
        policy = self.params["keypair_update"]
        send_keypair = policy == "always" or (
            policy == "on_change" and self.keypair_public != facts["public_key"]
        )
        if send_keypair:
            tracker.add(
                "public_key", facts["public_key"], self.keypair_public or GENERATED
            )
        if not tracker.changed:
            self.exit(False, current)

        body = {}
        for field, value in tracker.changes().items():
            if field == "retention_period":
                body[field] = retention_to_api(value)
            elif field != "public_key":
                body[field] = value
        if send_keypair:
            body["keypair"] = keypair_to_api(self.keypair)
        after = dict(current)
        after.update({k: v for k, v in body.items() if k != "keypair"})
        if send_keypair:
            after["public_key"] = self.keypair_public
        if self.module.check_mode:
            self.exit(True, after, tracker.diff())
        action = "configure_retention" if "retention_period" in body else "configure"
        self.call("configure", action, self.caches.configure, self.name, body)
        if send_keypair and self.keypair is None:
            # Only Attic knows the public half of a key it generated.
            after = self.read()
        self.exit(True, after, tracker.diff())


def main():
    argument_spec = generate_argspec(
        token_env="ATTIC_TOKEN",
        url_env="ATTIC_SERVER",
        name={"type": "str", "required": True, "aliases": ["cache"]},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        is_public={"type": "bool"},
        store_dir={"type": "str"},
        priority={"type": "int"},
        upstream_cache_key_names={"type": "list", "elements": "str"},
        retention_period={"type": "str"},
        keypair={"type": "str", "no_log": True},
        keypair_update={
            "type": "str",
            "choices": ["on_create", "on_change", "always"],
            "default": "on_create",
        },
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("keypair_update", "on_change", ("keypair",))],
    )
    params = module.params
    keypair, keypair_public = params["keypair"], None
    try:
        check_cache_name(params["name"])
        retention = parse_retention(params["retention_period"])
        if keypair is not None:
            _key_name, keypair_public = parse_keypair(keypair)
    except AtticInputError as exc:
        module.fail_json(msg=str(exc))
    if params["priority"] is not None and not -(2**31) <= params["priority"] < 2**31:
        module.fail_json(
            msg=f"priority: {params['priority']} does not fit Attic's 32-bit priority."
        )

    run = CacheRun(module, retention, keypair, keypair_public)
    current = run.read()
    if params["state"] == "absent":
        run.absent(current)
    elif current is None:
        run.create()
    else:
        run.update(current)


if __name__ == "__main__":
    main()
