# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about Tailscale's SaaS API v2.

Private to the collection (the leading underscore): it may change in any release.

Sources: repository tailscale/tailscale ``publicapi/overview.md``,
``publicapi/device.md`` and ``publicapi/tailnet.md``; the OpenAPI document in
tailscale/tailscale-client-go-v2 ``tools/openapi/spec/tailscale-v2-openapi.yaml``
(``POST /device/{id}/name``, ``connectedToControl``); OAuth clients:
https://tailscale.com/kb/1215/oauth-clients and ``oauth.go`` of the Go client.

- Auth: an API access token as the Basic user name with an empty password, or
  as a Bearer token; an OAuth client trades its id and secret for a one-hour
  access token at ``POST /api/v2/oauth/token`` (client credentials grant).
- The tailnet ``-`` is the token's own tailnet.
- No endpoint pages: "All results are returned at once" (overview.md).
- Errors are ``{"message": ...}``; a policy POST whose ``If-Match`` no longer
  matches the ETag answers 412.
- Auth keys: the secret is in the create answer only. Its id is the third
  dash-separated part of the secret (``tskey-auth-<id>-<secret>``); a revoked
  or expired key reads ``"invalid": true``.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    Auth,
    quote_segment,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    TAILSCALE,
    TailnetError,
    device_facts,
    format_time,
    in_seconds,
    parse_time,
    short_name,
    sorted_unique,
)

TOKEN_PATH = "/api/v2/oauth/token"
DESCRIPTION_MAX = 50


class PolicyConflict(TailnetError):
    """The policy changed between our read and our write (HTTP 412)."""


