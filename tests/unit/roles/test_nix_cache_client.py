"""The nix_cache_client role, run by ansible-playbook, checked with the real Nix.

Attic is the HTTP double (tests/doubles/attic.py); the "upstream" substituter is a
local binary cache directory made by `nix copy` and served over loopback HTTP. Every
assertion about Nix's configuration asks Nix 2.8 itself (`nix show-config`,
`nix-store --realise`), pointed at the role's directory with NIX_CONF_DIR.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import uuid

import pytest
import tomllib
import yaml

from ansible_collections.glorious.flywheel.tests.doubles.attic import (
    Attic,
    nix_secret_key,
)
from ansible_collections.glorious.flywheel.tests.support import task_result

NIXOS_KEY = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
NIX_COMMAND = ["--extra-experimental-features", "nix-command"]
ENV_TASK = "runner env"


@pytest.fixture(scope="module")
def nix():
    path = shutil.which("nix")
    if path is None:
        pytest.fail("these tests need Nix (Debian: apt-get install nix-bin)")
    return path


@pytest.fixture
def conf_dir(tmp_path):
    """An operator's nix.conf that the role must add to, never rewrite."""
    directory = tmp_path / "etc-nix"
    directory.mkdir()
    (directory / "nix.conf").write_text(OPERATOR_NIX_CONF)
    return directory


# `substituters =` empties Nix's default list, so no test waits on cache.nixos.org;
# the role's extra- settings must still add to it.
OPERATOR_NIX_CONF = "# the operator's own\nsandbox = false\nsubstituters =\n"


def nix_env(tmp_path, conf_dir, **extra):
    env = dict(os.environ)
    env.pop("NIX_CONFIG", None)
    env.update(
        NIX_CONF_DIR=str(conf_dir),
        NIX_USER_CONF_FILES=str(tmp_path / "no-user-nix.conf"),
        # Nix caches narinfo lookups per substituter URL; each test starts empty.
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
    )
    env.update(extra)
    return env


def run(argv, env=None, check=True):
    completed = subprocess.run(
        argv, env=env, text=True, capture_output=True, check=False
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stderr}"
        )
    return completed


def show_config(tmp_path, conf_dir, **extra):
    out = run(
        ["nix", *NIX_COMMAND, "show-config", "--json"],
        env=nix_env(tmp_path, conf_dir, **extra),
    ).stdout
    return {name: entry["value"] for name, entry in json.loads(out).items()}


def apply_role(run_playbook, *args, **role_vars):
    """Runs the role on localhost with ansible-playbook ARGS; returns the run."""
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [{"role": "glorious.flywheel.nix_cache_client", "vars": role_vars}],
        "post_tasks": [
            {
                "name": ENV_TASK,
                "ansible.builtin.debug": {
                    "msg": {
                        "env": "{{ nix_cache_client_runner_env }}",
                        "key_source": "{{ nix_cache_client_key_source }}",
                    }
                },
            }
        ],
    }
    return run_playbook(
        yaml.safe_dump([play], sort_keys=False), *args, json_output=True
    )


def role_vars(conf_dir, tmp_path, **values):
    base = {
        "nix_cache_client_conf_dir": str(conf_dir),
        "nix_cache_client_attic_config_file": str(tmp_path / "attic" / "config.toml"),
        "nix_cache_client_restart_daemon": False,
        "nix_cache_client_api_retries": 0,
    }
    base.update(values)
    return base


def role_task(completed, name):
    """The result of the role's task NAME (the JSON callback prefixes the role)."""
    for play in completed.json["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ")[-1] == name:
                return task["hosts"]["localhost"]
    raise AssertionError(f"task {name!r} did not run:\n{output(completed)[-3000:]}")


def stats(completed):
    return completed.json["stats"]["localhost"]


def output(completed):
    return completed.stdout + completed.stderr


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def attic(serve_double):
    return serve_double(Attic)


