"""The playbooks run headless through ansible-runner, as AWX and Automation Controller run
them (a private data dir, events and stats read from its artifacts, no terminal)."""

import json

import ansible_runner
import pytest

from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

INVENTORY = str(ROOT / "inventories" / "lab")
# The cheap phases of bootstrap that still reach every kind of target: the controller, the
# podman hosts (preflight) and the cluster API (namespaces and baseline; runners, which the
# drift check below also covers). Verify is left out: it fails on a degraded platform, and
# the shared lab's state is other tests' business.
BOOTSTRAP_TAGS = "preflight,cluster,runners"


@pytest.fixture(scope="module")
def runner(ansible_env, kube_lab, tailnet_lab, hosts_lab, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("runner")
    env = {**ansible_env, **kube_lab, **tailnet_lab, **hosts_lab}

    def run(playbook, ident, envvars_extra=None, **kwargs):
        result = ansible_runner.run(
            private_data_dir=str(data_dir),
            playbook=str(ROOT / "playbooks" / playbook),
            inventory=INVENTORY,
            envvars={**env, **(envvars_extra or {})},
            ident=ident,
            quiet=True,
            **kwargs,
        )
        result.event_list = list(result.events)
        return result

    run.data_dir = data_dir
    return run


@pytest.fixture(scope="module")
def bootstrap_runs(runner):
    return [
        runner("bootstrap.yml", f"bootstrap-{n}", tags=BOOTSTRAP_TAGS) for n in (1, 2)
    ]


def started(result, event):
    key = "play" if event == "playbook_on_play_start" else "task"
    return [e["event_data"][key] for e in result.event_list if e["event"] == event]


def ok_results(result, task):
    return [
        e["event_data"]["res"]
        for e in result.event_list
        if e["event"] == "runner_on_ok" and e["event_data"]["task"] == task
    ]


def test_health_runs_headless(runner, tmp_path):
    # Report only: whether the shared lab is healthy right now depends on other tests.
    result = runner(
        "health.yml",
        "health",
        extravars={
            "flywheel_health_report_dir": str(tmp_path),
            "flywheel_health_fail_on_unhealthy": False,
        },
    )
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()
    assert started(result, "playbook_on_play_start") == [
        "Health | probe and classify each cluster"
    ]
    (probe,) = ok_results(
        result, "Probe the cluster's components, the tailnet and the forges"
    )
    assert probe["components"]["cluster"]["status"] == "healthy", probe["summary"]
    report = json.loads((tmp_path / "lab.json").read_text())
    assert (report["cluster"], report["state"]) == ("lab", probe["state"])
    # The runner's artifacts hold what AWX shows: the rc, the status and the stdout.
    artifacts = runner.data_dir / "artifacts" / "health"
    assert (artifacts / "rc").read_text() == "0"
    assert (artifacts / "status").read_text() == "successful"
    assert "Probe the cluster's components" in (artifacts / "stdout").read_text()


def test_bootstrap_runs_headless_and_its_rerun_changes_nothing(bootstrap_runs):
    first, second = bootstrap_runs
    for result in bootstrap_runs:
        assert (result.status, result.rc) == ("successful", 0), result.stdout.read()
    plays = started(first, "playbook_on_play_start")
    assert plays[:4] == [
        "Preflight | controller prerequisites and control planes",
        "Preflight | every host reachable",
        "Preflight | every cluster API reachable",
        "Preflight | summary",
    ]
    assert "Cluster | namespaces and security baseline" in plays
    assert plays[-1] == "Verify"
    assert "Dashboard" in plays
    # Phases outside the tags start their play but run no task of their own (roles still
    # validate their arguments: that task is tagged always).
    skipped = ("Tailnet", "Cache plane", "Dashboard", "Verify")
    assert not [
        e["event_data"]["task"]
        for e in first.event_list
        if e["event"] == "playbook_on_task_start"
        and e["event_data"]["play"].startswith(skipped)
        and not e["event_data"]["task"].startswith(
            "Validating arguments against arg spec"
        )
    ]
    tasks = started(first, "playbook_on_task_start")
    assert "Check the controller" in tasks
    baseline = [
        e["event_data"]["res"]
        for e in first.event_list
        if e["event"] == "runner_on_ok"
        and e["event_data"]["play"] == "Cluster | namespaces and security baseline"
    ]
    assert baseline, "the baseline play ran no task"

    stats = second.stats
    assert set(stats["ok"]) == {
        "localhost",
        "lab-cluster-api",
        "flywheel-lab-1",
        "flywheel-lab-2",
    }
    assert not any(stats["changed"].values()), stats["changed"]
    assert not stats["failures"] and not stats["dark"], stats


def test_redeploy_in_check_mode_finds_no_drift_after_bootstrap(
    runner, bootstrap_runs, tmp_path
):
    """AWX's drift template: redeploy.yml as a check job with diff, its report callback on."""
    result = runner(
        "redeploy.yml",
        "drift",
        # The runners plays compute which pool the job runs on; the lab enrols no runner.
        tags="cluster,runners",
        cmdline="--check --diff",
        envvars_extra={
            "ANSIBLE_CALLBACKS_ENABLED": "glorious.flywheel.flywheel_report",
            "FLYWHEEL_REPORT_DIR": str(tmp_path),
            # The shared lab's history ConfigMaps are not this test's to write.
            "FLYWHEEL_REPORT_CLUSTER": "false",
        },
    )
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()
    assert "Cluster | namespaces and security baseline" in started(
        result, "playbook_on_play_start"
    )
    assert not any(result.stats["changed"].values()), result.stats["changed"]
    assert json.loads((tmp_path / "drift.json").read_text())["drift"] is False
