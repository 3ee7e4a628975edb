"""Boolean role options given on the command line still act as booleans.

`-e attic_ingress_enabled=false` reaches a role as the string "false", which Jinja
treats as true and ansible-core 2.19 refuses in a conditional; role argument validation
checks the type but does not convert the variable. So wherever a role decides on a
boolean option (a condition, an `if`, a value rendered into a configuration file), it
goes through `| bool`. Only a module argument may take the raw value, since the module
converts it itself.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"
# `key: "{{ option }}"`, or the same in a conditional expression with `omit` (also as
# the folded value on its own line): the module receives the value and converts it by its
# own argument spec.
MODULE_ARGUMENT = re.compile(
    r'^\s*([a-z_]+: )?"?\{\{ (?P<name>\w+)( if (?P=name) is not none else omit)? \}\}"?\s*$'
)


def boolean_options(role: pathlib.Path) -> list[str]:
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    return sorted(
        name for name, option in options.items() if option.get("type") == "bool"
    )


def raw_uses(role: pathlib.Path, options: list[str]) -> list[str]:
    """Lines that use a boolean option without `| bool`, outside comments and messages."""
    names = "|".join(options)
    pattern = re.compile(rf"\b({names})\b(?!\s*\|\s*bool)(?!\s+is\s+not\s+none)")
    found = []
    files = [
        path
        for folder in ("tasks", "handlers", "vars", "templates")
        for path in sorted((role / folder).glob("*"))
    ]
    for path in files:
        message_indent = None
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            # Messages name options in prose (a key and its more indented lines): they
            # decide nothing.
            if message_indent is not None and (not stripped or indent > message_indent):
                continue
            message_indent = None
            if re.match(r"(- )?(fail_msg|msg|success_msg|fix):", stripped):
                message_indent = indent
                continue
            if stripped.startswith("#") or MODULE_ARGUMENT.match(line):
                continue
            for match in pattern.finditer(line):
                found.append(
                    f"{path.relative_to(role.parent)}:{number}: {match.group(1)}"
                )
    return found


ROLES_WITH_BOOLEANS = [
    role
    for role in sorted(ROLES.iterdir())
    if (role / "meta" / "argument_specs.yml").exists() and boolean_options(role)
]


@pytest.mark.parametrize("role", ROLES_WITH_BOOLEANS, ids=lambda role: role.name)
def test_every_boolean_option_goes_through_the_bool_filter(role):
    assert raw_uses(role, boolean_options(role)) == []


def test_the_check_finds_a_raw_boolean(tmp_path):
    role = tmp_path / "example"
    (role / "meta").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      example_enabled: {type: bool, default: false}\n"
    )
    (role / "tasks" / "main.yml").write_text(
        '- name: Passed to a module\n  ansible.builtin.debug:\n    var: "{{ example_enabled }}"\n'
        "- name: Decided on\n  ansible.builtin.debug:\n    msg: on\n  when: example_enabled\n"
    )
    assert raw_uses(role, boolean_options(role)) == [
        "example/tasks/main.yml:7: example_enabled"
    ]
