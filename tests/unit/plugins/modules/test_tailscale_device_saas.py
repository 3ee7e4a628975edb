"""tailscale_device and tailscale_device_info against the Tailscale SaaS double
(tests/doubles/tailscale_saas.py; device shapes from publicapi/device.md)."""

import copy
import json

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    DEVICE_FACTS,
)
from ansible_collections.glorious.flywheel.plugins.modules import (
    tailscale_device,
    tailscale_device_info,
)
from ansible_collections.glorious.flywheel.tests.doubles.tailscale_saas import (
    API_KEY,
    TAGGED_POLICY,
    TailscaleSaas,
    module_args,
)
from ansible_collections.glorious.flywheel.tests.inprocess import run_module
from ansible_collections.glorious.flywheel.tests.support import task_result


@pytest.fixture
def saas(serve_double):
    double = serve_double(TailscaleSaas)
    double.policy_text = TAGGED_POLICY
    double.add_device(
        "build-01",
        authorized=False,
        advertisedRoutes=["10.20.0.0/16", "0.0.0.0/0", "::/0"],
    )
    double.add_device(
        "db-01", tags=["tag:server"], connectedToControl=False, os="windows"
    )
    return double


def test_facts_are_normalised_from_the_saas_shape(saas):
    result = run_module(tailscale_device_info.main, module_args(saas))
    build, db = result["devices"]
    assert set(build) == set(DEVICE_FACTS)
    assert build["id"] == "n00001CNTRL" and build["control_plane"] == "tailscale"
    assert build["name"] == "build-01" and build["fqdn"] == "build-01.tail0123.ts.net"
    assert build["ipv4"] == "100.64.0.2" and build["ipv6"].startswith("fd7a:")
    assert build["online"] is True and build["last_seen"] is None
    assert build["os"] == "linux" and build["client_version"].startswith("1.86.5")
    assert build["authorized"] is False and build["expired"] is False
    assert build["routes"]["advertised"] == ["0.0.0.0/0", "10.20.0.0/16", "::/0"]
    assert db["online"] is False and db["last_seen"] == "2026-01-02T03:04:05Z"
    # One request with every field: no per-device calls.
    (listing,) = saas.requests
    assert listing.query == {"fields": "all"}


@pytest.mark.parametrize(
    "options, names",
    [
        ({"tags": ["tag:server"]}, ["db-01"]),
        ({"online": False}, ["db-01"]),
        ({"os": ["Linux"]}, ["build-01"]),
        ({"name": "BUILD-01.tail0123.ts.net"}, ["build-01"]),
        ({"address": "100.64.0.3"}, ["db-01"]),
        ({"id": "100001"}, ["build-01"]),
        ({"id": "n99999CNTRL"}, []),
    ],
)
def test_info_filters(saas, options, names):
    result = run_module(tailscale_device_info.main, module_args(saas, **options))
    assert [d["name"] for d in result["devices"]] == names


CHANGES = {
    "authorized": True,
    "tags": ["tag:ci", "tag:server"],
    "routes": ["10.20.0.0/16"],
    "key_expiry_disabled": True,
    "new_name": "builder",
}


def test_changes_check_mode_then_apply_then_idempotent(saas):
    before = copy.deepcopy(saas.devices)
    args = module_args(saas, name="build-01", **CHANGES)
    check = run_module(tailscale_device.main, args, check_mode=True, diff=True)
    assert check["changed"] is True
    assert check["diff"]["before"] == {
        "authorized": False,
        "tags": [],
        "routes": [],
        "key_expiry_disabled": False,
        "name": "build-01",
    }
    assert saas.devices == before
    assert not [r for r in saas.requests if r.method == "POST"]

    applied = run_module(tailscale_device.main, args)
    assert applied["changed"] is True
    device = saas.devices["n00001CNTRL"]
    assert device["authorized"] is True and device["keyExpiryDisabled"] is True
    assert device["tags"] == ["tag:ci", "tag:server"]
    assert device["enabledRoutes"] == ["10.20.0.0/16"]
    assert device["name"] == "builder.tail0123.ts.net"
    assert applied["device"]["name"] == "builder"
    posts = [r.path.rsplit("/", 1)[-1] for r in saas.requests if r.method == "POST"]
    assert posts == ["authorized", "tags", "routes", "key", "name"]

    # By the old name again: found under its new name, nothing left to do.
    saas.reset()
    again = run_module(tailscale_device.main, args)
    assert again["changed"] is False
    # One listing finds it under either name; nothing is written.
    assert [r.route for r in saas.requests] == ["list_devices"]


def test_expire_deauthorize_and_delete(saas):
    args = module_args(saas, address="100.64.0.3")
    expired = run_module(tailscale_device.main, dict(args, expire=True))
    assert expired["changed"] and expired["device"]["expired"] is True
    assert not run_module(tailscale_device.main, dict(args, expire=True))["changed"]
    off = run_module(tailscale_device.main, dict(args, authorized=False))
    assert off["changed"] and saas.devices["n00002CNTRL"]["authorized"] is False
    gone = module_args(saas, id="n00002CNTRL", state="absent")
    assert run_module(tailscale_device.main, gone, check_mode=True)["changed"]
    assert "n00002CNTRL" in saas.devices
    assert run_module(tailscale_device.main, gone)["changed"]
    assert "n00002CNTRL" not in saas.devices
    assert not run_module(tailscale_device.main, gone)["changed"]


@pytest.mark.parametrize(
    "options, words",
    [
        ({"name": "nowhere", "tags": ["tag:ci"]}, "No device with name=nowhere"),
        ({"name": "build-01", "tags": ["ci"]}, "Write it as 'tag:ci'"),
        (
            {"name": "build-01", "routes": ["10.20.0.1/16"]},
            "Did you mean 10.20.0.0/16?",
        ),
        (
            {"name": "build-01", "tags": ["tag:nobody"]},
            "requested tags [tag:nobody] are invalid or not permitted",
        ),
    ],
)
def test_bad_input_fails_cleanly(saas, options, words):
    result = run_module(tailscale_device.main, module_args(saas, **options))
    assert result["failed"] and words in result["msg"], result["msg"]
    assert "Traceback" not in result["_stdout"] and API_KEY not in result["_stdout"]


def test_a_name_matching_two_devices_asks_for_the_id(saas):
    saas.add_device("twin", name="twin.tail0123.ts.net")
    saas.add_device("twin", name="twin-1.tail0123.ts.net")
    result = run_module(
        tailscale_device.main, module_args(saas, name="twin", tags=["tag:ci"])
    )
    assert result["failed"] and "matches 2 devices" in result["msg"]
    assert "Select the device by id" in result["msg"]


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      glorious.flywheel.tailscale_device: {args}
      diff: true
    - name: again
      glorious.flywheel.tailscale_device: {args}
"""


def test_playbook_second_run_changes_nothing(saas, run_playbook):
    args = module_args(saas, name="db-01", tags=["tag:server", "tag:ci"])
    del args["api_token"]
    run = run_playbook(
        PLAYBOOK.format(args=json.dumps(args)),
        json_output=True,
        extra_env={"TAILSCALE_API_KEY": API_KEY},
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert task_result(run, "change")["changed"] is True
    assert task_result(run, "change")["diff"]["after"] == {
        "tags": ["tag:ci", "tag:server"]
    }
    assert task_result(run, "again")["changed"] is False
    assert API_KEY not in run.stdout + run.stderr
