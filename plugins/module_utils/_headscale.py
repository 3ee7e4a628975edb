# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about Headscale's REST API.

Private to the collection (the leading underscore): it may change in any release.

Headscale serves its gRPC API as JSON through grpc-gateway under ``/api/v1``
(lowerCamelCase fields, uint64 ids as strings, RFC 3339 times), authenticated
with ``Authorization: Bearer <api key>``. Routes and shapes, from repository
juanfont/headscale (``proto/headscale/v1/*.proto``, ``hscontrol/grpcv1.go``) at
the tags named, and checked against real servers in tests/lab:

- ``GET /version`` (``hscontrol/handlers.go: VersionHandler``) exists from 0.27;
  older servers answer 404 and are told apart by ``GET /api/v1/routes``, which
  0.26 removed (CHANGELOG 0.26.0, "Route API and CLI has been removed").
- Pre-auth keys (``preauthkey.proto``): up to 0.25 ``user`` is the user's name
  in create, list (``?user=``) and expire (``{user, key}``); 0.26 and 0.27 take
  the numeric user id there instead (CHANGELOG 0.26.0, #2542); from 0.28 keys
  are listed all at once, expired by ``{id}`` and deleted by ``?id=``, and the
  secret is shown only when created (#2853, #2992). Before 0.28 a listing
  carries every key in clear, so listings never leave this file unscrubbed.
- Nodes (``node.proto``): tags are ``forcedTags``/``validTags`` up to 0.27 and
  ``tags`` from 0.28 (#2993); routes are approved with
  ``POST /api/v1/node/{id}/approve_routes`` from 0.26, and enabled one by one
  through ``/api/v1/routes/{id}/enable|disable`` before; ``POST
  /api/v1/node/{id}/expire`` takes an ``expiry`` time from 0.27.1 (CHANGELOG
  0.27.1, "Expire nodes with a custom timestamp"). A node whose expiry is unset
  or Go's zero time never expires (``hscontrol/types/node.go: IsExpired``).
- Policy (``policy.proto``, ``grpcv1.go: GetPolicy/SetPolicy``): ``GET``/``PUT
  /api/v1/policy`` with ``{policy: <HuJSON text>}``; a PUT only works with
  ``policy.mode: database`` (``types.ErrPolicyUpdateIsDisabled``).

The API reports neither a node's OS nor its client version: those facts are null.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

import re

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    quote_segment,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    HEADSCALE,
    TailnetError,
    Unsupported,
    device_facts,
    format_time,
    in_seconds,
    parse_time,
    sorted_unique,
)

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
# The newest shape this file speaks; a server reporting no usable version
# ("dev", "unknown") is probed for the 0.28 key listing instead.
LATEST = (0, 28, 0)
# Go's zero time: "no expiry" for a node (hscontrol/types/node.go: IsExpired).
NEVER = "0001-01-01T00:00:00Z"
# hscontrol/types/policy.go: ErrPolicyUpdateIsDisabled.
POLICY_FILE_MODE = "update is disabled for modes other than 'database'"
# hscontrol/db/preauth_keys.go: "hskey-auth-" + 12-character prefix + "-" + secret.
_NEW_KEY = re.compile(r"^hskey-auth-([A-Za-z0-9_-]{12})-")
# The default Headscale's own CLI uses (`headscale preauthkeys create --expiration`).
DEFAULT_KEY_SECONDS = 3600


def parse_version(text):
    """(major, minor, patch) from a version string like ``v0.27.1``; None if none."""
    match = _VERSION.search(text or "")
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def version_text(version):
    return "{}.{}.{}".format(*version)


class HeadscaleApi:
    """One Headscale server, spoken to in the shape of its version."""

    control_plane = HEADSCALE

    def __init__(self, client, base_domain=None, version=None):
        self.client = client
        self.base_domain = (base_domain or "").strip(".") or None
        self._version = version
        self._probed = False
        self._raw_nodes = {}
        self._policy_in_file = False

    # Version -----------------------------------------------------------------

    @property
    def version(self):
        if self._version is None:
            self._version = self._detect_version()
        return self._version

    def _detect_version(self):
        answer = self.client.get("/version", allow_status=(404,))
        if answer.status == 200 and isinstance(answer.body, dict):
            version = parse_version(answer.body.get("version"))
            if version:
                return version
            # A build without a release version: 0.28 lists keys without a user.
            probe = self.client.get("/api/v1/preauthkey", allow_status=(400, 404, 500))
            return LATEST if probe.status == 200 else (0, 27, 0)
        self._probed = True
        routes = self.client.get("/api/v1/routes", allow_status=(404, 501))
        return (0, 25, 0) if routes.status == 200 else (0, 26, 0)

    def at_least(self, *version):
        return self.version >= tuple(version)

    def describe(self):
        version = self.version
        if self._probed:
            label = "0.25 or older" if version < (0, 26) else "0.26"
        else:
            label = version_text(version)
        return f"Headscale {label} at {self.client.base_url}"

    def unsupported(self, what, since, field):
        return Unsupported(
            f"{what} needs Headscale {since} or later; {self.describe()} has no API "
            "for it.",
            field=field,
        )

    # Users -------------------------------------------------------------------

    def users(self):
        return self.client.get("/api/v1/user").body.get("users") or []

    def find_user(self, user):
        """The user named USER (or whose numeric id is USER); TailnetError if none."""
        users = self.users()
        wanted = str(user)
        for candidate in users:
            if candidate.get("name") == wanted:
                return candidate
        for candidate in users:
            if str(candidate.get("id")) == wanted:
                return candidate
        known = ", ".join(sorted(u.get("name", "") for u in users)) or "none"
        raise TailnetError(
            f"user: {self.describe()} has no user {wanted!r} (users: {known}). "
            "Create it with `headscale users create` or fix the name.",
            field="user",
        )

    def _user_ref(self, user):
        """How this version names a user in pre-auth key calls: name, then id."""
        if self.at_least(0, 26):
            return str(user["id"])
        return user["name"]

    # Pre-auth keys -----------------------------------------------------------

    def list_keys(self, user=None):
        """Raw key records (secrets included before 0.28: never return them as is)."""
        if self.at_least(0, 28):
            keys = self.client.get("/api/v1/preauthkey").body.get("preAuthKeys") or []
            if user is not None:
                keys = [k for k in keys if _key_user_id(k) == str(user["id"])]
            return keys
        users = [user] if user is not None else self.users()
        keys = []
        for owner in users:
            answer = self.client.get(
                "/api/v1/preauthkey", query={"user": self._user_ref(owner)}
            )
            for key in answer.body.get("preAuthKeys") or []:
                # Up to 0.25 `user` is the name; keep the whole user either way.
                key["user"] = owner
                keys.append(key)
        return keys

    def create_key(self, user, reusable, ephemeral, tags, expiry_seconds):
        if user is None and not self.at_least(0, 28):
            raise TailnetError(
                f"user is required: {self.describe()} makes every pre-auth key for "
                "a user (tag-only keys came in 0.28).",
                field="user",
            )
        body = {
            "reusable": bool(reusable),
            "ephemeral": bool(ephemeral),
            "expiration": format_time(
                in_seconds(expiry_seconds or DEFAULT_KEY_SECONDS)
            ),
            "aclTags": list(tags or []),
        }
        if user is not None:
            body["user"] = self._user_ref(user)
        answer = self.client.post("/api/v1/preauthkey", json=body)
        record = answer.body.get("preAuthKey") or {}
        self.client.add_secret(record.get("key"))
        if user is not None and not isinstance(record.get("user"), dict):
            record["user"] = user
        return record

    def find_key(self, secret, user=None):
        """The raw record of the key whose secret is SECRET, or None."""
        match = _NEW_KEY.match(secret)
        shown = f"hskey-auth-{match.group(1)}-***" if match else None
        for record in self.list_keys(user):
            if record.get("key") == secret or (shown and record.get("key") == shown):
                return record
        return None

    def key_by_id(self, key_id, user=None):
        for record in self.list_keys(user):
            if str(record.get("id")) == str(key_id):
                return record
        return None

    def expire_key(self, record):
        if self.at_least(0, 28):
            body = {"id": str(record["id"])}
        else:
            body = {"user": self._user_ref(record["user"]), "key": record["key"]}
        self.client.post("/api/v1/preauthkey/expire", json=body)

    @staticmethod
    def key_usable(record, margin_seconds=0):
        return key_usable(record, margin_seconds)

    def key_facts(self, record):
        """A key record without its secret, in the shape both control planes share."""
        expiration = parse_time(record.get("expiration"))
        user = record.get("user")
        return {
            "id": str(record.get("id")),
            "control_plane": HEADSCALE,
            "user": user.get("name") if isinstance(user, dict) else user,
            "reusable": bool(record.get("reusable")),
            "ephemeral": bool(record.get("ephemeral")),
            "preauthorized": True,
            "tags": sorted_unique(record.get("aclTags")),
            "description": None,
            "created": record.get("createdAt"),
            "expires": format_time(expiration) if expiration else None,
            "used": bool(record.get("used")),
            "valid": key_usable(record),
        }

    # Nodes -------------------------------------------------------------------

    def list_devices(self):
        nodes = self.client.get("/api/v1/node").body.get("nodes") or []
        return [self._facts(node) for node in nodes]

    def get_device(self, device_id):
        if not str(device_id).isdigit():
            return None
        answer = self.client.get(
            f"/api/v1/node/{quote_segment(device_id)}", allow_status=(404,)
        )
        if answer.status == 404:
            return None
        return self._facts(answer.body.get("node") or {})

    def _facts(self, node):
        node_id = str(node.get("id"))
        self._raw_nodes[node_id] = node
        if self.at_least(0, 28):
            tags = node.get("tags")
        else:
            tags = (node.get("validTags") or []) + (node.get("forcedTags") or [])
        name = node.get("givenName") or node.get("name")
        expiry = parse_time(node.get("expiry"))
        key = node.get("preAuthKey") or {}
        user = node.get("user") or {}
        return device_facts(
            id=node_id,
            control_plane=HEADSCALE,
            name=name,
            fqdn=f"{name}.{self.base_domain}" if name and self.base_domain else None,
            hostname=node.get("name"),
            addresses=node.get("ipAddresses"),
            tags=tags,
            online=bool(node.get("online")),
            last_seen=node.get("lastSeen"),
            authorized=True,
            key_expiry_disabled=expiry is None,
            expires=format_time(expiry) if expiry else None,
            routes={
                "advertised": node.get("availableRoutes"),
                "approved": node.get("approvedRoutes"),
            },
            user=user.get("name"),
            ephemeral=bool(key.get("ephemeral")) if key else None,
            created=node.get("createdAt"),
        )

    def settable_tags(self, device):
        """The tags a SetTags call replaces: forced tags before 0.28, all after."""
        if self.at_least(0, 28):
            return device["tags"]
        return sorted_unique(self._raw_nodes.get(device["id"], {}).get("forcedTags"))

    def approved_routes(self, device):
        if self.at_least(0, 26):
            return device["routes"]["approved"]
        return sorted_unique(
            r["prefix"] for r in self._node_routes(device["id"]) if r.get("enabled")
        )

    def _node_routes(self, device_id):
        answer = self.client.get(f"/api/v1/node/{quote_segment(device_id)}/routes")
        return answer.body.get("routes") or []

    def with_routes(self, device):
        """DEVICE with its routes filled in where the node listing lacks them (0.25)."""
        if self.at_least(0, 26):
            return device
        routes = self._node_routes(device["id"])
        device["routes"] = {
            "advertised": sorted_unique(
                r["prefix"] for r in routes if r.get("advertised")
            ),
            "approved": sorted_unique(r["prefix"] for r in routes if r.get("enabled")),
        }
        return device

    def check_change(self, name, wanted, device):
        """Raises Unsupported if this server cannot make change NAME; else None."""
        if name == "authorized" and wanted is False:
            raise Unsupported(
                "authorized: Headscale has no device approval: every registered "
                "node is authorized. Remove the node (state: absent) or expire it "
                "(expire: true) to cut it off.",
                field="authorized",
            )
        if name == "key_expiry_disabled":
            if not wanted:
                raise Unsupported(
                    "key_expiry_disabled: false: Headscale has no API to re-enable a "
                    "node's key expiry; the node gets one again when it logs in "
                    "anew. Use expire: true to expire it now.",
                    field="key_expiry_disabled",
                )
            if not self.at_least(0, 27, 1):
                raise self.unsupported(
                    "Disabling key expiry (an expire call with a time)",
                    "0.27.1",
                    "key_expiry_disabled",
                )
        if name == "tags" and not wanted and self.at_least(0, 28):
            raise Unsupported(
                "tags: Headscale 0.28 and later cannot remove every tag from a "
                "node: tagged nodes stay tagged. Give at least one tag.",
                field="tags",
            )
        if name == "routes" and not self.at_least(0, 26):
            advertised = set(device["routes"]["advertised"])
            missing = sorted(set(wanted) - advertised)
            if missing:
                raise Unsupported(
                    f"routes: {self.describe()} can only enable routes a node "
                    f"advertises, and {device['name']} does not advertise "
                    f"{', '.join(missing)} (approving routes ahead came in 0.26).",
                    field="routes",
                )

    def set_tags(self, device, tags):
        self.client.post(
            f"/api/v1/node/{quote_segment(device['id'])}/tags", json={"tags": tags}
        )

    def set_routes(self, device, routes):
        if self.at_least(0, 26):
            self.client.post(
                f"/api/v1/node/{quote_segment(device['id'])}/approve_routes",
                json={"routes": routes},
            )
            return
        wanted = set(routes)
        for route in self._node_routes(device["id"]):
            enable = route["prefix"] in wanted
            if bool(route.get("enabled")) != enable:
                action = "enable" if enable else "disable"
                self.client.post(
                    f"/api/v1/routes/{quote_segment(route['id'])}/{action}"
                )

    def set_key_expiry_disabled(self, device, disabled):
        self.client.post(
            f"/api/v1/node/{quote_segment(device['id'])}/expire",
            query={"expiry": NEVER},
        )

    def rename(self, device, new_name):
        self.client.post(
            f"/api/v1/node/{quote_segment(device['id'])}/rename/"
            f"{quote_segment(new_name)}"
        )

    def expire(self, device):
        self.client.post(f"/api/v1/node/{quote_segment(device['id'])}/expire")

    def delete(self, device):
        self.client.delete(f"/api/v1/node/{quote_segment(device['id'])}")

    # Policy ------------------------------------------------------------------

    def get_policy(self):
        """(HuJSON text or None when the database holds none yet, etag=None).

        Only a policy kept in the database has an ``updatedAt``
        (``grpcv1.go: GetPolicy``); without one the server reads a file.
        """
        try:
            answer = self.client.get("/api/v1/policy")
        except ApiError as error:
            message = error.message or ""
            # GetPolicy wraps gorm's "acl policy not found" (code 2, HTTP 500).
            if error.status == 500 and "policy not found" in message:
                return None, None
            if error.status == 500 and "reading policy from path" in message:
                self._policy_in_file = True
                return None, None
            raise
        self._policy_in_file = not answer.body.get("updatedAt")
        return answer.body.get("policy") or None, None

    def check_policy_writable(self):
        if self._policy_in_file:
            raise self._policy_file_error()

    def _policy_file_error(self):
        return Unsupported(
            f"{self.describe()} keeps its policy in a file (policy.mode: file), so "
            "the API cannot change it. Either edit the file named by policy.path and "
            "restart or reload Headscale, or set policy.mode: database in its "
            "configuration to manage the policy with this module.",
            field="policy",
        )

    def set_policy(self, text, etag=None):
        try:
            self.client.put("/api/v1/policy", json={"policy": text})
        except ApiError as error:
            if POLICY_FILE_MODE in (error.message or ""):
                raise self._policy_file_error() from None
            raise


def _key_user_id(record):
    user = record.get("user")
    return str(user.get("id")) if isinstance(user, dict) else None


def key_usable(record, margin_seconds=0):
    """Whether a key record can still join a node (not expired, not used up).

    No expiration means none (``types.PreAuthKey.Validate``); Go's zero time is
    in the past, so such a key has expired.
    """
    raw = record.get("expiration")
    expiration = parse_time(raw)
    if raw and expiration is None:
        return False
    if expiration is not None and expiration <= in_seconds(margin_seconds):
        return False
    return bool(record.get("reusable")) or not record.get("used")