def test_the_key_comes_from_attic_and_nix_uses_it(
    attic, run_playbook, conf_dir, tmp_path, nix
):
    # The operator's own substituter must stay, and come first.
    operator = (
        "# the operator's own\nsandbox = false\nsubstituters = http://127.0.0.1:1/op\n"
    )
    (conf_dir / "nix.conf").write_text(operator)
    cache = attic.add_cache("runners")  # private: pulling needs the netrc
    pull = attic.mint("runner", {"runners": "r"})
    push = attic.mint("pusher", {"runners": "rw"})
    variables = role_vars(
        conf_dir,
        tmp_path,
        nix_cache_client_server_url=attic.url + "/",
        nix_cache_client_cache="runners",
        nix_cache_client_pull_token=pull,
        nix_cache_client_push_token=push,
    )

    completed = apply_role(run_playbook, **variables)
    assert completed.returncode == 0, output(completed)[-3000:]
    assert pull not in output(completed) and push not in output(completed)
    reported = task_result(completed, ENV_TASK)["msg"]
    assert reported["key_source"] == "api"

    substituter = f"{attic.url}/runners"
    netrc = conf_dir / "glorious-flywheel.netrc"
    config = show_config(tmp_path, conf_dir)
    assert config["substituters"] == [
        "http://127.0.0.1:1/op",
        substituter,
        "https://cache.nixos.org/",
    ]
    # Nix's default key stays first: the operator's nix.conf does not empty the list.
    assert config["trusted-public-keys"] == [NIXOS_KEY, cache.public_key, NIXOS_KEY]
    assert config["fallback"] is True
    assert config["connect-timeout"] == 5
    assert config["netrc-file"] == str(netrc)
    assert config["sandbox"] is False  # the operator's line still counts

    nix_conf = (conf_dir / "nix.conf").read_text()
    assert nix_conf == operator + (f"!include {conf_dir}/glorious-flywheel.conf\n")
    assert mode(netrc) == 0o600
    assert netrc.read_text() == f"machine 127.0.0.1 password {pull}\n"

    attic_config = tmp_path / "attic" / "config.toml"
    assert mode(attic_config) == 0o600
    assert mode(attic_config.parent) == 0o700
    # The attic client's ConfigData (client/src/config.rs).
    assert tomllib.loads(attic_config.read_text()) == {
        "default-server": "flywheel",
        "servers": {"flywheel": {"endpoint": attic.url + "/", "token": push}},
    }

    # The netrc works: Nix opens the private cache, so Attic saw the pull token.
    attic.reset()
    run(
        ["nix", *NIX_COMMAND, "store", "ping", "--store", substituter],
        env=nix_env(tmp_path, conf_dir),
    )
    info = [r for r in attic.requests if r.path == "/runners/nix-cache-info"]
    assert info and all(r.status == 200 for r in info), [
        (r.path, r.status, r.headers.get("Authorization")) for r in attic.requests
    ]
    assert info[0].headers["Authorization"].startswith("Basic ")

    # Pods get the same settings as one NIX_CONFIG; an empty conf dir proves it alone works.
    env = reported["env"]
    assert env["ATTIC_SERVER"] == attic.url + "/"
    assert env["ATTIC_CACHE"] == "runners"
    assert pull not in env["NIX_CONFIG"]
    empty = tmp_path / "pod-etc-nix"
    empty.mkdir()
    pod = show_config(tmp_path, empty, NIX_CONFIG=env["NIX_CONFIG"])
    assert pod["substituters"][-2:] == [substituter, "https://cache.nixos.org/"]
    assert pod["trusted-public-keys"][-2:] == [cache.public_key, NIXOS_KEY]
    assert pod["fallback"] is True
    assert pod["connect-timeout"] == 5

    again = apply_role(run_playbook, **variables)
    assert again.returncode == 0, output(again)[-3000:]
    assert stats(again)["changed"] == 0, output(again)[-3000:]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        self.server.paths.append(self.path)


@pytest.fixture
def upstream(tmp_path, nix):
    """A signed store path in a local binary cache served over loopback HTTP."""
    secret = tmp_path / "upstream.sec"
    secret.write_text(
        run(
            ["nix", *NIX_COMMAND, "key", "generate-secret", "--key-name", "upstream-1"]
        ).stdout
    )
    public = subprocess.run(
        ["nix", *NIX_COMMAND, "key", "convert-secret-to-public"],
        input=secret.read_text(),
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    marker = uuid.uuid4().hex
    # Input-addressed on purpose: Nix takes content-addressed paths without signatures.
    expression = (
        f'derivation {{ name = "flywheel-fallback-{marker}"; '
        'system = builtins.currentSystem; builder = "/bin/sh"; '
        f'args = [ "-c" "echo {marker} > $out" ]; }}'
    )
    derivation = run(["nix-instantiate", "-E", expression]).stdout.strip()
    path = run(["nix-store", "--realise", derivation]).stdout.strip()
    run(["nix", *NIX_COMMAND, "store", "sign", "--key-file", str(secret), path])
    store = tmp_path / "upstream-cache"
    run(["nix", *NIX_COMMAND, "copy", "--to", f"file://{store}", path])

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(store))
    )
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{server.server_port}/",
        "public_key": public,
        "path": path,
        "server": server,
    }
    server.shutdown()
    server.server_close()
    run(["nix-store", "--delete", path, derivation], check=False)


