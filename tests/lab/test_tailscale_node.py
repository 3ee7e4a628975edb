"""tailscale_node against the lab's real Headscale and fresh userspace tailscaleds.

Every run goes through ansible-playbook. The module's CLI is a shim that logs each
call before running the real `tailscale`, so the tests count CLI calls and see which
command made a change; live state is read with the real CLI (`debug prefs`,
`status --json`) and Headscale's REST API, never from the module's own answer alone.

Headscale v0.27.1 shapes (repository juanfont/headscale, tag v0.27.1):
proto/headscale/v1/headscale.proto (`POST /api/v1/preauthkey` takes the user's numeric
id, `POST /api/v1/node/{node_id}/approve_routes`), proto/headscale/v1/node.proto
(`givenName`, `nodeKey`, `online`, `approvedRoutes`).
Tailscale v1.86.5 (tailscale.com module, cmd/tailscale/cli/up.go): `tailscale up`
fails with "requires mentioning all non-default flags" when a non-default setting is
left out; ipn/prefs.go: the JSON of `tailscale debug prefs`.
"""

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from tailnet_nodes import start_node

from ansible_collections.glorious.flywheel.tests.support import task_result

pytestmark = pytest.mark.lab

TASK = "tailscale_node"
STEADY_STATE_CLI_CALLS = 2