def fetch_oauth_token(client, client_id, client_secret, scopes=None):
    """An access token for an OAuth client (client credentials grant).

    CLIENT is an ApiClient without auth on the API's base URL; the secret and
    the token it returns are registered with it for scrubbing.
    """
    client.add_secret(client_secret)
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "client_credentials",
    }
    if scopes:
        form["scope"] = " ".join(scopes)
    answer = client.request(
        "POST",
        TOKEN_PATH,
        data=urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = answer.body if isinstance(answer.body, dict) else {}
    token = body.get("access_token")
    if not token:
        raise ApiError(
            "POST",
            client.url(TOKEN_PATH),
            answer.status,
            "the token endpoint answered without an access_token",
            kind="decode",
        )
    client.add_secret(token)
    return token


def key_id_from_secret(secret):
    """The key id embedded in an auth key (``tskey-auth-<id>-<secret>``), or None."""
    parts = (secret or "").split("-")
    if len(parts) >= 4 and parts[0] == "tskey" and parts[2]:
        return parts[2]
    return None


def auth_for_token(token):
    """API access tokens go as the Basic user name, as the API docs show first."""
    return Auth.basic_key(token)


class TailscaleApi:
    """One tailnet on Tailscale's SaaS control plane."""

    control_plane = TAILSCALE

    def __init__(self, client, tailnet="-"):
        self.client = client
        self.tailnet = tailnet or "-"

    def describe(self):
        return f"the Tailscale tailnet {self.tailnet!r} at {self.client.base_url}"

    def _tailnet_path(self, *parts):
        tail = "/".join(quote_segment(p) for p in parts)
        return f"/api/v2/tailnet/{quote_segment(self.tailnet)}/{tail}"

    @staticmethod
    def _device_path(device_id, *parts):
        tail = "".join("/" + quote_segment(p) for p in parts)
        return f"/api/v2/device/{quote_segment(device_id)}{tail}"

    # Keys --------------------------------------------------------------------

    def list_keys(self, user=None):
        """Every auth key the credentials can see, with details (one GET per key).

        USER is a Headscale notion: Tailscale lists the token owner's keys.
        """
        answer = self.client.get(self._tailnet_path("keys"))
        keys = []
        for entry in answer.body.get("keys") or []:
            record = self.get_key(entry["id"])
            if record is not None and record.get("keyType", "auth") == "auth":
                keys.append(record)
        return keys

    def get_key(self, key_id):
        answer = self.client.get(
            self._tailnet_path("keys", key_id), allow_status=(404,)
        )
        return None if answer.status == 404 else answer.body

    def find_key(self, secret, user=None):
        key_id = key_id_from_secret(secret)
        return self.get_key(key_id) if key_id else None

    def key_by_id(self, key_id, user=None):
        return self.get_key(key_id)

    def create_key(
        self, reusable, ephemeral, preauthorized, tags, expiry_seconds, description
    ):
        create = {
            "reusable": bool(reusable),
            "ephemeral": bool(ephemeral),
            "preauthorized": bool(preauthorized),
        }
        if tags:
            create["tags"] = list(tags)
        body = {"capabilities": {"devices": {"create": create}}}
        if expiry_seconds:
            body["expirySeconds"] = int(expiry_seconds)
        if description:
            body["description"] = description
        record = self.client.post(self._tailnet_path("keys"), json=body).body or {}
        self.client.add_secret(record.get("key"))
        return record

    def expire_key(self, record):
        self.client.delete(self._tailnet_path("keys", record["id"]))

    @staticmethod
    def key_usable(record, margin_seconds=0):
        return key_usable(record, margin_seconds)

    def key_facts(self, record):
        create = (record.get("capabilities") or {}).get("devices", {}).get(
            "create"
        ) or {}
        expires = parse_time(record.get("expires"))
        return {
            "id": record.get("id"),
            "control_plane": TAILSCALE,
            "user": record.get("userId"),
            "reusable": bool(create.get("reusable")),
            "ephemeral": bool(create.get("ephemeral")),
            "preauthorized": bool(create.get("preauthorized")),
            "tags": sorted_unique(create.get("tags")),
            "description": record.get("description") or None,
            "created": record.get("created"),
            "expires": format_time(expires) if expires else None,
            # The API does not say whether a one-off key was used.
            "used": None,
            "valid": key_usable(record),
        }

    # Devices -----------------------------------------------------------------

    def list_devices(self):
        answer = self.client.get(self._tailnet_path("devices"), query={"fields": "all"})
        return [self._facts(d) for d in answer.body.get("devices") or []]

    def get_device(self, device_id):
        answer = self.client.get(
            self._device_path(device_id), query={"fields": "all"}, allow_status=(404,)
        )
        return None if answer.status == 404 else self._facts(answer.body)

    def _facts(self, device):
        fqdn = (device.get("name") or "").rstrip(".") or None
        return device_facts(
            id=device.get("nodeId") or str(device.get("id")),
            control_plane=TAILSCALE,
            name=short_name(fqdn) or device.get("hostname"),
            fqdn=fqdn,
            hostname=device.get("hostname"),
            addresses=device.get("addresses"),
            tags=device.get("tags"),
            online=device.get("connectedToControl"),
            last_seen=device.get("lastSeen") or None,
            os=device.get("os") or None,
            client_version=device.get("clientVersion") or None,
            authorized=bool(device.get("authorized")),
            key_expiry_disabled=bool(device.get("keyExpiryDisabled")),
            expires=device.get("expires"),
            routes={
                "advertised": device.get("advertisedRoutes"),
                "approved": device.get("enabledRoutes"),
            },
            user=device.get("user") or None,
            ephemeral=device.get("isEphemeral"),
            created=device.get("created") or None,
        )

    def with_routes(self, device):
        return device

    def settable_tags(self, device):
        return device["tags"]

    def approved_routes(self, device):
        return device["routes"]["approved"]

    def check_change(self, name, wanted, device):
        """Every device change has an endpoint on the SaaS API."""

    def set_tags(self, device, tags):
        self.client.post(self._device_path(device["id"], "tags"), json={"tags": tags})

    def set_routes(self, device, routes):
        self.client.post(
            self._device_path(device["id"], "routes"), json={"routes": routes}
        )

    def authorize(self, device, authorized):
        self.client.post(
            self._device_path(device["id"], "authorized"),
            json={"authorized": bool(authorized)},
        )

    def set_key_expiry_disabled(self, device, disabled):
        self.client.post(
            self._device_path(device["id"], "key"),
            json={"keyExpiryDisabled": bool(disabled)},
        )

    def rename(self, device, new_name):
        self.client.post(
            self._device_path(device["id"], "name"), json={"name": new_name}
        )

    def expire(self, device):
        self.client.post(self._device_path(device["id"], "expire"))

    def delete(self, device):
        self.client.delete(self._device_path(device["id"]))

    # Policy ------------------------------------------------------------------

    def get_policy(self):
        """(policy as data, ETag) -- asked as JSON, so comments are not kept."""
        answer = self.client.get(
            self._tailnet_path("acl"), headers={"Accept": "application/json"}
        )
        return answer.body, answer.header("ETag")

    def check_policy_writable(self):
        """The SaaS policy is always the API's to change."""

    def validate_policy(self, text):
        """None if the policy is valid, else the API's message (with its details)."""
        answer = self.client.post(
            self._tailnet_path("acl", "validate"),
            data=text.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        message = body.get("message")
        if not message:
            return None
        details = []
        for item in body.get("data") or []:
            who = item.get("user") or ""
            for problem in (item.get("errors") or []) + (item.get("warnings") or []):
                details.append(f"{who}: {problem}" if who else problem)
        return message + (": " + "; ".join(details) if details else "")

    def set_policy(self, text, etag=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if etag:
            headers["If-Match"] = etag
        try:
            self.client.request(
                "POST",
                self._tailnet_path("acl"),
                data=text.encode("utf-8"),
                headers=headers,
            )
        except ApiError as error:
            if error.status == 412:
                raise PolicyConflict(
                    "The tailnet policy was changed by someone else between this "
                    "module reading it and writing it (HTTP 412, ETag mismatch); "
                    "nothing was written. Run the task again to compare against "
                    "the new policy.",
                    field="policy",
                ) from None
            raise


def key_usable(record, margin_seconds=0):
    """Whether an auth key record is still valid for at least MARGIN_SECONDS."""
    if record.get("invalid"):
        return False
    expires = parse_time(record.get("expires"))
    return expires is None or expires > in_seconds(margin_seconds)
