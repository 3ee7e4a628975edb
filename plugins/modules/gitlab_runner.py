#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_runner
short_description: Create, update, rotate and delete GitLab runners idempotently
version_added: 0.1.0
description:
  - Manages one runner, or many runners of one scope, on GitLab through the REST API v4.
  - New runners are created with C(POST /api/v4/user/runners) (the runner creation workflow of
    GitLab 16 and later); the legacy registration-token flow is used only when
    O(registration_token) is given.
  - Existing runners are found by description with B(one) list call per scope
    (C(/groups/<id>/runners?type=group_type), C(/projects/<id>/runners?type=project_type) or
    C(/runners/all?type=instance_type), 100 per page). A runner's details
    (C(GET /api/v4/runners/<id>)) are read only when an option the list does not carry is set
    (everything except O(paused)). Drifted attributes are written with one C(PUT) per runner.
  - A runner in the wanted state therefore costs no write; manage many runners of one scope with
    O(runners) in one task so they share the single list call.
  - The runner authentication token (C(glrt-...)) is shown by GitLab only when a runner is created
    or its token reset. It is written into a Kubernetes Secret with O(token_secret), or returned
    only with O(return_token=true).
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the runners and reports what would change; creations, updates, deletions, token
        resets and Secret writes are skipped.
  diff_mode:
    support: full
    details:
      - Shows each runner's managed attributes before and after. Tokens are never shown.
  idempotent:
    support: full
    details:
      - Except with O(reset_token=true), which rotates the token on every run on purpose.
