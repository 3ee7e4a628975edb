"""A Forgejo / Gitea API double: server version, runner registration tokens, runners.

Four server generations, chosen with ``flavour`` (the ``/api/v1/version`` each answers):

- ``forgejo``: recent Forgejo. GET registration tokens (scope paths, ``/admin/runners/...``
  and ``/admin/actions/runners/...``), runner list as a bare list with ``Link`` and
  ``X-Total-Count``, ``POST <scope>/actions/runners`` -> ``{id, uuid, token}``, delete.
- ``forgejo-old``: a Forgejo before the runner API: GET registration tokens only.
- ``gitea``: Gitea 1.24 and later: POST registration tokens (``/admin/actions/runners/
  registration-token`` for the instance), runner list as ``{runners, total_count}``,
  delete; no runner creation.
- ``gitea-1.22``: GET registration tokens only.

Lists take ``page`` and ``limit`` and cap ``limit`` at ``max_items`` (Gitea's
``MAX_RESPONSE_ITEMS``, 50 by default). Errors carry the servers' ``{"message", "url"}``
bodies. A request to a path no route of the flavour serves answers like the real router:
405 when the path exists with another method, else the API's 404.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ansible_collections.glorious.flywheel.tests.doubles.harness import (
    Double,
    error_response,
    json_response,
    route,
)

FORGEJO = "https://codeberg.org/forgejo/forgejo/src/branch/forgejo/"
GITEA = "https://github.com/go-gitea/gitea/blob/main/"
FORGEJO_API = FORGEJO + "routers/api/v1/api.go"
GITEA_API = GITEA + "routers/api/v1/api.go"
FORGEJO_RUNNERS = FORGEJO + "routers/api/v1/shared/runners.go"
GITEA_RUNNERS = GITEA + "routers/api/v1/shared/runners.go"
SWAGGER_URL = "/api/swagger"

VERSIONS = {
    "forgejo": "13.0.2+gitea-1.22.0",
    "forgejo-old": "7.0.14+gitea-1.21.0",
    "gitea": "1.24.3",
    "gitea-1.22": "1.22.6",
}
# Scope path templates (below /api/v1) -> how a runner's scope key is built.
SCOPE_TEMPLATES = {
    "repos": "/api/v1/repos/{owner}/{repo}/actions/runners",
    "orgs": "/api/v1/orgs/{org}/actions/runners",
    "user": "/api/v1/user/actions/runners",
    "admin": "/api/v1/admin/actions/runners",
}
WRITE_SCOPE = {
    "repos": "write:repository",
    "orgs": "write:organization",
    "user": "write:user",
    "admin": "write:admin",
}


def api_error(status, message, errors=None):
    """Gitea/Forgejo APIError body: services/context/api.go (APIError, NotFound)."""
    body = {"message": message, "url": SWAGGER_URL}
    if errors is not None:
        body["errors"] = errors
    return error_response(status, body)


def not_found():
    return api_error(404, "The target couldn't be found.", errors=[])


@dataclass
class Runner:
    id: int
    name: str
    description: str = ""
    status: str = "offline"
    labels: list = field(default_factory=lambda: ["docker"])
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    token: str = field(default_factory=lambda: secrets.token_hex(20))

    def forgejo_body(self):
        """Forgejo's ActionRunner (modules/structs/action.go): labels are strings."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "name": self.name,
            "version": "v9.1.0",
            "description": self.description,
            "labels": list(self.labels),
            "status": self.status,
            "ephemeral": False,
        }

    def gitea_body(self):
        """Gitea's ActionRunner (modules/structs/repo_actions.go)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": "online" if self.status != "offline" else "offline",
            "busy": self.status == "active",
            "disabled": False,
            "ephemeral": False,
            "labels": [
                {"id": n, "name": label, "type": "custom"}
                for n, label in enumerate(self.labels)
            ],
        }


@dataclass
class Token:
    login: str
    admin: bool = False
    write: bool = True
    value: str = field(default_factory=lambda: secrets.token_hex(20))


class Forgejo(Double):
    """One server: users (with tokens), organizations, repositories, runners per scope."""

    def __init__(self, flavour="forgejo", max_items=50, **kwargs):
        super().__init__(auth=self.check_token, **kwargs)
        if flavour not in VERSIONS:
            raise ValueError(f"unknown flavour {flavour!r}")
        self.flavour = flavour
        self.version_string = VERSIONS[flavour]
        self.forgejo = flavour.startswith("forgejo")
        self.max_items = max_items
        self.admin = Token("root", admin=True)
        self.alice = Token("alice")
        self.readonly = Token("alice", write=False)
        self.tokens = {t.value: t for t in (self.admin, self.alice, self.readonly)}
        self.orgs = {"acme": "alice"}
        self.repos = {"acme/widgets": "alice"}
        self.runners: dict[str, dict[int, Runner]] = {}
        # Registration token per scope key, as GetLatestRunnerToken keeps it.
        self.registration_tokens: dict[str, str] = {}
        self.created_tokens: list[str] = []
        self._ids = itertools.count(1)
        self._declare()

    # Routes by flavour -----------------------------------------------------

    def _declare(self):
        has_list = self.flavour in ("forgejo", "gitea")
        source_api = FORGEJO_API if self.forgejo else GITEA_API
        source_runners = FORGEJO_RUNNERS if self.forgejo else GITEA_RUNNERS
        token_method = "POST" if self.flavour == "gitea" else "GET"
        for kind, template in SCOPE_TEMPLATES.items():
            if kind != "admin":
                self.add_route(
                    token_method,
                    template + "/registration-token",
                    self.registration_token,
                    source=source_runners,
                    name=f"token_{kind}",
                )
            if has_list:
                self.add_route(
                    "GET",
                    template,
                    self.list_runners,
                    source=source_runners,
                    name=f"list_{kind}",
                )
                self.add_route(
                    "DELETE",
                    template + "/{runner_id}",
                    self.delete_runner,
                    source=source_runners,
                    name=f"delete_{kind}",
                )
            if self.flavour == "forgejo":
                self.add_route(
                    "POST",
                    template,
                    self.create_runner,
                    source=FORGEJO + "modules/structs/action.go",
                    name=f"create_{kind}",
                )
        if self.flavour == "gitea":
            self.add_route(
                "POST",
                "/api/v1/admin/actions/runners/registration-token",
                self.registration_token,
                source=GITEA + "routers/api/v1/admin/runners.go",
                name="token_admin",
            )
        else:
            self.add_route(
                "GET",
                "/api/v1/admin/runners/registration-token",
                self.registration_token,
                source=source_api,
                name="token_admin",
            )
        if self.flavour == "forgejo":
            self.add_route(
                "GET",
                "/api/v1/admin/actions/runners/registration-token",
                self.registration_token,
                source=FORGEJO_API,
                name="token_admin_actions",
            )
        # Last, so that every real route is tried first.
        for method in ("GET", "POST", "DELETE", "PUT", "PATCH"):
            self.add_route(
                method,
                "/api/v1/{rest:path}",
                self.no_route,
                source=source_api,
                name="no_route",
                auth=False,
            )

    # Auth ------------------------------------------------------------------

    def token_of(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("token "):
            return None
        return self.tokens.get(header[len("token ") :])

    def check_token(self, request):
        """An unknown token authenticates nobody, and reqToken() answers 401 (the body
        codeberg.org sends)."""
        if self.token_of(request) is None:
            return api_error(401, "token is required")
        return None

    # Helpers for tests -----------------------------------------------------

    def add_runner(self, key, name, **attributes):
        runner = Runner(next(self._ids), name, **attributes)
        self.runners.setdefault(key, {})[runner.id] = runner
        return runner

    def names(self, key):
        return sorted(r.name for r in self.runners.get(key, {}).values())

    # Scope resolution, as the API's context middlewares do -------------------

    def _scope(self, request, params):
        """(scope key, kind) or an error response.

        repo: context.RepoAssignment + reqOwner; org: context.OrgAssignment +
        reqOrgOwnership; admin: reqSiteAdmin (routers/api/v1/api.go).
        """
        token = self.token_of(request)
        path = request.path
        if "owner" in params:
            full = f"{params['owner']}/{params['repo']}"
            if full not in self.repos:
                return not_found()
            if self.repos[full] != token.login and not token.admin:
                return api_error(403, "user should be the owner of the repo")
            return f"repos/{full}", "repos"
        if "org" in params:
            if params["org"] not in self.orgs:
                return not_found()
            if self.orgs[params["org"]] != token.login and not token.admin:
                return api_error(403, "must be an organization owner")
            return f"orgs/{params['org']}", "orgs"
        if path.startswith("/api/v1/admin/"):
            if not token.admin:
                return api_error(403, "user should be the site admin")
            return "admin", "admin"
        return f"user/{token.login}", "user"

    def _write_allowed(self, request, kind):
        """routers/api/v1/api.go tokenRequiresScopes: non-GET needs write:<category>."""
        if self.token_of(request).write:
            return None
        return api_error(
            403,
            "token does not have at least one of required scope(s): "
            f"[{WRITE_SCOPE[kind]}]",
        )

    # Handlers ---------------------------------------------------------------

    @route(
        "GET",
        "/api/v1/version",
        source=FORGEJO + "routers/api/v1/misc/version.go",
        auth=False,
    )
    def version(self, request):
        return {"version": self.version_string}

    @route("GET", "/api/v1/user", source=FORGEJO + "routers/api/v1/user/user.go")
    def user(self, request):
        token = self.token_of(request)
        return {"id": 1, "login": token.login, "is_admin": token.admin}

    @route(
        "GET",
        "/api/v1/repos/{owner}/{repo}",
        source=FORGEJO + "routers/api/v1/repo/repo.go",
    )
    def repo(self, request, owner, repo):
        if f"{owner}/{repo}" not in self.repos:
            return not_found()
        return {"full_name": f"{owner}/{repo}", "name": repo}

    @route("GET", "/api/v1/orgs/{org}", source=FORGEJO + "routers/api/v1/org/org.go")
    def org(self, request, org):
        if org not in self.orgs:
            return not_found()
        return {"username": org, "name": org}

    def registration_token(self, request, **params):
        found = self._scope(request, params)
        if not isinstance(found, tuple):
            return found
        key, kind = found
        if request.method != "GET":
            refused = self._write_allowed(request, kind)
            if refused is not None:
                return refused
        token = self.registration_tokens.get(key)
        if token is None:
            token = secrets.token_hex(20)
            self.registration_tokens[key] = token
        return {"token": token}

    def list_runners(self, request, **params):
        found = self._scope(request, params)
        if not isinstance(found, tuple):
            return found
        key, _kind = found
        try:
            page = max(1, int(request.args.get("page", 1)))
            limit = int(request.args.get("limit", 30))
        except ValueError:
            return api_error(422, "page and limit must be integers")
        limit = max(1, min(limit, self.max_items))
        every = [r for _id, r in sorted(self.runners.get(key, {}).items())]
        chunk = every[(page - 1) * limit : page * limit]
        if not self.forgejo:
            return {
                "runners": [r.gitea_body() for r in chunk],
                "total_count": len(every),
            }
        pages = max(1, -(-len(every) // limit))
        links = []
        for rel, number in (("next", page + 1), ("last", pages)):
            if number <= pages and (rel != "next" or page < pages):
                query = urlencode({"page": number, "limit": limit})
                links.append(f'<{request.base_url}?{query}>; rel="{rel}"')
        headers = {"X-Total-Count": str(len(every))}
        if links:
            headers["Link"] = ", ".join(links)
        return json_response([r.forgejo_body() for r in chunk], headers=headers)

    def create_runner(self, request, **params):
        found = self._scope(request, params)
        if not isinstance(found, tuple):
            return found
        key, kind = found
        refused = self._write_allowed(request, kind)
        if refused is not None:
            return refused
        body = request.get_json(silent=True) or {}
        if not body.get("name"):
            return api_error(422, "[Name]: Required")
        runner = self.add_runner(
            key, body["name"], description=body.get("description", "")
        )
        self.created_tokens.append(runner.token)
        return 201, {"id": runner.id, "uuid": runner.uuid, "token": runner.token}

    def delete_runner(self, request, runner_id, **params):
        found = self._scope(request, params)
        if not isinstance(found, tuple):
            return found
        key, kind = found
        refused = self._write_allowed(request, kind)
        if refused is not None:
            return refused
        runners = self.runners.get(key, {})
        if not runner_id.isdigit() or int(runner_id) not in runners:
            return api_error(404, "runner does not exist")
        del runners[int(runner_id)]
        return None

    def no_route(self, request, rest):
        allowed = sorted(
            {
                r.method
                for r in self.routes
                if r.name != "no_route" and r.regex.match(request.path)
            }
        )
        if allowed:
            return error_response(
                405, "Method Not Allowed", {"Allow": ", ".join(allowed)}
            )
        return not_found()
