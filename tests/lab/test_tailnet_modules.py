"""The tailnet modules against the lab's real Headscale 0.27.1 and real userspace
tailscaled nodes, and against extra real Headscale servers (0.25.1, 0.28.0, a policy
file) for the API shapes the lab's server does not have.

Idempotence, check mode and diff run through real ansible-playbook runs; bad input
and per-version quirks run the modules' main() in-process (tests/inprocess.py).
Whatever a module claims is checked against the server's own REST answers.

Headscale shapes (repository juanfont/headscale at each tag): proto/headscale/v1/
preauthkey.proto (user name up to 0.25, user id from 0.26, key id from 0.28, key
shown once from 0.28), node.proto (forcedTags up to 0.27, tags from 0.28;
ExpireNodeRequest.expiry from 0.27.1), policy.proto and hscontrol/grpcv1.go
(SetPolicy refuses unless policy.mode is database).
"""

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass

import pytest
from headscale_servers import HeadscaleServer
from tailnet_nodes import start_node

from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    DEVICE_FACTS,
    now,
    parse_time,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect,
)
from ansible_collections.glorious.flywheel.plugins.modules import (
    tailscale_auth_key,
    tailscale_auth_key_info,
    tailscale_device,
    tailscale_device_info,
    tailscale_policy,
)
from ansible_collections.glorious.flywheel.tests.inprocess import run_module
from ansible_collections.glorious.flywheel.tests.support import task_result

pytestmark = pytest.mark.lab

BASE_DOMAIN = "tailnet.flywheel.test"
ROUTE = "10.77.0.0/24"
# Policy v2 (Headscale >= 0.26) wants users written with an "@".
POLICY = {
    "groups": {"group:tsmod": ["lab@"]},
    "tagOwners": {"tag:tsmod": ["group:tsmod"], "tag:tsmod-b": ["group:tsmod"]},
    "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
}
# The same policy as HuJSON: comments, other key order, other spacing, trailing commas.
POLICY_HUJSON = """// Flywheel lab policy
{
  /* everyone may reach everything */
  "acls": [ {"dst": ["*:*"], "src": ["*"], "action": "accept",}, ],
  "tagOwners": {
    "tag:tsmod-b": ["group:tsmod"],  // second tag
    "tag:tsmod": ["group:tsmod"],
  },
  "groups": {"group:tsmod": ["lab@",],},
}
"""


@pytest.fixture(scope="module")
def conn(tailnet_lab):
    return {
        "api_url": tailnet_lab["HEADSCALE_URL"],
        "api_token": tailnet_lab["HEADSCALE_API_KEY"],
        "base_domain": BASE_DOMAIN,
        "retries": 1,
    }


@pytest.fixture(scope="module")
def hs(conn):
    """The collection's own Headscale client, for setup and for reading state back."""
    return connect(dict(conn, control_plane="headscale"))


