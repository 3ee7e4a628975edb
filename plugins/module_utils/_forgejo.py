# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about the Forgejo and Gitea API for Actions runners.

Private to the collection (the leading underscore): it may change in any release.

Scopes (repository, organization, the token's user, the instance) and their paths,
server detection through ``/api/v1/version``, registration tokens, and runner list,
creation and deletion where the server has them. Sources, cited per function:
Forgejo ``routers/api/v1/api.go`` and ``routers/api/v1/shared/runners.go``
(codeberg.org/forgejo/forgejo) and Gitea's files of the same names (go-gitea/gitea).

Where the two differ:

- Registration token: both answer ``GET <scope>/actions/runners/registration-token``
  (Gitea 1.22 and 1.23; every Forgejo with Actions, deprecated in Forgejo 15). Gitea
  1.24 added ``POST`` on the same path and later dropped the GET. The instance token
  is ``GET /admin/runners/registration-token`` on both, and ``POST
  /admin/actions/runners/registration-token`` on Gitea 1.24 and later.
- Runner list: Gitea (1.24+) answers ``{"runners": [...], "total_count": N}`` of
  ``{id, name, status, busy, ephemeral, labels: [{id, name, type}]}``; newer Forgejo a
  bare list (``Link`` and ``X-Total-Count`` headers) of ``{id, uuid, name, status:
  offline|idle|active, labels: [str], ...}``. Both take
  ``page`` and ``limit`` (not ``per_page``), capped by the server's
  ``MAX_RESPONSE_ITEMS`` (50 by default).
- Runner creation ``POST <scope>/actions/runners`` ``{name, description}`` ->
  ``{id, uuid, token}`` exists only in Forgejo (recent releases); Gitea creates
  runners only through a registration token.
"""

from __future__ import annotations

import re

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    quote_segment,
)

DEFAULT_API_URL = "https://codeberg.org"
API_PREFIX = "/api/v1"
# Gitea's default MAX_RESPONSE_ITEMS; a server configured lower still ends the loop
# through total_count / X-Total-Count.
PAGE_SIZE = 50
MAX_PAGES = 1000
SCOPES = ("repository", "organization", "user", "instance")
# Argument spec of the scope options; doc fragment glorious.flywheel.forgejo_scope.
SCOPE_OPTIONS = {
    "repository": {"type": "str"},
    "organization": {"type": "str"},
    "user": {"type": "str"},
    "instance": {"type": "bool", "default": False},
}
# Gitea 1.24 turned the registration-token GET into a POST.
GITEA_POST_TOKEN = (1, 24)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LOGIN = re.compile(r"^[A-Za-z0-9_.-]+$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
_FORGEJO_GITEA = re.compile(r"\+gitea-(\d+)\.(\d+)")
_NOT_THERE = (404, 405)


class ForgejoInputError(ValueError):
    """A parameter Forgejo would reject, caught before any request."""


class Scope:
    """Where runners live: ``kind`` among SCOPES, ``name`` as given, API paths."""

    def __init__(self, kind, name):
        self.kind = kind
        self.name = name
        if kind == "repository":
            if not _REPOSITORY.match(name):
                raise ForgejoInputError(f"repository must be owner/name, got {name!r}")
            owner, repo = name.split("/")
            self.probe = f"repos/{quote_segment(owner)}/{quote_segment(repo)}"
            self.runners = f"{self.probe}/actions/runners"
        elif kind == "instance":
            # Only a missing endpoint answers 404 here: a non-admin gets 403.
            self.probe = None
            self.runners = "admin/actions/runners"
        elif not _LOGIN.match(name):
            raise ForgejoInputError(f"{kind} must be a login, got {name!r}")
        elif kind == "organization":
            self.probe = f"orgs/{quote_segment(name)}"
            self.runners = f"{self.probe}/actions/runners"
        else:
            # The API has no /users/{name}/actions: user runners belong to the
            # token's own account, which the module checks against NAME.
            self.probe = "user"
            self.runners = "user/actions/runners"

    def __str__(self):
        return "the instance" if self.kind == "instance" else f"{self.kind} {self.name}"

    def token_requests(self, server):
        """(method, path) to try for a registration token, preferred first.

        https://github.com/go-gitea/gitea/blob/main/routers/api/v1/api.go (POST, 1.24+)
        https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/api.go (GET)
        """
        if self.kind == "instance":
            get = ("GET", "admin/runners/registration-token")
            post = ("POST", "admin/actions/runners/registration-token")
        else:
            get = ("GET", f"{self.runners}/registration-token")
            post = ("POST", f"{self.runners}/registration-token")
        return [post, get] if server.posts_token else [get, post]


def scope_from_params(params):
    """The one Scope set among SCOPES in PARAMS."""
    chosen = [kind for kind in SCOPES if params.get(kind)]
    if len(chosen) != 1:
        raise ForgejoInputError(
            "give exactly one scope: repository (owner/name), organization, user "
            f"(login) or instance=true (got {', '.join(chosen) or 'none'})"
        )
    kind = chosen[0]
    return Scope(kind, "" if kind == "instance" else params[kind])


class Server:
    """What ``GET /api/v1/version`` says: Forgejo or Gitea, and which Gitea API level.

    Forgejo answers ``<forgejo version>+gitea-<gitea version>`` (e.g.
    ``11.0.1+gitea-1.22.0``), Gitea its own version (``1.24.2``).
    https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/misc/version.go
    """

    def __init__(self, version):
        self.version = version or ""
        compatible = _FORGEJO_GITEA.search(self.version)
        self.forgejo = compatible is not None
        if compatible is None:
            compatible = _VERSION.match(self.version)
        self.gitea_level = (
            (int(compatible.group(1)), int(compatible.group(2))) if compatible else None
        )

    @property
    def posts_token(self):
        return (
            not self.forgejo
            and self.gitea_level is not None
            and self.gitea_level >= GITEA_POST_TOKEN
        )

    @property
    def known_gitea(self):
        return not self.forgejo and self.gitea_level is not None

    @property
    def creates_runners(self):
        """Gitea has no runner creation endpoint; Forgejo's is found by trying."""
        return not self.known_gitea

    def __str__(self):
        product = "Forgejo" if self.forgejo else "Gitea"
        return f"{product} {self.version}" if self.version else "the server"


def api_root(url):
    """The API root (``<forge>/api/v1``) for URL given with or without it."""
    url = url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


class ForgejoActions:
    """The calls, on an ApiClient rooted at ``<forge>/api/v1``."""

    def __init__(self, client):
        self.client = client

    def server(self):
        """https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/misc/version.go"""
        return Server(self.client.get("version").body.get("version"))

    def login(self):
        """The token's user: https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/user/user.go"""
        return self.client.get("user").body.get("login")

    def registration_token(self, scope, server):
        """The scope's registration token; the other method is tried when the first
        is not a route on this server (404 or 405).

        https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/shared/runners.go
        https://github.com/go-gitea/gitea/blob/main/routers/api/v1/shared/runners.go
        """
        first, second = scope.token_requests(server)
        try:
            return self.client.request(*first).body.get("token")
        except ApiError as error:
            if error.status not in _NOT_THERE:
                raise
            try:
                return self.client.request(*second).body.get("token")
            except ApiError as other:
                if other.status in _NOT_THERE:
                    raise error from None
                raise

    def runners(self, scope):
        """Every runner of the scope, both list shapes (see the module docstring).

        https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/shared/runners.go
        https://github.com/go-gitea/gitea/blob/main/routers/api/v1/shared/runners.go
        """
        found = []
        for page in range(1, MAX_PAGES + 1):
            response = self.client.get(
                scope.runners, query={"page": page, "limit": PAGE_SIZE}
            )
            body = response.body
            if isinstance(body, dict):
                batch = body.get("runners") or []
                total = body.get("total_count")
            else:
                batch = body or []
                total = response.header("X-Total-Count")
            found.extend(batch)
            if not batch:
                break
            if total is not None:
                if len(found) >= int(total):
                    break
            elif len(batch) < PAGE_SIZE:
                break
        return found

    def create_runner(self, scope, name, description):
        """Forgejo only: ``{id, uuid, token}``.

        https://codeberg.org/forgejo/forgejo/src/branch/forgejo/modules/structs/action.go
        (RegisterRunnerOptions, RegisterRunnerResponse)
        """
        body = {"name": name}
        if description is not None:
            body["description"] = description
        return self.client.post(scope.runners, json=body).body

    def scope_exists(self, scope):
        """Whether the repository, organization or user is there: tells a missing
        scope from a missing endpoint after a 404.

        https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/api.go
        """
        if scope.probe is None:
            return True
        answer = self.client.get(scope.probe, allow_status=(404,))
        return answer.status != 404

    def delete_runner(self, scope, runner_id):
        """https://codeberg.org/forgejo/forgejo/src/branch/forgejo/routers/api/v1/shared/runners.go"""
        self.client.delete(f"{scope.runners}/{int(runner_id)}")


def runner_facts(runner):
    """One shape for both servers: Gitea has ``busy`` and labels as ``{id, name,
    type}``; Forgejo has status ``offline``/``idle``/``active`` and plain label strings."""
    busy = runner.get("busy")
    if busy is None:
        busy = runner.get("status") == "active"
    return {
        "id": runner.get("id"),
        "name": runner.get("name"),
        "status": runner.get("status"),
        "busy": busy,
        "ephemeral": runner.get("ephemeral"),
        "labels": [
            label if isinstance(label, str) else label.get("name")
            for label in runner.get("labels") or []
        ],
    }


def token_scope(scope, write):
    """The PAT scope a request needs; Gitea and Forgejo grant GET with read:<category>."""
    category = {
        "repository": "repository",
        "organization": "organization",
        "user": "user",
        "instance": "admin",
    }[scope.kind]
    return f"{'write' if write else 'read'}:{category}"


def failure_message(error, action, scope, write=False):
    """What to tell the operator about ERROR while doing ACTION in SCOPE."""
    status = error.status
    if status == 401:
        return f"Forgejo did not accept api_token (HTTP 401) to {action} for {scope}"
    if status == 403 and error.retry_after is None:
        who = {
            "repository": "an administrator of the repository",
            "organization": "an owner of the organization",
            "user": "the user",
            "instance": "a site administrator",
        }[scope.kind]
        return (
            f"Forgejo refused to {action} for {scope} (HTTP 403): the token needs the "
            f"{token_scope(scope, write)} scope and must belong to {who}"
        )
    if status in _NOT_THERE:
        return (
            f"Could not {action} for {scope}: not found (the {scope.kind} does not "
            "exist, or the token cannot see it)"
        )
    if status in (403, 429) and error.retry_after is not None:
        return f"Forgejo kept rate-limiting the requests to {action} for {scope}"
    return f"Could not {action} for {scope}"


def missing_api_message(action, scope, server, endpoint):
    """The server has no ENDPOINT (too old, or Gitea): say what to use instead."""
    return (
        f"Could not {action} for {scope}: {server} has no {endpoint} endpoint "
        "(runner list and delete arrived in Gitea 1.24 and recent Forgejo; creating "
        "a runner through the API only exists in recent Forgejo). Use "
        "state=registration_token and register the runner with "
        "`forgejo-runner register --no-interactive --token ...` instead"
    )
