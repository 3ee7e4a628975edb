"""The dogfooding pipelines under extensions/ci/: each runs redeploy.yml on main from the
platform's own runners, health.yml and drift on a schedule, takes secrets from the forge's
secret store, and lets only one redeploy run at a time."""

import re

import yaml

from ansible_collections.glorious.flywheel.tests.support import ROOT

CI = ROOT / "extensions" / "ci"
REDEPLOY = re.compile(r"ansible-playbook playbooks/redeploy\.yml -i ")
DRIFT = re.compile(r"ansible-playbook playbooks/redeploy\.yml --check --diff -i ")
HEALTH = re.compile(r"ansible-playbook playbooks/health\.yml -i ")
# A secret written into a template instead of read from the store.
# The callback that makes a --check run exit non-zero on drift.
REPORT = "glorious.flywheel.flywheel_report"
LITERAL_SECRET = re.compile(r"(glpat-|ghp_|github_pat_|BEGIN [A-Z ]*PRIVATE KEY)")


def load(path):
    text = path.read_text()
    assert not LITERAL_SECRET.search(text)
    return yaml.safe_load(text)


def scripts(job):
    """Every command line of a GitHub/Forgejo job or a GitLab job, joined."""
    lines = [step.get("run", "") for step in job.get("steps", [])]
    lines += job.get("script", [])
    return "\n".join(lines)


def actions_workflow(path, secret_ref):
    workflow = load(path)
    on = workflow["on"]
    assert on["push"]["branches"] == ["main"]
    assert on["schedule"][0]["cron"].split()[0].startswith("*/")
    jobs = workflow["jobs"]
    assert workflow["env"]["ANSIBLE_CALLBACKS_ENABLED"] == REPORT
    text = path.read_text()
    # Secrets only come from the forge's store, never from the file.
    for name in ("FLYWHEEL_KUBECONFIG", "FLYWHEEL_SECRET_VARS"):
        assert f"{secret_ref}.{name} }}}}" in text
    return workflow, jobs


def test_github_workflow():
    workflow, jobs = actions_workflow(CI / "github" / "flywheel.yml", "${{ secrets")
    redeploy, health, drift = jobs["redeploy"], jobs["health"], jobs["drift"]
    assert REDEPLOY.search(scripts(redeploy))
    assert redeploy["if"] == "github.event_name != 'schedule'"
    assert HEALTH.search(scripts(health)) and DRIFT.search(scripts(drift))
    assert health["if"] == drift["if"] == "github.event_name == 'schedule'"
    # The platform's own scale set, never a GitHub-hosted label.
    assert {job["runs-on"] for job in jobs.values()} == {"flywheel-platform"}
    # Redeploy and drift share one queue; a newer run never cancels a half-applied one.
    for job in (redeploy, drift):
        assert job["concurrency"] == {
            "group": "flywheel-platform",
            "cancel-in-progress": False,
        }
    assert workflow["permissions"] == {"contents": "read"}


def test_forgejo_workflow():
    workflow, jobs = actions_workflow(CI / "forgejo" / "flywheel.yml", "${{ secrets")
    assert workflow["concurrency"] == {
        "group": "flywheel-platform",
        "cancel-in-progress": False,
    }
    redeploy, checks = jobs["redeploy"], jobs["health-and-drift"]
    assert REDEPLOY.search(scripts(redeploy))
    assert redeploy["if"] == "forgejo.event_name != 'schedule'"
    assert checks["if"] == "forgejo.event_name == 'schedule'"
    assert HEALTH.search(scripts(checks)) and DRIFT.search(scripts(checks))
    # Drift is checked even when health failed.
    assert checks["steps"][-1]["if"] == "always()"
    assert {job["runs-on"] for job in jobs.values()} == {"kubernetes"}


def test_gitlab_pipeline():
    pipeline = load(CI / "gitlab" / ".gitlab-ci.yml")
    assert pipeline["default"]["tags"] == ["kubernetes"]
    assert pipeline["variables"]["ANSIBLE_CALLBACKS_ENABLED"] == REPORT
    rules = [rule["if"] for rule in pipeline["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in rules
    assert (
        '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'
        in rules
    )
    redeploy, health, drift = (pipeline[n] for n in ("redeploy", "health", "drift"))
    assert REDEPLOY.search(scripts(redeploy))
    assert redeploy["rules"] == [{"if": '$CI_PIPELINE_SOURCE != "schedule"'}]
    for job in (health, drift):
        assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert HEALTH.search(scripts(health)) and DRIFT.search(scripts(drift))
    assert redeploy["resource_group"] == drift["resource_group"] == "flywheel-platform"
    assert "resource_group" not in health
    # File-type CI/CD variables: GitLab hands the job the path of the secret.
    assert '-e @"$FLYWHEEL_SECRET_VARS"' in scripts(redeploy)
    assert 'flywheel_kubeconfig="$FLYWHEEL_KUBECONFIG"' in scripts(redeploy)
