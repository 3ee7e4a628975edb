"""The tailnet peers are real: Headscale issues a pre-auth key through its REST API,
and a userspace tailscaled joins with it and shows online. With Headscale stopped, the
same check fails; after `hack/lab up tailnet` it passes again.

Plain urllib on purpose: this proves the peer, not the collection's HTTP client.

Response shapes, headscale v0.27.1 (grpc-gateway JSON: lowerCamelCase, uint64 as
strings), from repository juanfont/headscale at tag v0.27.1:
- proto/headscale/v1/headscale.proto: GET /api/v1/user?name=, POST and
  GET /api/v1/preauthkey, GET /api/v1/node.
- proto/headscale/v1/preauthkey.proto: CreatePreAuthKeyRequest.user is `uint64`, the
  user's id, since 0.26 (until 0.25 it was the name); a name is answered with 400
  "invalid value for uint64 field user". The answer is {"preAuthKey": {"key", ...}}.
- proto/headscale/v1/node.proto: Node.online, ip_addresses, given_name, node_key.
"""

import ipaddress
import json
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from tailnet_nodes import lab_node, lab_shell, start_node

from ansible_collections.glorious.flywheel.tests.support import lab

pytestmark = pytest.mark.lab

TAILNET_V4 = ipaddress.ip_network("100.64.0.0/10")
HOSTNAME = "lab-node-1"


def headscale(env, method, path, body=None):
    """One Headscale REST call with the lab's API key; returns the decoded answer."""
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


def create_preauth_key(env, ephemeral=False):
    users = headscale(env, "GET", f"/api/v1/user?name={env['HEADSCALE_USER']}")["users"]
    (user,) = users
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
    return user, answer["preAuthKey"]


def smoke_check(env):
    """Key from the REST API → userspace node joins → online on both sides.

    Returns (tailscale status, headscale's node record).
    """
    user, preauth_key = create_preauth_key(env)
    assert preauth_key["used"] is False

    node = lab_node(env)
    node.up(env["HEADSCALE_URL"], preauth_key["key"], HOSTNAME)
    status = node.wait_online()
    login_errors = [h for h in status.get("Health") or [] if "login error" in h]
    assert not login_errors, login_errors

    tailnet_ips = [ipaddress.ip_address(ip) for ip in status["Self"]["TailscaleIPs"]]
    assert any(ip in TAILNET_V4 for ip in tailnet_ips if ip.version == 4), tailnet_ips

    nodes = headscale(env, "GET", "/api/v1/node")["nodes"]
    (record,) = [n for n in nodes if n["givenName"] == HOSTNAME]
    # The record of *this* registration: Headscale's `online` flag outlives a logout.
    assert record["nodeKey"] == status["Self"]["PublicKey"]
    assert record["online"] is True
    assert record["user"]["id"] == user["id"]
    assert set(record["ipAddresses"]) == {str(ip) for ip in tailnet_ips}

    keys = headscale(env, "GET", f"/api/v1/preauthkey?user={user['id']}")["preAuthKeys"]
    (used_key,) = [k for k in keys if k["id"] == preauth_key["id"]]
    assert used_key["used"] is True
    return status, record


def test_lab_status_reports_every_peer_running(tailnet_lab):
    status = lab("status", "tailnet")
    assert status.stdout.splitlines() == [
        f"headscale {tailnet_lab['HEADSCALE_VERSION']} running",
        f"tailscaled {tailnet_lab['TAILSCALE_VERSION']} running",
    ]


def test_preauth_key_from_rest_api_joins_userspace_node(tailnet_lab):
    status = smoke_check(tailnet_lab)[0]
    assert status["BackendState"] == "Running"
    assert status["Self"]["Online"] is True
    assert status["Self"]["HostName"] == HOSTNAME


@pytest.fixture
def extra_node(tailnet_lab):
    node = start_node("smoke-peer", tailnet_lab["TAILSCALE_BIN"])
    yield node
    node.stop()


def test_two_userspace_nodes_reach_each_other(tailnet_lab, extra_node):
    smoke_check(tailnet_lab)
    # Ephemeral: Headscale deletes the node when the fixture logs it out.
    preauth_key = create_preauth_key(tailnet_lab, ephemeral=True)[1]
    extra_node.up(tailnet_lab["HEADSCALE_URL"], preauth_key["key"], "smoke-peer")
    peer_ips = extra_node.wait_online()["Self"]["TailscaleIPs"]
    (peer_v4,) = [ip for ip in peer_ips if ipaddress.ip_address(ip) in TAILNET_V4]

    # TSMP pings travel inside the WireGuard tunnel: an answer means the two nodes got
    # each other's keys from Headscale and found a path (direct on loopback or DERP).
    # The first may time out while the path is found; `ping` stops at the first pong.
    pong = lab_node(tailnet_lab).cli("ping", "--tsmp", "--c=10", peer_v4)
    assert re.search(rf"^pong from \S+ \({re.escape(peer_v4)}\b", pong.stdout, re.M)


def test_smoke_check_fails_while_headscale_is_stopped(tailnet_lab):
    lab_shell("stop_daemon headscale")
    try:
        stopped = lab("status", "tailnet", check=False)
        assert stopped.returncode != 0
        assert f"headscale {tailnet_lab['HEADSCALE_VERSION']} stopped" in stopped.stdout

        with pytest.raises(urllib.error.URLError) as refused:
            smoke_check(tailnet_lab)
        assert isinstance(refused.value.reason, ConnectionRefusedError)
    finally:
        restarted = lab("up", "tailnet", check=False)
    assert restarted.returncode == 0, restarted.stderr

    # Same database, same API key: the restored peer passes the same check.
    smoke_check(tailnet_lab)
