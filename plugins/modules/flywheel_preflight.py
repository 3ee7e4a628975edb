#!/usr/bin/python
# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: flywheel_preflight
short_description: Check that the controller has what a flywheel deploy needs
version_added: 0.1.0
description:
  - Checks, without changing anything, that controller-side Python distributions are installed at
    acceptable versions, that commands are on C(PATH), and that control-plane HTTP endpoints answer.
  - Reports the version of everything it checked, and fails with one message naming every missing
    prerequisite and how to fix it.
  - "Runs on the controller (C(hosts: localhost)), where the collection's modules run."
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  python_requirements:
    description:
      - Pip requirement specifiers, for example C(kubernetes>=24.2.0), that the controller's Python must satisfy.
    type: list
    elements: str
    default: []
  commands:
    description:
      - Commands that must be on C(PATH).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Command name.
        type: str
        required: true
      version_args:
        description: Arguments that make the command print its version.
        type: list
        elements: str
        default: ["--version"]
  endpoints:
    description:
      - HTTP endpoints that must answer with a 2xx status to a C(GET).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: What the endpoint is, used in the report.
        type: str
        required: true
      url:
        description: URL to C(GET), for example a C(/health) path.
        type: str
        required: true
      version_url:
        description:
          - URL whose JSON answer carries a C(version) field (or whose text is the version).
        type: str
      validate_certs:
        description: Verify the server's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: CA bundle to verify the server's certificate with.
        type: path
      timeout:
        description: Seconds to wait for each request.
        type: int
        default: 10
"""

EXAMPLES = r"""
- name: Check the controller before deploying
  glorious.flywheel.flywheel_preflight:
    python_requirements:
      - kubernetes>=24.2.0
      - PyJWT>=2.8.0
    commands:
      - name: helm
        version_args: [version, --short]
    endpoints:
      - name: headscale
        url: https://headscale.example.net/health
        version_url: https://headscale.example.net/version
"""

RETURN = r"""
checks:
  description: One entry per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(python), C(command) or C(endpoint).
      type: str
      sample: python
    name:
      description: What was checked.
      type: str
      sample: kubernetes
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    version:
      description: The version found, when one could be read.
      type: str
      sample: 37.0.2
    detail:
      description: Why the check failed, and what to do about it; empty when it passed.
      type: str
      sample: ""
    summary:
      description: One line for a person.
      type: str
      sample: "python kubernetes 37.0.2: ok"
"""

import shutil
import subprocess

try:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    from packaging.requirements import InvalidRequirement, Requirement
except ImportError as error:  # pragma: no cover - Python < 3.8 or no packaging
    IMPORT_ERROR = error
else:
    IMPORT_ERROR = None

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    ApiError,
)


def _result(kind, name, version=None, detail=""):
    state = "ok" if not detail else "MISSING: " + detail
    label = " ".join(part for part in (kind, name, version) if part)
    return {
        "kind": kind,
        "name": name,
        "ok": not detail,
        "version": version,
        "detail": detail,
        "summary": f"{label}: {state}",
    }


def check_python(specifier):
    try:
        requirement = Requirement(specifier)
    except InvalidRequirement as error:
        return _result(
            "python", specifier, detail=f"not a pip requirement specifier ({error})"
        )
    try:
        found = distribution_version(requirement.name)
    except PackageNotFoundError:
        return _result(
            "python",
            requirement.name,
            detail=f"not installed in this Python: pip install '{specifier}' (or pip install -r requirements.txt)",
        )
    if requirement.specifier and not requirement.specifier.contains(
        found, prereleases=True
    ):
        return _result(
            "python",
            requirement.name,
            found,
            detail=f"version {found} does not satisfy '{specifier}': pip install '{specifier}'",
        )
    return _result("python", requirement.name, found)


def check_command(name, version_args):
    path = shutil.which(name)
    if path is None:
        return _result("command", name, detail="not on PATH")
    try:
        completed = subprocess.run(
            [path] + list(version_args),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return _result("command", name, detail=f"{path} could not be run: {error}")
    output = (completed.stdout or completed.stderr).strip().splitlines()
    if completed.returncode != 0:
        command = " ".join([path, *version_args])
        first_line = output[0] if output else ""
        return _result(
            "command",
            name,
            detail=f"'{command}' exited {completed.returncode}: {first_line}",
        )
    return _result("command", name, output[0] if output else None)


def _get(url, endpoint):
    client = ApiClient(
        url,
        timeout=endpoint["timeout"],
        retries=1,
        validate_certs=endpoint["validate_certs"],
        ca_path=endpoint["ca_path"],
    )
    return client.get(url)


def check_endpoint(endpoint):
    name = endpoint["name"]
    try:
        _get(endpoint["url"], endpoint)
    except ApiError as error:
        return _result("endpoint", name, detail=str(error))
    except ValueError as error:
        return _result("endpoint", name, detail=str(error))
    version = None
    if endpoint["version_url"]:
        try:
            answer = _get(endpoint["version_url"], endpoint).body
        except (ApiError, ValueError):
            # The endpoint answered; an unreadable version is worth reporting, not failing.
            version = "unknown"
        else:
            version = (
                str(answer.get("version", answer))
                if isinstance(answer, dict)
                else str(answer)
            )
    return _result("endpoint", name, version)


def main():
    module = AnsibleModule(
        argument_spec={
            "python_requirements": {"type": "list", "elements": "str", "default": []},
            "commands": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "version_args": {
                        "type": "list",
                        "elements": "str",
                        "default": ["--version"],
                    },
                },
            },
            "endpoints": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "url": {"type": "str", "required": True},
                    "version_url": {"type": "str"},
                    "validate_certs": {"type": "bool", "default": True},
                    "ca_path": {"type": "path"},
                    "timeout": {"type": "int", "default": 10},
                },
            },
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("packaging"), exception=str(IMPORT_ERROR)
        )

    checks = [check_python(spec) for spec in module.params["python_requirements"]]
    checks += [
        check_command(c["name"], c["version_args"]) for c in module.params["commands"]
    ]
    checks += [check_endpoint(e) for e in module.params["endpoints"]]

    missing = [c for c in checks if not c["ok"]]
    if missing:
        problems = "; ".join(f"{c['kind']} {c['name']}: {c['detail']}" for c in missing)
        module.fail_json(
            msg=f"preflight: {len(missing)} prerequisite(s) missing on the controller: {problems}",
            checks=checks,
        )
    module.exit_json(changed=False, checks=checks)


if __name__ == "__main__":
    main()
