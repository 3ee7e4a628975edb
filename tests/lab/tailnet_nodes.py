"""Userspace tailscaled nodes for tests, started the way the lab starts its own.

`start_node(name)` runs `tailnet_node_start` from hack/lab.d/tailnet.sh, so the
tailscaled command line (userspace networking, own state and socket, DERP over HTTP to
headscale) lives in one place. Nodes are not joined: a test joins them with
`TailscaleNode.up`. `hack/lab down tailnet` stops every node, even ones tests forgot.
"""

import json
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lab_shell(script, *args):
    """Runs SCRIPT in bash with the lab helpers and tailnet functions loaded."""
    return subprocess.run(
        [
            "bash",
            "-c",
            ". hack/lib/common.sh && . hack/lab.d/tailnet.sh && "
            f"FLYWHEEL_COMPONENT=tailnet; {script}",
            "lab-shell",
            *args,
        ],
        cwd=ROOT,
        check=True,
        text=True,
        capture_output=True,
    )


class TailscaleNode:
    """The `tailscale` CLI bound to one tailscaled's socket."""

    def __init__(self, name, socket, tailscale_bin):
        self.name = name
        self.socket = socket
        self.tailscale_bin = tailscale_bin

    def __repr__(self):
        return f"TailscaleNode({self.name!r}, socket={self.socket!r})"

    def cli(self, *args, check=True, timeout=60):
        return subprocess.run(
            [self.tailscale_bin, f"--socket={self.socket}", *args],
            check=check,
            text=True,
            capture_output=True,
            timeout=timeout,
        )

    def status(self):
        """`tailscale status --json` as a dict."""
        return json.loads(self.cli("status", "--json").stdout)

    def up(self, login_server, auth_key, hostname, *extra_args):
        """Joins the tailnet of LOGIN_SERVER with a pre-auth key, logging out first.

        Logging out makes the key what joins the node, even one an earlier run joined.
        `--force-reauth` is no substitute: with an auth key it registers twice, and the
        second registration trips a single-use key ("authkey already used") in a retry
        loop while `up` already reported success. --reset: flags of an earlier `up` do
        not block this one. --accept-dns=false: a lab node has no business with DNS.
        """
        self.cli("logout")
        return self.cli(
            "up",
            f"--login-server={login_server}",
            f"--auth-key={auth_key}",
            f"--hostname={hostname}",
            "--accept-dns=false",
            "--reset",
            "--timeout=60s",
            *extra_args,
            timeout=90,
        )

    def wait_online(self, timeout=60):
        """Polls until the node runs and its control server reports it online.

        Returns the last status; raises TimeoutError with that status otherwise.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            self_node = status.get("Self") or {}
            if status.get("BackendState") == "Running" and self_node.get("Online"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self} not online after {timeout}s: "
                    f"BackendState={status.get('BackendState')!r}, Self={self_node!r}"
                )
            time.sleep(1)

    def stop(self):
        """Logs out (an ephemeral node leaves the tailnet at once), stops tailscaled."""
        self.cli("logout", check=False, timeout=15)
        lab_shell('tailnet_node_stop "$1"', self.name)


def start_node(name, tailscale_bin):
    """Starts an extra tailscaled named NAME, not joined; returns its TailscaleNode."""
    socket = lab_shell('tailnet_node_start "$1"', name).stdout.strip().splitlines()[-1]
    return TailscaleNode(name, socket, tailscale_bin)


def lab_node(env):
    """The lab's own tailscaled, started by `hack/lab up tailnet`."""
    return TailscaleNode("lab-node", env["LAB_TAILSCALE_SOCKET"], env["TAILSCALE_BIN"])
