"""Benchmark: create, then confirm, 200 tenant caches in one play (not a timed test).

Opt-in, since it runs 400 module executions: FLYWHEEL_BENCHMARK=1. Request counts
are asserted (steady state is one GET per cache and no write); times are printed
and written to docs/benchmarks/raw/attic.json for docs/benchmarks.md.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections import Counter

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.support import ROOT
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    cache_task,
    play,
)

TENANTS = int(os.environ.get("FLYWHEEL_BENCHMARK_TENANTS", "200"))

pytestmark = pytest.mark.skipif(
    not os.environ.get("FLYWHEEL_BENCHMARK"),
    reason="benchmark: set FLYWHEEL_BENCHMARK=1 to run it",
)


def test_create_then_confirm_tenant_caches(serve_double, run_playbook):
    attic = serve_double(Attic)
    admin = attic.admin_token()
    names = [f"tenant-{i:03d}" for i in range(TENANTS)]
    loop = {"loop": names}
    tasks = [
        dict(
            cache_task(
                attic, admin, "create", "{{ item }}", retention_period="3 months"
            ),
            **loop,
        ),
        dict(
            cache_task(
                attic, admin, "confirm", "{{ item }}", retention_period="3 months"
            ),
            **loop,
        ),
    ]
    started = time.monotonic()
    completed, results = play(run_playbook, tasks)
    wall = time.monotonic() - started
    durations = {}
    for task_entry in completed.json["plays"][0]["tasks"]:
        span = task_entry["task"]["duration"]
        start = datetime.datetime.fromisoformat(span["start"].rstrip("Z"))
        end = datetime.datetime.fromisoformat(span["end"].rstrip("Z"))
        durations[task_entry["task"]["name"]] = (end - start).total_seconds()

    create, confirm = results["create"], results["confirm"]
    assert create["changed"] and len(create["results"]) == TENANTS
    assert not confirm["changed"]
    assert all(r["requests"] == {"read": 1} for r in confirm["results"])
    per_method = Counter(r.method for r in attic.requests)
    confirm_requests = attic.requests[-TENANTS:]
    assert all(r.method == "GET" for r in confirm_requests)
    assert per_method == {"GET": 3 * TENANTS, "POST": TENANTS, "PATCH": TENANTS}
    assert len(attic.caches) == TENANTS

    report = {
        "tenants": TENANTS,
        "wall_seconds": round(wall, 1),
        "create_seconds": round(durations["create"], 1),
        "confirm_seconds": round(durations["confirm"], 1),
        "create_requests": dict(Counter(r.method for r in attic.requests[:-TENANTS])),
        "confirm_requests": dict(Counter(r.method for r in confirm_requests)),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    raw = ROOT / "docs" / "benchmarks" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "attic.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
