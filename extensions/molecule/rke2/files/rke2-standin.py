# TEST STAND-IN for the `rke2` binary -- NOT RKE2. Used only by the molecule scenario
# extensions/molecule/rke2, which packs it into a fake air-gap tarball as bin/rke2
# (RKE2 itself cannot be downloaded on the test machine); prepare.yml adds the shebang.
#
# It behaves just enough like RKE2 for the role and modules to be tested end to end:
# - `--version` prints the version the scenario stamped in (@VERSION@);
# - `server` / `agent` read /etc/rancher/rke2/config.yaml (+ config.yaml.d/), refuse to
#   join without `token`, write the node token (first server), copy the lab
#   kube-apiserver's kubeconfig to /etc/rancher/rke2/rke2.yaml (servers), tell systemd it
#   is ready, then, like a kubelet, register a Node named `node-name` in the lab cluster
#   and post its Ready status every 5 seconds until stopped;
# - `server --cluster-reset --cluster-reset-restore-path=...` records the reset and exits;
# - `etcd-snapshot save|ls|delete|prune` manage empty files in the snapshot directory;
# - a server puts kubectl in /var/lib/rancher/rke2/bin, as RKE2 unpacks its own there: a
#   wrapper that logs each call and runs the lab's real kubectl (prepare.yml copies it to
#   /etc/rke2-standin/kubectl), so cordon and drain act on the lab API server's Nodes.
# Every invocation is appended as one JSON line to /var/log/rke2-standin.log, which the
# scenario's verify step reads to check join order, tokens and restarts.
# /etc/rke2-standin/fail-start makes `server`/`agent` fail (stop-on-failure tests).

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

VERSION = "@VERSION@"
LOG = "/var/log/rke2-standin.log"
STANDIN_DIR = "/etc/rke2-standin"
CONFIG = "/etc/rancher/rke2/config.yaml"
DROPINS = "/etc/rancher/rke2/config.yaml.d"
KUBECONFIG = "/etc/rancher/rke2/rke2.yaml"
DATA_DIR = "/var/lib/rancher/rke2"
TOKEN = DATA_DIR + "/server/node-token"
SNAPSHOTS = DATA_DIR + "/server/db/snapshots"


def log(event, **fields):
    record = {
        "time": time.time(),
        "event": event,
        "version": VERSION,
        "argv": sys.argv[1:],
        **fields,
    }
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def parse_config(path):
    """The flat shape rke2_config writes: `key: scalar` and `key:` + `  - scalar` lines."""
    config, key = {}, None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.startswith("  - ") and key:
                config.setdefault(key, []).append(json.loads(line[4:].strip()))
                continue
            key, _sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if value == "[]":
                config[key] = []
            elif value:
                config[key] = json.loads(value) if value.startswith('"') else value
    return config


def read_config():
    config = parse_config(CONFIG) if os.path.exists(CONFIG) else {}
    if os.path.isdir(DROPINS):
        for name in sorted(os.listdir(DROPINS)):
            if name.endswith(".yaml"):
                config.update(parse_config(os.path.join(DROPINS, name)))
    return config


