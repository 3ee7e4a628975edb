# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ``tailscale`` CLI on a node: reading its state and the flags that change it.

Private to the collection (the leading underscore): it may change in any release.

Facts from tailscale.com v1.86.5 (``cmd/tailscale/cli/up.go``, ``set.go``,
``ipn/prefs.go``) that the logic below relies on:

- ``tailscale debug prefs`` prints the node's ``ipn.Prefs`` as JSON and
  ``tailscale status --json`` the backend state; together they are the whole
  current state (two CLI calls).
- ``tailscale up`` refuses to change anything unless every non-default setting is
  mentioned ("requires mentioning all non-default flags",
  ``checkForAccidentalSettingReverts``); the check compares each up flag's value
  from the current prefs (``prefsToFlags``) with the value the command would set.
  So every ``up`` here mentions every flag whose current value is not the flag's
  default, plus the wanted ones.
- ``tailscale set`` edits only the flags it is given, in any backend state, but
  cannot change ``--advertise-tags`` or log in.
- ``tailscale logout`` drops the profile: the prefs go back to their defaults.
- ``--auth-key=file:PATH`` reads the key from a file, so it never appears in a
  process list.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time

DEFAULT_CONTROL_URL = "https://controlplane.tailscale.com"
# ipn.IsLoginServerSynonym: both name Tailscale's own control plane.
SAAS_CONTROL_URLS = ("https://login.tailscale.com", DEFAULT_CONTROL_URL)
EXIT_ROUTES = ("0.0.0.0/0", "::/0")
NETFILTER_MODES = {0: "off", 1: "nodivert", 2: "on"}

# Backend states (ipn.State) in which the node holds a login: it may run, start,
# be stopped with `tailscale down`, or wait for an admin to approve it.
LOGGED_IN_STATES = ("Running", "Starting", "Stopped", "NeedsMachineAuth")

# Each flag of `tailscale up` that maps to a pref (Linux), with the value the flag
# has when it is not given. `exit-node` is handled apart: its value depends on the
# peers, not only on the prefs.
UP_FLAG_DEFAULTS = {
    "login-server": "",
    "hostname": "",
    "advertise-tags": (),
    "advertise-routes": (),
    "advertise-exit-node": False,
    "accept-routes": False,
    "accept-dns": True,
    "ssh": False,
    "shields-up": False,
    "exit-node-allow-lan-access": False,
    "webclient": False,
    "operator": "",
    "advertise-connector": False,
    "snat-subnet-routes": True,
    "stateful-filtering": False,
    "netfilter-mode": "on",
    "report-posture": False,
}

# Module option -> CLI flag, for the settings tailscale_node manages.
OPTION_FLAGS = {
    "login_server": "login-server",
    "hostname": "hostname",
    "advertise_tags": "advertise-tags",
    "advertise_routes": "advertise-routes",
    "advertise_exit_node": "advertise-exit-node",
    "accept_routes": "accept-routes",
    "accept_dns": "accept-dns",
    "ssh": "ssh",
    "shields_up": "shields-up",
    "exit_node_allow_lan_access": "exit-node-allow-lan-access",
}
LIST_FLAGS = ("advertise-tags", "advertise-routes")


class TailscaleCliError(Exception):
    """A `tailscale` command failed; ``message`` is what the CLI said."""

    def __init__(self, args, rc, message):
        self.args_run = args
        self.rc = rc
        self.message = message
        super().__init__(message)


class TailscaledUnreachable(TailscaleCliError):
    """The CLI could not talk to tailscaled (not running, or another socket)."""


def prefs_to_flags(prefs):
    """The value of each up flag (UP_FLAG_DEFAULTS keys) that PREFS amount to."""
    routes = list(prefs.get("AdvertiseRoutes") or [])
    advertises_exit = all(route in routes for route in EXIT_ROUTES)
    if advertises_exit:
        routes = [route for route in routes if route not in EXIT_ROUTES]
    # opt.Bool: unset or false means stateful filtering is on.
    no_stateful = prefs.get("NoStatefulFiltering") in (True, "true")
    return {
        "login-server": prefs.get("ControlURL") or "",
        "hostname": prefs.get("Hostname") or "",
        "advertise-tags": tuple(prefs.get("AdvertiseTags") or ()),
        "advertise-routes": tuple(routes),
        "advertise-exit-node": advertises_exit,
        "accept-routes": bool(prefs.get("RouteAll")),
        "accept-dns": bool(prefs.get("CorpDNS")),
        "ssh": bool(prefs.get("RunSSH")),
        "shields-up": bool(prefs.get("ShieldsUp")),
        "exit-node-allow-lan-access": bool(prefs.get("ExitNodeAllowLANAccess")),
        "webclient": bool(prefs.get("RunWebClient")),
        "operator": prefs.get("OperatorUser") or "",
        "advertise-connector": bool((prefs.get("AppConnector") or {}).get("Advertise")),
        "snat-subnet-routes": not prefs.get("NoSNAT"),
        "stateful-filtering": not no_stateful,
        "netfilter-mode": NETFILTER_MODES.get(prefs.get("NetfilterMode"), "on"),
        "report-posture": bool(prefs.get("PostureChecking")),
    }


