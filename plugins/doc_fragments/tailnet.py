# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors plugins/module_utils/_tailnet_module.py:TAILNET_OPTIONS one-to-one.
    # List it BEFORE glorious.flywheel.api_connection: the first fragment's keys win,
    # which is how api_url and api_token lose `required` and gain their fallbacks.
    DOCUMENTATION = r"""
options:
  control_plane:
    description:
      - Which control plane answers at O(api_url).
      - V(auto) picks V(tailscale) when O(api_url) is C(https://api.tailscale.com)
        (or unset while C(HEADSCALE_URL) is unset too), and V(headscale) otherwise.
      - V(headscale) is a self-hosted Headscale server (REST API C(/api/v1)); its
        version is read from C(/version) and the module speaks that version's API.
      - V(tailscale) is Tailscale's SaaS control plane (API v2).
    type: str
    choices: [auto, headscale, tailscale]
    default: auto
  api_url:
    description:
      - Base URL of the control server, without C(/api/...).
      - Headscale, for example V(https://headscale.example.net); read from the
        environment variable E(HEADSCALE_URL) when not set.
      - Tailscale, V(https://api.tailscale.com) (the default; E(TAILSCALE_API_URL)
        overrides it).
    type: str
    required: false
  api_token:
    description:
      - Headscale, an API key (C(headscale apikeys create)), sent as a Bearer token;
        read from E(HEADSCALE_API_KEY) when not set.
      - Tailscale, an API access token (C(tskey-api-...)), sent as the Basic user
        name; read from E(TAILSCALE_API_KEY) when not set. Not needed with
        O(oauth_client_id).
      - Never logged, and scrubbed from every message, warning and diff, also when it
        comes from the environment.
    type: str
  oauth_client_id:
    description:
      - Tailscale only. The id of an OAuth client; with O(oauth_client_secret) the
        module trades them for a one-hour access token at C(/api/v2/oauth/token).
      - Read from E(TAILSCALE_OAUTH_CLIENT_ID) when not set.
      - Auth keys made with an OAuth token belong to the tailnet and must carry tags
        the OAuth client owns.
    type: str
  oauth_client_secret:
    description:
      - Tailscale only. The OAuth client's secret (C(tskey-client-...)).
      - Read from E(TAILSCALE_OAUTH_CLIENT_SECRET) when not set. Never logged.
    type: str
  oauth_scopes:
    description:
      - Tailscale only. Scopes to ask for with the OAuth token (for example
        V(devices:core), V(auth_keys), V(policy_file)); by default the token gets all
        the client's scopes.
    type: list
    elements: str
  tailnet:
    description:
      - Tailscale only. The tailnet (organization name); V(-) is the credentials' own
        tailnet.
    type: str
    default: "-"
  base_domain:
    description:
      - Headscale only. The server's C(dns.base_domain), used to build each device's
        MagicDNS name (C(fqdn)), which the Headscale API does not report.
      - Tailscale reports MagicDNS names itself.
    type: str
"""
