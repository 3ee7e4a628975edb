# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run report: what a bootstrap, redeploy or drift run changed and what failed, kept
by the glorious.flywheel.flywheel_report callback and read back by the lookup of the same
name (the drift gate of playbooks/redeploy.yml).

A record holds names only: task names, hosts, and the kind, namespace and name of the
Kubernetes object a task acted on. Never a result, a diff or a value, which may hold
secrets; failure messages are truncated and have anything token-shaped blanked out.

The store (docs/operations.md), read by the dashboard:
  ConfigMap flywheel-history (namespace flywheel-system), key history.jsonl: one record per
  run, oldest first, the last HISTORY_LIMIT kept;
  ConfigMap flywheel-drift, keys drift.json (the latest record) and summary.txt.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import uuid

HISTORY_CONFIGMAP = "flywheel-history"
DRIFT_CONFIGMAP = "flywheel-drift"
HISTORY_KEY = "history.jsonl"
HISTORY_LIMIT = 200
# A ConfigMap holds at most 1 MiB; older records go first to stay well under it.
HISTORY_MAX_BYTES = 900 * 1024
MAX_CHANGES = 200
MAX_MESSAGE = 300
PLAYBOOKS = ("bootstrap", "redeploy", "recover", "drift")

# Token shapes of the forges, Tailscale and Attic (JWT), then any long run of
# base64/hex characters that mixes upper case and digits.
_TOKEN_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"\bgl[a-z]{2,4}-[A-Za-z0-9_-]{6,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{10,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{10,}"),
    re.compile(r"\btskey-[A-Za-z0-9-]{6,}"),
    re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.DOTALL),
)
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
REDACTED = "<redacted>"


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def redact(message, secrets=()):
    """MESSAGE truncated, with known SECRETS and anything token-shaped blanked out."""
    text = str(message)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _OPAQUE.sub(
        lambda m: (
            REDACTED
            if any(c.isdigit() for c in m[0]) and any(c.isupper() for c in m[0])
            else m[0]
        ),
        text,
    )
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def acted_on(result):
    """[(kind, namespace, name)] of the objects a module result names that changed; [] if
    it names none. Reads only identifying fields: kubernetes.core.k8s returns the object
    under `result` (a list of definitions: each under `result.results`),
    kubernetes.core.helm the release under `status` (`status.values.declared` in check
    mode)."""
    obj = result.get("result")
    if isinstance(obj, dict) and isinstance(obj.get("results"), list):
        return [
            target
            for sub in obj["results"]
            if isinstance(sub, dict) and sub.get("changed", True)
            for target in acted_on(sub)
        ]
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        meta = obj["metadata"]
        return [(obj.get("kind"), meta.get("namespace"), meta.get("name"))]
    status = result.get("status")
    if (
        isinstance(status, dict)
        and "name" not in status
        and isinstance(status.get("values"), dict)
    ):
        # Check mode: the live release under values.declared (kubernetes.core.helm).
        status = status["values"].get("declared")
    if isinstance(status, dict) and status.get("name") and "chart" in status:
        return [("HelmRelease", status.get("namespace"), status.get("name"))]
    return []


class RunReport:
    """One run's tally, fed by the callback's events."""

    def __init__(self, playbook, check_mode, report_dir):
        self.started = now()
        self.run_id = f"{self.started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        self.playbook = playbook
        self.check_mode = check_mode
        self.report_dir = report_dir
        self.changed = 0
        self.failed = 0
        self.failures = []
        self.changes = []
        self.cache = None
        self.pool = None
        self.plays = []

    def play(self, name):
        moment = now()
        if self.plays:
            self.plays[-1]["duration_s"] = _seconds(self.plays[-1]["_start"], moment)
        self.plays.append({"name": name, "_start": moment})

    def change(self, host, task, result):
        for kind, namespace, name in acted_on(result) or [(None, None, None)]:
            if len(self.changes) < MAX_CHANGES:
                self.changes.append(
                    {
                        "host": host,
                        "task": task,
                        "kind": kind,
                        "namespace": namespace,
                        "name": name,
                    }
                )

    def task_done(self, host, task, result, changed):
        """A host's task finished (a loop: all its items)."""
        if changed:
            self.changed += 1
            if not result.get("results"):
                self.change(host, task, result)
        facts = result.get("ansible_facts") or {}
        if "flywheel_self_pool" in facts:
            self.pool = facts["flywheel_self_pool"] or None
        if all(k in result for k in ("pushed", "deduplicated", "already_present")):
            self.cache = self.cache or {
                "pushed": 0,
                "deduplicated": 0,
                "already_present": 0,
            }
            for key in self.cache:
                self.cache[key] += int(result[key])

    def failure(self, host, task, result, secrets=()):
        self.failed += 1
        if result.get("censored"):
            message = "output hidden (no_log)"
        else:
            message = result.get("msg") or result.get("stderr") or "failed"
        self.failures.append(
            {"host": host, "task": task, "msg": redact(message, secrets)}
        )

    def name(self):
        if self.check_mode and self.playbook in ("redeploy", "bootstrap"):
            return "drift"
        return self.playbook

    def record(self, cluster):
        finished = now()
        return {
            "run_id": self.run_id,
            "playbook": self.name(),
            "cluster": cluster,
            "started_at": iso(self.started),
            "finished_at": iso(finished),
            "duration_s": _seconds(self.started, finished),
            "ok": self.failed == 0,
            "changed": self.changed,
            "failed": self.failed,
            "failures": self.failures,
            "drift": self.changed > 0,
            "changes": self.changes,
            "cache": self.cache,
            "pool": self.pool,
        }

    def snapshot(self):
        """What the lookup returns to the drift gate while the run goes on."""
        return {
            "enabled": True,
            "run_id": self.run_id,
            "changed": self.changed,
            "changes": list(self.changes),
            "report_dir": self.report_dir,
        }

    def plays_summary(self):
        if self.plays and "duration_s" not in self.plays[-1]:
            self.plays[-1]["duration_s"] = _seconds(self.plays[-1]["_start"], now())
        return [{"name": p["name"], "duration_s": p["duration_s"]} for p in self.plays]


