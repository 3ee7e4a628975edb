"""Extra, throw-away Headscale servers on loopback, for what the lab's one cannot show.

The lab runs Headscale 0.27.1 with its policy in the database. Tests of other API
shapes (0.25, 0.28) and of a policy kept in a file start a server of their own from
a cached binary: `$FLYWHEEL_CACHE/headscale-<version>/headscale`, where
`go_install_cached` (hack/lib/common.sh) puts it. A version that is not built yet is
skipped with the command that builds it.

Each server gets its own directory, free ports, an API key and a user named `lab`,
and is stopped (its whole process group) when the test is done.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CACHE = Path(
    os.environ.get(
        "FLYWHEEL_CACHE",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "glorious-flywheel",
    )
)


def binary(version):
    """The cached headscale binary of VERSION, or a pytest skip saying how to build it."""
    path = CACHE / f"headscale-{version}" / "headscale"
    if not path.is_file():
        pytest.skip(
            f"headscale {version} is not built: GOBIN={path.parent} GONOSUMDB="
            "github.com/tailscale/tailsql go install "
            f"github.com/juanfont/headscale/cmd/headscale@v{version}"
        )
    return path


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = """\
server_url: {url}
listen_addr: 127.0.0.1:{port}
metrics_listen_addr: 127.0.0.1:{metrics_port}
grpc_listen_addr: 127.0.0.1:{grpc_port}
grpc_allow_insecure: false
noise:
  private_key_path: {dir}/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: true
    region_id: 999
    region_code: test
    region_name: Flywheel test
    stun_listen_addr: 127.0.0.1:{stun_port}
    private_key_path: {dir}/derp_server_private.key
    automatically_add_embedded_derp_region: true
    ipv4: 127.0.0.1
  urls: []
  paths: []
  auto_update_enabled: false
disable_check_updates: true
database:
  type: sqlite
  sqlite:
    path: {dir}/db.sqlite
log:
  level: warn
policy:
  mode: {policy_mode}
  path: {policy_path}
dns:
  magic_dns: true
  base_domain: extra.flywheel.test
  override_local_dns: false
  nameservers:
    global: []
unix_socket: {dir}/headscale.sock
unix_socket_permission: "0770"
logtail:
  enabled: false
"""


class HeadscaleServer:
    def __init__(self, version, workdir, policy_mode="database", policy_text=None):
        self.version = version
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary(version)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        policy_path = ""
        if policy_mode == "file":
            policy_path = str(self.dir / "policy.hujson")
            Path(policy_path).write_text(policy_text or '{"acls": []}\n')
        self.config = self.dir / "headscale.yaml"
        self.config.write_text(
            CONFIG.format(
                url=self.url,
                port=self.port,
                metrics_port=_free_port(),
                grpc_port=_free_port(),
                stun_port=_free_port(),
                dir=self.dir,
                policy_mode=policy_mode,
                policy_path=policy_path,
            )
        )
        self.process = None
        self.api_key = None

    def cli(self, *args):
        return subprocess.run(
            [str(self.binary), "--config", str(self.config), *args],
            check=True,
            text=True,
            capture_output=True,
            timeout=30,
        )

    def start(self):
        log = open(self.dir / "headscale.log", "w")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [str(self.binary), "--config", str(self.config), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"headscale {self.version} did not start: "
                        + (self.dir / "headscale.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.2)
        self.api_key = self.cli("apikeys", "create", "--expiration", "1h").stdout
        self.api_key = self.api_key.strip().splitlines()[-1].strip()
        self.cli("users", "create", "lab")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def request(self, method, path, body=None):
        """One raw REST call (plain urllib: checks what the server holds)."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def connection(self):
        return {
            "control_plane": "headscale",
            "api_url": self.url,
            "api_token": self.api_key,
            "retries": 0,
        }