options:
  api_url:
    description:
      - Base URL of GitLab, for example V(https://gitlab.example.com) (without C(/api/v4)).
      - Read from the E(GITLAB_URL) environment variable when not set.
    type: str
    required: false
    default: https://gitlab.com
  api_token:
    description:
      - A personal, group or project access token, sent in the C(PRIVATE-TOKEN) header.
      - Needs the C(create_runner) scope to create runners and C(manage_runner) (or C(api)) to
        list, update, delete and reset them. Instance runners need an administrator.
      - Read from the E(GITLAB_TOKEN) environment variable when not set.
    type: str
  runner_type:
    description:
      - The scope of the runners.
      - V(group_type) needs O(group_id), V(project_type) needs O(project_id).
    type: str
    choices: [instance_type, group_type, project_type]
    required: true
  group_id:
    description:
      - Numeric id of the group, for O(runner_type=group_type).
      - A group path (V(my-org/platform)) is refused before any request; look the id up in GitLab.
    type: str
  project_id:
    description:
      - Numeric id of the project, for O(runner_type=project_type).
      - A project path is refused before any request; look the id up in GitLab.
    type: str
  description:
    description:
      - Description of the runner; it identifies the runner within its scope.
      - Mutually exclusive with O(runners).
    type: str
    aliases: [name]
  runners:
    description:
      - Many runners of the same scope, each a dict with C(description) (required) and any of
        C(state), C(paused), C(tag_list), C(run_untagged), C(locked), C(access_level),
        C(maximum_timeout), C(maintenance_note), C(reset_token) and C(token_secret).
      - Keys not given in an item come from the module options of the same name.
      - All of them share the one list call of the scope.
    type: list
    elements: dict
  state:
    description:
      - V(present) creates the runner if needed and updates drifted attributes.
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  paused:
    description:
      - Whether the runner is paused (accepts no jobs). Not managed when not set.
    type: bool
  tag_list:
    description:
      - Tags of the runner, compared as a set. Not managed when not set.
    type: list
    elements: str
  run_untagged:
    description:
      - Whether the runner picks up jobs without tags. Not managed when not set.
    type: bool
  locked:
    description:
      - Whether a project runner is locked to its current projects. Not managed when not set.
    type: bool
  access_level:
    description:
      - V(ref_protected) runs only jobs of protected branches and tags. Not managed when not set.
    type: str
    choices: [not_protected, ref_protected]
  maximum_timeout:
    description:
      - Maximum job timeout in seconds (at least 600). Not managed when not set.
    type: int
  maintenance_note:
    description:
      - Free-form maintenance note. Not managed when not set.
    type: str
  reset_token:
    description:
      - Rotate the runner's authentication token (C(POST /runners/<id>/reset_authentication_token)).
      - Reports a change on every run; the new token goes where O(token_secret) and
        O(return_token) say.
    type: bool
    default: false
  verify:
    description:
      - After creating a runner or resetting its token, check the new token with
        C(POST /runners/verify).
    type: bool
    default: false
  return_token:
    description:
      - Return a token obtained in this run in RV(runners[].token).
      - Use C(no_log) on the task when you do; prefer O(token_secret).
    type: bool
    default: false
  registration_token:
    description:
      - Use the legacy, deprecated registration-token flow (C(POST /api/v4/runners)) with this
        registration token to create the runner, instead of C(POST /api/v4/user/runners).
      - GitLab 17.0 and later disable it by default and answer HTTP 410; the module says so.
    type: str
  token_secret:
    description:
      - Write the runner authentication token, when this run obtains one (creation or reset),
        into this Kubernetes Secret, so it never passes through playbook variables.
      - The Secret is created, or its O(token_secret.key) replaced. Needs the C(kubernetes)
        Python library where the module runs.
      - If the Secret is lost, only O(reset_token=true) yields a new token.
    type: dict
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      name:
        description: Name of the Secret.
        type: str
        required: true
      key:
        description: Key of the token in the Secret.
        type: str
        default: runner-token
      kubeconfig:
        description: Path to a kubeconfig; the in-cluster or default configuration when not set.
        type: path
notes:
  - Runs wherever the task runs; it only needs HTTP access to GitLab (and to Kubernetes for
    O(token_secret)).
  - Two runners with the same description in one scope are an error the module reports rather
    than guesses about.
seealso:
  - name: GitLab runners API
    description: The endpoints this module calls.
    link: https://docs.gitlab.com/api/runners/
  - name: Create a runner linked to a user
    description: C(POST /user/runners).
    link: https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
"""

EXAMPLES = r"""
- name: A group runner whose token lands in a Kubernetes Secret
  glorious.flywheel.gitlab_runner:
    api_url: https://gitlab.example.com
    api_token: "{{ gitlab_admin_token }}"
    runner_type: group_type
    group_id: "42"
    description: nix-pool
    tag_list: [nix, linux]
    run_untagged: false
    token_secret:
      namespace: gitlab-runners
      name: nix-pool-runner-token

- name: One hundred runners of a group, one list call
  glorious.flywheel.gitlab_runner:
    runner_type: group_type
    group_id: "42"
    tag_list: [docker]
    runners: "{{ range(100) | map('regex_replace', '^', 'docker-') | map('community.general.dict_kv', 'description') }}"

- name: Rotate a project runner's token
  glorious.flywheel.gitlab_runner:
    runner_type: project_type
    project_id: "7"
    description: kvm-pool
    reset_token: true
    token_secret:
      namespace: gitlab-runners
      name: kvm-pool-runner-token

- name: Remove a runner
  glorious.flywheel.gitlab_runner:
    runner_type: instance_type
    description: old-shared-runner
    state: absent
"""

RETURN = r"""
runners:
  description:
    - One entry per managed runner, in the order given (after the run; in check mode, as it would
      be). Never contains a token unless O(return_token=true).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Runner id; V(null) for a runner that would be created in check mode.
      type: int
    description:
      description: Description of the runner.
      type: str
    state:
      description: V(present) or V(absent).
      type: str
    changed:
      description: Whether this runner changed.
      type: bool
    token:
      description: The new authentication token, only with O(return_token=true) and when obtained.
      type: str
      returned: when O(return_token=true) and a token was obtained
    token_expires_at:
      description: Expiry of a token obtained in this run, if GitLab sets one.
      type: str
      returned: when a token was obtained
    token_secret:
      description: C(namespace/name) of the Secret the token was written to.
      type: str
      returned: when a token was written to a Secret
    verified:
      description: Result of C(POST /runners/verify) on a token obtained in this run.
      type: bool
      returned: when O(verify=true) and a token was obtained
runner:
  description: The single runner of O(description) (the first entry of RV(runners)).
  returned: when O(description) is used
  type: dict
requests:
  description: What the module asked of GitLab, by kind (C(list), C(details), C(create), ...).
  returned: always
  type: dict
  sample: {list: 1}
diff:
  description: Managed attributes per runner description, before and after.
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    DiffTracker,
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._gitlab import (
    ATTRIBUTES,
    LISTED_ATTRIBUTES,
    GitLabInputError,
    GitLabRunners,
    create_body,
    failure_message,
    legacy_body,
    numeric_id,
    scope_label,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException as K8sApiException
except ImportError as error:  # exercised where the kubernetes library is missing
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = error
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None

TOKEN_SECRET_SPEC = {
    "namespace": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "key": {"type": "str", "default": "runner-token", "no_log": False},
    "kubeconfig": {"type": "path"},
}
ITEM_KEYS = frozenset(
    ("description", "state", "reset_token", "token_secret") + tuple(ATTRIBUTES)
)


def write_token_secret(spec, token):
    """Creates the Secret, or replaces its key, with TOKEN (never returned)."""
    if spec.get("kubeconfig"):
        k8s_config.load_kube_config(config_file=spec["kubeconfig"])
    else:
        try:
            k8s_config.load_incluster_config()
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()
    api = k8s_client.CoreV1Api()
    body = {"stringData": {spec["key"]: token}}
    try:
        api.patch_namespaced_secret(spec["name"], spec["namespace"], body)
    except K8sApiException as exc:
        if exc.status != 404:
            raise
        api.create_namespaced_secret(
            spec["namespace"],
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": spec["name"], "namespace": spec["namespace"]},
                "type": "Opaque",
                "stringData": {spec["key"]: token},
            },
        )
    return f"{spec['namespace']}/{spec['name']}"


class RunnerRun:
    """One run over the runners of one scope: calls counted, results collected."""

    def __init__(self, module, items, group_id, project_id):
        self.module = module
        self.params = module.params
        self.items = items
        self.runner_type = self.params["runner_type"]
        self.group_id = group_id
        self.project_id = project_id
        self.scope = scope_label(self.runner_type, group_id, project_id)
        self.requests = {}
        self.api = GitLabRunners(client_from_module(module, auth_style="private_token"))
        self.results = []
        self.diff = {"before": {}, "after": {}}

    def call(self, kind, function, *args):
        self.requests[kind] = self.requests.get(kind, 0) + 1
        try:
            return function(*args)
        except ApiError as error:
            fail_from_error(
                self.module,
                error,
                msg=failure_message(error, kind, self.scope),
                requests=self.requests,
                runners=self.results,
            )

    def run(self):
        listed = self.call(
            "list",
            self.api.list_scope,
            self.runner_type,
            self.group_id,
            self.project_id,
        )
        by_description = {}
        for runner in listed:
            by_description.setdefault(runner.get("description"), []).append(runner)
        for item in self.items:
            found = by_description.get(item["description"], [])
            if len(found) > 1:
                ids = ", ".join(str(r["id"]) for r in found)
                self.module.fail_json(
                    msg=f"{len(found)} runners of {self.scope} are described "
                    f"{item['description']!r} (ids {ids}); delete the extra ones "
                    "so the module knows which one to manage",
                    requests=self.requests,
                    runners=self.results,
                )
            self.results.append(self.one(item, found[0] if found else None))
        changed = any(r["changed"] for r in self.results)
        result = {
            "changed": changed,
            "runners": self.results,
            "requests": self.requests,
        }
        if self.params["description"] is not None:
            result["runner"] = self.results[0]
        if changed and self.module._diff:
            result["diff"] = self.diff
        self.module.exit_json(**result)

    def record_diff(self, description, before, after):
        self.diff["before"][description] = before
        self.diff["after"][description] = after

    def one(self, item, current):
        description = item["description"]
        wanted = {name: item.get(name) for name in ATTRIBUTES}
        if item["state"] == "absent":
            if current is None:
                return {
                    "id": None,
                    "description": description,
                    "state": "absent",
                    "changed": False,
                }
            if not self.module.check_mode:
                self.call("delete", self.api.delete, current["id"])
            self.record_diff(description, {"state": "present"}, {"state": "absent"})
            return {
                "id": current["id"],
                "description": description,
                "state": "absent",
                "changed": True,
            }
        if current is None:
            return self.create(item, wanted)
        result = {"id": current["id"], "description": description, "state": "present"}
        details = current
        if any(
            wanted[name] is not None
            for name in ATTRIBUTES
            if name not in LISTED_ATTRIBUTES
        ):
            details = self.call("details", self.api.details, current["id"])
        tracker = DiffTracker()
        for name, kind in ATTRIBUTES.items():
            tracker.compare(name, wanted[name], details.get(name), kind=kind)
        result.update({name: details[name] for name in ATTRIBUTES if name in details})
        if tracker.changed:
            if not self.module.check_mode:
                self.call("update", self.api.update, current["id"], tracker.changes())
            result.update(tracker.changes())
            diff = tracker.diff()
            self.record_diff(description, diff["before"], diff["after"])
        changed = tracker.changed
        if item["reset_token"]:
            changed = True
            if not self.module.check_mode:
                answer = self.call("reset_token", self.api.reset_token, current["id"])
                self.deliver_token(result, item, answer)
        result["changed"] = changed
        return result

    def create(self, item, wanted):
        description = item["description"]
        result = {
            "id": None,
            "description": description,
            "state": "present",
            "changed": True,
        }
        result.update({k: v for k, v in wanted.items() if v is not None})
        self.record_diff(
            description,
            {"state": "absent"},
            dict(
                {"state": "present"},
                **{k: v for k, v in wanted.items() if v is not None},
            ),
        )
        if self.module.check_mode:
            return result
        legacy = self.params["registration_token"]
        if legacy:
            answer = self.call(
                "register_legacy",
                self.api.register_legacy,
                legacy_body(legacy, description, wanted),
            )
        else:
            body = create_body(
                self.runner_type, self.group_id, self.project_id, description, wanted
            )
            answer = self.call("create", self.api.create, body)
        result["id"] = answer.get("id")
        self.deliver_token(result, item, answer)
        return result

    def deliver_token(self, result, item, answer):
        token = answer.get("token")
        if not token:
            return
        # Scrubbed from every message and result unless return_token asks for it.
        if not self.params["return_token"]:
            self.module.no_log_values.add(token)
        self.api.client.add_secret(token)
        if answer.get("token_expires_at"):
            result["token_expires_at"] = answer["token_expires_at"]
        if self.params["verify"]:
            result["verified"] = self.call("verify", self.api.verify, token)
        spec = item.get("token_secret")
        if spec:
            spec = dict({"key": "runner-token", "kubeconfig": None}, **spec)
            try:
                result["token_secret"] = write_token_secret(spec, token)
            except Exception as exc:  # the kubernetes client raises many kinds
                self.module.fail_json(
                    msg=f"Runner {result['description']!r} (id {result['id']}) got a new "
                    f"token but writing it to Secret {spec['namespace']}/{spec['name']} "
                    f"failed: {exc}. Fix access to the Secret and run with "
                    "reset_token=true to obtain a new token",
                    requests=self.requests,
                )
        if self.params["return_token"]:
            result["token"] = token


def items_from_params(module):
    params = module.params
    defaults = {name: params[name] for name in ATTRIBUTES}
    defaults.update(
        state=params["state"],
        reset_token=params["reset_token"],
        token_secret=params["token_secret"],
    )
    if params["description"] is not None:
        return [dict(defaults, description=params["description"])]
    items, seen = [], set()
    for index, raw in enumerate(params["runners"]):
        unknown = sorted(set(raw) - ITEM_KEYS)
        if unknown:
            module.fail_json(
                msg=f"runners[{index}] has unknown keys {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(ITEM_KEYS))}"
            )
        if not raw.get("description"):
            module.fail_json(msg=f"runners[{index}] needs a description")
        if raw["description"] in seen:
            module.fail_json(
                msg=f"runners[{index}]: description {raw['description']!r} is given twice"
            )
        seen.add(raw["description"])
        item = dict(defaults)
        item.update({k: v for k, v in raw.items() if v is not None})
        if item["state"] not in ("present", "absent"):
            module.fail_json(msg=f"runners[{index}]: state must be present or absent")
        items.append(item)
    return items


def main():
    module = AnsibleModule(
        argument_spec=generate_argspec(
            token_env="GITLAB_TOKEN",
            url_env="GITLAB_URL",
            url_default="https://gitlab.com",
            runner_type={
                "type": "str",
                "required": True,
                "choices": ["instance_type", "group_type", "project_type"],
            },
            group_id={"type": "str"},
            project_id={"type": "str"},
            description={"type": "str", "aliases": ["name"]},
            runners={"type": "list", "elements": "dict"},
            state={
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
            paused={"type": "bool"},
            tag_list={"type": "list", "elements": "str"},
            run_untagged={"type": "bool"},
            locked={"type": "bool"},
            access_level={"type": "str", "choices": ["not_protected", "ref_protected"]},
            maximum_timeout={"type": "int"},
            maintenance_note={"type": "str"},
            reset_token={"type": "bool", "default": False, "no_log": False},
            verify={"type": "bool", "default": False},
            return_token={"type": "bool", "default": False, "no_log": False},
            registration_token={"type": "str", "no_log": True},
            token_secret={
                "type": "dict",
                "options": TOKEN_SECRET_SPEC,
                "no_log": False,
            },
        ),
        required_one_of=[("description", "runners")],
        mutually_exclusive=[("description", "runners")],
        required_if=[
            ("runner_type", "group_type", ("group_id",)),
            ("runner_type", "project_type", ("project_id",)),
        ],
        supports_check_mode=True,
    )
    params = module.params
    try:
        group_id = (
            numeric_id(params["group_id"], "group")
            if params["runner_type"] == "group_type"
            else None
        )
        project_id = (
            numeric_id(params["project_id"], "project")
            if params["runner_type"] == "project_type"
            else None
        )
    except GitLabInputError as exc:
        module.fail_json(msg=str(exc))
    items = items_from_params(module)
    if any(item.get("token_secret") for item in items) and not HAS_KUBERNETES:
        module.fail_json(
            msg=missing_required_lib("kubernetes (for token_secret)"),
            exception=str(KUBERNETES_IMPORT_ERROR),
        )
    RunnerRun(module, items, group_id, project_id).run()


if __name__ == "__main__":
    main()
