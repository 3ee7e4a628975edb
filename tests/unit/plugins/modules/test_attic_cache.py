"""attic_cache through real ansible-playbook runs against the Attic double over HTTP.

Requests are counted at the double, so "steady state is one GET and no write" is a
measurement, not a claim of the module about itself.
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import (
    Attic,
    nix_secret_key,
)
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    cache_task,
    output,
    play,
)

THREE_MONTHS = 3 * 2_630_016  # humantime: a month is 30.44 days


@pytest.fixture
def attic(serve_double):
    return serve_double(Attic)


def log(attic):
    return [(r.method, r.path, r.json) for r in attic.requests]


def test_create_then_the_second_run_is_one_get_and_no_write(attic, run_playbook):
    admin = attic.admin_token()
    tasks = [
        cache_task(
            attic,
            admin,
            "tenant cache",
            "tenant-alpha",
            priority=42,
            retention_period="3 months",
            upstream_cache_key_names=["cache.nixos.org-1", "tenant-alpha-upstream-1"],
        )
    ]
    completed, results = play(run_playbook, tasks, "--diff")
    first = results["tenant cache"]
    assert first["changed"] is True, first.get("msg")
    path = "/_api/v1/cache-config/tenant-alpha"
    # Retention cannot be set at creation: create, then configure it, then read back.
    assert log(attic) == [
        ("GET", path, None),
        (
            "POST",
            path,
            {
                "keypair": "Generate",
                "is_public": False,
                "store_dir": "/nix/store",
                "priority": 42,
                "upstream_cache_key_names": [
                    "cache.nixos.org-1",
                    "tenant-alpha-upstream-1",
                ],
            },
        ),
        ("PATCH", path, {"retention_period": {"Period": THREE_MONTHS}}),
        ("GET", path, None),
    ]
    assert first["public_key"] == attic.caches["tenant-alpha"].public_key
    assert first["substituter_endpoint"] == attic.url + "/tenant-alpha"
    assert first["cache"]["retention_period"] == THREE_MONTHS
    assert first["diff"]["before"] == {}
    assert first["diff"]["after"]["priority"] == 42
    assert admin not in output(completed)

    attic.reset()
    completed, results = play(run_playbook, tasks, "--diff")
    second = results["tenant cache"]
    assert second["changed"] is False
    assert "diff" not in second
    assert attic.count("GET") == 1
    assert attic.writes() == 0
    assert second["requests"] == {"read": 1}
    assert second["public_key"] == first["public_key"]


def test_each_change_patches_only_what_differs(attic, run_playbook):
    attic.add_cache(
        "c", upstream_cache_key_names=["cache.nixos.org-1", "b-1"], priority=41
    )
    admin = attic.admin_token()
    secret, public = nix_secret_key("c-own-1")
    other_secret, _other_public = nix_secret_key("c-own-2")

    def step(name, **options):
        return cache_task(attic, admin, name, "c", **options)

    tasks = [
        step(
            "same values, list in another order",
            is_public=False,
            store_dir="/nix/store",
            upstream_cache_key_names=["b-1", "cache.nixos.org-1"],
        ),
        step("priority", priority=50, is_public=False),
        step("retention", retention_period="90d"),
        step("same retention in hours", retention_period="2160h"),
        step("global retention", retention_period="global"),
        step("own key", keypair=secret, keypair_update="on_change"),
        step("own key again", keypair=secret, keypair_update="on_change"),
        step("other key, on_create", keypair=other_secret),
        step("rotate", keypair_update="always"),
        step("destroy", state="absent"),
        step("destroy again", state="absent"),
    ]
    completed, results = play(run_playbook, tasks, "--diff")
    changed = {name: r["changed"] for name, r in results.items()}
    assert changed == {
        "same values, list in another order": False,
        "priority": True,
        "retention": True,
        "same retention in hours": False,
        "global retention": True,
        "own key": True,
        "own key again": False,
        "other key, on_create": False,
        "rotate": True,
        "destroy": True,
        "destroy again": False,
    }, [r.get("msg") for r in results.values()]
    writes = [(m, body) for m, _path, body in log(attic) if m != "GET"]
    assert writes == [
        ("PATCH", {"priority": 50}),
        ("PATCH", {"retention_period": {"Period": 90 * 86400}}),
        ("PATCH", {"retention_period": "Global"}),
        ("PATCH", {"keypair": {"Keypair": secret}}),
        ("PATCH", {"keypair": "Generate"}),
        ("DELETE", None),
    ]
    assert results["priority"]["diff"] == {
        "before": {"priority": 41},
        "after": {"priority": 50},
    }
    assert results["own key"]["public_key"] == public
    assert results["own key"]["diff"]["after"] == {"public_key": public}
    rotated = results["rotate"]["public_key"]
    assert rotated.startswith("c:") and rotated != public
    assert results["destroy"]["cache"] == {}
    assert results["destroy"]["diff"]["after"] == {}
    assert "c" not in attic.caches
    text = output(completed)
    for key in (secret, other_secret, admin):
        assert key not in text
        assert key.split(":")[-1] not in text


def test_check_mode_writes_nothing_and_diff_shows_before_and_after(attic, run_playbook):
    attic.add_cache("c")
    admin = attic.admin_token()
    secret, public = nix_secret_key("new-1")
    tasks = [
        cache_task(attic, admin, "change", "c", priority=60, retention_period="1w"),
        cache_task(attic, admin, "create with key", "new", keypair=secret),
        cache_task(attic, admin, "create", "new2", retention_period="1d"),
        cache_task(attic, admin, "create without gc", "new3", retention_period="0s"),
        cache_task(attic, admin, "destroy", "c", state="absent"),
    ]
    _completed, results = play(run_playbook, tasks, "--check", "--diff")
    assert all(r["changed"] for r in results.values()), results
    assert attic.writes() == 0
    assert attic.count("GET") == 5
    assert attic.caches["c"].priority == 41 and set(attic.caches) == {"c"}

    change = results["change"]
    assert change["diff"] == {
        "before": {"priority": 41, "retention_period": "global"},
        "after": {"priority": 60, "retention_period": 604800},
    }
    assert change["cache"]["priority"] == 60
    create = results["create with key"]
    assert create["public_key"] == public
    assert create["substituter_endpoint"] is None
    assert create["diff"]["after"]["public_key"] == public
    assert results["create"]["public_key"] is None
    assert results["create"]["diff"]["after"]["retention_period"] == 86400
    assert results["create without gc"]["diff"]["after"]["retention_period"] == 0
    assert results["create without gc"]["cache"]["retention_period"] == 0
    assert results["destroy"]["diff"]["after"] == {}
    assert results["destroy"]["diff"]["before"]["name"] == "c"


def test_bad_input_and_refusals_each_say_what_and_how(attic, run_playbook):
    attic.add_cache("c")
    reader = attic.mint("reader", {"c": ["r"]})
    configurer = attic.mint("configurer", {"c": ["r", "cr"]})
    forger = Attic(hs256_secret_base64=base64.b64encode(b"not the key " * 4).decode())
    forged = forger.mint("forger", {"*": ["r", "w", "d", "cc", "cr", "cq", "cd"]})
    admin = attic.admin_token()
    secret, _public = nix_secret_key("c-1")

    def step(name, token, cache="c", **options):
        entry = cache_task(attic, token, name, cache, **options)
        entry["ignore_errors"] = True
        return entry

    tasks = [
        step("name attic rejects", admin, cache="not a valid name"),
        step(
            "retention that is not a duration", admin, retention_period="3 fortnights"
        ),
        step("keypair that is not one", admin, keypair="nonsense"),
        step("on_change without a keypair", admin, keypair_update="on_change"),
        step("wrong token", forged, priority=1),
        step("missing permission", reader, priority=1),
        step("missing retention permission", configurer, retention_period="1d"),
        step("missing destroy permission", configurer, state="absent", keypair=secret),
    ]
    completed, results = play(run_playbook, tasks)
    msg = {name: r.get("msg", "") for name, r in results.items()}
    assert all(r.get("failed") for r in results.values()), msg
    assert msg["name attic rejects"] == (
        "name: 'not a valid name' is not a valid Attic cache name. Attic cache names "
        "are 1 to 50 characters from A-Z, a-z, 0-9, '-', '_' and '+', starting with a "
        "letter or digit (attic/src/cache.rs)."
    )
    assert msg["retention that is not a duration"].startswith(
        "retention_period: '3 fortnights' is not a duration: unknown time unit "
        "'fortnights'; give a number followed by a unit, for example '90d'"
    )
    assert msg["keypair that is not one"].startswith("keypair: not a Nix signing key")
    assert "keypair_update is on_change" in msg["on_change without a keypair"]

    wrong = msg["wrong token"]
    assert wrong.startswith("Could not read Attic cache 'c' - Attic answers 401")
    assert "HTTP 401 Unauthorized: Unauthorized: Unauthorized." in wrong
    assert results["wrong token"]["status"] == 401
    denied = msg["missing permission"]
    assert denied.startswith(
        "Could not configure Attic cache 'c' - the token can see the cache but lacks "
        "the configure_cache (cr) permission"
    )
    assert (
        "HTTP 403 Forbidden: AccessError: Access error: User does not have permission "
        "to complete this action." in denied
    )
    assert "configure_cache_retention (cq)" in msg["missing retention permission"]
    assert "destroy_cache (cd)" in msg["missing destroy permission"]

    # Bad input never reached the server; each refusal is one GET (+ the write).
    assert attic.count("GET") == 4
    assert [r.method for r in attic.requests if r.method != "GET"] == [
        "PATCH",
        "PATCH",
        "DELETE",
    ]
    assert attic.caches["c"].priority == 41
    text = output(completed)
    for secret_value in (reader, configurer, forged, admin, secret):
        assert secret_value not in text
