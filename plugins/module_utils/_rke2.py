# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""RKE2 on a node: its configuration files, its CLI and its kubeconfig.

Private to the collection (the leading underscore): it may change in any release.

Facts from docs.rke2.io that the logic below relies on:

- ``/etc/rancher/rke2/config.yaml`` and ``config.yaml.d/*.yaml`` are merged in
  name order; every key is a CLI flag of ``rke2 server``/``rke2 agent``, so values
  are scalars or lists of scalars.
- Some keys must be identical on every server (``MUST_MATCH_KEYS``); a server whose
  value differs refuses to join, or worse, joins with a split view of the cluster.
- ``rke2 --version`` prints ``rke2 version v1.31.4+rke2r1 (<commit>)`` first.
- The join token lives in ``<data-dir>/server/node-token`` on servers and the
  admin kubeconfig in ``/etc/rancher/rke2/rke2.yaml``.
- ``rke2 etcd-snapshot save|ls|delete|prune`` manage snapshots in
  ``<data-dir>/server/db/snapshots``.

Targets carry no YAML library, so configuration is written with a small emitter
for exactly that shape (JSON strings are valid YAML double-quoted scalars), and the
kubeconfig, which RKE2 writes with one cluster and one user, is read by key.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url

CONFIG_DIR = "/etc/rancher/rke2"
CONFIG_PATH = CONFIG_DIR + "/config.yaml"
DROPIN_DIR = CONFIG_DIR + "/config.yaml.d"
REGISTRIES_PATH = CONFIG_DIR + "/registries.yaml"
KUBECONFIG_PATH = CONFIG_DIR + "/rke2.yaml"
DATA_DIR = "/var/lib/rancher/rke2"
RKE2_BIN = "rke2"

MUST_MATCH_KEYS = (
    "agent-token",
    "cluster-cidr",
    "cluster-dns",
    "cluster-domain",
    "disable-cloud-controller",
    "disable-kube-proxy",
    "egress-selector-mode",
    "service-cidr",
)
# Flags of `rke2 server` that `rke2 agent` does not have: a cluster-wide layer may set
# them, an agent's file leaves them out.
SERVER_ONLY_KEYS = MUST_MATCH_KEYS[1:] + (
    "tls-san",
    "cni",
    "disable",
    "advertise-address",
    "write-kubeconfig-mode",
    "etcd-snapshot-schedule-cron",
    "etcd-snapshot-retention",
    "cluster-init",
)
SECRET_KEYS = ("token", "agent-token")
REDACTED = "<redacted>"
KNOWN_CNIS = ("canal", "calico", "cilium", "flannel", "multus", "none")

VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[+-]rke2r(\d+))?")


class Rke2Error(Exception):
    """A problem with the node's RKE2 that the calling module reports as a failure."""


def for_role(config, role):
    """The configuration without the keys an agent does not take, and those keys."""
    if role != "agent":
        return config, []
    dropped = sorted(key for key in config if key in SERVER_ONLY_KEYS)
    return {key: value for key, value in config.items() if key not in dropped}, dropped


def merge_layers(layers):
    """Merge configuration dicts, later ones winning; ``key+`` appends to ``key``."""
    merged = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key.endswith("+"):
                base = key[:-1]
                current = merged.get(base, [])
                current = (
                    list(current) if isinstance(current, (list, tuple)) else [current]
                )
                extra = list(value) if isinstance(value, (list, tuple)) else [value]
                merged[base] = current + [item for item in extra if item not in current]
            else:
                merged[key] = value
    return {key: value for key, value in merged.items() if value is not None}


def _scalar(key, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise Rke2Error(
        f"{key}: RKE2 configuration values are scalars or lists of scalars, not {type(value).__name__}"
    )


def render_config(config, header=None):
    """The YAML text of a flat RKE2 configuration, keys sorted so the text is stable."""
    lines = [f"# {line}" for line in (header or "").splitlines()]
    for key in sorted(config):
        value = config[key]
        if isinstance(value, (list, tuple)):
            if not value:
                lines.append(f"{key}: []")
                continue
            lines.append(f"{key}:")
            lines.extend(f"  - {_scalar(key, item)}" for item in value)
        else:
            lines.append(f"{key}: {_scalar(key, value)}")
    return "\n".join(lines) + "\n"


def redact(config):
    return {
        key: (REDACTED if key in SECRET_KEYS and value else value)
        for key, value in config.items()
    }


def normalise(value):
    """A comparable form: lists compare as lists of strings, scalars as strings."""
    if isinstance(value, (list, tuple)):
        return [normalise(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def must_match_mismatches(configs, keys=MUST_MATCH_KEYS):
    """For configs ``{server: merged config}``, the keys whose values differ: ``{key: {server: value}}``."""
    mismatches = {}
    for key in keys:
        values = {host: normalise(config.get(key)) for host, config in configs.items()}
        if len({json.dumps(value) for value in values.values()}) > 1:
            shown = {
                host: (REDACTED if key in SECRET_KEYS and value else value)
                for host, value in values.items()
            }
            mismatches[key] = shown
    return mismatches


def validate(config, role, complete=True):
    """Problems with one node's merged configuration, as messages. A drop-in
    (COMPLETE false) is one part of it: only what is wrong on its own is checked."""
    problems = []
    cni = config.get("cni")
    for name in cni if isinstance(cni, (list, tuple)) else ([cni] if cni else []):
        if name not in KNOWN_CNIS:
            problems.append(
                "unknown cni {!r} (known: {})".format(name, ", ".join(KNOWN_CNIS))
            )
    if complete and role == "agent" and not config.get("server"):
        problems.append("an agent needs 'server' (https://<server>:9345)")
    if complete and config.get("server") and not config.get("token"):
        problems.append("joining {} needs 'token'".format(config["server"]))
    return problems


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def run(module, args, check_rc=True):
    """Run the rke2 CLI through AnsibleModule.run_command; return (rc, stdout, stderr)."""
    rc, out, err = module.run_command(args)
    if check_rc and rc != 0:
        raise Rke2Error(
            "{} failed (rc={}): {}".format(" ".join(args), rc, (err or out).strip())
        )
    return rc, out, err


def parse_version(text):
    """``v1.31.4+rke2r1`` (or the first line of ``rke2 --version``) -> (1, 31, 4, 1)."""
    if text is None:
        return None
    for word in text.split():
        match = VERSION_RE.match(word)
        if match:
            return tuple(int(part or 0) for part in match.groups())
    return None


def version_string(text):
    for word in (text or "").split():
        if VERSION_RE.match(word):
            return word
    return None


def service_state(unit):
    """``{'active': str, 'enabled': str}`` from systemctl; ``None`` values when systemctl is absent."""
    state = {}
    for verb, field in (("is-active", "active"), ("is-enabled", "enabled")):
        try:
            completed = subprocess.run(
                ["systemctl", verb, unit], capture_output=True, text=True, check=False
            )
            state[field] = completed.stdout.strip() or completed.stderr.strip() or None
        except FileNotFoundError:
            state[field] = None
    return state


_KUBECONFIG_KEYS = (
    "server",
    "certificate-authority-data",
    "client-certificate-data",
    "client-key-data",
    "token",
)


def read_kubeconfig(path):
    """The first cluster's server and credentials, read by key (see the module docstring)."""
    text = read_text(path)
    if text is None:
        raise Rke2Error(f"no kubeconfig at {path}")
    found = {}
    for key in _KUBECONFIG_KEYS:
        match = re.search(
            rf'^\s*"?{re.escape(key)}"?\s*:\s*"?([^"\s,]+)"?', text, re.MULTILINE
        )
        if match:
            found[key] = match.group(1)
    if "server" not in found:
        raise Rke2Error(f"{path} names no server")
    return found


def get_node(kubeconfig_path, node_name, timeout=10):
    """The Node object from the API server the kubeconfig names, or None when it does not exist."""
    creds = read_kubeconfig(kubeconfig_path)
    url = creds["server"].rstrip("/") + "/api/v1/nodes/" + urllib.parse.quote(node_name)
    headers = {"Accept": "application/json"}
    if "token" in creds:
        headers["Authorization"] = "Bearer " + creds["token"]
    with tempfile.TemporaryDirectory(prefix="rke2-") as tmp:
        files = {}
        for key, name in (
            ("certificate-authority-data", "ca_path"),
            ("client-certificate-data", "client_cert"),
            ("client-key-data", "client_key"),
        ):
            if key in creds:
                files[name] = os.path.join(tmp, name + ".pem")
                with open(
                    os.open(files[name], os.O_WRONLY | os.O_CREAT, 0o600), "wb"
                ) as handle:
                    handle.write(base64.b64decode(creds[key]))
        try:
            response = open_url(url, headers=headers, timeout=timeout, **files)
            return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise Rke2Error(f"GET {url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Rke2Error(f"GET {url}: {exc}") from exc


def node_summary(node):
    if node is None:
        return {"exists": False, "ready": False, "kubelet_version": None, "labels": {}}
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )
    return {
        "exists": True,
        "ready": ready,
        "kubelet_version": node.get("status", {})
        .get("nodeInfo", {})
        .get("kubeletVersion"),
        "labels": node.get("metadata", {}).get("labels") or {},
    }


SNAPSHOT_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s*$")


def parse_snapshot_list(text):
    """Rows of ``rke2 etcd-snapshot ls`` (Name Location Size Created) as dicts."""
    snapshots = []
    for line in (text or "").splitlines():
        match = SNAPSHOT_LINE.match(line.strip())
        if match and match.group(1) != "Name":
            name, location, size, created = match.groups()
            snapshots.append(
                {
                    "name": name,
                    "location": location,
                    "size": int(size),
                    "created": created,
                }
            )
    return snapshots
