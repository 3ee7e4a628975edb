#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: forgejo_runner
short_description: Forgejo and Gitea Actions runners - registration tokens, create, list, delete
version_added: 0.1.0
description:
  - Works on the Actions runners of a repository, an organization, the token's user or the
    whole instance of a Forgejo or Gitea server, through its REST API (C(/api/v1)).
  - V(registration_token) returns the scope's runner registration token, for
    C(forgejo-runner register). It uses C(GET <scope>/actions/runners/registration-token)
    (Forgejo; Gitea 1.22 and 1.23) or C(POST) on the same path (Gitea 1.24 and later), chosen
    from C(GET /api/v1/version); when the first answers 404 or 405 the other is tried.
  - V(present) makes sure a runner named O(name) exists. Existing runners are found with one
    list call per page (C(GET <scope>/actions/runners)); a missing one is created with
    Forgejo's C(POST <scope>/actions/runners), which returns the runner's uuid and token.
    Gitea has no such endpoint and older Forgejo neither; the module then says to use the
    registration-token flow.
  - V(absent) deletes every runner named O(name) (C(DELETE <scope>/actions/runners/<id>)).
  - V(listed) only lists the runners of the scope.
  - Runner list and delete exist in Gitea 1.24 and later and in recent Forgejo.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.forgejo_scope
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Lists the runners and reports what would be created or deleted, without C(POST) or
        C(DELETE).
      - V(registration_token) fetches the token in check mode too; the server hands out the
        scope's current token (creating one when none is active) and changes no runner.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - V(present) creates no second runner when one named O(name) exists.
options:
  api_url:
    description:
      - Base URL of the Forgejo or Gitea server, for example V(https://codeberg.org); a
        trailing C(/api/v1) is accepted.
      - Read from the E(FORGEJO_URL) environment variable when not set.
    type: str
    required: false
    default: https://codeberg.org
  api_token:
    description:
      - An access token, sent in the C(Authorization) header as C(token <pat>).
      - Reading (V(registration_token), V(listed)) needs C(read:repository),
        C(read:organization), C(read:user) or C(read:admin) for the scope; V(present) and
        V(absent) need the C(write:) scope of the same category. The token's user must
        administer the repository, own the organization, or be a site administrator for
        O(instance=true).
      - Read from the E(FORGEJO_TOKEN) environment variable when not set.
    type: str
    required: true
  state:
    description:
      - V(registration_token) returns the scope's registration token in RV(token).
      - V(present) creates the runner O(name) unless it exists; a created runner's token is in
        RV(token).
      - V(absent) deletes the runners named O(name).
      - V(listed) returns the runners of the scope.
    type: str
    choices: [registration_token, present, absent, listed]
    default: registration_token
  name:
    description:
      - Name of the runner, required for V(present) and V(absent). Forgejo does not require
        runner names to be unique; this module treats the name as the runner's identity.
    type: str
  description:
    description:
      - Description given to a runner V(present) creates. An existing runner's description
        is left as it is (the API cannot change it).
    type: str
notes:
  - A result holding a token (V(registration_token), and V(present) when it created a runner)
    is hidden from output and logs; C(register) still gets every field. Failures stay visible
    and never contain a token.
  - The runner token is shown by the server only when the runner is created. If it is lost,
    delete the runner (V(absent)) and create it again.
seealso:
  - name: Forgejo Actions runner administration
    description: Registration tokens and runner registration.
    link: https://forgejo.org/docs/latest/admin/actions/
  - name: Gitea Actions runner API
    description: The endpoints of Gitea 1.24 and later.
    link: https://docs.gitea.com/api/
"""

EXAMPLES = r"""
- name: A registration token for an organization
  glorious.flywheel.forgejo_runner:
    api_url: https://forgejo.example.net
    api_token: "{{ forgejo_token }}"
    organization: acme
  register: registration

- name: A repository runner created through the API (recent Forgejo)
  glorious.flywheel.forgejo_runner:
    api_url: https://forgejo.example.net
    api_token: "{{ forgejo_token }}"
    repository: acme/widgets
    name: nix-pool-0
    description: nix pool, cluster honey
    state: present
  register: runner

- name: Remove a runner of the instance
  glorious.flywheel.forgejo_runner:
    api_url: https://forgejo.example.net
    api_token: "{{ forgejo_admin_token }}"
    instance: true
    name: old-runner
    state: absent
"""

RETURN = r"""
token:
  description:
    - The registration token (V(registration_token)), or the new runner's token (V(present),
      when it created the runner).
  returned: when a token was obtained
  type: str
server:
  description: The server's C(/api/v1/version), when the module read it.
  returned: when read
  type: str
  sample: 11.0.1+gitea-1.22.0
runner:
  description: The runner named O(name) (V(present)); C(id) is V(null) for a runner check mode
    would create.
  returned: when O(state=present)
  type: dict
  contains:
    id:
      description: Runner id.
      type: int
    name:
      description: Runner name.
      type: str
    uuid:
      description: Runner uuid, returned by the server only when the runner is created.
      type: str
      returned: when the runner was created
