#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: attic_token_info
short_description: Decode and verify an Attic access token, for audits
version_added: 0.1.0
description:
  - Verifies an L(Attic,https://github.com/zhaofengli/attic) JWT against the server's key the
    way atticd does - signature and algorithm, C(exp) and C(nbf), C(iss) and C(aud) when the
    server binds them, and the C(https://jwt.attic.rs/v1) claim - and reports its claims and a
    normalised table of the permissions it grants.
  - An invalid token is not a failure; RV(valid) is V(false) and RV(reason) says why (atticd
    silently treats such a token as no token at all). The claims are still decoded and shown.
  - With O(caches), also reports what atticd would grant on each of those caches, and flags
    caches where several wildcard patterns with different permissions match (atticd then picks
    one arbitrarily).
  - Runs on the controller (it is an action plugin), whatever host the task targets.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
options:
  token:
    description: The JWT to inspect. Never shown.
    type: str
    required: true
  hs256_secret_base64:
    description:
      - The server's HS256 secret, base64-encoded, as in C(server.toml).
      - Exactly one of the key options is required.
    type: str
  rs256_secret_base64:
    description: The server's RSA private key PEM, base64-encoded, as in C(server.toml).
    type: str
  rs256_private_key:
    description: The server's RSA private key as PEM text.
    type: str
  rs256_pubkey_base64:
    description: The server's RSA public key PEM, base64-encoded (C(token-rs256-pubkey-base64)).
    type: str
  rs256_public_key:
    description: The server's RSA public key as PEM text.
    type: str
  issuer:
    description: The server's C(token-bound-issuer), if it has one; the token must then carry it.
    type: str
  audiences:
    description: The server's C(token-bound-audiences), if any; the token must name one of them.
    type: list
    elements: str
  caches:
    description: Cache names to evaluate the token's permissions on.
    type: list
    elements: str
    default: []
requirements:
  - PyJWT and cryptography on the controller.
seealso:
  - module: glorious.flywheel.attic_token
"""

EXAMPLES = r"""
- name: Audit a runner's token
  glorious.flywheel.attic_token_info:
    token: "{{ runner_token }}"
    hs256_secret_base64: "{{ attic_hs256_secret_base64 }}"
    caches: [tenant-alpha-main, tenant-beta-main]
  register: audit

- name: The runner token must not reach another tenant's cache
  ansible.builtin.assert:
    that:
      - audit.valid
      - not audit.cache_permissions[1].pull
"""

RETURN = r"""
valid:
  description: Whether atticd would accept the token.
  returned: always
  type: bool
  sample: true
reason:
  description: Why the token is not valid; V(null) when it is.
  returned: always
  type: str
  sample: the token has expired (exp is in the past)
algorithm:
  description: The algorithm the token was checked with.
  returned: always
  type: str
  sample: HS256
claims:
  description: The token's claims (decoded even when the token is not valid).
  returned: always
  type: dict
subject:
  description: The C(sub) claim.
  returned: always
  type: str
  sample: runner-alpha
issuer:
  description: The C(iss) claim, or V(null).
  returned: always
  type: str
audiences:
  description: The C(aud) claim as a list.
  returned: always
  type: list
  elements: str
expires_at:
  description: C(exp) as ISO 8601 UTC, or V(null) when the token never expires.
  returned: always
  type: str
  sample: "2026-03-31T12:00:00Z"
not_before:
  description: C(nbf) as ISO 8601 UTC.
  returned: always
  type: str
expired:
  description: Whether C(exp) has passed.
  returned: always
  type: bool
problems:
  description: What in the Attic claim atticd could not parse (it would then ignore the token).
  returned: always
  type: list
  elements: str
permissions:
  description: One entry per cache name pattern in the token.
  returned: always
  type: list
  elements: dict
  contains:
    pattern:
      description: The cache name pattern.
      type: str
    wildcard:
      description: Whether the pattern has a V(*).
      type: bool
    letters:
      description: The granted claim letters, in Attic's order (r w d cc cr cq cd).
      type: list
      elements: str
    pull:
      description: C(r) - pull from the cache.
      type: bool
    push:
      description: C(w) - push to the cache.
      type: bool
    delete:
      description: C(d) - delete store paths from the cache.
      type: bool
    create_cache:
      description: C(cc) - create the cache.
      type: bool
    configure_cache:
      description: C(cr) - configure the cache.
      type: bool
    configure_cache_retention:
      description: C(cq) - change its retention period.
      type: bool
    destroy_cache:
      description: C(cd) - destroy the cache.
      type: bool
    unknown_keys:
      description: Keys atticd ignores (not permission letters).
      type: list
      elements: str
cache_permissions:
  description: For each of O(caches), what atticd would grant on it.
  returned: always
  type: list
  elements: dict
  contains:
    cache:
      description: The cache name.
      type: str
    pattern:
      description: The pattern atticd would use (the exact name if present), or V(null).
      type: str
    matching:
      description: Every pattern that matches the cache.
      type: list
      elements: str
    ambiguous:
      description: Several wildcard patterns with different permissions match; atticd picks one arbitrarily.
      type: bool
    letters:
      description: The granted claim letters.
      type: list
      elements: str
    pull:
      description: Pull permission; likewise C(push), C(delete), C(create_cache), C(configure_cache), C(configure_cache_retention), C(destroy_cache).
      type: bool
"""
