"""The bcrypt_htpasswd filter: stable hashes for unchanged passwords, new ones otherwise."""

from __future__ import annotations

import bcrypt
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.glorious.flywheel.plugins.filter.bcrypt_htpasswd import (
    bcrypt_htpasswd,
)


def parse(content):
    return dict(line.split(":", 1) for line in content.splitlines())


def test_hashes_are_bcrypt_2y_at_the_cost_and_verify():
    hashes = parse(bcrypt_htpasswd([{"name": "ci", "password": "pw"}], cost=4))
    assert hashes["ci"].startswith("$2y$04$")
    assert bcrypt.checkpw(b"pw", hashes["ci"].encode())
    assert not bcrypt.checkpw(b"other", hashes["ci"].encode())


def test_unchanged_passwords_keep_their_hash_changed_ones_get_a_new_one():
    users = [{"name": "ci", "password": "one"}, {"name": "ro", "password": "two"}]
    first = bcrypt_htpasswd(users, cost=4)
    assert bcrypt_htpasswd(users, current=first, cost=4) == first

    users[0]["password"] = "three"
    second = parse(bcrypt_htpasswd(users, current=first, cost=4))
    assert second["ro"] == parse(first)["ro"]
    assert second["ci"] != parse(first)["ci"]
    assert bcrypt.checkpw(b"three", second["ci"].encode())


def test_a_cost_change_rehashes_and_a_removed_user_disappears():
    users = [{"name": "ci", "password": "one"}, {"name": "ro", "password": "two"}]
    first = bcrypt_htpasswd(users, cost=4)
    recosted = parse(bcrypt_htpasswd(users, current=first, cost=5))
    assert all(h.startswith("$2y$05$") for h in recosted.values())
    assert list(parse(bcrypt_htpasswd(users[1:], current=first, cost=4))) == ["ro"]


def test_hashes_from_other_schemes_are_replaced():
    current = "ci:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
    assert parse(
        bcrypt_htpasswd(
            [{"name": "ci", "password": "password"}], current=current, cost=4
        )
    )["ci"].startswith("$2y$04$")


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ([{"name": "a:b", "password": "x"}], "needs a 'name' without ':'"),
        ([{"password": "x"}], "needs a 'name'"),
        ([{"name": "ci", "password": ""}], "'ci' needs a non-empty 'password'"),
        (
            [{"name": "ci", "password": "x"}, {"name": "ci", "password": "y"}],
            "'ci' is listed twice",
        ),
        ([{"name": "ci", "password": "x" * 73}], "longer than bcrypt's 72 bytes"),
    ],
)
def test_bad_users_are_refused_by_name(users, message):
    with pytest.raises(AnsibleFilterError, match=message):
        bcrypt_htpasswd(users, cost=4)


def test_the_error_never_carries_the_password():
    with pytest.raises(AnsibleFilterError) as raised:
        bcrypt_htpasswd([{"name": "ci", "password": "s3cret" * 13}], cost=4)
    assert "s3cret" not in str(raised.value)


def test_cost_out_of_range_is_refused():
    with pytest.raises(AnsibleFilterError, match="cost must be 4 to 31"):
        bcrypt_htpasswd([{"name": "ci", "password": "x"}], cost=3)