def headscale(env, method, path, body=None):
    request = urllib.request.Request(
        env["HEADSCALE_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {env['HEADSCALE_API_KEY']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def preauth_key(env, ephemeral=True):
    """A single-use key of the lab user. Ephemeral: a logged-out node disappears."""
    (user,) = headscale(env, "GET", f"/api/v1/user?name={env['HEADSCALE_USER']}")[
        "users"
    ]
    expiration = datetime.now(timezone.utc) + timedelta(minutes=10)
    answer = headscale(
        env,
        "POST",
        "/api/v1/preauthkey",
        {
            "user": user["id"],
            "reusable": False,
            "ephemeral": ephemeral,
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return answer["preAuthKey"]["key"]


def headscale_node(env, node_key):
    """Headscale's record of the node with NODE_KEY, or None."""
    for record in headscale(env, "GET", "/api/v1/node")["nodes"]:
        if record["nodeKey"] == node_key:
            return record
    return None


class NodeRunner:
    """Runs tailscale_node on one lab node through ansible-playbook."""

    def __init__(self, env, node, run_playbook, tmp_path):
        self.env = env
        self.node = node
        self.run_playbook = run_playbook
        self.calls_log = tmp_path / "cli-calls.log"
        self.shim = tmp_path / "tailscale-shim"
        self.shim.write_text(
            "#!/bin/sh\n"
            f"printf '%s\\n' \"$*\" >> '{self.calls_log}'\n"
            f"exec '{env['TAILSCALE_BIN']}' \"$@\"\n"
        )
        self.shim.chmod(0o755)
        self.secrets = [env["HEADSCALE_API_KEY"]]

    def run(self, check=False, **args):
        """Runs the module with ARGS; returns (task result, CLI calls)."""
        args.setdefault("cli_path", str(self.shim))
        args.setdefault("socket", self.node.socket)
        if "auth_key" in args:
            self.secrets.append(args["auth_key"])
        task = {"name": TASK, "glorious.flywheel.tailscale_node": args}
        if check:
            task["check_mode"] = True
        task["diff"] = True
        playbook = [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
        self.calls_log.write_text("")
        completed = self.run_playbook(json.dumps(playbook), json_output=True)
        output = completed.stdout + completed.stderr
        for secret in self.secrets:
            assert secret not in output, "a secret appeared in the playbook output"
        calls = self.calls_log.read_text().splitlines()
        for secret in self.secrets:
            assert not any(secret in call for call in calls), "a secret on a CLI line"
        return task_result(completed, TASK), calls

    def ok(self, **args):
        result, calls = self.run(**args)
        assert not result.get("failed"), (result.get("msg"), result.get("commands"))
        return result, calls

    def prefs(self):
        return json.loads(self.node.cli("debug", "prefs").stdout)


def commands_named(calls, name):
    return [call for call in calls if call.split()[1:2] == [name]]


def delete_headscale_node(env, node_id):
    try:
        headscale(env, "DELETE", f"/api/v1/node/{node_id}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise


@pytest.fixture
def fresh_node(tailnet_lab, request):
    """A userspace tailscaled that never logged in, named after the test.

    At the end it logs out and stops, and its Headscale record (kept for nodes of
    non-ephemeral keys) is deleted: the lab is shared.
    """
    name = "tsn-" + request.node.name.removeprefix("test_")[:20].replace("_", "-")
    node = start_node(name.rstrip("-"), tailnet_lab["TAILSCALE_BIN"])
    yield node
    node_id = node.status()["Self"]["ID"]
    node.stop()
    if node_id:
        delete_headscale_node(tailnet_lab, node_id)


@pytest.fixture
def runner(tailnet_lab, fresh_node, run_playbook, tmp_path):
    return NodeRunner(tailnet_lab, fresh_node, run_playbook, tmp_path)


@pytest.fixture
def joined(runner, tailnet_lab):
    """RUNNER's node joined to the lab Headscale by the module; its join result."""
    result = runner.ok(
        login_server=tailnet_lab["HEADSCALE_URL"],
        auth_key=preauth_key(tailnet_lab),
        hostname=runner.node.name,
        accept_dns=False,
    )[0]
    assert result["changed"] is True
    return result


def test_join_with_a_key_then_steady_state_needs_no_key(runner, tailnet_lab):
    key = preauth_key(tailnet_lab, ephemeral=False)
    name = runner.node.name
    result, calls = runner.ok(
        login_server=tailnet_lab["HEADSCALE_URL"],
        auth_key=key,
        hostname=name,
        accept_dns=False,
    )
    assert result["changed"] is True
    assert result["diff"]["before"]["logged_in"] is False
    assert result["diff"]["after"]["logged_in"] is True
    (up,) = commands_named(calls, "up")
    assert "--auth-key=file:" in up

    status = runner.node.wait_online()
    record = headscale_node(tailnet_lab, status["Self"]["PublicKey"])
    assert record is not None and record["online"] is True
    assert record["givenName"] == name
    assert result["node"]["ipv4"] in record["ipAddresses"]
    assert result["node"]["fqdn"] == status["Self"]["DNSName"].rstrip(".")
    assert result["node"]["online"] is True
    prefs = runner.prefs()
    assert prefs["ControlURL"] == tailnet_lab["HEADSCALE_URL"]
    assert prefs["CorpDNS"] is False

    # Same options, no key: nothing to do, two CLI calls, both reads.
    result, calls = runner.ok(
        login_server=tailnet_lab["HEADSCALE_URL"], hostname=name, accept_dns=False
    )
    assert result["changed"] is False
    assert len(calls) == STEADY_STATE_CLI_CALLS, calls
    assert [call.split()[1] for call in calls] == ["debug", "status"]

    # The used single-use key again: an online node does not use it (Headscale would
    # refuse it: "authkey already used"), and the node stays the same node.
    result, calls = runner.ok(
        login_server=tailnet_lab["HEADSCALE_URL"],
        auth_key=key,
        hostname=name,
        accept_dns=False,
    )
    assert result["changed"] is False
    assert len(calls) == STEADY_STATE_CLI_CALLS, calls
    assert runner.node.status()["Self"]["PublicKey"] == status["Self"]["PublicKey"]


def test_change_and_drop_settings_without_a_key(runner, joined):
    result, calls = runner.ok(
        shields_up=True, accept_routes=True, advertise_routes=["10.77.0.0/16"]
    )
    assert result["changed"] is True
    (set_call,) = commands_named(calls, "set")
    assert not commands_named(calls, "up")
    assert "--auth-key" not in set_call
    prefs = runner.prefs()
    assert (prefs["ShieldsUp"], prefs["RouteAll"]) == (True, True)
    assert prefs["AdvertiseRoutes"] == ["10.77.0.0/16"]
    assert result["diff"] == {
        "before": {"shields_up": False, "accept_routes": False, "advertise_routes": []},
        "after": {
            "shields_up": True,
            "accept_routes": True,
            "advertise_routes": ["10.77.0.0/16"],
        },
    }

    # One flag alone, the others not mentioned: they stay as they are.
    result, calls = runner.ok(hostname="tsn-renamed")
    assert result["changed"] is True
    assert commands_named(calls, "set") == [
        f"--socket={runner.node.socket} set --hostname=tsn-renamed"
    ]
    assert result["node"]["hostname"] == "tsn-renamed"
    prefs = runner.prefs()
    assert prefs["Hostname"] == "tsn-renamed"
    assert (prefs["ShieldsUp"], prefs["RouteAll"]) == (True, True)

    # Dropping flags: `tailscale up` alone would refuse this.
    result, calls = runner.ok(shields_up=False, advertise_routes=[])
    assert result["changed"] is True
    assert not commands_named(calls, "up")
    prefs = runner.prefs()
    assert prefs["ShieldsUp"] is False
    assert not prefs["AdvertiseRoutes"]
    assert prefs["RouteAll"] is True

    # Tags need `tailscale up`: it must mention every non-default setting and still
    # need no key.
    result, calls = runner.ok(advertise_tags=["tag:ci"])
    assert result["changed"] is True
    (up,) = commands_named(calls, "up")
    assert "--auth-key" not in up
    prefs = runner.prefs()
    assert prefs["AdvertiseTags"] == ["tag:ci"]
    assert prefs["Hostname"] == "tsn-renamed"
    assert (prefs["RouteAll"], prefs["CorpDNS"]) == (True, False)
    assert runner.node.status()["BackendState"] == "Running"

    result, calls = runner.ok(advertise_tags=[], hostname="tsn-renamed")
    assert result["changed"] is True
    assert not runner.prefs()["AdvertiseTags"]
    result, calls = runner.ok(advertise_tags=[], hostname="tsn-renamed")
    assert result["changed"] is False
    assert len(calls) == STEADY_STATE_CLI_CALLS


def test_check_mode_changes_nothing_then_logout(runner, joined, tailnet_lab):
    prefs_before = runner.prefs()
    for args in (
        {"hostname": "tsn-other", "shields_up": True, "advertise_tags": ["tag:x"]},
        {"state": "absent"},
        {"login_server": "http://127.0.0.1:9", "auth_key": preauth_key(tailnet_lab)},
    ):
        result, calls = runner.ok(check=True, **args)
        assert result["changed"] is True, args
        assert [call.split()[1] for call in calls] == ["debug", "status"], calls
        assert result["diff"]["before"] != result["diff"]["after"]
    assert result["diff"]["after"]["login_server"] == "http://127.0.0.1:9"
    assert result["login_required"] is True
    assert runner.prefs() == prefs_before
    assert runner.node.status()["BackendState"] == "Running"

    result = runner.ok(check=True, hostname=runner.node.name)[0]
    assert (result["changed"], result["login_required"]) == (False, False)

    # The real logout.
    node_key = runner.node.status()["Self"]["PublicKey"]
    result, calls = runner.ok(state="absent")
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"logged_in": True},
        "after": {"logged_in": False},
    }
    assert commands_named(calls, "logout")
    assert runner.node.status()["BackendState"] == "NeedsLogin"
    assert result["node"]["logged_in"] is False
    # Ephemeral key: Headscale drops the node at logout.
    assert headscale_node(tailnet_lab, node_key) is None

    result, calls = runner.ok(state="absent")
    assert result["changed"] is False
    assert len(calls) == STEADY_STATE_CLI_CALLS

    # A check run with no key on a logged-out node: a change, no failure, and the
    # answer to "does this host need a key?".
    result, calls = runner.ok(check=True, hostname="tsn-never")
    assert (result["changed"], result["login_required"]) == (True, True)
    assert result["diff"]["after"]["logged_in"] is True
    assert not commands_named(calls, "up")
    assert runner.node.status()["BackendState"] == "NeedsLogin"


def test_exit_node_by_ip_and_by_name_then_none(runner, joined, tailnet_lab):
    gateway = start_node("tsn-gateway", tailnet_lab["TAILSCALE_BIN"])
    try:
        result = runner.ok(
            socket=gateway.socket,
            login_server=tailnet_lab["HEADSCALE_URL"],
            auth_key=preauth_key(tailnet_lab),
            hostname="tsn-gateway",
            accept_dns=False,
            advertise_exit_node=True,
        )[0]
        assert sorted(
            json.loads(gateway.cli("debug", "prefs").stdout)["AdvertiseRoutes"]
        ) == ["0.0.0.0/0", "::/0"]
        gateway_ip = result["node"]["ipv4"]
        headscale(
            tailnet_lab,
            "POST",
            f"/api/v1/node/{result['node']['id']}/approve_routes",
            {"routes": ["0.0.0.0/0", "::/0"]},
        )

        result, calls = runner.ok(exit_node=gateway_ip)
        assert result["changed"] is True
        assert result["diff"] == {
            "before": {"exit_node": ""},
            "after": {"exit_node": gateway_ip},
        }
        prefs = runner.prefs()
        peer_id = next(
            peer["ID"]
            for peer in runner.node.status()["Peer"].values()
            if gateway_ip in peer["TailscaleIPs"]
        )
        assert prefs["ExitNodeID"] == peer_id or prefs["ExitNodeIP"] == gateway_ip

        # The same exit node named by its host name is no change.
        result, calls = runner.ok(exit_node="tsn-gateway")
        assert result["changed"] is False
        assert len(calls) == STEADY_STATE_CLI_CALLS

        result = runner.ok(exit_node="")[0]
        assert result["changed"] is True
        prefs = runner.prefs()
        assert (prefs["ExitNodeID"], prefs["ExitNodeIP"]) == ("", "")
    finally:
        gateway_id = gateway.status()["Self"]["ID"]
        gateway.stop()
        if gateway_id:
            delete_headscale_node(tailnet_lab, gateway_id)


def test_failures_are_clear_and_change_nothing(runner, tmp_path, tailnet_lab):
    result, calls = runner.run(advertise_tags=["tag:ok", "ci"])
    assert result["failed"] is True
    assert "'ci' is not a tag" in result["msg"] and "tag:" in result["msg"]
    assert calls == []

    result, calls = runner.run(advertise_routes=["10.1.2.3/16"])
    assert result["failed"] is True
    assert "host bits" in result["msg"] and "10.1.0.0/16" in result["msg"]
    assert calls == []

    result = runner.run(cli_path=str(tmp_path / "nothing-here"))[0]
    assert result["failed"] is True
    assert "is not an executable file" in result["msg"]

    missing = tmp_path / "no-tailscaled.sock"
    result, calls = runner.run(socket=str(missing), hostname="x")
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"tailscaled is not running, or not listening on {missing}: "
    )
    assert "connect" in result["msg"]
    assert len(calls) == 1
    assert runner.node.status()["BackendState"] == "NeedsLogin"

    # A login without a key.
    result, calls = runner.run(login_server=tailnet_lab["HEADSCALE_URL"])
    assert result["failed"] is True
    assert result["login_required"] is True
    assert "auth_key is required" in result["msg"]
    assert "not logged in" in result["msg"]
    assert not commands_named(calls, "up")
    assert runner.node.status()["BackendState"] == "NeedsLogin"

    # An unreachable control server: the CLI's own words, then tailscaled's reason.
    result, calls = runner.run(
        login_server="http://127.0.0.1:9",
        auth_key=preauth_key(tailnet_lab),
        timeout=5,
    )
    assert result["failed"] is True
    assert "timeout waiting for Tailscale service" in result["msg"]
    assert "127.0.0.1:9" in result["msg"] and "connection refused" in result["msg"]
    assert "Traceback" not in json.dumps(result)
    (up,) = commands_named(calls, "up")
    assert "--login-server=http://127.0.0.1:9" in up and "--timeout=5s" in up
