"""A GitLab REST API v4 double: runners, the user runner endpoint, and what python-gitlab asks.

Shapes follow docs.gitlab.com (each route cites its page). Lists paginate the way
GitLab's offset pagination does: 20 per page by default, ``per_page`` up to 100,
``X-Next-Page``/``X-Total-Pages``/``Link`` headers. Errors carry GitLab's bodies:
``{"message": "401 Unauthorized"}``, ``{"message": "403 Forbidden"}``,
``{"message": "404 Group Not Found"}``, ``{"error": "..."}`` for parameter errors,
and 410 for the disabled registration-token flow. ``rate_limit()`` (the harness)
answers 429 with Retry-After, as GitLab's rate limiter does.
"""

from __future__ import annotations

import itertools
import json
import secrets
import urllib.request
from dataclasses import dataclass, field

from ansible_collections.glorious.flywheel.tests.doubles.harness import (
    Double,
    error_response,
    paginate,
    route,
)

RUNNERS_DOC = "https://docs.gitlab.com/api/runners/"
USER_RUNNER_DOC = "https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user"
LIST_FIELDS = (
    "id",
    "description",
    "ip_address",
    "active",
    "paused",
    "is_shared",
    "runner_type",
    "name",
    "online",
    "status",
)
ATTRIBUTES = (
    "paused",
    "tag_list",
    "run_untagged",
    "locked",
    "access_level",
    "maximum_timeout",
    "maintenance_note",
    "description",
)


@dataclass
class Runner:
    id: int
    description: str
    runner_type: str
    group_id: int | None = None
    project_id: int | None = None
    paused: bool = False
    tag_list: list = field(default_factory=list)
    run_untagged: bool = True
    locked: bool = False
    access_level: str = "not_protected"
    maximum_timeout: int | None = None
    maintenance_note: str | None = None
    token: str = ""
    # One of online, offline, stale, never_contacted (RUNNERS_DOC, "status" in the list
    # responses); a new runner has never contacted GitLab.
    status: str = "never_contacted"

    def listed(self):
        return {
            "id": self.id,
            "description": self.description,
            "ip_address": None,
            "active": not self.paused,
            "paused": self.paused,
            "is_shared": self.runner_type == "instance_type",
            "runner_type": self.runner_type,
            "name": None,
            "online": self.status == "online",
            "status": self.status,
        }

    def details(self):
        body = self.listed()
        body.update(
            tag_list=list(self.tag_list),
            run_untagged=self.run_untagged,
            locked=self.locked,
            access_level=self.access_level,
            maximum_timeout=self.maximum_timeout,
            maintenance_note=self.maintenance_note,
            contacted_at=None,
            maintenance_note_html=None,
            projects=[{"id": self.project_id}] if self.project_id else [],
            groups=[{"id": self.group_id}] if self.group_id else [],
        )
        return body


def new_runner_token():
    return "glrt-" + secrets.token_urlsafe(20)