def _seconds(start, end):
    return round((end - start).total_seconds(), 1)


def summary(record):
    """The human report: drift.txt and the ConfigMap's summary.txt."""
    verdict = (
        "FAILED" if not record["ok"] else ("DRIFT" if record["drift"] else "no drift")
    )
    lines = [
        f"{record['playbook']} of cluster {record['cluster']} ({record['run_id']}): {verdict}",
        f"  {record['started_at']} .. {record['finished_at']} ({record['duration_s']} s)"
        + (f", from pool {record['pool']}" if record["pool"] else ""),
        f"  changed {record['changed']}, failed {record['failed']}",
    ]
    for change in record["changes"]:
        target = "/".join(
            str(p) for p in (change["kind"], change["namespace"], change["name"]) if p
        )
        lines.append(
            f"  changed: {change['host']}: {change['task']}"
            + (f" -> {target}" if target else "")
        )
    for failure in record["failures"]:
        lines.append(
            f"  failed: {failure['host']}: {failure['task']}: {failure['msg']}"
        )
    if record["cache"]:
        cache = record["cache"]
        lines.append(
            f"  cache: pushed {cache['pushed']}, deduplicated {cache['deduplicated']}, "
            f"already present {cache['already_present']}"
        )
    return "\n".join(lines) + "\n"


def append_history(text, record, limit=HISTORY_LIMIT, max_bytes=HISTORY_MAX_BYTES):
    """history.jsonl TEXT with RECORD appended, trimmed to LIMIT records and MAX_BYTES."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    lines.append(json.dumps(record, sort_keys=True))
    lines = lines[-limit:]
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > max_bytes:
        lines.pop(0)
    return "\n".join(lines) + "\n"


def write_local(report_dir, record, plays):
    """drift.json, drift.txt and history.jsonl under REPORT_DIR."""
    os.makedirs(report_dir, exist_ok=True)
    with open(os.path.join(report_dir, "drift.json"), "w", encoding="utf-8") as out:
        json.dump(
            {**record, "check_mode": record["playbook"] == "drift", "plays": plays},
            out,
            indent=2,
            sort_keys=True,
        )
        out.write("\n")
    with open(os.path.join(report_dir, "drift.txt"), "w", encoding="utf-8") as out:
        out.write(summary(record))
    path = os.path.join(report_dir, HISTORY_KEY)
    existing = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as history:
            existing = history.read()
    with open(path, "w", encoding="utf-8") as history:
        history.write(append_history(existing, record))


def write_cluster(kubeconfig, namespace, record, attempts=5):
    """Appends RECORD to the cluster's history and replaces its drift report. Raises the
    client's ApiException (after retrying write conflicts) or ImportError."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    _upsert(
        api,
        client,
        namespace,
        DRIFT_CONFIGMAP,
        lambda _old: {
            "drift.json": json.dumps(record, indent=2, sort_keys=True) + "\n",
            "summary.txt": summary(record),
        },
        attempts,
    )
    _upsert(
        api,
        client,
        namespace,
        HISTORY_CONFIGMAP,
        lambda old: {HISTORY_KEY: append_history(old.get(HISTORY_KEY, ""), record)},
        attempts,
    )


def _upsert(api, client, namespace, name, data_from, attempts):
    """Read, change, replace under the read's resourceVersion: two runs finishing at once
    both land in the history instead of one overwriting the other."""
    labels = {
        "app.kubernetes.io/part-of": "glorious-flywheel",
        "app.kubernetes.io/managed-by": "glorious.flywheel.flywheel_report",
    }
    for attempt in range(attempts):
        try:
            live = api.read_namespaced_config_map(name, namespace)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1ConfigMap(
                metadata=client.V1ObjectMeta(
                    name=name, namespace=namespace, labels=labels
                ),
                data=data_from({}),
            )
            try:
                api.create_namespaced_config_map(namespace, body)
                return
            except client.ApiException as create_exc:
                if create_exc.status != 409 or attempt == attempts - 1:
                    raise
                continue
        live.data = data_from(live.data or {})
        try:
            api.replace_namespaced_config_map(name, namespace, live)
            return
        except client.ApiException as exc:
            if exc.status != 409 or attempt == attempts - 1:
                raise


# The report of the run in progress in this process, for the lookup; set by the callback.
CURRENT = {"report": None}
