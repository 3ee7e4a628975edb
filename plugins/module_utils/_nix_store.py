# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The local Nix store, through the Nix command line, for modules that push from it.

Private to the collection. Uses only what Nix 2.8 and later have: `nix path-info
--json` (behind the nix-command experimental feature there), `nix-store -qR` and
`nix-store --dump`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

NIX = ("nix", "--extra-experimental-features", "nix-command")
# An invalid path would otherwise send Nix asking every substituter about it, with
# retries, before it answers "not valid".
OFFLINE = ("--option", "substituters", "")
# Keeps each command line well under ARG_MAX on large closures.
BATCH = 500
_BLOCK = 1024 * 1024


class NixStoreError(Exception):
    """A Nix command failed; the message carries Nix's own words."""


def _run(module, argv, what):
    rc, out, err = module.run_command(list(argv), check_rc=False)
    if rc != 0:
        detail = (err or out or "").strip()
        raise NixStoreError(f"{what} failed (exit {rc}): {detail}")
    return out


def path_infos(module, paths):
    """{store path: `nix path-info --json` entry}; invalid paths have valid: false."""
    found = {}
    paths = list(paths)
    for start in range(0, len(paths), BATCH):
        batch = paths[start : start + BATCH]
        out = _run(
            module,
            (*NIX, "path-info", "--json", *OFFLINE, *batch),
            "nix path-info " + " ".join(batch[:3]) + (" ..." if len(batch) > 3 else ""),
        )
        try:
            entries = json.loads(out)
        except ValueError as exc:
            raise NixStoreError(f"nix path-info printed no JSON: {exc}") from None
        for entry in entries:
            found[entry["path"]] = entry
    return found


def closure(module, paths):
    """Every store path PATHS refer to, directly or not, themselves included."""
    out = _run(
        module, ("nix-store", "--query", "--requisites", *paths), "nix-store -qR"
    )
    return [line for line in out.splitlines() if line.strip()]


def dump(path, target):
    """Writes the NAR of PATH to the file TARGET; returns ('sha256:<hex>', size)."""
    with open(target, "wb") as handle:
        completed = subprocess.run(
            ["nix-store", "--dump", path],
            stdout=handle,
            stderr=subprocess.PIPE,
            check=False,
        )
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip()
        raise NixStoreError(
            f"nix-store --dump {path} failed (exit {completed.returncode}): {detail}"
        )
    digest, size = hashlib.sha256(), 0
    with open(target, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            size += len(block)
    return "sha256:" + digest.hexdigest(), size
