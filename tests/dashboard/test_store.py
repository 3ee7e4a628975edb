"""The dashboard's store (users, passkeys, invites, the action log) on both of its
databases: SQLite, the embedded default, and a real PostgreSQL server started here from
Debian's postgresql package (hack/test installs it) through psycopg, as a deployment with
``dashboard_database_type: postgresql`` runs it.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# pylint: disable=wrong-import-order
from flywheel_dashboard.store import Store  # noqa: E402

POSTGRES_USER = "postgres"  # the system account Debian's package creates


def _as_postgres(*command, **kwargs):
    return subprocess.run(
        ["runuser", "-u", POSTGRES_USER, "--", *command],
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def postgresql_url():
    """A throwaway PostgreSQL on a free loopback port; its URL for SQLAlchemy."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert initdb, "PostgreSQL is not installed: hack/test installs Debian's postgresql"
    bindir = Path(initdb[-1]).parent
    # Under /tmp, not pytest's 0700 tree: the server runs as the postgres account.
    home = Path(tempfile.mkdtemp(prefix="flywheel-pg-", dir="/tmp"))
    shutil.chown(home, POSTGRES_USER)
    data = home / "data"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _as_postgres(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "flywheel",
        "--no-sync",
    )
    _as_postgres(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(home / "server.log"),
        "-o",
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off",
        "-w",
        "start",
    )
    try:
        _as_postgres(
            str(bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "flywheel",
            "dashboard",
        )
        yield f"postgresql+psycopg://flywheel@127.0.0.1:{port}/dashboard"
    finally:
        _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/dashboard.db")
    return Store(request.getfixturevalue("postgresql_url"))


def test_users_and_passkeys(store):
    user_id = uuid.uuid4().hex
    name = f"ada-{user_id[:6]}"
    before = store.user_count()
    store.add_user(user_id, name, "operator", f"cred-{user_id}", b"\x00\xffkey", 3)
    assert store.user_count() == before + 1
    assert store.user(user_id)["role"] == "operator"
    assert store.user_by_name(name)["id"] == user_id
    assert store.user("nobody") is None
    credential = store.credential(f"cred-{user_id}")
    # Binary keys survive the round trip byte for byte (bytea on PostgreSQL).
    assert (credential["public_key"], credential["sign_count"]) == (b"\x00\xffkey", 3)
    store.set_sign_count(f"cred-{user_id}", 4)
    assert store.credential(f"cred-{user_id}")["sign_count"] == 4
    # A name is taken once: the second add fails as one transaction, leaving no credential.
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        store.add_user(uuid.uuid4().hex, name, "viewer", "cred-orphan", b"k", 0)
    assert store.credential("cred-orphan") is None


def test_invites_are_spent_once_and_expire(store):
    code = uuid.uuid4().hex
    store.add_invite(code, "viewer", "ada", time.time() + 60)
    assert store.open_invite(code) == "viewer"
    assert store.use_invite(code) is True
    assert store.use_invite(code) is False
    assert store.open_invite(code) is None
    expired = uuid.uuid4().hex
    store.add_invite(expired, "operator", "ada", time.time() - 1)
    assert store.open_invite(expired) is None and store.use_invite(expired) is False


def test_action_log_newest_first_per_pool(store):
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    store.record_action("ada", "pause", pool, True, "scaled 1 Deployment")
    store.record_action("bob", "resume", pool, False, "viewer")
    store.record_action("ada", "pause", "other", True, "x")
    recent = store.recent_actions(pool)
    assert [(a["user"], a["action"], a["ok"]) for a in recent] == [
        ("bob", "resume", False),
        ("ada", "pause", True),
    ]
    assert len(store.recent_actions(limit=1)) == 1


def test_a_new_store_on_the_same_database_keeps_what_was_there(store):
    user_id = uuid.uuid4().hex
    store.add_user(user_id, f"kept-{user_id[:6]}", "viewer", f"cred-{user_id}", b"k", 0)
    again = Store(store.engine.url.render_as_string(hide_password=False))
    assert again.user(user_id)["role"] == "viewer"
