#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: attic_token
short_description: Mint an Attic access token (JWT) the way atticadm make-token does
version_added: 0.1.0
description:
  - Signs a JSON Web Token that an L(Attic,https://github.com/zhaofengli/attic) server accepts,
    with the same claims as C(atticadm make-token) - C(sub), C(exp) (now + O(validity)),
    C(nbf) (now), optional C(iss) and C(aud), and the C(https://jwt.attic.rs/v1) claim mapping
    cache name patterns to permissions.
  - Signs with the server's own key - HS256 with O(hs256_secret_base64), or RS256 with
    O(rs256_secret_base64) or O(rs256_private_key) - so no server call is made.
  - Runs on the controller (it is an action plugin), whatever host the task targets; the key
    never leaves the controller.
  - The whole result is marked C(no_log), so the token is never displayed or logged, not even
    with C(-vvv). C(register) the result to use RV(token); the other returned values can be shown
    with M(ansible.builtin.debug).
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    support: full
    details:
      - Minting changes nothing anywhere, so it mints in check mode too (later tasks can use the
        token).
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false) - minting a token changes no state on any host or server
        (Attic tokens are stateless), and a role that mints a short-lived token on every run
        should still be able to report no changes.
      - Each run returns a different token, since C(nbf) and C(exp) follow the clock.
options:
  sub:
    description:
      - The token's subject (C(sub)), for example the person, runner or tenant it is for.
    type: str
    required: true
  validity:
    description:
      - How long the token is valid from now, as C(atticadm make-token --validity) takes it - for
        example V(10m), V(12h), V(90d), V(3 months) or V(2y) (units V(s), V(m) minutes, V(h),
        V(d), V(w), V(M)/V(months), V(y)/V(years)), or a whole number of seconds.
    type: str
    required: true
  permissions:
    description:
      - Cache name patterns mapped to the permissions granted on them, for example
        V(tenant-alpha-*) mapped to V([pull, push]) and V(shared) to V([pull]).
      - Patterns are cache names that may contain V(*) wildcards.
      - "Permissions are the C(atticadm) names or their claim letters: V(pull) (V(r)), V(push)
        (V(w)), V(delete) (V(d)), V(create_cache) (V(cc)), V(configure_cache) (V(cr)),
        V(configure_cache_retention) (V(cq)), V(destroy_cache) (V(cd))."
      - Attic uses the pattern equal to the cache name if there is one, otherwise one matching
        wildcard pattern, picked arbitrarily - permissions of several patterns are never added
        up. Avoid overlapping wildcards with different permissions;
        M(glorious.flywheel.attic_token_info) reports them.
    type: dict
    default: {}
  hs256_secret_base64:
    description:
      - The server's HS256 secret, base64-encoded, exactly as in C(server.toml)
        (C([jwt.signing] token-hs256-secret-base64)) or E(ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64).
      - atticd requires it to decode to UTF-8 text; the module refuses other values.
      - One of O(hs256_secret_base64), O(rs256_secret_base64) and O(rs256_private_key) is
        required.
    type: str
  rs256_secret_base64:
    description:
      - The server's RSA private key PEM, base64-encoded, exactly as in C(server.toml)
        (C([jwt.signing] token-rs256-secret-base64)).
    type: str
  rs256_private_key:
    description:
      - The server's RSA private key as PEM text (PKCS#1 or PKCS#8, unencrypted).
    type: str
  issuer:
    description:
      - The C(iss) claim. Set it when the server has C(token-bound-issuer); the server then
        rejects tokens without it.
    type: str
  audiences:
    description:
      - The C(aud) claim, as a list. Set it when the server has C(token-bound-audiences); the
        token must name one of them.
    type: list
    elements: str
requirements:
  - PyJWT and cryptography on the controller.
notes:
  - Failure messages name the option at fault and never contain a key or a token.
seealso:
  - module: glorious.flywheel.attic_token_info
  - module: glorious.flywheel.attic_cache
  - name: atticadm make-token (upstream source)
    description: The command whose tokens this module reproduces.
    link: https://github.com/zhaofengli/attic/blob/main/server/src/adm/command/make_token.rs
"""

EXAMPLES = r"""
- name: A ten-minute admin token for cache management
  glorious.flywheel.attic_token:
    sub: ansible
    validity: 10m
    permissions:
      "*": [pull, create_cache, configure_cache, configure_cache_retention, destroy_cache]
    hs256_secret_base64: "{{ attic_hs256_secret_base64 }}"
  register: attic_admin

- name: A runner's push token, scoped to its tenant's caches (claim letters work too)
  glorious.flywheel.attic_token:
    sub: "runner-{{ tenant }}"
    validity: 90d
    permissions:
      "{{ tenant }}-*": [r, w]
    rs256_private_key: "{{ lookup('file', 'secrets/attic-jwt.pem') }}"
    issuer: https://attic.example.net
  register: runner_token

- name: Show what was minted (the token itself is never shown)
  ansible.builtin.debug:
    msg: "{{ runner_token.subject }} until {{ runner_token.expires_at }}: {{ runner_token.permissions }}"
"""

RETURN = r"""
token:
  description:
    - The signed JWT. A secret - the module's result is hidden from output, keep it that way
      (C(no_log) on tasks that use it).
  returned: success
  type: str
  sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ...
algorithm:
  description: V(HS256) or V(RS256).
  returned: success
  type: str
  sample: HS256
claims:
  description: The signed claims.
  returned: success
  type: dict
  sample:
    exp: 1767225600
    nbf: 1767225000
    sub: ansible
    "https://jwt.attic.rs/v1": {caches: {"*": {r: 1, cc: 1, cr: 1}}}
subject:
  description: The C(sub) claim.
  returned: success
  type: str
  sample: ansible
expires_at:
  description: When the token expires (C(exp)), ISO 8601 UTC.
  returned: success
  type: str
  sample: "2026-01-01T00:00:00Z"
not_before:
  description: When the token becomes valid (C(nbf)), ISO 8601 UTC.
  returned: success
  type: str
  sample: "2025-12-31T23:50:00Z"
permissions:
  description: One entry per pattern, as M(glorious.flywheel.attic_token_info) reports them.
  returned: success
  type: list
  elements: dict
  sample:
    - pattern: "*"
      wildcard: true
      letters: [r, cc, cr]
      pull: true
      push: false
      delete: false
      create_cache: true
      configure_cache: true
      configure_cache_retention: false
      destroy_cache: false
      unknown_keys: []
"""
