# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether the runners the cluster runs are online at their forge.

Private to the collection (the leading underscore): it may change in any release.

One *check* per enrollment, in the expanded shape of ``_enrollment.expand`` plus a
token: ``{"pool", "name", "forge": {"type", "scope", "target", "url"}, "token"}``
(GitHub's REST root is derived from ``url`` unless ``forge.api_url`` gives it).
The runner the platform registered for an enrollment carries the enrollment's name: the
GitLab runner's ``description`` (roles/gitlab_runner), the Forgejo runner's ``name``
(roles/forgejo_runner), the ARC scale set's ``runnerScaleSetName`` (roles/arc), which
GitHub lists as a label of every runner of the set. Used by ``flywheel_health`` and by
the dashboard, so both read the same answer.

What counts as online, per forge:

- GitLab: ``status`` ``online`` (the others: ``offline``, ``stale``,
  ``never_contacted``), https://docs.gitlab.com/api/runners/#list-owned-runners
- Forgejo: ``status`` ``idle`` or ``active`` (``offline`` otherwise), Gitea: ``online``
  (modules/structs/action.go of each; see _forgejo.runner_facts)
- GitHub: ``status`` ``online``,
  https://docs.github.com/en/rest/actions/self-hosted-runners#list-self-hosted-runners-for-an-organization

GitLab and Forgejo runner managers are long-lived, so an enrolled runner that is not
online is a problem. ARC runners are ephemeral (zero of them is normal for an idle scale
set with ``minRunners: 0``), so GitHub's answer is reported, never judged.
"""

from __future__ import annotations

from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _forgejo,
    _github,
    _gitlab,
    _health,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    Auth,
    quote_segment,
)

FORGES = ("gitlab", "forgejo", "github")
ONLINE = {
    "gitlab": ("online",),
    "forgejo": ("online", "idle", "active"),
    "github": ("online",),
}
CHECK_KEYS = ("pool", "name", "forge", "token")

# Outcomes of one check.
ONLINE_ALL = "online"
SOME_OFFLINE = "some_offline"
NONE_ONLINE = "none_online"
REPORTED = "reported"
UNREACHABLE = "unreachable"


class CheckError(ValueError):
    """A check is malformed; the message names the entry and the field."""


def validate(checks):
    """CHECKS as a list of dicts with every key; raises CheckError naming what is wrong."""
    if not isinstance(checks, list):
        raise CheckError("forge_runners must be a list of checks")
    for index, check in enumerate(checks):
        where = f"forge_runners[{index}]"
        if not isinstance(check, dict):
            raise CheckError(f"{where} must be a mapping, got {type(check).__name__}")
        missing = [key for key in CHECK_KEYS[:3] if not check.get(key)]
        if missing:
            raise CheckError(f"{where} needs {', '.join(missing)}")
        forge = check["forge"]
        if not isinstance(forge, dict) or forge.get("type") not in FORGES:
            raise CheckError(
                f"{where}.forge.type must be one of {', '.join(FORGES)} "
                "(an entry of flywheel_enrollments, expanded)"
            )
        if not forge.get("url") or not forge.get("scope"):
            raise CheckError(f"{where}.forge needs url and scope")
        if forge.get("scope") != "instance" and not forge.get("target"):
            raise CheckError(
                f"{where}.forge.target is required for a {forge['scope']} scope"
            )
    return checks


def github_api_url(url):
    """The REST root of a GitHub web URL: api.github.com, or /api/v3 on GitHub Enterprise Server."""
    url = url.rstrip("/")
    if url in ("https://github.com", "http://github.com"):
        return _github.DEFAULT_API_URL
    if url.endswith("/api/v3") or "//api." in url:
        return url
    return url + "/api/v3"


def _client(
    url, auth, timeout, retries, headers=None, validate_certs=True, ca_path=None
):
    # A probe's client: short deadline, as for every other health probe.
    return _health.http_client(
        url,
        timeout,
        retries,
        validate_certs=validate_certs,
        ca_path=ca_path,
        auth=auth,
        headers=headers,
    )


def _gitlab_runners(forge, token, **options):
    api = _gitlab.GitLabRunners(
        _client(forge["url"], Auth.private_token(token), **options)
    )
    scope = forge["scope"]
    if scope == "instance":
        path, query = _gitlab.list_path("instance_type")
    else:
        # GitLab takes "the ID or URL-encoded path" of a group or project here.
        kind = "groups" if scope == "group" else "projects"
        path = _gitlab.api_path(f"{kind}/{quote_segment(str(forge['target']))}/runners")
        query = {"type": f"{scope}_type"}
    listed = api.client.get_all(
        path, query=query, style="x-next-page", per_page=_gitlab.PER_PAGE
    )
    return [
        {
            "name": runner.get("description"),
            "status": runner.get("status"),
            "paused": runner.get("paused"),
        }
        for runner in listed
    ]


def _forgejo_runners(forge, token, **options):
    client = _client(_forgejo.api_root(forge["url"]), Auth.token(token), **options)
    kinds = {
        "repo": "repository",
        "org": "organization",
        "user": "user",
        "instance": "instance",
    }
    scope = _forgejo.Scope(kinds[forge["scope"]], forge.get("target") or "")
    return [
        {"name": facts["name"], "status": facts["status"], "busy": facts["busy"]}
        for facts in map(
            _forgejo.runner_facts, _forgejo.ForgejoActions(client).runners(scope)
        )
    ]


def _github_runners(forge, token, **options):
    client = _client(
        forge.get("api_url") or github_api_url(forge["url"]),
        Auth.bearer(token),
        headers=_github.HEADERS,
        **options,
    )
    kinds = {"repo": "repository", "org": "organization", "enterprise": "enterprise"}
    prefix = _github.scope_prefix(kinds[forge["scope"]], str(forge["target"]))
    return [
        {
            "name": facts["name"],
            "status": facts["status"],
            "busy": facts["busy"],
            "labels": facts["labels"],
        }
        for facts in map(
            _github.runner_facts, _github.GitHubActions(client).runners(prefix)
        )
    ]


LISTERS = {
    "gitlab": _gitlab_runners,
    "forgejo": _forgejo_runners,
    "github": _github_runners,
}


def probe(check, timeout=5, retries=1, validate_certs=True, ca_path=None):
    """The forge's view of one enrollment's runners.

    ``{"pool", "enrollment", "forge", "scope", "outcome", "message", "online",
    "offline"}``; ``outcome`` is one of ONLINE_ALL, SOME_OFFLINE, NONE_ONLINE (GitLab,
    Forgejo), REPORTED (GitHub) or UNREACHABLE. Never raises for an API failure and never
    returns the token.
    """
    forge = check["forge"]
    kind = forge["type"]
    scope = (
        forge["scope"]
        if forge["scope"] == "instance"
        else f"{forge['scope']} {forge.get('target')}"
    )
    result = {
        "pool": check["pool"],
        "enrollment": check["name"],
        "forge": kind,
        "url": forge["url"],
        "scope": scope,
        "online": [],
        "offline": [],
    }
    token = check.get("token") or ""
    if not token:
        return dict(
            result,
            outcome=UNREACHABLE,
            message=f"no API token for {kind} enrollment {check['name']}: set the forge's token",
        )
    try:
        runners = LISTERS[kind](
            forge,
            token,
            timeout=timeout,
            retries=retries,
            validate_certs=validate_certs,
            ca_path=ca_path,
        )
    except ApiError as error:
        return dict(
            result,
            outcome=UNREACHABLE,
            message=f"{kind} {scope}: {error}",
            http_status=error.status,
        )
    except (ValueError, _forgejo.ForgejoInputError, _github.GitHubInputError) as error:
        return dict(result, outcome=UNREACHABLE, message=f"{kind} {scope}: {error}")
    if kind == "github":
        ours = [r for r in runners if check["name"] in (r.get("labels") or [])]
    else:
        ours = [r for r in runners if r.get("name") == check["name"]]
    for runner in ours:
        online = runner.get("status") in ONLINE[kind] and not runner.get("paused")
        result["online" if online else "offline"].append(
            {
                "name": runner.get("name"),
                "status": runner.get("status"),
                "busy": runner.get("busy"),
            }
        )
    online, offline = len(result["online"]), len(result["offline"])
    if kind == "github":
        outcome = REPORTED
        message = f"{online} runner(s) of scale set {check['name']} online at GitHub, {offline} offline"
    elif not ours:
        outcome = NONE_ONLINE
        message = f"no runner named {check['name']} at {kind} {scope}"
    elif not online:
        outcome = NONE_ONLINE
        message = f"runner {check['name']} is not online at {kind} {scope} ({', '.join(r['status'] or '?' for r in result['offline'])})"
    elif offline:
        outcome = SOME_OFFLINE
        message = f"{online} of {online + offline} runners named {check['name']} online at {kind} {scope}"
    else:
        outcome = ONLINE_ALL
        message = f"runner {check['name']} online at {kind} {scope}"
    return dict(result, outcome=outcome, message=message)
