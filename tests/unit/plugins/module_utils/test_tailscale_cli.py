"""The tailscale CLI knowledge behind tailscale_node: prefs to `up` flags, input checks.

Prefs are the JSON of `tailscale debug prefs` (tailscale.com v1.86.5, ipn/prefs.go);
the flags and their defaults are those of `tailscale up` on Linux
(cmd/tailscale/cli/up.go: newUpFlagSet, prefsToFlags). The lab tests
(tests/lab/test_tailscale_node.py) run the same code against a real tailscaled.
"""

from __future__ import annotations

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._tailscale_cli import (
    UP_FLAG_DEFAULTS,
    NodeState,
    TailscaleCli,
    TailscaleCliError,
    TailscaledUnreachable,
    normalize_routes,
    prefs_to_flags,
    same_control_url,
    up_flags,
    validate_tags,
)

# A node as `tailscale logout` leaves it (1.86.5, read from the lab's tailscaled).
LOGGED_OUT_PREFS = {
    "ControlURL": "",
    "RouteAll": False,
    "ExitNodeID": "",
    "ExitNodeIP": "",
    "CorpDNS": True,
    "RunSSH": False,
    "RunWebClient": False,
    "WantRunning": False,
    "LoggedOut": True,
    "ShieldsUp": False,
    "AdvertiseTags": None,
    "Hostname": "",
    "AdvertiseRoutes": None,
    "NoSNAT": False,
    "NoStatefulFiltering": True,
    "NetfilterMode": 2,
    "AppConnector": {"Advertise": False},
    "PostureChecking": False,
}


def test_logged_out_prefs_are_every_flags_default():
    assert prefs_to_flags(LOGGED_OUT_PREFS) == UP_FLAG_DEFAULTS
    assert up_flags(prefs_to_flags(LOGGED_OUT_PREFS), {}) == []


def test_up_mentions_every_non_default_setting_and_the_wanted_ones():
    prefs = dict(
        LOGGED_OUT_PREFS,
        ControlURL="http://127.0.0.1:18080",
        CorpDNS=False,
        Hostname="node-1",
        AdvertiseRoutes=["10.0.0.0/24", "0.0.0.0/0", "::/0"],
        OperatorUser="ci",
        NetfilterMode=0,
    )
    flags = up_flags(prefs_to_flags(prefs), {"advertise-tags": ("tag:ci",)})
    assert flags == [
        "--accept-dns=false",
        "--advertise-exit-node=true",
        "--advertise-routes=10.0.0.0/24",
        "--advertise-tags=tag:ci",
        "--hostname=node-1",
        "--login-server=http://127.0.0.1:18080",
        "--netfilter-mode=off",
        "--operator=ci",
    ]


def test_a_wanted_default_is_still_mentioned():
    prefs = dict(LOGGED_OUT_PREFS, ShieldsUp=True)
    assert up_flags(prefs_to_flags(prefs), {"shields-up": False}) == [
        "--shields-up=false"
    ]


def test_one_exit_route_alone_is_a_subnet_route_not_an_exit_node():
    flags = prefs_to_flags(dict(LOGGED_OUT_PREFS, AdvertiseRoutes=["0.0.0.0/0"]))
    assert flags["advertise-exit-node"] is False
    assert flags["advertise-routes"] == ("0.0.0.0/0",)


@pytest.mark.parametrize(
    ("wanted", "current", "same"),
    [
        ("https://login.tailscale.com", "https://controlplane.tailscale.com", True),
        ("https://controlplane.tailscale.com", "", True),
        ("http://hs:8080/", "http://hs:8080", True),
        ("http://hs:8080", "", False),
        ("http://hs:8080", "https://controlplane.tailscale.com", False),
    ],
)
def test_control_urls(wanted, current, same):
    assert same_control_url(wanted, current) is same


def test_tags_must_start_with_tag():
    assert validate_tags(["tag:ci", "tag:server"]) is None
    assert "'ci' is not a tag" in validate_tags(["tag:ok", "ci"])
    assert "'tag:' is not a tag" in validate_tags(["tag:"])


