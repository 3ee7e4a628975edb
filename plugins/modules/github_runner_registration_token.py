#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: github_runner_registration_token
short_description: Create a GitHub Actions runner registration or remove token
version_added: 0.1.0
description:
  - Creates a registration token (to configure a self-hosted runner) or a remove token (to
    unconfigure one) for a repository, an organization or an enterprise, with
    C(POST <scope>/actions/runners/registration-token) or C(.../remove-token).
  - The token is valid for one hour.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.github_scope
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Creating a short-lived token changes no runner, so it is created in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false).
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
      - An installation access token (M(glorious.flywheel.github_app_token)) or a personal access
        token, sent as C(Bearer).
      - Repositories need the Administration permission (write), organizations Self-hosted
        runners (write), enterprises a classic token with C(manage_runners:enterprise).
      - Read from the E(GITHUB_TOKEN) environment variable when not set.
    type: str
    required: true
  kind:
    description:
      - V(registration) for C(config.sh), V(remove) for C(config.sh remove).
    type: str
    choices: [registration, remove]
    default: registration
notes:
  - A successful result is hidden from output and logs (it holds the token); C(register) still
    gets every field, the token in RV(token).
seealso:
  - module: glorious.flywheel.github_app_token
  - module: glorious.flywheel.github_runner
  - name: Self-hosted runners REST API
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/actions/self-hosted-runners
"""

EXAMPLES = r"""
- name: A registration token for an organization
  glorious.flywheel.github_runner_registration_token:
    api_token: "{{ app_token.token }}"
    organization: glorious-org
  register: registration
  no_log: true
"""

RETURN = r"""
token:
  description: The registration or remove token.
  returned: success
  type: str
expires_at:
  description: When the token expires.
  returned: success
  type: str
  sample: "2026-11-22T18:00:00.000-00:00"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils import _github
from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)


def main():
    module = AnsibleModule(
        argument_spec=generate_argspec(
            token_env="GITHUB_TOKEN",
            url_env="GITHUB_API_URL",
            url_default=_github.DEFAULT_API_URL,
            token_required=True,
            **_github.SCOPE_OPTIONS,
            kind={
                "type": "str",
                "choices": ["registration", "remove"],
                "default": "registration",
            },
        ),
        supports_check_mode=True,
    )
    try:
        kind, name, prefix = _github.scope_from_params(module.params)
    except _github.GitHubInputError as exc:
        module.fail_json(msg=str(exc))
    api = _github.GitHubActions(
        client_from_module(module, auth_style="bearer", headers=_github.HEADERS)
    )
    what = f"create a {module.params['kind']} token"
    try:
        answer = api.runner_token(prefix, module.params["kind"])
    except ApiError as error:
        fail_from_error(
            module, error, msg=_github.failure_message(error, what, f"{kind} {name}")
        )
    module.exit_json(
        changed=False, token=answer.get("token"), expires_at=answer.get("expires_at")
    )


if __name__ == "__main__":
    main()