def same_flag_value(flag, wanted, current):
    """Whether WANTED (an option value) equals CURRENT (from prefs_to_flags)."""
    if flag in LIST_FLAGS:
        return set(wanted) == set(current)
    if flag == "login-server":
        return same_control_url(wanted, current)
    return wanted == current


def same_control_url(wanted, current):
    wanted, current = (wanted or "").rstrip("/"), (current or "").rstrip("/")
    if wanted == current:
        return True
    # A node that never logged in has no ControlURL; tailscale then uses its own.
    saas = SAAS_CONTROL_URLS + ("",)
    return wanted in saas and current in saas


def format_flag(flag, value):
    if isinstance(value, bool):
        return f"--{flag}={'true' if value else 'false'}"
    if isinstance(value, (list, tuple)):
        return f"--{flag}={','.join(value)}"
    return f"--{flag}={value}"


def up_flags(current_flags, wanted_flags):
    """Arguments for `tailscale up` that keep CURRENT_FLAGS and apply WANTED_FLAGS.

    Every flag whose current value differs from its default is mentioned (the
    CLI's accidental-revert check), then every wanted one; sorted for stable
    command lines.
    """
    flags = {
        flag: value
        for flag, value in current_flags.items()
        if not same_flag_value(flag, UP_FLAG_DEFAULTS[flag], value)
    }
    flags.update(wanted_flags)
    return [format_flag(flag, flags[flag]) for flag in sorted(flags)]


def validate_tags(tags):
    """An error message for the first malformed tag, or None."""
    for tag in tags:
        if not tag.startswith("tag:") or len(tag) == len("tag:"):
            return (
                f"advertise_tags: {tag!r} is not a tag; tags start with 'tag:' "
                "followed by a name, for example 'tag:ci'"
            )
    return None


def normalize_routes(routes):
    """ROUTES as canonical CIDR strings; raises ValueError with a readable message."""
    result = []
    for route in routes:
        try:
            if "/" not in route:
                raise ValueError(route)
            network = ipaddress.ip_network(route, strict=False)
        except ValueError:
            raise ValueError(
                f"advertise_routes: {route!r} is not an IP prefix "
                "such as 192.168.1.0/24"
            ) from None
        if network.prefixlen == 0:
            raise ValueError(
                f"advertise_routes: {route!r} is a default route; "
                "use advertise_exit_node to offer this node as an exit node"
            )
        if ipaddress.ip_address(route.split("/")[0]) != network.network_address:
            raise ValueError(
                f"advertise_routes: {route!r} has host bits set; "
                f"the network is {network}"
            )
        result.append(str(network))
    return result


class NodeState:
    """What the node is now: its prefs, backend state and own addresses."""

    def __init__(self, prefs, status):
        self.prefs = prefs
        self.status = status
        self.flags = prefs_to_flags(prefs)

    @property
    def backend_state(self):
        return self.status.get("BackendState") or ""

    @property
    def logged_in(self):
        return self.backend_state in LOGGED_IN_STATES and not self.prefs.get(
            "LoggedOut"
        )

    @property
    def has_identity(self):
        """Holds a login or a node key that `tailscale logout` would give up."""
        return self.logged_in or bool(self.status.get("HaveNodeKey"))

    @property
    def running(self):
        return bool(self.prefs.get("WantRunning"))

    def _peers(self):
        return (self.status.get("Peer") or {}).values()

    def _exit_peer(self):
        node_id = self.prefs.get("ExitNodeID")
        if not node_id:
            return None
        for peer in self._peers():
            if peer.get("ID") == node_id:
                return peer
        return None

    def exit_node(self):
        """The exit node in use, as the IP `--exit-node` takes ("" for none)."""
        if self.prefs.get("AutoExitNode"):
            return f"auto:{self.prefs['AutoExitNode']}"
        if self.prefs.get("ExitNodeIP"):
            return self.prefs["ExitNodeIP"]
        peer = self._exit_peer()
        if peer:
            return _first_ipv4(peer.get("TailscaleIPs")) or ""
        return self.prefs.get("ExitNodeID") or ""

    def exit_node_is(self, wanted):
        """Whether the exit node in use is WANTED (an IP, a peer name, or "")."""
        current = self.exit_node()
        if not wanted:
            return current == ""
        if wanted == current:
            return True
        peer = self._exit_peer()
        if peer is None:
            return False
        dns_name = (peer.get("DNSName") or "").rstrip(".")
        names = {
            peer.get("HostName"),
            dns_name,
            dns_name.split(".")[0],
            *(peer.get("TailscaleIPs") or ()),
        }
        return wanted.rstrip(".") in names

    def facts(self):
        """The node as the module returns it."""
        me = self.status.get("Self") or {}
        addresses = list(
            me.get("TailscaleIPs") or self.status.get("TailscaleIPs") or []
        )
        ipv6 = [a for a in addresses if ":" in a]
        dns_name = (me.get("DNSName") or "").rstrip(".")
        return {
            "backend_state": self.backend_state,
            "logged_in": self.logged_in,
            "online": bool(me.get("Online")) if self.logged_in else False,
            "id": me.get("ID") or "",
            "hostname": me.get("HostName") or "",
            "fqdn": dns_name,
            "ipv4": _first_ipv4(addresses) or "",
            "ipv6": ipv6[0] if ipv6 else "",
            "addresses": addresses,
            "tags": list(me.get("Tags") or []),
            "login_server": self.prefs.get("ControlURL") or "",
            "exit_node": self.exit_node(),
            "health": list(self.status.get("Health") or []),
            "version": self.status.get("Version") or "",
        }