def test_routes_are_canonical_prefixes():
    assert normalize_routes(["10.1.0.0/16", "fd00::0/64"]) == [
        "10.1.0.0/16",
        "fd00::/64",
    ]
    for route, message in [
        ("10.1.2.3/16", "host bits set; the network is 10.1.0.0/16"),
        ("10.1.2.3", "is not an IP prefix"),
        ("nonsense/8", "is not an IP prefix"),
        ("0.0.0.0/0", "use advertise_exit_node"),
    ]:
        with pytest.raises(ValueError, match=message):
            normalize_routes([route])


def test_exit_node_is_matched_by_ip_host_name_or_dns_name():
    prefs = dict(LOGGED_OUT_PREFS, ExitNodeID="nGw")
    status = {
        "BackendState": "Running",
        "Peer": {
            "nodekey:1": {
                "ID": "nGw",
                "HostName": "gateway",
                "DNSName": "gw-1.tailnet.example.",
                "TailscaleIPs": ["100.64.0.9", "fd7a::9"],
            }
        },
    }
    node = NodeState(prefs, status)
    assert node.exit_node() == "100.64.0.9"
    for name in ("100.64.0.9", "fd7a::9", "gateway", "gw-1", "gw-1.tailnet.example"):
        assert node.exit_node_is(name), name
    assert not node.exit_node_is("other")
    assert not node.exit_node_is("")
    assert NodeState(LOGGED_OUT_PREFS, status).exit_node_is("")


@pytest.mark.parametrize(
    ("state", "logged_out", "have_key", "logged_in", "identity"),
    [
        ("Running", False, True, True, True),
        ("Stopped", False, True, True, True),
        ("NeedsMachineAuth", False, True, True, True),
        ("NeedsLogin", False, True, False, True),  # an expired node key
        ("NeedsLogin", True, False, False, False),
    ],
)
def test_login_state(state, logged_out, have_key, logged_in, identity):
    prefs = dict(LOGGED_OUT_PREFS, LoggedOut=logged_out)
    node = NodeState(prefs, {"BackendState": state, "HaveNodeKey": have_key})
    assert (node.logged_in, node.has_identity) == (logged_in, identity)


def test_cli_errors_say_what_the_cli_said():
    answers = iter(
        [
            (1, "", "failed to connect to local tailscaled; it doesn't appear to run"),
            (1, "", "backend error: invalid key: unable to validate API key\n"),
            (-1, "", "no answer within 30s"),
        ]
    )
    cli = TailscaleCli("tailscale", "/run/ts.sock", run=lambda argv, t: next(answers))
    with pytest.raises(TailscaledUnreachable):
        cli.prefs()
    with pytest.raises(TailscaleCliError, match="^backend error: invalid key"):
        cli.up([], auth_key_file="/tmp/k")
    with pytest.raises(TailscaleCliError, match="no answer within 30s"):
        cli.logout()
    assert cli.commands == [
        ["debug", "prefs"],
        ["up", "--auth-key=file:/tmp/k", "--timeout=60s"],
        ["logout"],
    ]


def test_a_starting_tailscaled_is_read_again_once_it_has_loaded_its_state():
    prefs_answers = iter(['{"LoggedOut": true}', '{"LoggedOut": false}'])
    status_answers = iter(
        ['{"BackendState": "NoState"}', '{"BackendState": "Running"}']
    )
    calls = []

    def run(argv, timeout):
        calls.append(argv[2:])
        answers = prefs_answers if argv[2] == "debug" else status_answers
        return 0, next(answers), ""

    node = TailscaleCli("tailscale", "/s", run=run).read()
    assert node.logged_in is True
    assert calls == [
        ["debug", "prefs"],
        ["status", "--json", "--peers=false"],
        ["status", "--json", "--peers=false"],
        ["debug", "prefs"],
    ]
