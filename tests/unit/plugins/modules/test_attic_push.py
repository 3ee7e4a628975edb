"""attic_push through real ansible-playbook runs: real Nix store paths, the Attic
double over HTTP.

The counts the module reports are checked against what the double received and
stored, so "pushed 3" means three NARs arrived and hashed right, not that the module
says so.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    output,
    play,
    task,
)
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.nix_support import (
    NIX,
    chain_expression,
    hash_part,
    nar,
    nix_build,
    requisites,
)


@pytest.fixture(scope="module")
def top(tmp_path_factory):
    expression = tmp_path_factory.mktemp("nix") / "chain.nix"
    expression.write_text(chain_expression("push"))
    return nix_build(expression)


@pytest.fixture
def attic(serve_double):
    double = serve_double(Attic)
    double.add_cache("ci")
    double.add_cache("other")
    return double


def push_task(attic, token, title, cache="ci", **options):
    options.update(api_url=attic.url, api_token=token, cache=cache, retries=0)
    return task(title, "attic_push", options)


def pusher(attic):
    return attic.mint("ci-pusher", {"ci": ["r", "w"], "other": ["r", "w"]})


def test_first_push_uploads_the_closure_and_the_second_nothing(
    attic, top, run_playbook
):
    closure = requisites(top)
    assert len(closure) == 3
    token = pusher(attic)
    tasks = [push_task(attic, token, "push", paths=[top])]

    completed, results = play(run_playbook, tasks, "--diff")
    first = results["push"]
    assert first["changed"] is True, first.get("msg")
    assert (first["pushed"], first["deduplicated"], first["already_present"]) == (
        3,
        0,
        0,
    )
    assert [p["path"] for p in first["paths"]] == closure
    assert {p["status"] for p in first["paths"]} == {"uploaded"}
    assert first["uploaded_bytes"] == sum(len(nar(p)) for p in closure)
    # What the double holds is what `nix-store --dump` writes, under the right hash.
    for path in closure:
        held = attic.narinfo_of("ci", hash_part(path))
        assert held["store_path"] == path
        data = nar(path)
        assert held["nar_hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert attic.nars[held["nar_hash"]] == data
    mid = next(p for p in closure if p.endswith("-mid"))
    leaf = next(p for p in closure if p.endswith("-leaf"))
    assert attic.narinfo_of("ci", hash_part(mid))["references"] == [leaf]
    assert first["diff"]["before"]["paths"] == []
    assert first["diff"]["after"]["paths"] == sorted(closure)
    # One config read (upstream filter), one missing-paths query, one PUT per path.
    assert attic.count("GET") == 1
    assert attic.count("POST", "/_api/v1/get-missing-paths") == 1
    assert attic.count("PUT", "/_api/v1/upload-path") == 3
    assert token not in output(completed)

    attic.reset()
    completed, results = play(run_playbook, tasks)
    second = results["push"]
    assert second["changed"] is False
    assert (second["pushed"], second["deduplicated"], second["already_present"]) == (
        0,
        0,
        3,
    )
    assert attic.count("PUT") == 0


def test_the_same_closure_in_a_second_cache_is_deduplicated(attic, top, run_playbook):
    token = pusher(attic)
    tasks = [
        push_task(attic, token, "to ci", paths=[top]),
        push_task(attic, token, "to other", cache="other", paths=[top]),
    ]
    _completed, results = play(run_playbook, tasks)
    assert results["to ci"]["pushed"] == 3
    other = results["to other"]
    assert other["changed"] is True
    assert (other["pushed"], other["deduplicated"], other["already_present"]) == (
        0,
        3,
        0,
    )
    assert {p["status"] for p in other["paths"]} == {"deduplicated"}
    # Deduplicated: the cache now lists the paths, the NARs are still stored once.
    assert len(attic.nars) == 3
    assert all(attic.narinfo_of("other", hash_part(p)) for p in requisites(top))


def test_check_mode_asks_but_uploads_nothing(attic, top, run_playbook):
    _completed, results = play(
        run_playbook, [push_task(attic, pusher(attic), "dry", paths=[top])], "--check"
    )
    dry = results["dry"]
    assert dry["changed"] is True
    assert (dry["would_upload"], dry["pushed"]) == (3, 0)
    assert {p["status"] for p in dry["paths"]} == {"would_upload"}
    assert attic.count("POST", "/_api/v1/get-missing-paths") == 1
    assert attic.count("PUT") == 0
    assert attic.live("ci").objects == {}


def test_closure_false_pushes_only_the_given_path(attic, top, run_playbook):
    _completed, results = play(
        run_playbook,
        [push_task(attic, pusher(attic), "only top", paths=[top], closure=False)],
    )
    only = results["only top"]
    assert (only["total"], only["pushed"]) == (1, 1)
    assert list(attic.live("ci").objects) == [hash_part(top)]


def test_a_token_without_push_fails_clearly(attic, top, run_playbook):
    reader = attic.mint("reader", {"ci": ["r"]})
    stranger = attic.mint("stranger", {"elsewhere": ["r", "w"]})
    tasks = [
        push_task(attic, reader, "pull only", paths=[top]),
        push_task(
            attic,
            stranger,
            "no grant",
            paths=[top],
            ignore_upstream_cache_filter=True,
        ),
    ]
    for entry in tasks:
        entry["ignore_errors"] = True
    completed, results = play(run_playbook, tasks)
    pull_only = results["pull only"]
    assert pull_only["failed"] is True
    assert pull_only["status"] == 403
    assert "lacks the push (w) permission" in pull_only["msg"]
    assert "AccessError" in pull_only["msg"] or "Access error" in pull_only["msg"]
    no_grant = results["no grant"]
    assert no_grant["failed"] is True and no_grant["status"] == 401
    assert "this needs push (w)" in no_grant["msg"]
    assert attic.count("PUT") == 0
    assert reader not in output(completed) and stranger not in output(completed)


def test_a_path_not_in_the_store_fails_naming_it(attic, top, run_playbook):
    absent = "/nix/store/" + "0" * 32 + "-never-built"
    tasks = [
        push_task(attic, pusher(attic), "absent", paths=[top, absent]),
        push_task(attic, pusher(attic), "not a store path", paths=["/tmp/result"]),
    ]
    for entry in tasks:
        entry["ignore_errors"] = True
    _completed, results = play(run_playbook, tasks)
    assert results["absent"]["failed"] is True
    assert absent in results["absent"]["msg"]
    assert results["absent"]["invalid_paths"] == [absent]
    assert "paths[0]" in results["not a store path"]["msg"]
    assert "/tmp/result" in results["not a store path"]["msg"]
    assert attic.count() == 0


def test_paths_signed_by_an_upstream_cache_are_left_out(
    serve_double, tmp_path, run_playbook
):
    # client/src/push.rs: a path signed by one of the cache's upstream_cache_key_names
    # is not pushed, unless the filter is switched off.
    expression = tmp_path / "chain.nix"
    expression.write_text(chain_expression("upstream"))
    built = nix_build(expression)
    leaf = next(p for p in requisites(built) if p.endswith("-leaf"))
    secret, public = tmp_path / "sk", tmp_path / "pk"
    subprocess.run(
        [
            "nix-store",
            "--generate-binary-cache-key",
            "flywheel-upstream-1",
            secret,
            public,
        ],
        check=True,
    )
    subprocess.run(
        [*NIX, "store", "sign", "--key-file", str(secret), leaf],
        check=True,
        capture_output=True,
    )
    attic = serve_double(Attic)
    attic.add_cache("ci", upstream_cache_key_names=["flywheel-upstream-1"])
    token = attic.mint("p", {"ci": ["r", "w"]})
    tasks = [
        push_task(attic, token, "filtered", paths=[built]),
        push_task(
            attic, token, "unfiltered", paths=[built], ignore_upstream_cache_filter=True
        ),
    ]
    _completed, results = play(run_playbook, tasks)
    filtered = results["filtered"]
    assert (filtered["pushed"], filtered["upstream"]) == (2, 1)
    assert {p["path"]: p["status"] for p in filtered["paths"]}[leaf] == "upstream"
    # The leaf only arrives with the second task: 3 uploads in all, the leaf last.
    puts = [r for r in attic.requests if r.method == "PUT"]
    assert len(puts) == 3
    assert json.loads(puts[-1].headers["X-Attic-Nar-Info"])["store_path"] == leaf
    unfiltered = results["unfiltered"]
    assert (unfiltered["pushed"], unfiltered["already_present"]) == (1, 2)
    held = attic.narinfo_of("ci", hash_part(leaf))
    assert held["sigs"][0].startswith("flywheel-upstream-1:")
