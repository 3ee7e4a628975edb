"""playbooks/redeploy.yml on the lab, with the flywheel_report callback: after a bootstrap
it changes nothing; started from pool X it updates pool X's runners after every other
pool's; a live object changed behind its back makes the check run exit non-zero naming
it; each run is one line of the history ConfigMap; no secret reaches a report.

One module fixture runs the three playbooks once (the runners phase only: preflight, the
cache plane and health are covered by test_bootstrap.py and test_health.py, and a full
run costs minutes): two GitLab enrollments on pools docker and nix against the GitLab
double, with the stand-in chart of tests/charts/gitlab-runner. Tenant namespaces and the
report namespace are this module's own and deleted afterwards.
"""

import json
import subprocess
import uuid

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.lab.kube import get, kubectl
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

CHART = ROOT / "tests" / "charts" / "gitlab-runner"
FIELDS = {
    "run_id",
    "playbook",
    "cluster",
    "started_at",
    "finished_at",
    "duration_s",
    "ok",
    "changed",
    "failed",
    "failures",
    "drift",
    "changes",
    "cache",
    "pool",
}
# Preflight and health are other tests' subject; the drift gate is tagged always.
PHASES = ("--tags", "runners", "--skip-tags", "preflight")


@pytest.fixture(scope="module")
def runs(ansible_env, kube_lab, tmp_path_factory):
    suffix = uuid.uuid4().hex[:6]
    tmp = tmp_path_factory.mktemp("redeploy")
    names = {
        "docker": f"rdp-{suffix}-docker",
        "nix": f"rdp-{suffix}-nix",
        "ns_docker": f"flywheel-runners-rdp-a-{suffix}",
        "ns_nix": f"flywheel-runners-rdp-b-{suffix}",
        "store": f"rdp-store-{suffix}",
    }
    gitlab = GitLab()
    gitlab.start()
    kubectl(kube_lab, "create", "namespace", names["store"])
    enrollments = [
        {
            "name": names[pool],
            "forge": {
                "type": "gitlab",
                "scope": "group",
                "target": "42",
                "url": gitlab.url,
            },
            "tenant": {"name": f"rdp-{tenant}-{suffix}"},
            "pool": pool,
        }
        for pool, tenant in (("docker", "a"), ("nix", "b"))
    ]
    extra = tmp / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "flywheel_enrollments": enrollments,
                "gitlab_runner_chart_ref": str(CHART),
                "gitlab_runner_helm_binary": kube_lab["HELM_BIN"],
                "gitlab_runner_api_token": gitlab.user_token,
                "gitlab_runner_wait_timeout": "120s",
            }
        )
    )

    def run(name, playbook, *args, pool="docker"):
        report = tmp / name
        env = {
            **ansible_env,
            **kube_lab,
            "ANSIBLE_CALLBACKS_ENABLED": "glorious.flywheel.flywheel_report",
            "FLYWHEEL_REPORT_DIR": str(report),
            "FLYWHEEL_REPORT_NAMESPACE": names["store"],
            "FLYWHEEL_POOL": pool,
        }
        completed = subprocess.run(
            ["ansible-playbook", f"playbooks/{playbook}.yml", "-i", "inventories/lab"]
            + ["-e", f"@{extra}", *PHASES, *args],
            cwd=ROOT,
            env=env,
            text=True,
            capture_output=True,
            check=False,
        )
        completed.report = json.loads((report / "drift.json").read_text())
        completed.files = "".join(p.read_text() for p in report.iterdir())
        return completed

    try:
        results = {"bootstrap": run("bootstrap", "bootstrap", pool="")}
        results["noop"] = run("noop", "redeploy")
        # Drift in a live object, and a new input changing both managers' config.toml:
        # the check run lists what a redeploy from pool docker would do, in its order.
        kubectl(
            kube_lab,
            "-n",
            names["ns_nix"],
            "patch",
            "resourcequota",
            "runners",
            "--type=merge",
            "-p",
            '{"spec": {"hard": {"pods": "7"}}}',
        )
        results["drift"] = run(
            "drift",
            "redeploy",
            "--check",
            "--diff",
            "-e",
            '{"gitlab_runner_feature_flags": {"FF_USE_FASTZIP": true, "FF_SCRIPT_SECTIONS": true}}',
        )
        results["history"] = get(
            kube_lab, names["store"], "configmap", "flywheel-history"
        )
        results["drift_cm"] = get(
            kube_lab, names["store"], "configmap", "flywheel-drift"
        )
        results["secrets"] = [gitlab.user_token, gitlab.admin_token, *gitlab.tokens()]
        yield names, results
    finally:
        gitlab.stop()
        for namespace in (names["ns_docker"], names["ns_nix"], names["store"]):
            kubectl(
                kube_lab, "delete", "namespace", namespace, "--wait=false", check=False
            )


