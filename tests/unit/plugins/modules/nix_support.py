"""Real store paths from the local Nix (no nixpkgs needed): trivial /bin/sh derivations."""

from __future__ import annotations

import shutil
import subprocess

import pytest

# No substituter is reachable from the test machine; asking one only adds retries.
OFFLINE = ["--option", "substituters", ""]
NIX = ["nix", "--extra-experimental-features", "nix-command"]


def chain_expression(tag):
    """A Nix expression whose closure is three paths: top -> mid -> leaf.

    TAG goes into every output, so each caller gets paths of its own.
    """
    return f"""
let
  mk = name: text: derivation {{
    inherit name;
    builder = "/bin/sh";
    args = [ "-c" "echo '${{text}}' > $out" ];
    system = builtins.currentSystem;
  }};
  leaf = mk "flywheel-{tag}-leaf" "leaf {tag}";
  mid = mk "flywheel-{tag}-mid" "mid {tag} ${{leaf}}";
in mk "flywheel-{tag}-top" "top {tag} ${{mid}}"
"""


def need_nix():
    if not shutil.which("nix-build") or not shutil.which("nix"):
        pytest.skip("Nix is not installed on this machine")


def nix_build(expression_file):
    """The out path `nix-build` prints for EXPRESSION_FILE."""
    need_nix()
    completed = subprocess.run(
        ["nix-build", "--no-out-link", *OFFLINE, str(expression_file)],
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip().splitlines()[-1]


def requisites(path):
    """`nix-store -qR PATH`, in Nix's order."""
    return subprocess.run(
        ["nix-store", "-qR", path], check=True, capture_output=True, text=True
    ).stdout.split()


def nar(path):
    """The bytes `nix-store --dump` writes for PATH."""
    return subprocess.run(
        ["nix-store", "--dump", path], check=True, capture_output=True
    ).stdout


def hash_part(path):
    return path.rsplit("/", 1)[-1][:32]
