"""Playbooks of Attic module tasks, run with the real ansible-playbook (JSON callback)."""

from __future__ import annotations

import yaml

from ansible_collections.glorious.flywheel.tests.support import task_result

COLLECTION = "glorious.flywheel."


def task(title, module, options, **keywords):
    """One task of glorious.flywheel.MODULE titled TITLE; KEYWORDS are task keywords."""
    entry = {"name": title, COLLECTION + module: options}
    entry.update(keywords)
    return entry


def cache_task(attic, token, title, cache, **options):
    """An attic_cache task against the double ATTIC with TOKEN."""
    options.update(api_url=attic.url, api_token=token, name=cache, retries=0)
    return task(title, "attic_cache", options)


def play(run_playbook, tasks, *args):
    """Runs TASKS on localhost; returns (completed, {task name: result})."""
    text = yaml.safe_dump(
        [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}],
        sort_keys=False,
    )
    try:
        completed = run_playbook(text, *args, json_output=True)
    except ValueError as exc:  # no JSON: ansible-playbook did not get to run the play
        raise AssertionError(
            f"ansible-playbook printed no JSON result: {exc}"
        ) from None
    results = {}
    for entry in tasks:
        try:
            results[entry["name"]] = task_result(completed, entry["name"])
        except KeyError:
            raise AssertionError(
                f"task {entry['name']!r} did not run:\n{output(completed)[-4000:]}"
            ) from None
    return completed, results


def output(completed):
    """Everything ansible-playbook printed."""
    return completed.stdout + completed.stderr