class GitLab(Double):
    """GitLab with groups, projects, runners and two tokens: an admin and a member."""

    def __init__(
        self, groups=(42,), projects=(7,), legacy_registration=False, **kwargs
    ):
        super().__init__(auth=self.check_token, **kwargs)
        self.admin_token = "glpat-admin-" + secrets.token_hex(8)
        self.user_token = "glpat-user-" + secrets.token_hex(8)
        self.registration_token = "GR1348941" + secrets.token_hex(8)
        self.groups = set(groups)
        self.projects = set(projects)
        self.legacy_registration = legacy_registration
        self.runners: dict[int, Runner] = {}
        self._ids = itertools.count(1)

    # Auth ------------------------------------------------------------------

    def check_token(self, request):
        token = request.headers.get("PRIVATE-TOKEN")
        bearer = request.headers.get("Authorization", "")
        if not token and bearer.startswith("Bearer "):
            token = bearer[len("Bearer ") :]
        if token in (self.admin_token, self.user_token):
            return None
        return error_response(401, {"message": "401 Unauthorized"})

    def is_admin(self, request):
        return request.headers.get("PRIVATE-TOKEN") == self.admin_token

    # Helpers for tests -----------------------------------------------------

    def add_runner(self, description, runner_type="group_type", **attributes):
        runner_id = next(self._ids)
        if runner_type == "group_type":
            attributes.setdefault("group_id", min(self.groups))
        if runner_type == "project_type":
            attributes.setdefault("project_id", min(self.projects))
        runner = Runner(
            runner_id, description, runner_type, token=new_runner_token(), **attributes
        )
        self.runners[runner_id] = runner
        return runner

    def writes(self):
        return sum(1 for r in self.requests if r.method in ("POST", "PUT", "DELETE"))

    def tokens(self):
        return [r.token for r in self.runners.values()]

    def _runner(self, runner_id):
        try:
            return self.runners[int(runner_id)]
        except (KeyError, ValueError):
            return None

    def _apply(self, runner, body):
        unknown = sorted(set(body) - set(ATTRIBUTES) - {"active"})
        if unknown:
            return error_response(
                400, {"error": f"{unknown[0]} does not have a valid value"}
            )
        if body.get("access_level") not in (None, "not_protected", "ref_protected"):
            return error_response(
                400, {"error": "access_level does not have a valid value"}
            )
        timeout = body.get("maximum_timeout")
        if timeout is not None and int(timeout) < 600:
            return error_response(
                400,
                {"message": {"maximum_timeout": ["needs to be at least 10 minutes"]}},
            )
        tags = body.get("tag_list")
        if isinstance(tags, str):
            body["tag_list"] = [t.strip() for t in tags.split(",") if t.strip()]
        for name in ATTRIBUTES:
            if name in body:
                setattr(runner, name, body[name])
        if "active" in body and "paused" not in body:
            runner.paused = not body["active"]
        return None

    # Users API -------------------------------------------------------------

    @route("POST", "/api/v4/user/runners", source=USER_RUNNER_DOC)
    def create_user_runner(self, request):
        body = dict(request.get_json(silent=True) or request.form.to_dict())
        runner_type = body.pop("runner_type", None)
        if runner_type not in ("instance_type", "group_type", "project_type"):
            return error_response(
                400, {"error": "runner_type does not have a valid value"}
            )
        group_id = body.pop("group_id", None)
        project_id = body.pop("project_id", None)
        if runner_type == "group_type":
            if group_id is None:
                return error_response(400, {"error": "group_id is missing"})
            if not str(group_id).isdigit():
                return error_response(400, {"error": "group_id is invalid"})
            if int(group_id) not in self.groups:
                return error_response(403, {"message": "403 Forbidden"})
        if runner_type == "project_type":
            if project_id is None:
                return error_response(400, {"error": "project_id is missing"})
            if not str(project_id).isdigit():
                return error_response(400, {"error": "project_id is invalid"})
            if int(project_id) not in self.projects:
                return error_response(403, {"message": "403 Forbidden"})
        if runner_type == "instance_type" and not self.is_admin(request):
            return error_response(403, {"message": "403 Forbidden"})
        runner = Runner(
            next(self._ids),
            body.get("description", ""),
            runner_type,
            group_id=int(group_id) if group_id is not None else None,
            project_id=int(project_id) if project_id is not None else None,
            token=new_runner_token(),
        )
        rejection = self._apply(runner, body)
        if rejection is not None:
            return rejection
        self.runners[runner.id] = runner
        return 201, {"id": runner.id, "token": runner.token, "token_expires_at": None}

    @route(
        "GET",
        "/api/v4/user",
        source="https://docs.gitlab.com/api/users/#retrieve-the-current-user",
    )
    def current_user(self, request):
        admin = self.is_admin(request)
        return {
            "id": 1 if admin else 2,
            "username": "root" if admin else "member",
            "is_admin": admin,
        }

    @route("GET", "/api/v4/version", source="https://docs.gitlab.com/api/version/")
    def version(self, request):
        return {"version": "18.5.0-ee", "revision": "0000000"}

    @route(
        "GET",
        "/api/v4/groups/{group_id}",
        source="https://docs.gitlab.com/api/groups/#get-a-single-group",
    )
    def get_group(self, request, group_id):
        if not group_id.isdigit() or int(group_id) not in self.groups:
            return error_response(404, {"message": "404 Group Not Found"})
        return {
            "id": int(group_id),
            "name": f"group-{group_id}",
            "full_path": f"group-{group_id}",
        }

    @route(
        "GET",
        "/api/v4/projects/{project_id}",
        source="https://docs.gitlab.com/api/projects/#get-a-single-project",
    )
    def get_project(self, request, project_id):
        if not project_id.isdigit() or int(project_id) not in self.projects:
            return error_response(404, {"message": "404 Project Not Found"})
        return {"id": int(project_id), "name": f"project-{project_id}"}

    # Runners API -----------------------------------------------------------

    def _listing(self, request, runners):
        wanted_type = request.args.get("type")
        if wanted_type and wanted_type not in (
            "instance_type",
            "group_type",
            "project_type",
        ):
            return error_response(400, {"error": "type does not have a valid value"})
        chosen = [
            r.listed()
            for r in runners
            if not wanted_type or r.runner_type == wanted_type
        ]
        return paginate(request, chosen, style="gitlab")

    @route("GET", "/api/v4/runners/all", source=RUNNERS_DOC + "#list-all-runners")
    def list_all(self, request):
        if not self.is_admin(request):
            return error_response(403, {"message": "403 Forbidden"})
        return self._listing(request, sorted(self.runners.values(), key=lambda r: r.id))

    @route(
        "GET",
        "/api/v4/groups/{group_id}/runners",
        source=RUNNERS_DOC + "#list-groups-runners",
    )
    def list_group(self, request, group_id):
        if not group_id.isdigit() or int(group_id) not in self.groups:
            return error_response(404, {"message": "404 Group Not Found"})
        chosen = [
            r
            for r in sorted(self.runners.values(), key=lambda r: r.id)
            if r.group_id == int(group_id) or r.runner_type == "instance_type"
        ]
        return self._listing(request, chosen)

    @route(
        "GET",
        "/api/v4/projects/{project_id}/runners",
        source=RUNNERS_DOC + "#list-projects-runners",
    )
    def list_project(self, request, project_id):
        if not project_id.isdigit() or int(project_id) not in self.projects:
            return error_response(404, {"message": "404 Project Not Found"})
        chosen = [
            r
            for r in sorted(self.runners.values(), key=lambda r: r.id)
            if r.project_id == int(project_id) or r.runner_type == "instance_type"
        ]
        return self._listing(request, chosen)

    @route(
        "POST",
        "/api/v4/runners/verify",
        source=RUNNERS_DOC + "#verify-authentication-for-a-registered-runner",
        auth=False,
    )
    def verify(self, request):
        token = (request.get_json(silent=True) or {}).get("token")
        for runner in self.runners.values():
            if runner.token == token:
                return {"id": runner.id, "token": token, "token_expires_at": None}
        return error_response(403, {"message": "403 Forbidden"})

    @route(
        "POST",
        "/api/v4/jobs/request",
        # namespace 'jobs', post '/request': 201 a job, 204 no job, 403 a bad token.
        source="https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/api/ci/runner.rb",
        auth=False,
    )
    def request_job(self, request):
        """A runner manager's job poll: its contact makes the runner ``online``."""
        token = (request.get_json(silent=True) or {}).get("token")
        for runner in self.runners.values():
            if token and runner.token == token:
                runner.status = "online"
                return None  # 204 No Content: no job for this runner
        return error_response(403, {"message": "403 Forbidden"})

    def contact_all(self):
        """What each runner manager's first poll does, for runners kwok pods cannot run."""
        for runner in list(self.runners.values()):
            poll = urllib.request.Request(
                f"{self.url}/api/v4/jobs/request",
                data=json.dumps({"token": runner.token}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(poll, timeout=5) as answer:
                assert answer.status == 204, answer.status

    @route(
        "POST", "/api/v4/runners", source=RUNNERS_DOC + "#create-a-runner", auth=False
    )
    def register_legacy(self, request):
        body = dict(request.get_json(silent=True) or {})
        if not self.legacy_registration:
            return error_response(410, {"message": "410 Gone"})
        if body.pop("token", None) != self.registration_token:
            return error_response(403, {"message": "403 Forbidden"})
        runner = Runner(
            next(self._ids),
            body.get("description", ""),
            "instance_type",
            token=new_runner_token(),
        )
        rejection = self._apply(runner, body)
        if rejection is not None:
            return rejection
        self.runners[runner.id] = runner
        return 201, {"id": runner.id, "token": runner.token, "token_expires_at": None}

    @route(
        "GET",
        "/api/v4/runners/{runner_id}",
        source=RUNNERS_DOC + "#get-runners-details",
    )
    def get_runner(self, request, runner_id):
        if runner_id == "all":  # /runners/all matches this template too
            return self.list_all(request)
        runner = self._runner(runner_id)
        if runner is None:
            return error_response(404, {"message": "404 Runner Not Found"})
        return runner.details()

    @route(
        "PUT",
        "/api/v4/runners/{runner_id}",
        source=RUNNERS_DOC + "#update-runners-details",
    )
    def update_runner(self, request, runner_id):
        runner = self._runner(runner_id)
        if runner is None:
            return error_response(404, {"message": "404 Runner Not Found"})
        body = dict(request.get_json(silent=True) or request.form.to_dict())
        rejection = self._apply(runner, body)
        if rejection is not None:
            return rejection
        return runner.details()

    @route(
        "DELETE", "/api/v4/runners/{runner_id}", source=RUNNERS_DOC + "#delete-a-runner"
    )
    def delete_runner(self, request, runner_id):
        if self._runner(runner_id) is None:
            return error_response(404, {"message": "404 Runner Not Found"})
        del self.runners[int(runner_id)]
        return None

    @route(
        "POST",
        "/api/v4/runners/{runner_id}/reset_authentication_token",
        source=RUNNERS_DOC
        + "#reset-runners-authentication-token-by-using-the-runner-id",
    )
    def reset_token(self, request, runner_id):
        runner = self._runner(runner_id)
        if runner is None:
            return error_response(404, {"message": "404 Runner Not Found"})
        runner.token = new_runner_token()
        return 201, {"token": runner.token, "token_expires_at": None}
