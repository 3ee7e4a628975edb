# Copyright: GloriousFlywheel developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bcrypt_htpasswd
short_description: Render an htpasswd file with bcrypt hashes, keeping hashes that still match
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - Turns a list of users and passwords into the content of an htpasswd file whose hashes
    are bcrypt, the scheme bazel-remote's htpasswd reader (C(abbot/go-http-auth)) accepts.
  - A bcrypt hash is salted, so hashing again gives a different file every run. When the
    current file already holds a hash for a user that matches the password and the cost,
    that hash is kept, so the file (and the Secret holding it) only changes when a user,
    password or cost changes.
  - Hashes are written with the C($2y$) prefix of Apache's C(htpasswd -B).
  - Needs the C(bcrypt) Python library on the controller.
options:
  _input:
    description: Users, each a dictionary with C(name) and C(password).
    type: list
    elements: dict
    required: true
  current:
    description: The current htpasswd content, for example read from the live Secret.
    type: str
    default: ""
  cost:
    description: bcrypt cost (log2 of the rounds), 4 to 31.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Keep the hashes of unchanged passwords
  ansible.builtin.set_fact:
    htpasswd: "{{ users | glorious.flywheel.bcrypt_htpasswd(current=live_htpasswd, cost=5) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The htpasswd content, one C(name:hash) line per user in input order.
  type: str
"""

# Ansible plugins define their documentation before their imports.
from ansible.errors import AnsibleFilterError  # noqa: E402

try:
    import bcrypt  # noqa: E402
except ImportError as exc:  # pragma: no cover - depends on the controller
    BCRYPT_IMPORT_ERROR = exc
else:
    BCRYPT_IMPORT_ERROR = None

# Python's bcrypt writes $2b$; Apache's htpasswd and go-http-auth's docs use $2y$. The
# algorithm is the same, so the prefix is only rewritten for the file's readers.
_WRITTEN_PREFIX = b"$2y$"


def _parse(current):
    hashes = {}
    for line in (current or "").splitlines():
        name, sep, hashed = line.strip().partition(":")
        if sep and name:
            hashes[name] = hashed
    return hashes


def _reusable(hashed, password, cost):
    if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
        return False
    try:
        if int(hashed.split("$")[2]) != cost:
            return False
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except (ValueError, IndexError):
        return False


def bcrypt_htpasswd(users, current="", cost=5):
    if BCRYPT_IMPORT_ERROR is not None:
        raise AnsibleFilterError(
            "bcrypt_htpasswd needs the bcrypt Python library on the controller "
            "(pip install -r requirements.txt)"
        )
    if not isinstance(cost, int) or not 4 <= cost <= 31:
        raise AnsibleFilterError(f"bcrypt_htpasswd: cost must be 4 to 31, got {cost!r}")
    existing = _parse(current)
    lines = []
    seen = set()
    for index, user in enumerate(users or []):
        name = user.get("name") if isinstance(user, dict) else None
        password = user.get("password") if isinstance(user, dict) else None
        if not name or not isinstance(name, str) or ":" in name or name.strip() != name:
            raise AnsibleFilterError(
                f"bcrypt_htpasswd: user {index} needs a 'name' without ':' or surrounding spaces"
            )
        if name in seen:
            raise AnsibleFilterError(f"bcrypt_htpasswd: user {name!r} is listed twice")
        if not password or not isinstance(password, str):
            raise AnsibleFilterError(
                f"bcrypt_htpasswd: user {name!r} needs a non-empty 'password'"
            )
        # bcrypt uses only the first 72 bytes; bcrypt 5 refuses longer input outright.
        if len(password.encode()) > 72:
            raise AnsibleFilterError(
                f"bcrypt_htpasswd: the password of {name!r} is longer than bcrypt's 72 bytes"
            )
        seen.add(name)
        hashed = existing.get(name, "")
        if not _reusable(hashed, password, cost):
            fresh = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost))
            hashed = (_WRITTEN_PREFIX + fresh[4:]).decode()
        lines.append(f"{name}:{hashed}\n")
    return "".join(lines)


class FilterModule:
    def filters(self):
        return {"bcrypt_htpasswd": bcrypt_htpasswd}