def api(method, path, body=None, content_type="application/json"):
    with open(
        os.path.join(STANDIN_DIR, "lab-kubeconfig.json"), encoding="utf-8"
    ) as handle:
        kubeconfig = json.load(handle)
    cluster = kubeconfig["clusters"][0]["cluster"]
    user = kubeconfig["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("client-certificate-data", "client-key-data"):
            with open(os.path.join(tmp, name), "wb") as handle:
                handle.write(base64.b64decode(user[name]))
        context.load_cert_chain(
            os.path.join(tmp, "client-certificate-data"),
            os.path.join(tmp, "client-key-data"),
        )
        request = urllib.request.Request(
            cluster["server"] + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": content_type},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.loads(response.read())


def register_node(name, role, config):
    """Create the Node if it is missing and post a Ready status, as a kubelet does."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "flywheel.test/rke2-standin": role,
    }
    for label in config.get("node-label", []):
        key, _sep, value = label.partition("=")
        labels[key] = value
    # No kubelet runs pods here: a taint keeps the shared lab's workloads off these Nodes
    # (so a drain has nothing to evict), next to the node-taint RKE2 would register.
    taints = [
        {"key": "flywheel.test/rke2-standin", "value": "true", "effect": "NoSchedule"}
    ]
    for taint in config.get("node-taint", []):
        key_value, _sep, effect = taint.partition(":")
        key, _sep, value = key_value.partition("=")
        taints.append({"key": key, "value": value, "effect": effect})
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    }
    try:
        api("POST", "/api/v1/nodes", node)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "rke2 TEST STAND-IN is posting status",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    status = {
        "status": {"conditions": [ready], "nodeInfo": {"kubeletVersion": VERSION}}
    }
    api(
        "PATCH",
        f"/api/v1/nodes/{name}/status",
        status,
        "application/strategic-merge-patch+json",
    )


KUBECTL_WRAPPER = """#!/usr/bin/python3
# TEST STAND-IN kubectl: logs the call, then runs the lab's real kubectl.
import json, os, sys, time
with open({log!r}, "a", encoding="utf-8") as handle:
    handle.write(json.dumps({{"time": time.time(), "event": "kubectl", "version": {version!r}, "argv": sys.argv[1:]}}) + "\\n")
os.execv({real!r}, [{real!r}] + sys.argv[1:])
"""


def install_kubectl():
    real = os.path.join(STANDIN_DIR, "kubectl")
    if not os.path.exists(real):
        return
    os.makedirs(DATA_DIR + "/bin", exist_ok=True)
    wrapper = DATA_DIR + "/bin/kubectl"
    with open(wrapper, "w", encoding="utf-8") as handle:
        handle.write(KUBECTL_WRAPPER.format(log=LOG, version=VERSION, real=real))
    os.chmod(wrapper, 0o755)


def run(role, args):
    config = read_config()
    token = config.get("token")
    fields = {
        "role": role,
        "server": config.get("server"),
        "token_sha256": hashlib.sha256(token.encode()).hexdigest() if token else None,
        "node_ip": config.get("node-ip"),
    }
    if any(arg.startswith("--cluster-reset") for arg in args):
        log("cluster-reset", **fields)
        return 0
    if os.path.exists(os.path.join(STANDIN_DIR, "fail-start")):
        log("start-failed", reason="fail-start flag", **fields)
        return 1
    if config.get("server") and not token:
        log("start-failed", reason="joining without a token", **fields)
        return 1
    if role == "server" and not config.get("server") and not os.path.exists(TOKEN):
        os.makedirs(os.path.dirname(TOKEN), exist_ok=True)
        with open(
            os.open(TOKEN, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8"
        ) as handle:
            handle.write(
                f"K10standin{secrets.token_hex(8)}::server:{token or secrets.token_hex(16)}\n"
            )
    if role == "server":
        # RKE2 keeps etcd in server/db; a server that joins without it copies the cluster's.
        fields["db_present"] = os.path.isdir(DATA_DIR + "/server/db")
        os.makedirs(DATA_DIR + "/server/db", exist_ok=True)
        with open(
            os.path.join(STANDIN_DIR, "lab.kubeconfig"), encoding="utf-8"
        ) as handle:
            kubeconfig = handle.read()
        with open(KUBECONFIG, "w", encoding="utf-8") as handle:
            handle.write(kubeconfig)
        os.chmod(KUBECONFIG, int(str(config.get("write-kubeconfig-mode", "0600")), 8))
        install_kubectl()
    name = config.get("node-name") or socket.gethostname()
    log("start", node_name=name, **fields)
    subprocess.run(["systemd-notify", "--ready"], check=False)

    def stop(signum, frame):
        log("stop", signal=signum, **fields)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    # Like a kubelet: register, and again whenever the Node is gone or the API server was
    # unreachable (the shared lab may be restarted meanwhile).
    while True:
        try:
            register_node(name, role, config)
        except (OSError, urllib.error.URLError) as exc:
            log("register-failed", error=str(exc))
        time.sleep(5)


def snapshot(args):
    os.makedirs(SNAPSHOTS, exist_ok=True)
    command, rest = (args[0] if args else "ls"), args[1:]
    log("etcd-snapshot", command=command)

    def option(name, default):
        return rest[rest.index(name) + 1] if name in rest else default

    if command == "save":
        prefix, node = (
            option("--name", "on-demand"),
            read_config().get("node-name", "node"),
        )
        name = f"{prefix}-{node}-{time.time_ns()}"
        open(os.path.join(SNAPSHOTS, name), "w", encoding="utf-8").close()
        print(f"Snapshot {name} saved.")
    elif command in ("ls", "list"):
        print("Name Location Size Created")
        for name in sorted(os.listdir(SNAPSHOTS)):
            path = os.path.join(SNAPSHOTS, name)
            created = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(path).st_mtime)
            )
            print(f"{name} file://{path} {os.stat(path).st_size} {created}")
    elif command == "delete":
        for name in rest:
            os.remove(os.path.join(SNAPSHOTS, name))
    elif command == "prune":
        prefix, keep = (
            option("--name", "on-demand"),
            int(option("--snapshot-retention", "5")),
        )
        matching = sorted(
            name for name in os.listdir(SNAPSHOTS) if name.startswith(prefix)
        )
        for name in matching[: max(0, len(matching) - keep)]:
            os.remove(os.path.join(SNAPSHOTS, name))
    else:
        print(f"unknown etcd-snapshot command {command}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    if argv[:1] in (["--version"], ["-v"]):
        print(
            f"rke2 version {VERSION} (test-standin)\ngo version go0.0 (TEST STAND-IN, not RKE2)"
        )
        return 0
    if argv[:1] in (["server"], ["agent"]):
        return run(argv[0], argv[1:])
    if argv[:1] == ["etcd-snapshot"]:
        return snapshot(argv[1:])
    log("unknown")
    print(f"rke2 test stand-in: unsupported arguments {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