runners:
  description: Every runner of the scope (V(listed)).
  returned: when O(state=listed)
  type: list
  elements: dict
  contains:
    id:
      description: Runner id.
      type: int
    name:
      description: Runner name.
      type: str
    status:
      description: Runner status as the server words it (for example V(online), V(offline)).
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
  returned: when O(state=absent)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils import _forgejo
from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)

LIST = "list runners"
CREATE = "create the runner"
ENDPOINTS = {
    LIST: "runner list (GET .../actions/runners)",
    CREATE: "runner creation (POST .../actions/runners)",
}


class Run:
    """One run of the module: the API, the scope, and the server once read."""

    def __init__(self, module, api, scope):
        self.module = module
        self.api = api
        self.scope = scope
        self._server = None

    def server(self):
        if self._server is None:
            self._server = self.api.server()
        return self._server

    def missing_endpoint(self, error):
        """Whether a 404/405 means the server lacks the endpoint, not the scope."""
        if error.status == 405:
            return True
        try:
            return self.api.scope_exists(self.scope)
        except ApiError:
            return False

    def fail(self, error, action, write):
        module, scope = self.module, self.scope
        if (
            error.status in (404, 405)
            and action in ENDPOINTS
            and self.missing_endpoint(error)
        ):
            try:
                server = self.server()
            except ApiError:
                server = _forgejo.Server(None)
            fail_from_error(
                module,
                error,
                msg=_forgejo.missing_api_message(
                    action, scope, server, ENDPOINTS[action]
                ),
            )
        fail_from_error(
            module,
            error,
            msg=_forgejo.failure_message(error, action, scope, write=write),
        )

    def check_user(self):
        login = self.api.login()
        if str(login).lower() != self.scope.name.lower():
            self.module.fail_json(
                msg=f"user is {self.scope.name!r} but api_token belongs to {login!r}: "
                "the user scope reaches only the runners of the token's own account; "
                "set user to that login or use a token of that user"
            )

    def registration_token(self):
        server = self.server()
        token = self.api.registration_token(self.scope, server)
        return {"changed": False, "token": token, "server": server.version}

    def present(self, runners, name):
        params = self.module.params
        existing = [r for r in runners if r.get("name") == name]
        if existing:
            runner = _forgejo.runner_facts(existing[0])
            return {"changed": False, "runner": runner}
        server = self.server()
        if not server.creates_runners:
            self.module.fail_json(
                msg=_forgejo.missing_api_message(
                    CREATE, self.scope, server, ENDPOINTS[CREATE]
                ),
                server=server.version,
            )
        result = {"changed": True, "server": server.version}
        if self.module.check_mode:
            result["runner"] = {"id": None, "name": name}
            return result
        created = self.api.create_runner(self.scope, name, params["description"])
        result["runner"] = {
            "id": created.get("id"),
            "name": name,
            "uuid": created.get("uuid"),
        }
        result["token"] = created.get("token")
        return result

    def absent(self, runners, name):
        deleted = []
        for runner in runners:
            if runner.get("name") == name:
                if not self.module.check_mode:
                    self.api.delete_runner(self.scope, runner["id"])
                deleted.append(_forgejo.runner_facts(runner))
        return {"changed": bool(deleted), "deleted": deleted}


def main():
    module = AnsibleModule(
        argument_spec=generate_argspec(
            token_env="FORGEJO_TOKEN",
            url_env="FORGEJO_URL",
            url_default=_forgejo.DEFAULT_API_URL,
            token_required=True,
            **_forgejo.SCOPE_OPTIONS,
            state={
                "type": "str",
                "choices": ["registration_token", "present", "absent", "listed"],
                "default": "registration_token",
            },
            name={"type": "str"},
            description={"type": "str"},
        ),
        required_if=[("state", "present", ("name",)), ("state", "absent", ("name",))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        scope = _forgejo.scope_from_params(params)
    except _forgejo.ForgejoInputError as exc:
        module.fail_json(msg=str(exc))
    params["api_url"] = _forgejo.api_root(params["api_url"])
    run = Run(
        module, _forgejo.ForgejoActions(client_from_module(module, "token")), scope
    )
    state = params["state"]
    action, write = "check the token's user", False
    try:
        if scope.kind == "user":
            run.check_user()
        if state == "registration_token":
            action = "get a registration token"
            module.exit_json(**run.registration_token())
        action = LIST
        runners = run.api.runners(scope)
        if state == "listed":
            module.exit_json(
                changed=False, runners=[_forgejo.runner_facts(r) for r in runners]
            )
        write = True
        if state == "absent":
            action = "delete runners"
            module.exit_json(**run.absent(runners, params["name"]))
        action = CREATE
        module.exit_json(**run.present(runners, params["name"]))
    except ApiError as error:
        run.fail(error, action, write)


if __name__ == "__main__":
    main()
