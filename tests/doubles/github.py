"""A GitHub REST API double: App installations, installation tokens, self-hosted runners.

Shapes follow docs.github.com (API version 2022-11-28; each route cites its page).
Lists paginate with ``Link`` (30 per page by default, ``per_page`` up to 100).
``/app/...`` routes accept only a valid App JWT (RS256, signed by the App key, ``iss``
the App id, ``exp`` at most 10 minutes after ``iat``), as GitHub does; the other
routes take installation tokens or PATs. Errors carry GitHub's bodies
(``{"message": ..., "documentation_url": ..., "status": ...}``); ``secondary_rate_limit``
answers 403 with Retry-After, ``rate_limit`` (harness) 429.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.glorious.flywheel.tests.doubles.harness import (
    Double,
    error_response,
    paginate,
    route,
)

APPS_DOC = "https://docs.github.com/en/rest/apps/apps"
RUNNERS_DOC = "https://docs.github.com/en/rest/actions/self-hosted-runners"
SCOPE_PREFIXES = ("/repos/{owner}/{repo}", "/orgs/{org}", "/enterprises/{enterprise}")


def github_error(status, message, doc="https://docs.github.com/rest", **extra):
    body = {"message": message, "documentation_url": doc, "status": str(status)}
    body.update(extra)
    return error_response(status, body)


@dataclass
class Runner:
    id: int
    name: str
    status: str = "online"
    busy: bool = False
    labels: list = field(default_factory=lambda: ["self-hosted", "Linux", "X64"])
    ephemeral: bool = False

    def body(self):
        return {
            "id": self.id,
            "name": self.name,
            "os": "Linux",
            "status": self.status,
            "busy": self.busy,
            "ephemeral": self.ephemeral,
            "labels": [
                {"id": n, "name": label, "type": "read-only" if n < 3 else "custom"}
                for n, label in enumerate(self.labels)
            ],
        }


def rsa_private_key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


class GitHub(Double):
    """GitHub with one App (key generated here), installations and runners per scope."""

    def __init__(self, **kwargs):
        super().__init__(auth=self.check_token, **kwargs)
        self.app_id = "123456"
        self.private_key = rsa_private_key_pem()
        self.public_key = (
            serialization.load_pem_private_key(self.private_key.encode(), None)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )
        self.pat = "ghp_" + secrets.token_hex(18)
        self.readonly_pat = "ghp_" + secrets.token_hex(18)
        self.installation_tokens = {}
        self.minted = []
        # scope key ("repos/o/r", "orgs/o", "enterprises/e") -> installation id
        self.installations = {}
        self.runners: dict[str, dict[int, Runner]] = {}
        self.jwt_claims = []
        self._ids = itertools.count(1)
        for method, path, name, handler, source in _SCOPE_ROUTES:
            self.add_route(
                method, path, handler.__get__(self), source=source, name=name
            )

    # Auth ------------------------------------------------------------------

    def _bearer(self, request):
        header = request.headers.get("Authorization", "")
        for prefix in ("Bearer ", "token "):
            if header.startswith(prefix):
                return header[len(prefix) :]
        return None

    def check_token(self, request):
        token = self._bearer(request)
        if request.path.startswith("/app/") or request.path.endswith("/installation"):
            try:
                claims = jwt.decode(
                    token or "",
                    self.public_key,
                    algorithms=["RS256"],
                    options={"require": ["iat", "exp", "iss"]},
                )
            except jwt.PyJWTError:
                return github_error(
                    401,
                    "A JSON web token could not be decoded",
                    "https://docs.github.com/rest",
                )
            if claims["iss"] != self.app_id or claims["exp"] - claims["iat"] > 600:
                return github_error(
                    401,
                    "'Expiration time' claim ('exp') is too far in the future",
                )
            self.jwt_claims.append(claims)
            return None
        if token in (self.pat, self.readonly_pat) or token in self.installation_tokens:
            return None
        return github_error(401, "Bad credentials")

    def can_write(self, request):
        return self._bearer(request) != self.readonly_pat

    # Test helpers ----------------------------------------------------------

    def install(self, scope_key, account=None, target_type=None):
        installation_id = 1000 + len(self.installations)
        self.installations[scope_key] = {
            "id": installation_id,
            "account": account or {"login": scope_key.split("/")[1]},
            "target_type": target_type
            or ("Organization" if scope_key.startswith("orgs/") else "User"),
        }
        return installation_id

    def add_runner(self, scope_key, name, **attributes):
        runner = Runner(next(self._ids), name, **attributes)
        self.runners.setdefault(scope_key, {})[runner.id] = runner
        return runner

    def secondary_rate_limit(self, count=1, retry_after=1, **match):
        self.inject(
            403,
            count,
            retry_after=retry_after,
            body={
                "message": "You have exceeded a secondary rate limit. Please wait a "
                "few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403",
            },
            **match,
        )

    # Apps ------------------------------------------------------------------

    def _installation(self, key):
        found = self.installations.get(key)
        if found is None:
            return github_error(
                404,
                "Not Found",
                APPS_DOC + "#get-a-repository-installation-for-the-authenticated-app",
            )
        return dict(
            found, app_id=int(self.app_id), permissions={"administration": "write"}
        )

    @route(
        "GET",
        "/repos/{owner}/{repo}/installation",
        source=APPS_DOC + "#get-a-repository-installation-for-the-authenticated-app",
    )
    def repo_installation(self, request, owner, repo):
        return self._installation(f"repos/{owner}/{repo}")

    @route(
        "GET",
        "/orgs/{org}/installation",
        source=APPS_DOC + "#get-an-organization-installation-for-the-authenticated-app",
    )
    def org_installation(self, request, org):
        return self._installation(f"orgs/{org}")

    @route(
        "GET",
        "/app/installations",
        source=APPS_DOC + "#list-installations-for-the-authenticated-app",
    )
    def list_installations(self, request):
        items = sorted(
            (self._installation(key) for key in self.installations),
            key=lambda installation: installation["id"],
        )
        return paginate(request, items, style="link", per_page_default=30)

    @route(
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        source=APPS_DOC + "#create-an-installation-access-token-for-an-app",
    )
    def access_token(self, request, installation_id):
        known = {i["id"] for i in self.installations.values()}
        if not installation_id.isdigit() or int(installation_id) not in known:
            return github_error(404, "Not Found", APPS_DOC)
        body = request.get_json(silent=True) or {}
        permissions = body.get("permissions") or {"administration": "write"}
        if any(v not in ("read", "write") for v in permissions.values()):
            return github_error(
                422,
                "Validation Failed",
                APPS_DOC,
                errors=[{"resource": "Permissions", "code": "invalid"}],
            )
        token = "ghs_" + secrets.token_urlsafe(27)
        self.installation_tokens[token] = int(installation_id)
        self.minted.append(token)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return 201, {
            "token": token,
            "expires_at": expires,
            "permissions": permissions,
            "repository_selection": "selected" if body.get("repositories") else "all",
        }


def _scope_routes():
    """Runner routes under each scope prefix, added to GitHub as methods."""

    def scope_key(params):
        if "owner" in params:
            return f"repos/{params['owner']}/{params['repo']}"
        if "org" in params:
            return f"orgs/{params['org']}"
        return f"enterprises/{params['enterprise']}"

    def known(self, key):
        return key in self.runners or key in self.installations

    def list_runners(self, request, **params):
        key = scope_key(params)
        if not known(self, key):
            return github_error(404, "Not Found", RUNNERS_DOC)
        items = [r.body() for _id, r in sorted(self.runners.get(key, {}).items())]
        return paginate(
            request,
            items,
            style="link",
            per_page_default=30,
            wrap=lambda chunk, total: {"total_count": total, "runners": chunk},
        )

    def delete_runner(self, request, runner_id, **params):
        key = scope_key(params)
        if not self.can_write(request):
            return github_error(
                403, "Resource not accessible by integration", RUNNERS_DOC
            )
        runners = self.runners.get(key, {})
        if not runner_id.isdigit() or int(runner_id) not in runners:
            return github_error(404, "Not Found", RUNNERS_DOC)
        if runners[int(runner_id)].busy:
            return github_error(
                422,
                f"Bad request - Runner {runners[int(runner_id)].name!r} is still "
                "running a job",
                RUNNERS_DOC,
            )
        del runners[int(runner_id)]
        return None

    def make_token(kind):
        def handler(self, request, **params):
            key = scope_key(params)
            if not known(self, key):
                return github_error(404, "Not Found", RUNNERS_DOC)
            if not self.can_write(request):
                return github_error(
                    403, "Resource not accessible by integration", RUNNERS_DOC
                )
            token = secrets.token_hex(15).upper()
            self.minted.append(token)
            expires = time.strftime(
                "%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime(time.time() + 3600)
            )
            return 201, {"token": token, "expires_at": expires}

        return handler

    anchors = {
        "/repos/{owner}/{repo}": "for-a-repository",
        "/orgs/{org}": "for-an-organization",
        "/enterprises/{enterprise}": "for-an-enterprise",
    }
    routes = []
    for prefix in SCOPE_PREFIXES:
        anchor = anchors[prefix]
        scope = prefix.split("/")[1]
        doc = "https://docs.github.com/en/rest/actions/self-hosted-runners"
        if prefix.startswith("/enterprises"):
            doc = "https://docs.github.com/en/enterprise-cloud@latest/rest/actions/self-hosted-runners"
        routes += [
            (
                "GET",
                prefix + "/actions/runners",
                f"list_runners_{scope}",
                list_runners,
                f"{doc}#list-self-hosted-runners-{anchor}",
            ),
            (
                "DELETE",
                prefix + "/actions/runners/{runner_id}",
                f"delete_runner_{scope}",
                delete_runner,
                f"{doc}#delete-a-self-hosted-runner-from-{anchor[4:]}",
            ),
            (
                "POST",
                prefix + "/actions/runners/registration-token",
                f"registration_token_{scope}",
                make_token("registration"),
                f"{doc}#create-a-registration-token-{anchor}",
            ),
            (
                "POST",
                prefix + "/actions/runners/remove-token",
                f"remove_token_{scope}",
                make_token("remove"),
                f"{doc}#create-a-remove-token-{anchor}",
            ),
        ]
    return routes


_SCOPE_ROUTES = _scope_routes()
