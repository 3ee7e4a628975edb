"""Benchmark: enrol 100 GitLab runners, then run again unchanged (not a timed test).

Side by side, in one pytest run against one GitLab double over loopback HTTP:
glorious.flywheel.gitlab_runner (one task for the whole group, ``runners:``) and
community.general.gitlab_runner (a task ``loop`` over the runners: it manages one
runner per call, through python-gitlab). Each phase is its own ansible-playbook run
so its requests can be counted at the double. Request counts are asserted; times are
printed and written to docs/benchmarks/raw/gitlab.json for docs/benchmarks.md.

Opt-in, since community.general runs a module per runner: FLYWHEEL_BENCHMARK=1
(FLYWHEEL_BENCHMARK_RUNNERS changes the count, 100 by default).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.support import ROOT
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    play,
    task,
)

RUNNERS = int(os.environ.get("FLYWHEEL_BENCHMARK_RUNNERS", "100"))
ATTRIBUTES = {
    "tag_list": ["docker", "linux"],
    "run_untagged": False,
    "locked": False,
    "maximum_timeout": 3600,
    "access_level": "not_protected",
}

pytestmark = pytest.mark.skipif(
    not os.environ.get("FLYWHEEL_BENCHMARK"),
    reason="benchmark: set FLYWHEEL_BENCHMARK=1 to run it",
)


def ours(gitlab, group):
    runners = [{"description": f"docker-{i:03d}"} for i in range(RUNNERS)]
    options = dict(
        ATTRIBUTES,
        api_url=gitlab.url,
        api_token=gitlab.user_token,
        runner_type="group_type",
        group_id=str(group),
        paused=False,
        runners=runners,
    )
    return [task("flywheel", "gitlab_runner", options)]


def community(gitlab, group):
    options = dict(
        ATTRIBUTES,
        api_url=gitlab.url,
        api_token=gitlab.user_token,
        group=str(group),
        description="{{ item }}",
    )
    return [
        {
            "name": "community",
            "community.general.gitlab_runner": options,
            "loop": [f"docker-{i:03d}" for i in range(RUNNERS)],
        }
    ]


def measure(gitlab, run_playbook, tasks):
    gitlab.reset()
    started = time.monotonic()
    _completed, results = play(run_playbook, tasks)
    seconds = time.monotonic() - started
    result = list(results.values())[0]
    assert not result.get("failed"), result.get("msg") or result
    items = result.get("results")
    changed = (
        sum(1 for r in items if r.get("changed"))
        if items is not None
        else sum(1 for r in result["runners"] if r["changed"])
    )
    counts = Counter(f"{r.method} {r.route}" for r in gitlab.requests)
    return {
        "seconds": round(seconds, 1),
        "requests": len(gitlab.requests),
        "writes": gitlab.writes(),
        "changed": changed,
        "by_route": dict(sorted(counts.items())),
    }


def test_enrol_then_steady_state_side_by_side(serve_double, run_playbook):
    gitlab = serve_double(GitLab, groups=(42, 43))
    numbers = {
        "flywheel enrol": measure(gitlab, run_playbook, ours(gitlab, 42)),
        "flywheel steady": measure(gitlab, run_playbook, ours(gitlab, 42)),
        "community enrol": measure(gitlab, run_playbook, community(gitlab, 43)),
        "community steady": measure(gitlab, run_playbook, community(gitlab, 43)),
        "community over flywheel's runners": measure(
            gitlab, run_playbook, community(gitlab, 42)
        ),
    }
    print(json.dumps(numbers, indent=2))
    raw = ROOT / "docs" / "benchmarks" / "raw" / "gitlab.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"runners": RUNNERS, "phases": numbers}, indent=2) + "\n")

    enrol, steady = numbers["flywheel enrol"], numbers["flywheel steady"]
    assert enrol["changed"] == RUNNERS
    assert enrol["by_route"] == {
        "GET list_group": 1,
        "POST create_user_runner": RUNNERS,
    }
    # Steady state: one list call for the scope, the details the list lacks, no write.
    assert steady["changed"] == 0
    assert steady["writes"] == 0
    assert steady["by_route"] == {"GET list_group": 1, "GET get_runner": RUNNERS}
    community_steady = numbers["community steady"]
    assert community_steady["writes"] == 0
    assert community_steady["requests"] >= 3 * steady["requests"]
    assert len(gitlab.runners) == 2 * RUNNERS
