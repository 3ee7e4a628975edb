# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tailnet
short_description: Hosts from the devices of a tailnet, on Tailscale or Headscale
version_added: 0.1.0
description:
  - Makes one inventory host per device (node) of a Tailscale tailnet or a Headscale
    server, with C(ansible_host) set to the device's tailnet IPv4 address or its
    MagicDNS name, and one group per tag.
  - Reads every device in one request, so it stays fast over thousands of devices;
    caching (O(cache)) skips even that request.
  - The configuration file's name must end in C(tailnet.yml) or C(tailnet.yaml).
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it makes the file this plugin's.
    type: str
    required: true
    choices: [glorious.flywheel.tailnet]
  control_plane:
    description:
      - V(headscale), V(tailscale), or V(auto), which picks V(tailscale) for
        C(https://api.tailscale.com) and V(headscale) for any other O(api_url).
    type: str
    choices: [auto, headscale, tailscale]
    default: auto
  api_url:
    description:
      - Base URL of the control server. Headscale, for example
        V(https://headscale.example.net) (environment E(HEADSCALE_URL) when not
        set); Tailscale, V(https://api.tailscale.com), the default.
    type: str
  api_token:
    description:
      - Headscale API key, or Tailscale API access token. Read from
        E(HEADSCALE_API_KEY) or E(TAILSCALE_API_KEY) when not set. Keep it out of
        the file in plain text - use the environment or a vaulted value.
    type: str
  oauth_client_id:
    description:
      - Tailscale only. OAuth client id (E(TAILSCALE_OAUTH_CLIENT_ID)), used with
        O(oauth_client_secret) instead of O(api_token).
    type: str
  oauth_client_secret:
    description:
      - Tailscale only. OAuth client secret (E(TAILSCALE_OAUTH_CLIENT_SECRET)).
    type: str
  oauth_scopes:
    description:
      - Tailscale only. Scopes for the OAuth token; V(devices:core:read) is enough.
    type: list
    elements: str
  tailnet:
    description: Tailscale only. The tailnet; V(-) is the credentials' own.
    type: str
    default: "-"
  base_domain:
    description:
      - Headscale only. Its C(dns.base_domain), from which MagicDNS names are built
        (the Headscale API does not report them). Needed for
        O(ansible_host_source=fqdn) and O(hostname_source=fqdn) on Headscale.
    type: str
  validate_certs:
    description: Whether to verify the control server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of CA certificates to verify the control server with.
    type: path
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 30
  retries:
    description:
      - How many times to repeat a request that failed with a connection error or
        HTTP 429, 502, 503 or 504 (following C(Retry-After)).
    type: int
    default: 4
  hostname_source:
    description:
      - What names each host - the machine name (V(name)), the MagicDNS name
        (V(fqdn)), the OS hostname (V(hostname)) or the device id (V(id)).
      - A device whose chosen name is missing, or already taken by another device,
        is named by its id, with a warning.
    type: str
    choices: [name, fqdn, hostname, id]
    default: name
  ansible_host_source:
    description:
      - What C(ansible_host) is - the tailnet IPv4 address (V(ipv4)), the IPv6 one
        (V(ipv6)), the MagicDNS name (V(fqdn)) or the machine name (V(name)), which
        MagicDNS resolves on tailnet members.
      - A device without the chosen value (no IPv6 address, or no MagicDNS name on
        Headscale without O(base_domain)) gets its IPv4 address.
    type: str
    choices: [ipv4, ipv6, fqdn, name]
    default: ipv4
  tag_group_prefix:
    description:
      - Prefix of the group made for each tag; C(tag:web) becomes C(tag_web).
      - Characters not valid in a group name become C(_).
    type: str
    default: tag_
  online_only:
    description: Only devices connected to the control server.
    type: bool
    default: false
  include_tags:
    description: Only devices that have at least one of these tags.
    type: list
    elements: str
    default: []
  exclude_tags:
    description: No device that has any of these tags.
    type: list
    elements: str
    default: []
  os:
    description:
      - Only devices running one of these operating systems (any case), for example
        V(linux). Headscale does not report the OS, so nothing matches there.
    type: list
    elements: str
    default: []
notes:
  - Every host gets these variables - C(tailscale_id), C(tailscale_name),
    C(tailscale_fqdn), C(tailscale_hostname), C(tailscale_ipv4),
    C(tailscale_ipv6), C(tailscale_tags), C(tailscale_online), C(tailscale_os),
    C(tailscale_user) and C(tailscale_client_version), named and valued as the
    facts M(glorious.flywheel.tailscale_device_info) returns. Fewer variables keep
    thousands of hosts fast; the module has every fact.
seealso:
  - module: glorious.flywheel.tailscale_device_info
"""

EXAMPLES = r"""
# inventories/prod/tailnet.yml: the tailnet's online Linux servers, by machine name
plugin: glorious.flywheel.tailnet
api_url: https://headscale.example.net
base_domain: tailnet.example.net
online_only: true
include_tags: [tag:server]
os: []
keyed_groups:
  - key: tailscale_user
    prefix: user

# Tailscale SaaS with an OAuth client from the environment, cached for 10 minutes,
# reached over MagicDNS names.
# plugin: glorious.flywheel.tailnet
# control_plane: tailscale
# ansible_host_source: fqdn
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/ansible-tailnet
# cache_timeout: 600
"""

import os
import re
import time

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    Redactor,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    TailnetError,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect,
)

CONNECTION_OPTIONS = (
    "control_plane",
    "api_url",
    "api_token",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scopes",
    "tailnet",
    "base_domain",
    "validate_certs",
    "ca_path",
    "timeout",
    "retries",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_CACHE_VERSION = 1


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "glorious.flywheel.tailnet"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(
            ("tailnet.yml", "tailnet.yaml")
        )

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        devices = None
        if use_cache:
            cached = self._cache.get(cache_key)
            if isinstance(cached, dict) and cached.get("version") == _CACHE_VERSION:
                devices = cached["devices"]
        started = time.perf_counter()
        source = "cache"
        if devices is None:
            source = "control server"
            devices = self._fetch()
            if self.get_option("cache"):
                self._cache[cache_key] = {"version": _CACHE_VERSION, "devices": devices}
        read = time.perf_counter()
        added = self._populate(devices)
        self.display.vvv(
            f"tailnet inventory: {len(devices)} devices from the {source} in "
            f"{read - started:.3f}s, {added} hosts added in "
            f"{time.perf_counter() - read:.3f}s"
        )

    def _fetch(self):
        params = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        secrets = [params["api_token"], params["oauth_client_secret"]]
        try:
            api = connect(params, environ=os.environ, on_secret=secrets.append)
            return api.list_devices()
        except (ApiError, TailnetError) as error:
            text = Redactor(s for s in secrets if s).scrub(str(error))
            raise AnsibleParserError(f"tailnet inventory: {text}") from None

    def _keep(self, device, online_only, include, exclude, systems):
        if online_only and not device["online"]:
            return False
        tags = device["tags"]
        if include and not include.intersection(tags):
            return False
        if exclude and exclude.intersection(tags):
            return False
        return not systems or (device["os"] or "").lower() in systems

    def _populate(self, devices):
        online_only = self.get_option("online_only")
        include = set(self.get_option("include_tags") or ())
        exclude = set(self.get_option("exclude_tags") or ())
        systems = {s.lower() for s in self.get_option("os") or ()}
        name_source = self.get_option("hostname_source")
        host_source = self.get_option("ansible_host_source")
        prefix = self.get_option("tag_group_prefix")
        strict = self.get_option("strict")
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed_groups = self.get_option("keyed_groups")
        constructed = bool(compose or groups or keyed_groups)

        tag_groups = {}
        renamed = []
        added = 0
        for device in devices:
            if not self._keep(device, online_only, include, exclude, systems):
                continue
            host = self._host_name(device, name_source, renamed)
            if host is None:
                continue
            self.inventory.add_host(host)
            added += 1
            variables = {
                "ansible_host": device.get(host_source) or device["ipv4"],
                "tailscale_id": device["id"],
                "tailscale_name": device["name"],
                "tailscale_fqdn": device["fqdn"],
                "tailscale_hostname": device["hostname"],
                "tailscale_ipv4": device["ipv4"],
                "tailscale_ipv6": device["ipv6"],
                "tailscale_tags": device["tags"],
                "tailscale_online": device["online"],
                "tailscale_os": device["os"],
                "tailscale_user": device["user"],
                "tailscale_client_version": device["client_version"],
            }
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for tag in device["tags"]:
                group = tag_groups.get(tag)
                if group is None:
                    group = self.inventory.add_group(
                        _UNSAFE.sub("_", prefix + tag.split(":", 1)[-1])
                    )
                    tag_groups[tag] = group
                self.inventory.add_child(group, host)
            if constructed:
                self._set_composite_vars(compose, variables, host, strict=strict)
                self._add_host_to_composed_groups(
                    groups, variables, host, strict=strict
                )
                self._add_host_to_keyed_groups(
                    keyed_groups, variables, host, strict=strict
                )
        self._warn_renamed(renamed, name_source)
        return added

    def _host_name(self, device, source, renamed):
        name = device.get(source) or None
        if name is not None and name not in self.inventory.hosts:
            return name
        fallback = str(device["id"])
        if fallback in self.inventory.hosts:
            return None
        renamed.append((device["id"], name))
        return fallback

    def _warn_renamed(self, renamed, source):
        if not renamed:
            return
        missing = [i for i, name in renamed if name is None]
        taken = [f"{i} ({name})" for i, name in renamed if name is not None]
        parts = []
        if missing:
            hint = " (set base_domain for Headscale)" if source == "fqdn" else ""
            parts.append(
                f"{len(missing)} without a {source}{hint}, e.g. {', '.join(missing[:3])}"
            )
        if taken:
            parts.append(
                f"{len(taken)} whose {source} another device has, e.g. "
                + ", ".join(taken[:3])
            )
        self.display.warning(
            "tailnet inventory: devices named by their id instead: " + "; ".join(parts)
        )
