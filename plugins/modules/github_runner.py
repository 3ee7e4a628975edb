#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: github_runner
short_description: List GitHub Actions self-hosted runners and delete offline ones
version_added: 0.1.0
description:
  - Lists the self-hosted runners of a repository, an organization or an enterprise
    (C(GET <scope>/actions/runners), 100 per page, following the C(Link) header).
  - With O(state=absent), deletes the runners selected by O(names) and O(labels) that are
    C(offline) (stale registrations left by pods that went away), and never a busy runner.
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
      - Lists the runners and reports which would be deleted, without deleting them.
  diff_mode:
    support: none
  idempotent:
    support: full
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
        token, sent as C(Bearer), with the permissions of
        M(glorious.flywheel.github_runner_registration_token).
      - Read from the E(GITHUB_TOKEN) environment variable when not set.
    type: str
    required: true
  state:
    description:
      - V(listed) only lists. V(absent) deletes the selected runners.
    type: str
    choices: [listed, absent]
    default: listed
  names:
    description:
      - Select runners with these names. Shell-style wildcards (V(arc-nix-*)) are allowed.
    type: list
    elements: str
  labels:
    description:
      - Select runners carrying all of these labels.
    type: list
    elements: str
  offline_only:
    description:
      - Whether V(absent) deletes only runners whose status is C(offline). Busy runners are never
        deleted.
    type: bool
    default: true
notes:
  - With O(state=absent) and neither O(names) nor O(labels), every offline runner of the scope is
    selected.
seealso:
  - module: glorious.flywheel.github_runner_registration_token
  - name: Self-hosted runners REST API
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/actions/self-hosted-runners
"""

EXAMPLES = r"""
- name: Remove stale ARC runners of an organization
  glorious.flywheel.github_runner:
    api_token: "{{ app_token.token }}"
    organization: glorious-org
    names: ["arc-nix-*"]
    state: absent
"""

RETURN = r"""
runners:
  description: Every runner of the scope as listed (before deletions).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Runner id.
      type: int
    name:
      description: Runner name.
      type: str
    os:
      description: Operating system.
      type: str
    status:
      description: V(online) or V(offline).
      type: str
    busy:
      description: Whether it runs a job.
      type: bool
    ephemeral:
      description: Whether it takes one job only.
      type: bool
    labels:
      description: Label names.
      type: list
      elements: str
deleted:
  description: The runners deleted (in check mode, that would be).
  returned: always
  type: list
  elements: dict
"""

import fnmatch

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


def selected(runner, params):
    names, labels = params["names"], params["labels"]
    if names and not any(fnmatch.fnmatchcase(runner["name"], p) for p in names):
        return False
    if labels and not set(labels) <= set(runner["labels"]):
        return False
    if runner["busy"]:
        return False
    return not params["offline_only"] or runner["status"] == "offline"


def main():
    module = AnsibleModule(
        argument_spec=generate_argspec(
            token_env="GITHUB_TOKEN",
            url_env="GITHUB_API_URL",
            url_default=_github.DEFAULT_API_URL,
            token_required=True,
            **_github.SCOPE_OPTIONS,
            state={
                "type": "str",
                "choices": ["listed", "absent"],
                "default": "listed",
            },
            names={"type": "list", "elements": "str"},
            labels={"type": "list", "elements": "str"},
            offline_only={"type": "bool", "default": True},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        kind, name, prefix = _github.scope_from_params(params)
    except _github.GitHubInputError as exc:
        module.fail_json(msg=str(exc))
    scope = f"{kind} {name}"
    api = _github.GitHubActions(
        client_from_module(module, auth_style="bearer", headers=_github.HEADERS)
    )
    action = "list runners"
    deleted = []
    try:
        runners = [_github.runner_facts(r) for r in api.runners(prefix)]
        if params["state"] == "absent":
            action = "delete runners"
            for runner in runners:
                if selected(runner, params):
                    if not module.check_mode:
                        api.delete_runner(prefix, runner["id"])
                    deleted.append(runner)
    except ApiError as error:
        fail_from_error(
            module,
            error,
            msg=_github.failure_message(error, action, scope),
            deleted=deleted,
        )
    module.exit_json(changed=bool(deleted), runners=runners, deleted=deleted)


if __name__ == "__main__":
    main()
