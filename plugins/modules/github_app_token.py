#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: github_app_token
short_description: Mint a GitHub App installation access token for a repository, organization or enterprise
version_added: 0.1.0
description:
  - Signs the App's JWT (RS256, C(iat) 60 seconds in the past, C(exp) nine minutes ahead, C(iss) the
    App or client id), finds the App's installation for the scope, and creates an installation
    access token with C(POST /app/installations/<id>/access_tokens).
  - Repository and organization installations are looked up with
    C(GET /repos/<owner>/<repo>/installation) and C(GET /orgs/<org>/installation); an enterprise's
    installation is found in C(GET /app/installations) (the installation whose account is the
    enterprise). O(installation_id) skips the lookup.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Minting a token changes nothing GitHub or the host manage, so it mints in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false); every run mints a new, short-lived token.
options:
  api_url:
    description:
      - GitHub REST API root, V(https://api.github.com), or C(https://<host>/api/v3) for GitHub
        Enterprise Server.
      - Read from the E(GITHUB_API_URL) environment variable when not set.
    type: str
    required: false
    default: https://api.github.com
  api_token:
    description:
      - Not used, the module authenticates with the App's JWT.
    type: str
  app_id:
    description:
      - The App's id, or its client id (both are accepted as the JWT issuer).
    type: str
    required: true
    aliases: [client_id]
  private_key:
    description:
      - The App's private key (PEM). Mutually exclusive with O(private_key_path).
    type: str
  private_key_path:
    description:
      - Path to the App's private key (PEM) on the host running the module.
    type: path
  repository:
    description:
      - V(owner/name) of a repository the App is installed on.
    type: str
  organization:
    description:
      - Login of an organization the App is installed on.
    type: str
  enterprise:
    description:
      - Slug of an enterprise the App is installed on.
    type: str
  installation_id:
    description:
      - The installation id, when known; skips the lookup.
    type: int
  repositories:
    description:
      - Restrict the token to these repository names (without owner).
    type: list
    elements: str
  permissions:
    description:
      - Restrict the token's permissions, a dict of permission name to V(read) or V(write), for example C(administration=write).
    type: dict
requirements:
  - PyJWT and cryptography on the host running the module.
notes:
  - A successful result is hidden from output and logs (it holds the token); C(register) still
    gets every field, so pass the token on through the registered variable or a Secret.
    The private key is never returned or shown.
seealso:
  - name: Create an installation access token
    description: The endpoint minting the token.
    link: https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
"""

EXAMPLES = r"""
- name: An installation token for an organization
  glorious.flywheel.github_app_token:
    app_id: "123456"
    private_key: "{{ lookup('file', 'secrets/flywheel-app.pem') }}"
    organization: glorious-org
  register: app_token
  no_log: true
"""

RETURN = r"""
token:
  description: The installation access token.
  returned: success
  type: str
expires_at:
  description: When the token expires (one hour after minting).
  returned: success
  type: str
  sample: "2026-11-22T18:00:00Z"
installation_id:
  description: The installation the token belongs to.
  returned: success
  type: int
permissions:
  description: The token's permissions.
  returned: success
  type: dict
repository_selection:
  description: V(all) or V(selected).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.glorious.flywheel.plugins.module_utils import _github
from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    Auth,
)


def read_key(module):
    params = module.params
    if params["private_key"]:
        return params["private_key"]
    path = params["private_key_path"]
    try:
        with open(path, encoding="utf-8") as handle:
            key = handle.read()
    except OSError as exc:
        module.fail_json(msg=f"Could not read private_key_path {path}: {exc.strerror}")
    module.no_log_values.add(key)
    return key


def main():
    module = AnsibleModule(
        argument_spec=generate_argspec(
            url_env="GITHUB_API_URL",
            url_default=_github.DEFAULT_API_URL,
            app_id={"type": "str", "required": True, "aliases": ["client_id"]},
            private_key={"type": "str", "no_log": True},
            private_key_path={"type": "path", "no_log": False},
            **_github.SCOPE_OPTIONS,
            installation_id={"type": "int"},
            repositories={"type": "list", "elements": "str"},
            permissions={"type": "dict"},
        ),
        mutually_exclusive=[
            ("private_key", "private_key_path"),
            ("repository", "organization", "enterprise"),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if not params["private_key"] and not params["private_key_path"]:
        module.fail_json(
            msg="The GitHub App's private key is missing: set private_key (the PEM text) "
            "or private_key_path"
        )
    if not _github.HAS_JWT:
        module.fail_json(
            msg=missing_required_lib("PyJWT and cryptography"),
            exception=str(_github.JWT_IMPORT_ERROR),
        )
    kind = name = prefix = None
    try:
        if params["installation_id"] is None:
            kind, name, prefix = _github.scope_from_params(params)
        token = _github.app_jwt(params["app_id"], read_key(module))
    except _github.GitHubInputError as exc:
        module.fail_json(msg=str(exc))
    client = client_from_module(
        module, auth_style=Auth.bearer(token), headers=_github.HEADERS, secrets=(token,)
    )
    api = _github.GitHubActions(client)
    scope = f"{kind} {name}" if kind else f"installation {params['installation_id']}"
    action = "find the installation"
    try:
        installation_id = params["installation_id"]
        if installation_id is None:
            installation_id = api.installation_id(kind, name, prefix)
            if installation_id is None:
                module.fail_json(
                    msg=f"The GitHub App is not installed on enterprise {name}"
                )
        action = "create an access token"
        answer = api.access_token(
            installation_id, params["repositories"], params["permissions"]
        )
    except ApiError as error:
        fail_from_error(
            module, error, msg=_github.failure_message(error, action, scope)
        )
    module.exit_json(
        changed=False,
        token=answer.get("token"),
        expires_at=answer.get("expires_at"),
        installation_id=installation_id,
        permissions=answer.get("permissions", {}),
        repository_selection=answer.get("repository_selection"),
    )


if __name__ == "__main__":
    main()