def _first_ipv4(addresses):
    for address in addresses or ():
        if ":" not in address:
            return address
    return None


def run_command(argv, timeout):
    """Runs ARGV; returns (rc, stdout, stderr). A command that outlives TIMEOUT
    seconds is killed and answers rc -1 with an explanation."""
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"no answer within {timeout}s"
    except OSError as error:
        return -1, "", str(error)
    return completed.returncode, completed.stdout, completed.stderr


class TailscaleCli:
    """Runs `tailscale [--socket=S] ...`.

    ``commands`` records every command line run, for the module's result.
    ``timeout`` bounds the commands that talk to the control server (`up`,
    `logout`); local reads and `set` get ``READ_TIMEOUT``.
    """

    READ_TIMEOUT = 30
    STARTUP_SECONDS = 10

    def __init__(self, cli_path, socket=None, timeout=60, run=run_command):
        self._run = run
        self.base = [cli_path] + ([f"--socket={socket}"] if socket else [])
        self.timeout = timeout
        self.commands = []

    def run(self, *args, timeout=None):
        argv = self.base + list(args)
        self.commands.append(list(args))
        rc, out, err = self._run(argv, timeout or self.READ_TIMEOUT)
        if rc != 0:
            message = (err or out or "").strip() or f"exited with {rc}"
            if "failed to connect to local tailscale" in message.lower():
                raise TailscaledUnreachable(args, rc, message)
            raise TailscaleCliError(args, rc, message)
        return out

    def _json(self, *args):
        out = self.run(*args)
        try:
            return json.loads(out)
        except ValueError:
            raise TailscaleCliError(
                args, 0, f"tailscale {' '.join(args)} printed no JSON: {out[:200]!r}"
            ) from None

    def prefs(self):
        return self._json("debug", "prefs")

    def status(self, peers=False):
        return self._json("status", "--json", f"--peers={'true' if peers else 'false'}")

    def read(self, peers=False):
        """The current NodeState. Peers are listed only when PEERS or an exit node
        is in use (on a big tailnet the list is most of the output)."""
        prefs = self.prefs()
        peers = peers or bool(prefs.get("ExitNodeID") or prefs.get("ExitNodeIP"))
        status = self.status(peers=peers)
        # A tailscaled that has only just started may not have loaded its state yet;
        # judged then, a logged-in node would look logged out.
        if status.get("BackendState") == "NoState":
            deadline = time.monotonic() + self.STARTUP_SECONDS
            while (
                status.get("BackendState") == "NoState" and time.monotonic() < deadline
            ):
                time.sleep(0.5)
                status = self.status(peers=peers)
            # Read once the state is loaded.
            prefs = self.prefs()
        return NodeState(prefs, status)

    def set(self, flags, accept_risks=()):
        args = ["set"] + list(flags)
        if accept_risks:
            args.append(f"--accept-risk={','.join(accept_risks)}")
        return self.run(*args)

    def up(self, flags, auth_key_file=None, accept_risks=()):
        args = ["up"] + list(flags)
        if auth_key_file:
            args.append(f"--auth-key=file:{auth_key_file}")
        if accept_risks:
            args.append(f"--accept-risk={','.join(accept_risks)}")
        args.append(f"--timeout={self.timeout}s")
        # The CLI gives up after --timeout; the margin lets it say why.
        return self.run(*args, timeout=self.timeout + 15)

    def logout(self):
        return self.run("logout", timeout=self.timeout)
