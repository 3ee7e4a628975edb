#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tailscale_node
short_description: Make a Tailscale node's login and settings match the desired ones
version_added: 0.1.0
description:
  - Runs on the node, next to C(tailscaled), and drives it through the C(tailscale) CLI.
  - Reads the current state with C(tailscale debug prefs) and C(tailscale status --json);
    a run that changes nothing makes exactly these two CLI calls.
  - Changes settings with C(tailscale set), which touches only the settings it is given, so
    changing or dropping one setting never fails with C(tailscale up)'s "requires mentioning
    all non-default flags".
  - Runs C(tailscale up) only to log in, to change the advertised tags (C(tailscale set)
    cannot), or to start a node that was stopped with C(tailscale down). Each C(up) mentions
    every setting that is not at its default, so no setting the module does not manage is lost.
  - An auth key is needed, and used, only when the node is not logged in (or must move to
    another control server). A node that is logged in never needs one.
  - Options left unset are not managed; the node keeps whatever it has.
  - Works with Tailscale's control plane and with Headscale.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the node's state and reports what would change, without running C(set), C(up)
        or C(logout). In check mode a missing O(auth_key) is no failure; RV(login_required)
        tells whether the node needs one.
  diff_mode:
    support: full
    details:
      - Shows the before and after value of each setting that changes, and of C(logged_in)
        when the node logs in or out. The auth key never appears.
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) logs the node in (when it is not) and applies the settings.
      - V(absent) logs the node out (C(tailscale logout)); the other options are ignored.
        Logging out drops the node's settings too; an ephemeral node leaves the tailnet.
    type: str
    choices: [present, absent]
    default: present
  auth_key:
    description:
      - Pre-auth key to log in with (Tailscale auth key, or a Headscale pre-auth key).
      - Required only when the node has to log in. It is passed to the CLI in a file
        (C(--auth-key=file:...)), never on a command line, and is never returned.
    type: str
  login_server:
    description:
      - Base URL of the control server, for example V(https://headscale.example.net).
      - When unset, a node that logs in uses the server it used before, or Tailscale's
        own control plane. V(https://controlplane.tailscale.com) and
        V(https://login.tailscale.com) are the same server.
      - A logged-in node that has to move to another server is logged out and logged in
        again, which needs O(auth_key).
    type: str
  hostname:
    description:
      - Name of the node in the tailnet, instead of the operating system's host name.
      - V("") returns to the operating system's host name.
    type: str
  advertise_tags:
    description:
      - Tags the node asks for, each starting with C(tag:), for example V(tag:ci).
      - The control server decides which it grants (see RV(node.tags)); tags of a
        pre-auth key are granted at login.
      - V([]) asks for none.
    type: list
    elements: str
  advertise_routes:
    description:
      - Subnet routes the node offers, as IP prefixes, for example V(10.10.0.0/16).
      - V([]) offers none. Default routes belong in O(advertise_exit_node).
    type: list
    elements: str
  advertise_exit_node:
    description: Offer the node as an exit node for the tailnet.
    type: bool
  accept_routes:
    description: Use the subnet routes that other nodes advertise.
    type: bool
  accept_dns:
    description: Use the DNS settings of the tailnet (MagicDNS).
    type: bool
  ssh:
    description:
      - Run Tailscale SSH, so the tailnet's policy decides who may log in over SSH.
      - Turning it off (or on) cuts an Ansible connection that runs over Tailscale SSH.
    type: bool
  exit_node:
    description:
      - Exit node to send internet traffic through, as its tailnet IP, its name, or
        V(auto:any). V("") uses none.
    type: str
  exit_node_allow_lan_access:
    description: Keep direct access to the local network while using an exit node.
    type: bool
  shields_up:
    description: Refuse all incoming connections from the tailnet.
    type: bool
  timeout:
    description:
      - Seconds C(tailscale up) may take to log in and reach the running state, and
        C(tailscale logout) to reach the control server.
    type: int
    default: 60
  cli_path:
    description:
      - The C(tailscale) CLI to run. By default it is looked up on C(PATH).
    type: path
  socket:
    description:
      - Path of C(tailscaled)'s socket (C(tailscale --socket)), for a C(tailscaled) that
        does not use the default one.
    type: path
notes:
  - Tested with Tailscale 1.86 against Headscale 0.27.
  - Which advertised tags and routes take effect is the control server's decision (its
    policy, route approval); M(glorious.flywheel.tailscale_device) manages that side.
  - Changing the advertised tags of a logged-in node runs C(tailscale up) without a key.
    Headscale takes the change as it is; a control server that wants the node to log in
    again for it makes C(up) wait for a browser login until O(timeout), and the module then
    fails with the CLI's message. Log the node out (O(state=absent)) and in again with a
    key carrying the new tags instead.
seealso:
  - name: tailscale CLI reference
    description: The C(up), C(set) and C(logout) commands this module runs.
    link: https://tailscale.com/kb/1080/cli
"""

EXAMPLES = r"""
- name: Join the tailnet of a Headscale server, as a tagged server
  glorious.flywheel.tailscale_node:
    login_server: https://headscale.example.net
    auth_key: "{{ headscale_preauth_key }}"
    hostname: "{{ inventory_hostname_short }}"
    advertise_tags: [tag:server]
    accept_dns: true

- name: Offer a subnet route and Tailscale SSH; no key needed once the node is in
  glorious.flywheel.tailscale_node:
    advertise_routes: [10.20.0.0/16]
    ssh: true

- name: Stop advertising routes, leave everything else as it is
  glorious.flywheel.tailscale_node:
    advertise_routes: []

- name: Send internet traffic through an exit node
  glorious.flywheel.tailscale_node:
    exit_node: gateway-1
    exit_node_allow_lan_access: true

- name: A tailscaled with its own socket (userspace networking)
  glorious.flywheel.tailscale_node:
    socket: /run/tailscale-userspace/tailscaled.sock
    shields_up: true

- name: Leave the tailnet
  glorious.flywheel.tailscale_node:
    state: absent
"""

RETURN = r"""
node:
  description: The node after the run (before it, in check mode).
  returned: always
  type: dict
  contains:
    backend_state:
      description: C(tailscaled)'s state, such as C(Running), C(Stopped) or C(NeedsLogin).
      type: str
      sample: Running
    logged_in:
      description: Whether the node holds a login.
      type: bool
      sample: true
    online:
      description: Whether the control server sees the node online.
      type: bool
      sample: true
    id:
      description: The node's id on the control server.
      type: str
      sample: "7"
    hostname:
      description: The node's name in the tailnet.
      type: str
      sample: ci-runner-1
    fqdn:
      description: The node's MagicDNS name, without the trailing dot.
      type: str
      sample: ci-runner-1.tailnet.example.net
    ipv4:
      description: The node's tailnet IPv4 address.
      type: str
      sample: 100.64.0.7
    ipv6:
      description: The node's tailnet IPv6 address.
      type: str
      sample: fd7a:115c:a1e0::7
    addresses:
      description: All of the node's tailnet addresses.
      type: list
      elements: str
      sample: [100.64.0.7, "fd7a:115c:a1e0::7"]
    tags:
      description: Tags the control server granted the node.
      type: list
      elements: str
      sample: [tag:ci]
    login_server:
      description: The control server the node uses.
      type: str
      sample: https://headscale.example.net
    exit_node:
      description: The exit node in use (its IP), or empty.
      type: str
      sample: ""
    health:
      description: Problems C(tailscaled) reports, if any.
      type: list
      elements: str
      sample: []
    version:
      description: The version of C(tailscaled).
      type: str
      sample: 1.86.5
login_required:
  description:
    - Whether the node needed a login (and so O(auth_key)) at the start of the run, because
      it was not logged in or had to move to another O(login_server).
    - A check run with no O(auth_key) tells which hosts need a key before one is made.
  returned: always
  type: bool
  sample: false
commands:
  description:
    - The C(tailscale) commands run, without the CLI path and socket; the auth key appears
      only as the path of a temporary file.
  returned: always
  type: list
  elements: list
  sample: [[debug, prefs], [status, --json, --peers=false], [set, --shields-up=true]]
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    DiffTracker,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailscale_cli import (
    LIST_FLAGS,
    OPTION_FLAGS,
    NodeState,
    TailscaleCli,
    TailscaleCliError,
    TailscaledUnreachable,
    format_flag,
    normalize_routes,
    same_control_url,
    same_flag_value,
    up_flags,
    validate_tags,
)

SETTLE_SECONDS = 10
RISK_LOSE_SSH = "lose-ssh"
# Exit nodes and strict reverse-path filtering: the CLI warns and waits 5 s.
RISK_RP_FILTER = "linux-strict-rp-filter"


def argument_spec():
    return {
        "state": {
            "type": "str",
            "choices": ["present", "absent"],
            "default": "present",
        },
        "auth_key": {"type": "str", "no_log": True},
        "login_server": {"type": "str"},
        "hostname": {"type": "str"},
        "advertise_tags": {"type": "list", "elements": "str"},
        "advertise_routes": {"type": "list", "elements": "str"},
        "advertise_exit_node": {"type": "bool"},
        "accept_routes": {"type": "bool"},
        "accept_dns": {"type": "bool"},
        "ssh": {"type": "bool"},
        "exit_node": {"type": "str"},
        "exit_node_allow_lan_access": {"type": "bool"},
        "shields_up": {"type": "bool"},
        "timeout": {"type": "int", "default": 60},
        "cli_path": {"type": "path"},
        "socket": {"type": "path"},
    }


class NodeModule:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.cli = TailscaleCli(
            self._cli_path(), self.params["socket"], timeout=self.params["timeout"]
        )
        self.tracker = DiffTracker()
        self.login_required = False

    def _cli_path(self):
        path = self.params["cli_path"]
        if path:
            if not os.access(path, os.X_OK):
                self.module.fail_json(msg=f"cli_path {path} is not an executable file")
            return path
        path = self.module.get_bin_path("tailscale")
        if not path:
            self.module.fail_json(
                msg="The tailscale CLI is not on PATH: install Tailscale, or set cli_path"
            )
        return path

    def fail(self, msg, **extra):
        self.module.fail_json(
            msg=msg,
            commands=self.cli.commands,
            login_required=self.login_required,
            **extra,
        )

    def fail_cli(self, error, doing):
        if isinstance(error, TailscaledUnreachable):
            where = self.params["socket"] or "its default socket"
            self.fail(
                f"tailscaled is not running, or not listening on {where}: "
                f"{error.message}"
            )
        message = f"{doing}: tailscale {error.args_run[0]} failed: {error.message}"
        # `up` times out with a pointer to `tailscale status`; the reason (such as an
        # unreachable control server) is in the health messages.
        health = self._health()
        if health:
            message += " Health: " + " ".join(health)
        self.fail(message)

    def _health(self):
        try:
            return self.cli.status().get("Health") or []
        except TailscaleCliError:
            return []

    def wanted_flags(self):
        """{flag: value} of the managed settings, checked and normalised."""
        params = self.params
        if params["advertise_tags"] is not None:
            error = validate_tags(params["advertise_tags"])
            if error:
                self.fail(error)
        wanted = {}
        for option, flag in OPTION_FLAGS.items():
            value = params[option]
            if value is None:
                continue
            if option == "advertise_routes":
                try:
                    value = normalize_routes(value)
                except ValueError as error:
                    self.fail(str(error))
            if flag in LIST_FLAGS:
                value = tuple(value)
            wanted[flag] = value
        return wanted

    def read(self):
        try:
            return self.cli.read(peers=self.params["exit_node"] is not None)
        except TailscaleCliError as error:
            self.fail_cli(error, "Could not read the node's state")

    def run(self):
        # Bad input fails before anything runs, even the reads.
        wanted = self.wanted_flags() if self.params["state"] == "present" else {}
        node = self.read()
        if self.params["state"] == "absent":
            node = self.absent(node)
        else:
            node = self.present(node, wanted)
        result = {
            "changed": self.tracker.changed,
            "node": node.facts(),
            "login_required": self.login_required,
            "commands": self.cli.commands,
        }
        if self.module._diff:
            result["diff"] = self.tracker.diff()
        self.module.exit_json(**result)

    def absent(self, node):
        if not node.has_identity:
            return node
        self.tracker.add("logged_in", True, False)
        if self.module.check_mode:
            return node
        try:
            self.cli.logout()
            return self.cli.read()
        except TailscaleCliError as error:
            self.fail_cli(error, "Could not log the node out")

    def present(self, node, wanted):
        params = self.params
        tracker = self.tracker
        moving = "login-server" in wanted and not same_control_url(
            wanted["login-server"], node.flags["login-server"]
        )
        login = moving or not node.logged_in
        self.login_required = login
        if not node.logged_in:
            tracker.add("logged_in", False, True)
        elif not node.running:
            tracker.add("running", False, True)
        changed_flags = []
        for option, flag in OPTION_FLAGS.items():
            if flag in wanted and not same_flag_value(
                flag, wanted[flag], node.flags[flag]
            ):
                tracker.add(option, _shown(node.flags[flag]), _shown(wanted[flag]))
                changed_flags.append(flag)
        exit_node = params["exit_node"]
        exit_changed = exit_node is not None and not node.exit_node_is(exit_node)
        if exit_changed:
            tracker.add("exit_node", node.exit_node(), exit_node)

        if login and not params["auth_key"]:
            why = (
                f"it must move from {node.flags['login-server']} to "
                f"{wanted['login-server']}"
                if moving and node.logged_in
                else f"it is not logged in (backend state {node.backend_state})"
            )
            # A check run only reports the login (login_required): the key is often
            # requested only for the hosts that turn out to need one.
            if not self.module.check_mode:
                self.fail(
                    f"The node needs a login, because {why}: auth_key is required."
                )
        if not tracker.changed or self.module.check_mode:
            return node

        risks = []
        if "ssh" in changed_flags:
            risks.append(RISK_LOSE_SSH)
        if exit_changed and exit_node:
            risks.append(RISK_RP_FILTER)
        try:
            if login:
                self.log_in(node, wanted, exit_node if exit_changed else None, risks)
            elif "advertise-tags" in changed_flags or not node.running:
                # `set` cannot change tags; `up` also starts a stopped node.
                flags = up_flags(node.flags, wanted)
                if exit_node is None and _usable_exit_node(node.exit_node()):
                    exit_node = node.exit_node()
                if exit_node:
                    flags.append(format_flag("exit-node", exit_node))
                self.cli.up(flags, accept_risks=risks)
            else:
                flags = [format_flag(flag, wanted[flag]) for flag in changed_flags]
                if exit_changed:
                    flags.append(format_flag("exit-node", exit_node))
                self.cli.set(flags, accept_risks=risks)
            after = self.cli.read(peers=exit_node is not None)
            if "hostname" in changed_flags and wanted["hostname"]:
                after = self.settle_hostname(after, wanted["hostname"])
            return after
        except TailscaleCliError as error:
            self.fail_cli(error, "Could not bring the node to the desired state")

    def settle_hostname(self, node, hostname):
        """Waits (briefly) until the status shows the new name; the name, and the
        MagicDNS name the module returns, come back from the control server."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while node.facts()["hostname"] != hostname and time.monotonic() < deadline:
            time.sleep(0.5)
            node = NodeState(
                node.prefs, self.cli.status(peers=bool(node.status.get("Peer")))
            )
        return node

    def log_in(self, node, wanted, exit_node, risks):
        # Logging out first makes the key what logs the node in, also on a node that
        # still holds an identity (expired, or from another server); `--force-reauth`
        # with a single-use key registers twice and trips "authkey already used".
        if node.has_identity:
            self.cli.logout()
        key_file = os.path.join(self.module.tmpdir, "auth-key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.params["auth_key"])
            # Flags of the settings as they were, not as the logout left them.
            self.cli.up(
                up_flags(node.flags, wanted),
                auth_key_file=key_file,
                accept_risks=[r for r in risks if r != RISK_RP_FILTER],
            )
        finally:
            os.unlink(key_file)
        # A peer name resolves only once the node has the tailnet's peers.
        if exit_node:
            self.cli.set(
                [format_flag("exit-node", exit_node)], accept_risks=[RISK_RP_FILTER]
            )


def _shown(value):
    """A setting's value as the diff shows it."""
    if isinstance(value, tuple):
        return sorted(value)
    return value


def _usable_exit_node(value):
    # An ExitNodeID whose peer is not in the netmap has no IP to pass to `up`; the CLI
    # then counts the flag as unset too.
    return bool(value) and (value.startswith("auto:") or "." in value or ":" in value)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    NodeModule(module).run()


if __name__ == "__main__":
    main()
