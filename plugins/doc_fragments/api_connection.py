# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors plugins/module_utils/_api_module.py:connection_argspec() one-to-one.
    # A module that gives api_url a default, or makes api_token required, restates
    # that option in its own DOCUMENTATION (a module's keys override the fragment's).
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the API, for example V(https://gitlab.example.com).
      - Credentials embedded in the URL are used for Basic authentication and never
        shown in messages.
      - Some modules read it from an environment variable when it is not set; each
        module names its variable.
    type: str
    required: true
  api_token:
    description:
      - Token used to authenticate to the API. How it is sent (Bearer, Basic,
        C(PRIVATE-TOKEN), C(token)) depends on the API and is described by each module.
      - When not set, the module reads an environment variable; each module names
        its variable.
      - Never logged, and scrubbed from every message, warning and diff.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - Set to V(false) only for throw-away test servers; prefer O(ca_path) for a
        private CA.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM file of CA certificates used to verify the API server's
        certificate, instead of the system trust store.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request.
      - One call, retries included, gives up after O(timeout) × (O(retries) + 1)
        seconds.
    type: int
    default: 30
  retries:
    description:
      - How many times to repeat a request that failed with a connection error or
        HTTP 429, 502, 503 or 504 (502, 504 and lost answers only for idempotent
        requests).
      - Waits grow exponentially with random jitter, and follow the server's
        C(Retry-After) header.
      - V(0) disables retries.
    type: int
    default: 4
"""
