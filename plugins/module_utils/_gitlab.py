# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about the GitLab REST API (v4) for runners.

Private to the collection (the leading underscore): it may change in any release.

Paths, scopes, the attributes a runner list carries versus its details, and the
messages for GitLab's answers. Sources: https://docs.gitlab.com/api/runners/ and
https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user.
Runs on module targets and stays compatible with Python 3.8.
"""

from __future__ import annotations

import re

API_PREFIX = "api/v4/"
PER_PAGE = 100  # the maximum GitLab serves on one page

SCOPES = ("instance_type", "group_type", "project_type")

# What GET /runners/{id} carries and PUT /runners/{id} accepts, with the kind of
# comparison each needs. The list endpoints carry only id, description, paused,
# active, is_shared, runner_type, name, online, status and ip_address, so of these
# only ``paused`` can be compared without reading the runner's details.
ATTRIBUTES = {
    "paused": "value",
    "tag_list": "set",
    "run_untagged": "value",
    "locked": "value",
    "access_level": "value",
    "maximum_timeout": "value",
    "maintenance_note": "value",
}
LISTED_ATTRIBUTES = frozenset(("paused",))

# GitLab's defaults for a new runner (the create endpoint's documented defaults).
CREATE_DEFAULTS = {
    "paused": False,
    "tag_list": [],
    "run_untagged": True,
    "locked": False,
    "access_level": "not_protected",
    "maximum_timeout": None,
    "maintenance_note": None,
}

_NUMERIC = re.compile(r"^[1-9][0-9]*$")


class GitLabInputError(ValueError):
    """A parameter GitLab would reject, caught before any request."""


def numeric_id(value, what):
    """VALUE as GitLab's numeric id of WHAT (``group``/``project``), or a clear error.

    GitLab's runner endpoints take numeric ids; a path (``my-org/sub``) would be
    sent as ``group_id`` and rejected, so it is refused here, before any request.
    """
    text = str(value).strip()
    if _NUMERIC.match(text):
        return int(text)
    raise GitLabInputError(
        f"{what}_id must be the numeric id of the {what}, got {value!r}. "
        f"A {what} path is not accepted where GitLab needs a numeric id: "
        f"look the id up on the {what}'s page in GitLab (or with "
        f"GET /api/v4/{what}s/<url-encoded path>) and pass that."
    )


def api_path(path):
    return API_PREFIX + path


def list_path(runner_type, group_id=None, project_id=None):
    """(path, query) of the ONE list call that finds runners of a scope."""
    if runner_type == "group_type":
        return api_path(f"groups/{group_id}/runners"), {"type": "group_type"}
    if runner_type == "project_type":
        return api_path(f"projects/{project_id}/runners"), {"type": "project_type"}
    return api_path("runners/all"), {"type": "instance_type"}


def scope_label(runner_type, group_id=None, project_id=None):
    if runner_type == "group_type":
        return f"group {group_id}"
    if runner_type == "project_type":
        return f"project {project_id}"
    return "the instance"


class GitLabRunners:
    """The runner calls, on an ApiClient rooted at the GitLab URL."""

    def __init__(self, client):
        self.client = client

    def list_scope(self, runner_type, group_id=None, project_id=None):
        path, query = list_path(runner_type, group_id, project_id)
        return self.client.get_all(
            path, query=query, style="x-next-page", per_page=PER_PAGE
        )

    def details(self, runner_id):
        return self.client.get(api_path(f"runners/{int(runner_id)}")).body

    def create(self, body):
        return self.client.post(api_path("user/runners"), json=body).body

    def register_legacy(self, body):
        return self.client.post(api_path("runners"), json=body).body

    def update(self, runner_id, body):
        return self.client.put(api_path(f"runners/{int(runner_id)}"), json=body).body

    def delete(self, runner_id):
        self.client.delete(api_path(f"runners/{int(runner_id)}"))

    def reset_token(self, runner_id):
        return self.client.post(
            api_path(f"runners/{int(runner_id)}/reset_authentication_token")
        ).body

    def verify(self, token):
        """True when GitLab accepts the runner authentication token (403: it does not)."""
        response = self.client.post(
            api_path("runners/verify"), json={"token": token}, allow_status=(403,)
        )
        return response.status == 200


def create_body(runner_type, group_id, project_id, description, attributes):
    """The body of POST /user/runners: scope, description and the managed attributes."""
    body = {"runner_type": runner_type, "description": description}
    if runner_type == "group_type":
        body["group_id"] = group_id
    elif runner_type == "project_type":
        body["project_id"] = project_id
    body.update({k: v for k, v in attributes.items() if v is not None})
    return body


def legacy_body(registration_token, description, attributes):
    """The body of the deprecated POST /runners (registration-token flow)."""
    body = {"token": registration_token, "description": description}
    body.update({k: v for k, v in attributes.items() if v is not None})
    return body


def runner_facts(runner):
    """The runner as the module returns it: never a token."""
    keep = ("id", "description", "runner_type", "status", "online", "is_shared")
    facts = {k: runner.get(k) for k in keep if k in runner}
    for name in ATTRIBUTES:
        if name in runner:
            facts[name] = runner[name]
    return facts


def failure_message(error, action, scope):
    """What went wrong, in GitLab's words plus what to do about it."""
    status = error.status
    if action == "register_legacy" and status == 410:
        return (
            "GitLab refused the legacy registration-token flow (HTTP 410 Gone): "
            "runner registration tokens are disabled on this instance (the default "
            "since GitLab 17.0). Drop registration_token so the runner is created "
            "with POST /api/v4/user/runners (needs a token with the create_runner "
            "scope), or have an administrator re-enable registration tokens"
        )
    if action == "list" and status == 404:
        return (
            f"GitLab found no {scope} (HTTP 404), or the token cannot see it; "
            "check the numeric id and the token's access"
        )
    if action == "list" and status == 403 and scope == "the instance":
        return (
            "Listing instance runners needs an administrator token (HTTP 403 from "
            "/runners/all)"
        )
    if status == 403 and action == "create":
        return (
            f"GitLab refused to create a runner for {scope} (HTTP 403): the token "
            "needs the create_runner scope and Maintainer (project), Owner (group) "
            "or administrator (instance) access"
        )
    return f"Could not {action.replace('_', ' ')} runners of {scope}"