def release_changes(report):
    return [c["name"] for c in report["changes"] if c["kind"] == "HelmRelease"]


def test_the_pool_the_job_runs_on_is_updated_last(runs):
    names, results = runs
    drift = results["drift"]
    assert drift.report["pool"] == "docker"
    assert release_changes(drift.report) == [names["nix"], names["docker"]]
    # Bootstrap protects no pool: it goes in enrollment order, docker first.
    assert release_changes(results["bootstrap"].report) == [
        names["docker"],
        names["nix"],
    ]


def test_a_redeploy_after_bootstrap_changes_nothing(runs):
    _names, results = runs
    bootstrap, noop = results["bootstrap"], results["noop"]
    assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
    assert bootstrap.report["playbook"] == "bootstrap"
    assert bootstrap.report["changed"] > 0 and bootstrap.report["drift"] is True
    assert noop.returncode == 0, noop.stdout + noop.stderr
    assert noop.report["changed"] == 0
    assert noop.report["drift"] is False
    assert noop.report["changes"] == [] and noop.report["ok"] is True


def test_drift_exits_non_zero_and_names_the_object(runs):
    names, results = runs
    drift = results["drift"]
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "drift: 3 task(s) would change runners, " in drift.stdout
    report = drift.report
    assert report["playbook"] == "drift" and report["drift"] is True
    assert report["ok"] is True and report["failures"] == []
    assert [(c["kind"], c["namespace"], c["name"]) for c in report["changes"]] == [
        ("ResourceQuota", names["ns_nix"], "runners"),
        ("HelmRelease", names["ns_nix"], names["nix"]),
        ("HelmRelease", names["ns_docker"], names["docker"]),
    ]
    cm = results["drift_cm"]
    assert json.loads(cm["data"]["drift.json"])["run_id"] == report["run_id"]
    assert f"ResourceQuota/{names['ns_nix']}/runners" in cm["data"]["summary.txt"]


def test_history_has_one_record_per_run(runs):
    _names, results = runs
    lines = results["history"]["data"]["history.jsonl"].splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["playbook"] for r in records] == ["bootstrap", "redeploy", "drift"]
    assert [r["run_id"] for r in records] == [
        results[k].report["run_id"] for k in ("bootstrap", "noop", "drift")
    ]
    for record in records:
        assert set(record) == FIELDS
        assert record["cluster"] == "lab"
        assert record["finished_at"] >= record["started_at"]
        assert record["started_at"].endswith("Z")
        assert record["cache"] is None
    assert [r["pool"] for r in records] == [None, "docker", "docker"]


def test_no_secret_in_reports_or_history(runs):
    _names, results = runs
    stored = json.dumps(results["history"]) + json.dumps(results["drift_cm"])
    for key in ("bootstrap", "noop", "drift"):
        stored += results[key].files + results[key].stdout + results[key].stderr
    for secret in results["secrets"]:
        assert secret not in stored