@pytest.fixture
def closed_port():
    """A loopback port that refuses connections: bound, never listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_builds_fall_back_to_upstream_when_attic_is_down(
    upstream, closed_port, run_playbook, conf_dir, tmp_path
):
    attic_secret, attic_public = nix_secret_key("runners")
    assert attic_secret  # the cache's own key: given, since Attic is down
    completed = apply_role(
        run_playbook,
        **role_vars(
            conf_dir,
            tmp_path,
            nix_cache_client_server_url=f"http://127.0.0.1:{closed_port}/",
            nix_cache_client_cache="runners",
            nix_cache_client_public_key=attic_public,
            nix_cache_client_upstream_substituters=[
                {"url": upstream["url"], "public_key": upstream["public_key"]}
            ],
        ),
    )
    assert completed.returncode == 0, output(completed)[-3000:]
    config = show_config(tmp_path, conf_dir)
    assert config["substituters"] == [
        f"http://127.0.0.1:{closed_port}/runners",
        upstream["url"],
    ]
    assert config["require-sigs"] is True

    path = upstream["path"]
    run(["nix-store", "--delete", path])
    assert not os.path.exists(path)
    env = nix_env(tmp_path, conf_dir)

    # Signatures are checked: without the upstream key the same fetch is refused.
    refused = run(
        [
            "nix-store",
            "--realise",
            path,
            "--option",
            "trusted-public-keys",
            attic_public,
        ],
        env=env,
        check=False,
    )
    assert refused.returncode != 0
    assert "is not signed by any of the keys" in refused.stderr, refused.stderr
    assert not os.path.exists(path)

    fetched = run(["nix-store", "--realise", path], env=env)
    assert fetched.stdout.strip() == path
    assert os.path.exists(path)
    assert f"127.0.0.1:{closed_port}" in fetched.stderr  # Attic was tried first
    served = upstream["server"].paths
    assert any(p.startswith("/nar/") for p in served), served


def test_attic_down_without_a_key_fails_naming_the_variable(
    closed_port, run_playbook, conf_dir, tmp_path
):
    completed = apply_role(
        run_playbook,
        **role_vars(
            conf_dir,
            tmp_path,
            nix_cache_client_server_url=f"http://127.0.0.1:{closed_port}/",
            nix_cache_client_cache="runners",
        ),
    )
    assert completed.returncode != 0
    failed = role_task(completed, "Stop when Attic cannot be read and no key is known")
    assert "nix_cache_client_public_key" in failed["msg"]
    assert f"127.0.0.1:{closed_port}" in failed["msg"]
    assert (conf_dir / "nix.conf").read_text() == OPERATOR_NIX_CONF
    assert sorted(p.name for p in conf_dir.iterdir()) == ["nix.conf"]


def test_attic_down_keeps_the_key_an_earlier_run_read(
    attic, run_playbook, conf_dir, tmp_path, nix
):
    cache = attic.add_cache("runners", is_public=True)
    variables = role_vars(
        conf_dir,
        tmp_path,
        nix_cache_client_server_url=attic.url + "/",
        nix_cache_client_cache="runners",
    )
    first = apply_role(run_playbook, **variables)
    assert first.returncode == 0, output(first)[-3000:]
    written = (conf_dir / "glorious-flywheel.conf").read_text()

    attic.stop()
    down = apply_role(run_playbook, **variables)
    assert down.returncode == 0, output(down)[-3000:]
    assert stats(down)["changed"] == 0
    assert task_result(down, ENV_TASK)["msg"]["key_source"] == "kept"
    said = role_task(down, "Say that the last run's key stays while Attic is down")
    assert "keeping the public key" in said["msg"]
    assert (conf_dir / "glorious-flywheel.conf").read_text() == written
    config = show_config(tmp_path, conf_dir)
    assert config["trusted-public-keys"] == [NIXOS_KEY, cache.public_key, NIXOS_KEY]
    assert "netrc-file" not in written  # public cache: no token, no netrc


def test_attic_refusing_the_cache_fails_even_with_a_kept_key(
    attic, run_playbook, conf_dir, tmp_path
):
    attic.add_cache("runners")
    token = attic.mint("runner", {"runners": "r"})
    variables = role_vars(
        conf_dir,
        tmp_path,
        nix_cache_client_server_url=attic.url + "/",
        nix_cache_client_cache="runners",
        nix_cache_client_pull_token=token,
    )
    assert apply_role(run_playbook, **variables).returncode == 0

    variables["nix_cache_client_pull_token"] = attic.mint("other", {"others": "r"})
    refused = apply_role(run_playbook, **variables)
    assert refused.returncode != 0
    failed = role_task(refused, "Stop when Attic refuses to show the cache")
    assert "answered 401" in failed["msg"]
    assert "nix_cache_client_pull_token" in failed["msg"]
    assert variables["nix_cache_client_pull_token"] not in output(refused)


def test_check_mode_reports_a_new_key_and_writes_nothing(
    run_playbook, conf_dir, tmp_path
):
    first_key = nix_secret_key("runners")[1]
    variables = role_vars(
        conf_dir,
        tmp_path,
        nix_cache_client_server_url="https://attic.example.invalid/",
        nix_cache_client_cache="runners",
        nix_cache_client_public_key=first_key,
        nix_cache_client_pull_token="pull-token-for-check",
    )
    assert apply_role(run_playbook, **variables).returncode == 0
    before = {p.name: p.read_bytes() for p in conf_dir.iterdir()}

    variables["nix_cache_client_public_key"] = nix_secret_key("runners")[1]
    checked = apply_role(run_playbook, "--check", **variables)
    assert checked.returncode == 0, output(checked)[-3000:]
    assert role_task(checked, "Write the Nix settings")["changed"] is True
    assert {p.name: p.read_bytes() for p in conf_dir.iterdir()} == before
    assert "pull-token-for-check" not in output(checked)
