# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about the GitHub REST API for Actions runners.

Private to the collection (the leading underscore): it may change in any release.

Scopes (repository, organization, enterprise) and their paths, the GitHub App JWT,
installation lookup, installation access tokens, runner registration and remove
tokens, and the self-hosted runner list. Sources: docs.github.com REST pages
(cited per function), API version 2022-11-28.
"""

from __future__ import annotations

import re
import time

try:
    import jwt
except ImportError as error:  # exercised where PyJWT is missing
    HAS_JWT = False
    JWT_IMPORT_ERROR = error
else:
    HAS_JWT = True
    JWT_IMPORT_ERROR = None

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    quote_segment,
)

DEFAULT_API_URL = "https://api.github.com"
HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
PER_PAGE = 100
# https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
JWT_BACKDATE = 60  # seconds, against clock drift
JWT_LIFETIME = 540  # seconds after now; GitHub refuses more than 10 minutes
SCOPES = ("repository", "organization", "enterprise")
# Argument spec of the scope options; doc fragment glorious.flywheel.github_scope.
SCOPE_OPTIONS = {kind: {"type": "str"} for kind in SCOPES}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")


class GitHubInputError(ValueError):
    """A parameter GitHub would reject, caught before any request."""


def scope_from_params(params):
    """(kind, name, path prefix) of the one scope set among SCOPES in PARAMS."""
    chosen = [(kind, params.get(kind)) for kind in SCOPES if params.get(kind)]
    if len(chosen) != 1:
        raise GitHubInputError(
            "give exactly one scope: repository (owner/name), organization or "
            f"enterprise (got {', '.join(k for k, _v in chosen) or 'none'})"
        )
    kind, name = chosen[0]
    return kind, name, scope_prefix(kind, name)


def scope_prefix(kind, name):
    if kind == "repository":
        if not _REPOSITORY.match(name):
            raise GitHubInputError(f"repository must be owner/name, got {name!r}")
        owner, repo = name.split("/")
        return f"repos/{quote_segment(owner)}/{quote_segment(repo)}"
    if not _SLUG.match(name):
        raise GitHubInputError(f"{kind} must be a login or slug, got {name!r}")
    if kind == "organization":
        return f"orgs/{quote_segment(name)}"
    if kind == "enterprise":
        return f"enterprises/{quote_segment(name)}"
    raise GitHubInputError(f"unknown scope {kind!r}")


def app_jwt(app_id, private_key, now=None):
    """The App's JWT: RS256, iat 60 s in the past, exp 9 minutes ahead, iss = app id.

    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
    """
    now = int(time.time() if now is None else now)
    claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": str(app_id)}
    try:
        token = jwt.encode(claims, private_key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise GitHubInputError(
            "private_key is not a usable RSA private key in PEM form (the .pem file "
            f"GitHub lets you download for the App): {type(exc).__name__}"
        ) from None
    return token if isinstance(token, str) else token.decode("ascii")


class GitHubActions:
    """The calls, on an ApiClient rooted at the API URL with HEADERS."""

    def __init__(self, client):
        self.client = client

    def installation_id(self, kind, name, prefix):
        """The App's installation for the scope.

        https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
        https://docs.github.com/en/rest/apps/apps#get-an-organization-installation-for-the-authenticated-app
        Enterprises: the installation whose account is the enterprise, from
        https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app
        """
        if kind in ("repository", "organization"):
            return self.client.get(f"{prefix}/installation").body["id"]
        for installation in self.client.paginate(
            "app/installations", per_page=PER_PAGE
        ):
            account = installation.get("account") or {}
            if installation.get("target_type") == "Enterprise" and name.lower() in (
                str(account.get("slug", "")).lower(),
                str(account.get("login", "")).lower(),
            ):
                return installation["id"]
        return None

    def access_token(self, installation_id, repositories=None, permissions=None):
        """https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app"""
        body = {}
        if repositories:
            body["repositories"] = list(repositories)
        if permissions:
            body["permissions"] = dict(permissions)
        return self.client.post(
            f"app/installations/{int(installation_id)}/access_tokens", json=body or None
        ).body

    def runner_token(self, prefix, kind):
        """kind ``registration`` or ``remove``.

        https://docs.github.com/en/rest/actions/self-hosted-runners#create-a-registration-token-for-a-repository
        """
        return self.client.post(f"{prefix}/actions/runners/{kind}-token").body

    def runners(self, prefix):
        """https://docs.github.com/en/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository"""
        return self.client.get_all(
            f"{prefix}/actions/runners", items="runners", per_page=PER_PAGE
        )

    def delete_runner(self, prefix, runner_id):
        """https://docs.github.com/en/rest/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository"""
        self.client.delete(f"{prefix}/actions/runners/{int(runner_id)}")


def runner_labels(runner):
    return [label.get("name") for label in runner.get("labels") or []]


def runner_facts(runner):
    return {
        "id": runner.get("id"),
        "name": runner.get("name"),
        "os": runner.get("os"),
        "status": runner.get("status"),
        "busy": runner.get("busy"),
        "ephemeral": runner.get("ephemeral"),
        "labels": runner_labels(runner),
    }


def failure_message(error, action, scope):
    status = error.status
    if status == 404 and action == "find the installation":
        return (
            f"The GitHub App is not installed on {scope} (HTTP 404); install it there "
            "(or check app_id)"
        )
    if status == 401 and action in ("find the installation", "create an access token"):
        return (
            "GitHub rejected the App's JWT (HTTP 401): check app_id and that "
            "private_key belongs to that App, and the clock of the host running the "
            "module"
        )
    if status in (403, 429) and error.retry_after is not None:
        return f"GitHub kept rate-limiting the requests to {action} for {scope}"
    if status == 403:
        return (
            f"GitHub refused to {action} for {scope} (HTTP 403): the token needs the "
            "Administration (repository) or Self-hosted runners (organization) "
            "permission, or manage_runners:enterprise for an enterprise"
        )
    return f"Could not {action} for {scope}"