def raw_node(tailnet_lab, node_id):
    """A node as Headscale stores it (plain urllib, not the code under test)."""
    request = urllib.request.Request(
        f"{tailnet_lab['HEADSCALE_URL']}/api/v1/node/{node_id}",
        headers={"Authorization": f"Bearer {tailnet_lab['HEADSCALE_API_KEY']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["node"]


@dataclass
class Joined:
    """A userspace node joined to the lab, its device facts, the one-off key it used."""

    node: object
    device: dict
    key: str


def join(tailnet_lab, conn, hostname, *extra_args, **key_args):
    """Starts a userspace node and joins it with a key the module creates."""
    created = run_module(
        tailscale_auth_key.main, dict(conn, user="lab", expiry_seconds=600, **key_args)
    )
    assert created["changed"] and not created.get("failed"), created
    node = start_node(hostname, tailnet_lab["TAILSCALE_BIN"])
    try:
        node.up(tailnet_lab["HEADSCALE_URL"], created["key"], hostname, *extra_args)
        status = node.wait_online()
    except Exception:
        node.stop()
        raise
    ip = status["Self"]["TailscaleIPs"][0]
    info = run_module(tailscale_device_info.main, dict(conn, address=ip))
    (device,) = info["devices"]
    return Joined(node, device, created["key"])


@pytest.fixture(scope="module")
def node_a(tailnet_lab, conn, hs):
    joined = join(
        tailnet_lab,
        conn,
        "tsmod-a",
        f"--advertise-routes={ROUTE}",
        "--advertise-exit-node",
    )
    yield joined
    joined.node.stop()
    gone = hs.get_device(joined.device["id"])
    if gone is not None:
        hs.delete(gone)


@pytest.fixture
def lab_policy(hs):
    """Puts the lab's policy back after a test that changes it (others share it)."""
    text = hs.get_policy()[0]
    yield
    hs.set_policy(text or json.dumps({"acls": POLICY["acls"]}))


def plain(value):
    """VALUE without ansible-inventory's ``__ansible_unsafe`` wrappers.

    Data from an API is never trusted as a template, so the inventory marks it
    unsafe; the wrapper is how `ansible-inventory --list` shows that.
    """
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def absent_from(secret, *texts):
    return all(secret not in text for text in texts)


# Keys -------------------------------------------------------------------------

KEY_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    glorious.flywheel.tailscale_auth_key: {retries: 1}
    glorious.flywheel.tailscale_auth_key_info: {retries: 1}
  tasks:
    - name: create
      glorious.flywheel.tailscale_auth_key:
        user: lab
        reusable: true
        tags: [tag:tsmod]
        expiry_seconds: 3600
      register: created
    - name: create in check mode
      glorious.flywheel.tailscale_auth_key:
        user: lab
        tags: [tag:tsmod-b]
      check_mode: true
      diff: true
    - name: reuse
      glorious.flywheel.tailscale_auth_key:
        user: lab
        reusable: true
        tags: [tag:tsmod]
        key: "{{ created.key }}"
      diff: true
    - name: list
      glorious.flywheel.tailscale_auth_key_info:
        user: lab
    - name: revoke in check mode
      glorious.flywheel.tailscale_auth_key:
        id: "{{ created.id }}"
        state: absent
      check_mode: true
      diff: true
    - name: after check mode
      glorious.flywheel.tailscale_auth_key_info:
        id: "{{ created.id }}"
    - name: revoke
      glorious.flywheel.tailscale_auth_key:
        id: "{{ created.id }}"
        state: absent
    - name: revoke again
      glorious.flywheel.tailscale_auth_key:
        id: "{{ created.id }}"
        state: absent
"""


def test_auth_key_lifecycle_idempotence_and_check_mode(run_playbook, tailnet_lab, hs):
    # Connection from the environment: the env-sourced API key must be hidden too.
    run = run_playbook(
        KEY_PLAYBOOK,
        json_output=True,
        extra_env={
            "HEADSCALE_URL": tailnet_lab["HEADSCALE_URL"],
            "HEADSCALE_API_KEY": tailnet_lab["HEADSCALE_API_KEY"],
        },
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    created = task_result(run, "create")
    secret = created["key"]
    assert created["changed"] and len(secret) >= 32
    assert created["auth_key"]["tags"] == ["tag:tsmod"]
    assert created["auth_key"]["reusable"] and created["auth_key"]["valid"]

    check = task_result(run, "create in check mode")
    assert check["changed"] and "key" not in check
    assert check["diff"]["after"]["tags"] == ["tag:tsmod-b"]
    # Nothing was created in check mode: no key carries the check-mode tag.
    assert not [k for k in hs.list_keys() if k.get("aclTags") == ["tag:tsmod-b"]]

    reused = task_result(run, "reuse")
    assert reused["changed"] is False and reused["reused"] is True
    assert reused["id"] == created["id"] and "key" not in reused

    listed = {k["id"]: k for k in task_result(run, "list")["auth_keys"]}
    assert listed[created["id"]]["valid"] is True
    assert all("key" not in k for k in listed.values())

    assert task_result(run, "revoke in check mode")["changed"] is True
    (after_check,) = task_result(run, "after check mode")["auth_keys"]
    assert after_check["valid"] is True
    assert task_result(run, "revoke")["changed"] is True
    assert task_result(run, "revoke again")["changed"] is False
    record = hs.key_by_id(created["id"])
    assert hs.key_facts(record)["valid"] is False

    # The secret is printed once (the create result) and nowhere else; the API key
    # from the environment not at all.
    assert run.stdout.count(secret) == 1
    assert tailnet_lab["HEADSCALE_API_KEY"] not in run.stdout + run.stderr


def test_used_and_expired_keys_are_refused_or_replaced(conn, node_a):
    used_key = node_a.key
    refused = run_module(
        tailscale_auth_key.main,
        dict(conn, user="lab", key=used_key, on_invalid="fail"),
    )
    assert refused["failed"] and refused["field"] == "key"
    assert "has been used" in refused["msg"] and "on_invalid" in refused["msg"]
    assert "Traceback" not in refused["_stdout"]

    replaced = run_module(tailscale_auth_key.main, dict(conn, user="lab", key=used_key))
    assert replaced["changed"] and replaced["key"] != used_key
    assert any("has been used" in w for w in replaced["warnings"])

    short = run_module(
        tailscale_auth_key.main, dict(conn, user="lab", expiry_seconds=1)
    )
    time.sleep(1.5)
    expired = run_module(
        tailscale_auth_key.main,
        dict(conn, user="lab", key=short["key"], on_invalid="fail"),
    )
    assert expired["failed"] and "has expired" in expired["msg"]
    assert absent_from(used_key, *(r["_stdout"] for r in (refused, replaced, expired)))
    assert absent_from(short["key"], expired["_stdout"])


# Devices ----------------------------------------------------------------------

DEVICE_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    glorious.flywheel.tailscale_device: {conn}
  tasks:
    - name: change
      glorious.flywheel.tailscale_device:
        name: tsmod-a
        tags: [tag:tsmod]
        routes: [{route}, 0.0.0.0/0, "::/0"]
        new_name: tsmod-a2
      diff: true
      check_mode: {check}
      register: first
    - name: again
      glorious.flywheel.tailscale_device:
        name: tsmod-a
        tags: [tag:tsmod]
        routes: [{route}, 0.0.0.0/0, "::/0"]
        new_name: tsmod-a2
      diff: true
      check_mode: {check}
      when: not {check}
"""


def test_device_tags_routes_rename_check_mode_then_idempotent(
    run_playbook, tailnet_lab, conn, node_a
):
    device = node_a.device
    text = DEVICE_PLAYBOOK.format(conn=json.dumps(conn), route=ROUTE, check="true")
    checked = run_playbook(text, json_output=True)
    assert checked.returncode == 0, checked.stdout[-3000:]
    first = task_result(checked, "change")
    assert first["changed"] is True
    assert first["diff"]["before"]["tags"] == []
    assert first["diff"]["after"]["tags"] == ["tag:tsmod"]
    assert first["diff"]["after"]["name"] == "tsmod-a2"
    # Check mode changed nothing on the server.
    stored = raw_node(tailnet_lab, device["id"])
    assert stored["forcedTags"] == [] and stored["approvedRoutes"] == []
    assert stored["givenName"] == "tsmod-a"

    applied = run_playbook(
        DEVICE_PLAYBOOK.format(conn=json.dumps(conn), route=ROUTE, check="false"),
        json_output=True,
    )
    assert applied.returncode == 0, applied.stdout[-3000:]
    first, again = task_result(applied, "change"), task_result(applied, "again")
    assert first["changed"] is True and again["changed"] is False
    assert first["device"]["name"] == "tsmod-a2"
    assert first["device"]["fqdn"] == f"tsmod-a2.{BASE_DOMAIN}"
    assert first["device"]["routes"]["approved"] == sorted([ROUTE, "0.0.0.0/0", "::/0"])
    stored = raw_node(tailnet_lab, device["id"])
    assert stored["forcedTags"] == ["tag:tsmod"]
    assert sorted(stored["approvedRoutes"]) == sorted([ROUTE, "0.0.0.0/0", "::/0"])
    assert stored["givenName"] == "tsmod-a2"
    assert set(first["device"]) == set(DEVICE_FACTS)


def test_device_expiry_lookup_and_unsupported_changes(tailnet_lab, conn, node_a):
    device = node_a.device
    by_address = dict(conn, address=device["ipv4"])
    expired = run_module(tailscale_device.main, dict(by_address, expire=True))
    assert expired["changed"] and expired["device"]["expired"] is True
    assert raw_node(tailnet_lab, device["id"])["expiry"] != "0001-01-01T00:00:00Z"
    assert not run_module(tailscale_device.main, dict(by_address, expire=True))[
        "changed"
    ]

    # Headscale >= 0.27.1: an expiry at Go's zero time means "never expires".
    check = run_module(
        tailscale_device.main,
        dict(by_address, key_expiry_disabled=True),
        check_mode=True,
        diff=True,
    )
    assert check["changed"] and check["diff"]["after"] == {"key_expiry_disabled": True}
    assert raw_node(tailnet_lab, device["id"])["expiry"] != "0001-01-01T00:00:00Z"
    revived = run_module(
        tailscale_device.main, dict(conn, id=device["id"], key_expiry_disabled=True)
    )
    assert revived["changed"] and revived["device"]["expired"] is False
    assert raw_node(tailnet_lab, device["id"])["expiry"] == "0001-01-01T00:00:00Z"
    assert not run_module(
        tailscale_device.main, dict(conn, id=device["id"], key_expiry_disabled=True)
    )["changed"]

    for args, words in (
        ({"authorized": False}, "no device approval"),
        ({"key_expiry_disabled": False}, "no API to re-enable"),
    ):
        failed = run_module(tailscale_device.main, dict(by_address, **args))
        assert failed["failed"] and words in failed["msg"], failed
        assert "Traceback" not in failed["_stdout"]

    info = run_module(tailscale_device_info.main, dict(conn, id=device["id"]))
    (facts,) = info["devices"]
    assert facts["ipv4"] == device["ipv4"] and facts["online"] in (True, False)
    assert facts["user"] == "lab" and facts["authorized"] is True


DELETE_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: remove in check mode
      glorious.flywheel.tailscale_device: {args}
      check_mode: true
    - name: still there
      glorious.flywheel.tailscale_device_info: {info}
    - name: remove
      glorious.flywheel.tailscale_device: {args}
    - name: remove again
      glorious.flywheel.tailscale_device: {args}
"""


def test_device_deletion_check_mode_then_idempotent(
    run_playbook, tailnet_lab, conn, hs
):
    joined = join(tailnet_lab, conn, "tsmod-b", ephemeral=False)
    node, device = joined.node, joined.device
    try:
        args = dict(conn, id=device["id"], state="absent")
        run = run_playbook(
            DELETE_PLAYBOOK.format(
                args=json.dumps(args), info=json.dumps(dict(conn, id=device["id"]))
            ),
            json_output=True,
        )
        assert run.returncode == 0, run.stdout[-3000:]
        assert task_result(run, "remove in check mode")["changed"] is True
        assert len(task_result(run, "still there")["devices"]) == 1
        assert task_result(run, "remove")["changed"] is True
        assert task_result(run, "remove again")["changed"] is False
        assert hs.get_device(device["id"]) is None
    finally:
        node.stop()


# Policy -----------------------------------------------------------------------

POLICY_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    glorious.flywheel.tailscale_policy: {conn}
  tasks:
    - name: data
      glorious.flywheel.tailscale_policy:
        policy: {policy}
      diff: true
    - name: data again
      glorious.flywheel.tailscale_policy:
        policy: {policy}
    - name: hujson
      glorious.flywheel.tailscale_policy:
        policy: {hujson}
    - name: other in check mode
      glorious.flywheel.tailscale_policy:
        policy: {other}
      check_mode: true
      diff: true
"""


def test_policy_round_trip_data_and_hujson(
    run_playbook, tailnet_lab, conn, hs, lab_policy
):
    hs.set_policy(json.dumps({"acls": POLICY["acls"]}))
    other = dict(
        POLICY, acls=[{"action": "accept", "src": ["group:tsmod"], "dst": ["*:22"]}]
    )
    run = run_playbook(
        POLICY_PLAYBOOK.format(
            conn=json.dumps(conn),
            policy=json.dumps(POLICY),
            hujson=json.dumps(POLICY_HUJSON),
            other=json.dumps(other),
        ),
        json_output=True,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    data = task_result(run, "data")
    assert data["changed"] is True
    assert '"tag:tsmod"' in data["diff"]["after"]
    assert '"tag:tsmod"' not in data["diff"]["before"]
    assert task_result(run, "data again")["changed"] is False
    hujson = task_result(run, "hujson")
    assert hujson["changed"] is False, "comments and commas are not a change"
    assert hujson["policy"] == POLICY
    checked = task_result(run, "other in check mode")
    assert checked["changed"] is True
    assert (
        '"*:22"' in checked["diff"]["after"]
        and '"*:22"' not in checked["diff"]["before"]
    )
    # The server holds the data policy; check mode never wrote the other one.
    text = hs.get_policy()[0]
    assert json.loads(text) == POLICY


def test_policy_hujson_text_is_stored_with_its_comments(conn, hs, lab_policy):
    hs.set_policy(json.dumps({"acls": POLICY["acls"]}))
    result = run_module(
        tailscale_policy.main, dict(conn, policy=POLICY_HUJSON), diff=True
    )
    assert result["changed"] and result["policy"] == POLICY
    text = hs.get_policy()[0]
    assert text == POLICY_HUJSON
    assert not run_module(tailscale_policy.main, dict(conn, policy=POLICY))["changed"]


# Other servers: a policy file, and the API shapes of 0.25 and 0.28 --------------


def test_policy_kept_in_a_file_is_explained(tmp_path):
    server = HeadscaleServer(
        "0.27.1", tmp_path, policy_mode="file", policy_text='{"acls": []}\n'
    ).start()
    try:
        args = dict(server.connection(), policy=POLICY)
        checked = run_module(tailscale_policy.main, args, check_mode=True)
        result = run_module(tailscale_policy.main, args)
        same = run_module(tailscale_policy.main, dict(args, policy={"acls": []}))
    finally:
        server.stop()
    for failed in (checked, result):
        assert failed["failed"] and failed["field"] == "policy"
        assert "keeps its policy in a file" in failed["msg"]
        assert "policy.mode: database" in failed["msg"]
        assert server.api_key not in failed["_stdout"]
    # Reading a file-kept policy works; only a change needs the database.
    assert same["changed"] is False and not same.get("failed")
    assert (tmp_path / "policy.hujson").read_text() == '{"acls": []}\n'


@pytest.mark.parametrize("version", ["0.25.1", "0.28.0"])
def test_key_and_policy_api_shapes_of_other_versions(tmp_path, version):
    server = HeadscaleServer(version, tmp_path).start()
    try:
        args = server.connection()
        created = run_module(
            tailscale_auth_key.main, dict(args, user="lab", reusable=True)
        )
        assert created["changed"], created
        secret = created["key"]
        keys = server.request(
            "GET", "/api/v1/preauthkey" + ("?user=lab" if version < "0.26" else "")
        )["preAuthKeys"]
        (stored,) = [k for k in keys if k["id"] == created["id"]]
        if version >= "0.28":
            # Shown once: the listing has the prefix only, and still finds the key.
            assert stored["key"].endswith("-***") and stored["key"] != secret
        else:
            assert stored["key"] == secret and stored["user"] == "lab"
        reused = run_module(
            tailscale_auth_key.main, dict(args, user="lab", reusable=True, key=secret)
        )
        assert reused["reused"] and not reused["changed"], reused
        listed = run_module(tailscale_auth_key_info.main, dict(args, user="lab"))
        assert secret not in listed["_stdout"]
        revoked = run_module(
            tailscale_auth_key.main, dict(args, id=created["id"], state="absent")
        )
        assert revoked["changed"]
        keys = server.request(
            "GET", "/api/v1/preauthkey" + ("?user=lab" if version < "0.26" else "")
        )["preAuthKeys"]
        (stored,) = [k for k in keys if k["id"] == created["id"]]
        assert parse_time(stored["expiration"]) <= now()

        assert run_module(tailscale_policy.main, dict(args, policy=POLICY))["changed"]
        assert not run_module(tailscale_policy.main, dict(args, policy=POLICY_HUJSON))[
            "changed"
        ]
        assert run_module(tailscale_device_info.main, args)["devices"] == []
        unsupported = run_module(
            tailscale_device.main, dict(args, name="nope", tags=["tag:tsmod"])
        )
        assert (
            unsupported["failed"] and "No device with name=nope" in unsupported["msg"]
        )
    finally:
        server.stop()


def test_headscale_028_tags_are_the_nodes_identity(tmp_path, tailnet_lab):
    server = HeadscaleServer("0.28.0", tmp_path).start()
    node = None
    try:
        args = server.connection()
        assert run_module(tailscale_policy.main, dict(args, policy=POLICY))["changed"]
        created = run_module(tailscale_auth_key.main, dict(args, user="lab"))
        node = start_node("tsmod-28", tailnet_lab["TAILSCALE_BIN"])
        node.up(server.url, created["key"], "tsmod-28")
        node.wait_online()
        tagged = run_module(
            tailscale_device.main, dict(args, name="tsmod-28", tags=["tag:tsmod"])
        )
        assert tagged["changed"] and tagged["device"]["tags"] == ["tag:tsmod"]
        (stored,) = server.request("GET", "/api/v1/node")["nodes"]
        assert stored["tags"] == ["tag:tsmod"] and "forcedTags" not in stored
        again = run_module(
            tailscale_device.main, dict(args, name="tsmod-28", tags=["tag:tsmod"])
        )
        assert again["changed"] is False
        untag = run_module(tailscale_device.main, dict(args, name="tsmod-28", tags=[]))
        assert untag["failed"] and "cannot remove every tag" in untag["msg"]
    finally:
        if node is not None:
            node.stop()
        server.stop()


# Bad input --------------------------------------------------------------------


def test_bad_input_fails_cleanly_without_secrets(tailnet_lab, conn):
    cases = [
        (
            tailscale_device.main,
            dict(conn, name="no-such-device", tags=["tag:x"]),
            "No device with name=no-such-device",
        ),
        (
            tailscale_device.main,
            dict(conn, name="tsmod-a", tags=["server"]),
            "Write it as 'tag:server'",
        ),
        (
            tailscale_auth_key.main,
            dict(conn, user="lab", tags=["server"]),
            "tags[0] 'server' is not a tag",
        ),
        (tailscale_auth_key.main, dict(conn, user="nobody"), "has no user 'nobody'"),
        (
            tailscale_device_info.main,
            dict(conn, api_token="hskey-api-wrong-0123456789"),
            "HTTP 401",
        ),
        (
            tailscale_device_info.main,
            dict(conn, api_url="http://127.0.0.1:9", retries=0),
            "could not connect",
        ),
        (
            tailscale_device.main,
            dict(conn, name="tsmod-a", routes=["10.77.0.1/24"]),
            "Did you mean 10.77.0.0/24?",
        ),
    ]
    for main, args, words in cases:
        result = run_module(main, args)
        assert result.get("failed"), (args, result)
        assert words in result["msg"], (words, result["msg"])
        assert "Traceback" not in result["_stdout"]
        assert tailnet_lab["HEADSCALE_API_KEY"] not in result["_stdout"]
        assert "hskey-api-wrong-0123456789" not in result["_stdout"]
    wrong = run_module(
        tailscale_device_info.main, dict(conn, api_token="hskey-api-wrong-0123456789")
    )
    assert "Check that api_token is valid" in wrong["msg"]


def test_inventory_groups_tagged_lab_nodes(tailnet_lab, node_a, tmp_path, ansible_env):
    device = node_a.device
    source = tmp_path / "lab.tailnet.yml"
    source.write_text(
        "plugin: glorious.flywheel.tailnet\n"
        f"base_domain: {BASE_DOMAIN}\n"
        "ansible_host_source: fqdn\n"
        "hostname_source: id\n"
    )
    env = dict(
        ansible_env,
        HEADSCALE_URL=tailnet_lab["HEADSCALE_URL"],
        HEADSCALE_API_KEY=tailnet_lab["HEADSCALE_API_KEY"],
    )
    listed = subprocess.run(
        ["ansible-inventory", "-i", str(source), "--list"],
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )
    inventory = plain(json.loads(listed.stdout))
    hostvars = inventory["_meta"]["hostvars"][device["id"]]
    current = raw_node(tailnet_lab, device["id"])
    assert hostvars["ansible_host"] == f"{current['givenName']}.{BASE_DOMAIN}"
    assert hostvars["tailscale_ipv4"] == device["ipv4"]
    for tag in current["forcedTags"]:
        group = "tag_" + tag.split(":", 1)[1].replace("-", "_")
        assert device["id"] in inventory[group]["hosts"]
    assert tailnet_lab["HEADSCALE_API_KEY"] not in listed.stdout + listed.stderr
