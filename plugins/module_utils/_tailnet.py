# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the two tailnet control planes share: errors, input checks, device facts.

Private to the collection (the leading underscore): it may change in any release.

The API knowledge lives next door, one file per API: ``_headscale.py`` (a
self-hosted Headscale) and ``_tailscale_saas.py`` (Tailscale's SaaS API v2).
Both turn their answers into the same normalised device facts, built here by
:func:`device_facts`, so modules, the inventory plugin and playbooks never care
which control plane answered.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

HEADSCALE = "headscale"
TAILSCALE = "tailscale"
CONTROL_PLANES = (HEADSCALE, TAILSCALE)
SAAS_URL = "https://api.tailscale.com"
SAAS_HOSTS = ("api.tailscale.com",)

# Environment variables read when an option is not set. The *_URL/*_API_KEY
# names are the ones `hack/lab env` and the headscale role write.
ENV_HEADSCALE_URL = "HEADSCALE_URL"
ENV_HEADSCALE_KEY = "HEADSCALE_API_KEY"
ENV_TAILSCALE_URL = "TAILSCALE_API_URL"
ENV_TAILSCALE_KEY = "TAILSCALE_API_KEY"
ENV_OAUTH_ID = "TAILSCALE_OAUTH_CLIENT_ID"
ENV_OAUTH_SECRET = "TAILSCALE_OAUTH_CLIENT_SECRET"

# Headscale's own check (hscontrol/grpcv1.go: validateTag) and Tailscale's tag
# syntax (https://tailscale.com/kb/1068/tags): "tag:" then a lowercase name.
_TAG = re.compile(r"^tag:[a-z0-9][a-z0-9_-]*$", re.IGNORECASE)
_ZERO_TIME = re.compile(r"^0001-01-01T00:00:00(\.0+)?Z$")
_FRACTION = re.compile(r"\.(\d+)")

# The normalised facts of one device, the same keys on both control planes.
DEVICE_FACTS = (
    "id",
    "control_plane",
    "name",
    "fqdn",
    "hostname",
    "addresses",
    "ipv4",
    "ipv6",
    "tags",
    "online",
    "last_seen",
    "os",
    "client_version",
    "authorized",
    "key_expiry_disabled",
    "expires",
    "expired",
    "routes",
    "user",
    "ephemeral",
    "created",
)


class TailnetError(Exception):
    """Bad input or a state the module cannot act on; ``field`` names the option."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class Unsupported(TailnetError):
    """The control plane (or its version) has no API for what was asked."""


def parse_time(value):
    """An RFC 3339 timestamp (Go's, with nanoseconds or ``Z``) as an aware datetime.

    None, an empty string and Go's zero time (``0001-01-01T00:00:00Z``) give None.
    """
    if not value or _ZERO_TIME.match(value):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python before 3.11 reads at most 6 fraction digits; Go writes up to 9.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_time(moment):
    """An aware datetime as the RFC 3339 text both APIs accept."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now():
    return datetime.now(timezone.utc)


def in_seconds(seconds):
    return now() + timedelta(seconds=seconds)


def check_tags(tags, field="tags"):
    """TAGS as a list, or TailnetError naming the first bad one and the fix."""
    if tags is None:
        return None
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not _TAG.match(tag):
            hint = ""
            if isinstance(tag, str) and _TAG.match("tag:" + tag):
                hint = f" Write it as 'tag:{tag}'."
            raise TailnetError(
                f"{field}[{index}] {tag!r} is not a tag: tags start with 'tag:' "
                f"followed by letters, digits, '-' or '_' (for example "
                f"'tag:server').{hint}",
                field=field,
            )
    return list(tags)


def check_routes(routes, field="routes"):
    """ROUTES as canonical CIDR strings, or TailnetError naming the bad one."""
    if routes is None:
        return None
    canonical = []
    for index, route in enumerate(routes):
        try:
            network = ipaddress.ip_network(str(route), strict=True)
        except ValueError as exc:
            try:
                suggestion = ipaddress.ip_network(str(route), strict=False)
            except ValueError:
                suggestion = None
            hint = f" Did you mean {suggestion}?" if suggestion else ""
            raise TailnetError(
                f"{field}[{index}] {route!r} is not a network in CIDR notation "
                f"({exc}).{hint}",
                field=field,
            ) from None
        canonical.append(str(network))
    return canonical


def sorted_unique(values):
    return sorted(set(values or ()))


def split_addresses(addresses):
    """(first IPv4, first IPv6) of ADDRESSES; None where there is none.

    The control servers write addresses canonically, so telling the families
    apart by the colon is enough (and thousands of devices stay fast).
    """
    ipv4 = ipv6 = None
    for address in addresses or ():
        if ":" in address:
            ipv6 = ipv6 or address
        elif address:
            ipv4 = ipv4 or address
    return ipv4, ipv6


def device_facts(**facts):
    """One device's normalised facts: every key of DEVICE_FACTS, derived ones filled."""
    device = {key: facts.get(key) for key in DEVICE_FACTS}
    device["addresses"] = list(device["addresses"] or [])
    device["ipv4"], device["ipv6"] = split_addresses(device["addresses"])
    device["tags"] = sorted_unique(device["tags"])
    routes = device["routes"] or {}
    device["routes"] = {
        "advertised": sorted_unique(routes.get("advertised")),
        "approved": sorted_unique(routes.get("approved")),
    }
    expires = parse_time(device["expires"])
    device["expires"] = format_time(expires) if expires else None
    device["expired"] = bool(
        expires and not device["key_expiry_disabled"] and expires <= now()
    )
    return device


def short_name(name):
    """The first DNS label of NAME (a MagicDNS FQDN or a bare machine name)."""
    return (name or "").rstrip(".").split(".", 1)[0]


def _address_key(value):
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def find_devices(devices, name=None, device_id=None, address=None):
    """The devices matching every selector given (case-insensitive names).

    ``name`` matches the machine name, the MagicDNS FQDN or the OS hostname;
    ``address`` any tailnet address.
    """
    wanted_name = name.rstrip(".").lower() if name else None
    wanted_address = _address_key(address) if address else None
    found = []
    for device in devices:
        if device_id is not None and str(device["id"]) != str(device_id):
            continue
        if wanted_name is not None and wanted_name not in {
            (device.get("name") or "").lower(),
            (device.get("fqdn") or "").rstrip(".").lower(),
            (device.get("hostname") or "").lower(),
        }:
            continue
        if address is not None and wanted_address not in {
            _address_key(a) for a in device.get("addresses") or ()
        }:
            continue
        found.append(device)
    return found


def describe_selector(name=None, device_id=None, address=None):
    parts = []
    if device_id is not None:
        parts.append(f"id={device_id}")
    if name is not None:
        parts.append(f"name={name}")
    if address is not None:
        parts.append(f"address={address}")
    return ", ".join(parts)


def resolve_connection(params, environ):
    """Which control plane to talk to, where, and with which credentials.

    PARAMS holds the module (or inventory) options, ENVIRON the environment they
    fall back to. Returns a dict with ``control_plane``, ``api_url``,
    ``api_token``, ``oauth_client_id``, ``oauth_client_secret`` and the secrets
    that came from the environment (``env_secrets``), which the caller must
    treat as no_log values; raises TailnetError naming the missing option.
    """
    plane = params.get("control_plane") or "auto"
    url = params.get("api_url")
    if plane == "auto":
        if url:
            host = (urlsplit(url).hostname or "").lower()
            plane = TAILSCALE if host in SAAS_HOSTS else HEADSCALE
        elif environ.get(ENV_HEADSCALE_URL):
            plane = HEADSCALE
        else:
            plane = TAILSCALE
    if plane not in CONTROL_PLANES:
        raise TailnetError(
            f"control_plane must be one of auto, {', '.join(CONTROL_PLANES)}; "
            f"got {plane!r}",
            field="control_plane",
        )

    env_secrets = []
    if not url:
        if plane == HEADSCALE:
            url = environ.get(ENV_HEADSCALE_URL)
            if not url:
                raise TailnetError(
                    "api_url is required for Headscale: set it to the server's URL "
                    f"(for example https://headscale.example.net) or export "
                    f"{ENV_HEADSCALE_URL}.",
                    field="api_url",
                )
        else:
            url = environ.get(ENV_TAILSCALE_URL) or SAAS_URL

    token = params.get("api_token")
    if not token:
        token = environ.get(
            ENV_HEADSCALE_KEY if plane == HEADSCALE else ENV_TAILSCALE_KEY
        )
        if token:
            env_secrets.append(token)
    client_id = client_secret = None
    if plane == TAILSCALE:
        client_id = params.get("oauth_client_id") or environ.get(ENV_OAUTH_ID)
        client_secret = params.get("oauth_client_secret")
        if not client_secret and environ.get(ENV_OAUTH_SECRET):
            client_secret = environ.get(ENV_OAUTH_SECRET)
            env_secrets.append(client_secret)
        if bool(client_id) != bool(client_secret):
            missing = "oauth_client_secret" if client_id else "oauth_client_id"
            raise TailnetError(
                f"{missing} is required with "
                f"{'oauth_client_id' if client_id else 'oauth_client_secret'}: "
                "an OAuth client is an id and a secret "
                f"(or export {ENV_OAUTH_ID} and {ENV_OAUTH_SECRET}).",
                field=missing,
            )
    if not token and not client_id:
        if plane == HEADSCALE:
            fix = (
                f"set api_token to a Headscale API key (`headscale apikeys create`) "
                f"or export {ENV_HEADSCALE_KEY}"
            )
        else:
            fix = (
                "set api_token to a Tailscale API access token (tskey-api-...), or "
                "oauth_client_id and oauth_client_secret to an OAuth client, or "
                f"export {ENV_TAILSCALE_KEY}"
            )
        raise TailnetError(f"No credentials for {plane} at {url}: {fix}.", "api_token")
    return {
        "control_plane": plane,
        "api_url": url.rstrip("/"),
        "api_token": token,
        "oauth_client_id": client_id,
        "oauth_client_secret": client_secret,
        "env_secrets": env_secrets,
    }
