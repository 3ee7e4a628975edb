"""Run history and the latest drift report, as the flywheel callback plugin records them.

ConfigMap ``flywheel-history`` key ``history.jsonl``: one JSON object per playbook run
(run_id, playbook, cluster, started_at, finished_at, duration_s, ok, changed, failed,
failures[], drift, changes[], cache{pushed,deduplicated,already_present}|null, pool).
ConfigMap ``flywheel-drift``: ``drift.json`` and ``summary.txt`` of the latest run.
"""

from __future__ import annotations

import json

from . import charts
from .kube import DRIFT_CONFIGMAP, HISTORY_CONFIGMAP, HISTORY_KEY


def parse_history(text):
    """(runs, bad_lines): runs oldest first; a line that is not a run is counted, not guessed."""
    runs, bad = [], 0
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        try:
            run = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(run, dict) or "run_id" not in run:
            bad += 1
            continue
        runs.append(run)
    runs.sort(key=lambda r: str(r.get("started_at") or ""))
    return runs, bad


def read_history(cluster):
    data = cluster.config_map(HISTORY_CONFIGMAP)
    if data is None:
        return {"present": False, "runs": [], "unparsable_lines": 0}
    runs, bad = parse_history(data.get(HISTORY_KEY, ""))
    return {"present": True, "runs": runs, "unparsable_lines": bad}


def read_drift(cluster):
    data = cluster.config_map(DRIFT_CONFIGMAP)
    if data is None:
        return {"present": False}
    report, error = None, None
    if "drift.json" in data:
        try:
            report = json.loads(data["drift.json"])
        except ValueError as exc:
            error = f"drift.json is not JSON: {exc}"
    return {
        "present": True,
        "report": report,
        "summary": data.get("summary.txt"),
        "error": error,
    }


def _number(value):
    return (
        value
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else None
    )


def history_charts(runs, limit=50):
    runs = runs[-limit:]
    labels = [
        f"{r.get('playbook', '?')} {str(r.get('started_at', ''))[:16]}" for r in runs
    ]
    ticks = [str(r.get("started_at", ""))[:10] for r in runs]
    cache = [r.get("cache") if isinstance(r.get("cache"), dict) else {} for r in runs]
    return {
        # One bar per run, coloured by how it went: drift over time at a glance.
        "durations": charts.bar_chart(
            "Run duration",
            labels,
            [
                (
                    "no drift",
                    "s-duration",
                    [
                        _number(r.get("duration_s"))
                        if r.get("ok") and not r.get("drift")
                        else None
                        for r in runs
                    ],
                ),
                (
                    "drift",
                    "s-drift",
                    [
                        _number(r.get("duration_s"))
                        if r.get("ok") and r.get("drift")
                        else None
                        for r in runs
                    ],
                ),
                (
                    "failed",
                    "s-failed",
                    [
                        None if r.get("ok") else _number(r.get("duration_s"))
                        for r in runs
                    ],
                ),
            ],
            unit="s",
            ticks=ticks,
        ),
        "outcomes": charts.bar_chart(
            "Failed and changed tasks",
            labels,
            [
                ("failed", "s-failed", [_number(r.get("failed")) for r in runs]),
                ("changed", "s-changed", [_number(r.get("changed")) for r in runs]),
            ],
            ticks=ticks,
        ),
        "cache": charts.bar_chart(
            "Cache pushes",
            labels,
            [
                ("pushed", "s-pushed", [_number(c.get("pushed")) for c in cache]),
                (
                    "deduplicated",
                    "s-dedup",
                    [_number(c.get("deduplicated")) for c in cache],
                ),
                (
                    "already present",
                    "s-present",
                    [_number(c.get("already_present")) for c in cache],
                ),
            ],
            ticks=ticks,
        ),
    }
