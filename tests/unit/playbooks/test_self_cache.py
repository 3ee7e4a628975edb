"""playbooks/self_cache.yml, the file itself, run by ansible-playbook against the Attic
double with trivial derivations (the default list needs GitHub and nixpkgs).

The summary line is checked against what the double stored, so its counts are the
server's answers, not the playbook's own arithmetic.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.support import ROOT, task_result
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.nix_support import (
    OFFLINE,
    chain_expression,
    hash_part,
    need_nix,
    requisites,
)

PLAYBOOK = ROOT / "playbooks" / "self_cache.yml"


@pytest.fixture
def attic(serve_double):
    double = serve_double(Attic)
    double.add_cache("flywheel")
    double.add_cache("mirror")
    return double


@pytest.fixture
def builds(tmp_path):
    need_nix()
    nix_file = tmp_path / "packages.nix"
    nix_file.write_text(f"{{ tool = {chain_expression('self-cache-b')}; }}")
    added = tmp_path / "flywheel-self-cache-note.txt"
    added.write_text("added to the store, not built\n")
    stored = subprocess.run(
        ["nix-store", "--add", str(added)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return [
        {"name": "from-expr", "expr": chain_expression("self-cache-a")},
        {"name": "from-file", "file": str(nix_file), "attr": "tool"},
        {"name": "from-path", "path": stored},
    ]


def run(ansible_env, tmp_path, extra):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    env = dict(ansible_env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    completed = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(PLAYBOOK),
            "-e",
            f"@{extra_file}",
        ],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr
    completed.json = json.loads(completed.stdout)
    return completed


def summary(completed):
    return task_result(completed, "Summary")["msg"]


def test_builds_push_and_report_the_servers_counts(
    attic, builds, ansible_env, tmp_path
):
    token = attic.mint("ci", {"flywheel": ["r", "w"]})
    extra = {
        "self_cache_attic_url": attic.url,
        "self_cache_cache": "flywheel",
        "self_cache_token": token,
        "self_cache_builds": builds,
        "self_cache_nix_args": OFFLINE,
        "self_cache_retries": 0,
    }
    first = run(ansible_env, tmp_path, extra)
    collected = task_result(first, "Collect the out paths")["results"][-1]
    out_paths = collected["ansible_facts"]["self_cache_out_paths"]
    assert [p.rsplit("-", 1)[-1] for p in out_paths] == ["top", "top", "note.txt"]
    closure = {p for top in out_paths for p in requisites(top)}
    assert len(closure) == 7
    assert set(attic.live("flywheel").objects) == {hash_part(p) for p in closure}
    assert (
        "to cache flywheel: pushed 7, deduplicated 0, already present 0, "
        "from upstream 0" in summary(first)
    )
    assert "from-expr, from-file, from-path" in summary(first)
    assert token not in first.stdout

    again = run(ansible_env, tmp_path, extra)
    assert "pushed 0, deduplicated 0, already present 7" in summary(again)
    assert task_result(again, "Push the closures")["changed"] is False

    # A minted token this time, and a second cache: the server already holds every NAR.
    mirror = dict(extra, self_cache_cache="mirror")
    del mirror["self_cache_token"]
    mirror["self_cache_signing_secret_base64"] = attic.hs256_secret_base64
    third = run(ansible_env, tmp_path, mirror)
    assert "to cache mirror: pushed 0, deduplicated 7, already present 0" in summary(
        third
    )
    assert len(attic.nars) == 7
    assert attic.hs256_secret_base64 not in third.stdout


def test_without_a_token_or_secret_it_stops_before_building(
    attic, ansible_env, tmp_path
):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    completed = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(PLAYBOOK),
            "-e",
            f"self_cache_attic_url={attic.url} self_cache_cache=flywheel",
        ],
        cwd=ROOT,
        env=ansible_env,
        text=True,
        capture_output=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "self_cache_signing_secret_base64" in completed.stdout
    assert "Build each closure" not in completed.stdout
    assert attic.count() == 0
