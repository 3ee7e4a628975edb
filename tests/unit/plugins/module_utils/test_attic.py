"""Attic knowledge in module_utils/_attic.py, checked against upstream's own vectors.

Cache names and patterns: attic/src/cache.rs (its tests' good and bad names).
Durations: crate humantime src/duration.rs (its unit tests), as atticadm uses it.
Tokens: token/src/lib.rs (claims, letters) and server/src/adm/command/make_token.rs.
Keypairs: attic/src/signing/mod.rs.
"""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils import _attic
from ansible_collections.glorious.flywheel.plugins.module_utils._attic import (
    CLAIM_NAMESPACE,
    GLOBAL,
    AtticInputError,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)
from ansible_collections.glorious.flywheel.tests.doubles.attic import (
    nix_secret_key,
    rsa_private_pem,
)

SECRET_TEXT = "correct horse battery staple, and then some more text"
SECRET_B64 = base64.b64encode(SECRET_TEXT.encode()).decode()


# Names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["valid-name", "Another_Valid_Name", "plan9", "username+cache", "a" * 50]
)
def test_accepts_the_names_attic_accepts(name):
    assert _attic.check_cache_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "not a valid name",
        "team-*",
        "\u8fd9\u5e03\u76d2\u91cc.webp",
        "-ers",
        "and-you-can-have-it-all-my-empire-of-dirt-i-will-let-you-down-i-will-make-you-hurt",
        "trailing-newline\n",
        "a" * 51,
    ],
)
def test_rejects_the_names_attic_rejects_naming_the_rule(name):
    with pytest.raises(AtticInputError) as failure:
        _attic.check_cache_name(name, "name")
    assert str(failure.value).startswith("name: ")
    assert "1 to 50 characters" in str(failure.value)


def test_patterns_match_like_wildmatch():
    assert _attic.check_cache_pattern("team-*") == "team-*"
    assert _attic.pattern_matches("team-*", "team-")
    assert _attic.pattern_matches("team-*", "team-abc")
    assert not _attic.pattern_matches("team-*", "abc-team")
    assert _attic.pattern_matches("no-wildcard", "no-wildcard")
    assert not _attic.pattern_matches("no-wildcard", "no-wildcard-xxx")
    assert _attic.pattern_matches("*", "literally-anything")
    assert not _attic.pattern_matches("a+b", "aab")
    with pytest.raises(AtticInputError, match="not a cache name pattern"):
        _attic.check_cache_pattern("*-but-normal-restrictions-still-apply!!!")


# Durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("3000s", 3000),
        ("12mins", 720),
        ("2h", 7200),
        ("365d", 31_536_000),
        ("52w", 31_449_600),
        ("1month", 2_630_016),
        ("3 months", 3 * 2_630_016),
        ("12M", 31_560_192),
        ("17y", 536_479_200),
        ("2 years", 2 * 31_557_600),
        ("2h 37min", 9420),
        ("1h30m", 5400),
        ("20 min 17 nsec ", 1200),
        ("90d", 90 * 86400),
        ("86400", 86400),
        (3600, 3600),
    ],
)
def test_parses_durations_like_humantime(text, seconds):
    assert _attic.parse_duration(text, "validity") == seconds


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3 fortnights", "unknown time unit 'fortnights'"),
        ("forever", "expected a number at character 1"),
        ("3 Months", "unknown time unit 'Months'"),
        ("10 m s", "expected a number"),
        ("5h 30", "a time unit is needed after 30"),
        ("", "the duration is empty"),
        ("-1d", "expected a number"),
    ],
)
def test_a_bad_duration_names_the_option_and_the_fix(text, expected):
    with pytest.raises(AtticInputError) as failure:
        _attic.parse_duration(text, "retention_period")
    message = str(failure.value)
    assert message.startswith("retention_period: ")
    assert expected in message
    assert "for example '90d', '3 months'" in message


def test_retention_global_seconds_and_limits():
    assert _attic.parse_retention("global") == GLOBAL
    assert _attic.parse_retention("Global") == GLOBAL
    assert _attic.parse_retention(None) is None
    assert _attic.parse_retention("3 months") == 7_890_048
    assert _attic.parse_retention("0s") == 0
    assert _attic.parse_retention("0") == 0
    with pytest.raises(AtticInputError, match="shorter than one second"):
        _attic.parse_retention("500ms")
    with pytest.raises(AtticInputError, match="at most 2147483647 seconds"):
        _attic.parse_retention("100y")


def test_retention_wire_encoding():
    # attic/src/api/v1/cache_config.rs: enum RetentionPeriodConfig { Global, Period(u32) }
    assert _attic.retention_to_api(GLOBAL) == "Global"
    assert _attic.retention_to_api(90) == {"Period": 90}
    assert _attic.retention_from_api("Global") == GLOBAL
    assert _attic.retention_from_api({"Period": 90}) == 90
    with pytest.raises(ValueError):
        _attic.retention_from_api({"Forever": 1})


# Keypairs -------------------------------------------------------------------------


def test_a_nix_keypair_gives_its_public_key():
    secret, public = nix_secret_key("my-cache-1")
    assert _attic.parse_keypair(secret) == ("my-cache-1", public)


@pytest.mark.parametrize(
    "mangle, expected",
    [
        (lambda s, p: p, "decodes to 32 bytes"),
        (lambda s, p: s.split(":", 1)[1], "expected '<key name>:<base64>'"),
        (lambda s, p: ":" + s.split(":", 1)[1], "key name before ':' is empty"),
        (lambda s, p: s[:-6] + "!!!!==", "not valid base64"),
        (
            lambda s, p: (
                s.split(":")[0]
                + ":"
                + base64.b64encode(
                    base64.b64decode(s.split(":")[1])[:32] + bytes(32)
                ).decode()
            ),
            "public half does not belong",
        ),
    ],
)
def test_a_bad_keypair_is_refused_without_showing_it(mangle, expected):
    secret, public = nix_secret_key("k")
    bad = mangle(secret, public)
    with pytest.raises(AtticInputError) as failure:
        _attic.parse_keypair(bad)
    assert expected in str(failure.value)
    assert bad.split(":")[-1] not in str(failure.value)


def test_create_body_fills_the_attic_client_defaults():
    params = dict.fromkeys(_attic.CONFIG_FIELDS)
    params["priority"] = 10
    assert _attic.create_body(params) == {
        "keypair": "Generate",
        "is_public": False,
        "store_dir": "/nix/store",
        "priority": 10,
        "upstream_cache_key_names": ["cache.nixos.org-1"],
    }
    assert _attic.create_body(params, "k:abc")["keypair"] == {"Keypair": "k:abc"}


# Tokens ---------------------------------------------------------------------------


def test_permissions_take_names_or_letters_in_attic_order():
    assert _attic.normalise_permissions(
        {"team-*": ["push", "r", "configure_cache_retention"], "prod": "pull"}
    ) == {"team-*": ["r", "w", "cq"], "prod": ["r"]}


@pytest.mark.parametrize(
    "permissions, expected",
    [
        (
            {"team-*": ["r", "x"]},
            "permissions['team-*']: unknown permission 'x'. Use the atticadm names "
            "or their claim letters: pull (r), push (w), delete (d), create_cache (cc), "
            "configure_cache (cr), configure_cache_retention (cq), destroy_cache (cd).",
        ),
        ({"bad name": ["r"]}, "'bad name' is not a cache name pattern"),
        ({"team": []}, "expected a non-empty list of permissions"),
        (["team"], "expected a mapping of cache name pattern"),
    ],
)
def test_bad_permissions_say_which_and_what_is_allowed(permissions, expected):
    with pytest.raises(AtticInputError) as failure:
        _attic.normalise_permissions(permissions)
    assert expected in str(failure.value)


def test_claims_are_those_atticadm_make_token_signs():
    claims = _attic.build_claims(
        "alice", 7200, {"dev-*": ["r", "w"], "prod": ["r"]}, now=1_000_000
    )
    assert claims == {
        "exp": 1_007_200,
        "nbf": 1_000_000,
        "sub": "alice",
        CLAIM_NAMESPACE: {
            "caches": {"dev-*": {"r": 1, "w": 1}, "prod": {"r": 1}},
        },
    }
    bound = _attic.build_claims("a", 1, {}, issuer="iss", audiences=["x"], now=0)
    assert bound["iss"] == "iss" and bound["aud"] == ["x"]


def test_hs256_round_trip_and_what_verification_refuses():
    algorithm, key, notes = _attic.signing_key({"hs256_secret_base64": SECRET_B64})
    assert (algorithm, key, notes) == ("HS256", SECRET_TEXT.encode(), [])
    claims = _attic.build_claims("ci", 600, {"c": ["r"]})
    token = _attic.encode_token(claims, algorithm, key)
    # An independent decoder agrees.
    assert jwt.decode(token, SECRET_TEXT.encode(), algorithms=["HS256"]) == claims
    assert _attic.verify_token(token, algorithm, key) == (claims, None)

    wrong = b"another secret entirely, also quite long"
    assert _attic.verify_token(token, "HS256", wrong)[1] == (
        "the signature does not match this key"
    )
    expired = _attic.encode_token(
        _attic.build_claims("ci", 10, {}, now=time.time() - 100), algorithm, key
    )
    assert "expired" in _attic.verify_token(expired, algorithm, key)[1]
    future = _attic.encode_token(
        _attic.build_claims("ci", 10, {}, now=time.time() + 100), algorithm, key
    )
    assert "not valid yet" in _attic.verify_token(future, algorithm, key)[1]
    assert "lacks the iss" in _attic.verify_token(token, algorithm, key, issuer="i")[1]
    assert (
        "lacks the aud"
        in (_attic.verify_token(token, algorithm, key, audiences=["a"])[1])
    )
    bound = _attic.encode_token(
        _attic.build_claims("ci", 60, {}, issuer="i", audiences=["a", "b"]),
        algorithm,
        key,
    )
    assert _attic.verify_token(bound, algorithm, key)[1] is None
    assert (
        _attic.verify_token(bound, algorithm, key, issuer="i", audiences=["b"])[1]
        is None
    )
    assert "aud" in _attic.verify_token(bound, algorithm, key, audiences=["c"])[1]


def test_rs256_with_pem_or_base64_pem():
    pem = rsa_private_pem()
    algorithm, key, _notes = _attic.signing_key({"rs256_private_key": pem})
    token = _attic.encode_token(_attic.build_claims("r", 60, {}), algorithm, key)
    b64 = base64.b64encode(pem.encode()).decode()
    algorithm2, key2, _notes = _attic.signing_key({"rs256_secret_base64": b64})
    assert _attic.verify_token(token, algorithm2, key2)[1] is None
    public = key.public_key()
    assert _attic.verify_token(token, "RS256", public)[1] is None
    assert (
        "not signed with RS256"
        in _attic.verify_token(
            _attic.encode_token({"sub": "x"}, "HS256", b"k" * 32), "RS256", public
        )[1]
    )


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            {"hs256_secret_base64": "not base64!"},
            "hs256_secret_base64 is not valid base64",
        ),
        (
            {"hs256_secret_base64": base64.b64encode(b"\xff\xfe\x00\x81" * 9).decode()},
            "hs256_secret_base64 decodes to bytes that are not UTF-8 text",
        ),
        ({"rs256_private_key": "-----BEGIN NOTHING-----"}, "rs256_private_key is not"),
        ({"rs256_secret_base64": "%%%"}, "rs256_secret_base64 is not valid base64"),
    ],
)
def test_bad_signing_keys_name_the_option(params, expected):
    with pytest.raises(AtticInputError) as failure:
        _attic.signing_key(params)
    assert expected in str(failure.value)
    secret = next(iter(params.values()))
    assert secret not in str(failure.value)


def test_a_short_hmac_secret_is_a_warning():
    _alg, _key, notes = _attic.signing_key(
        {"hs256_secret_base64": base64.b64encode(b"short").decode()}
    )
    assert notes == [
        "hs256_secret_base64 holds only 5 bytes; RFC 7518 asks for at least 32 bytes "
        "for HS256."
    ]


def test_claim_problems_atticd_would_choke_on():
    good = _attic.build_claims("a", 1, {"c": ["r"]})
    assert _attic.attic_claim_problems(good) == []
    assert _attic.attic_claim_problems({"sub": "a"}) == [
        "the 'https://jwt.attic.rs/v1' claim with a 'caches' mapping is missing"
    ]
    bad = {CLAIM_NAMESPACE: {"caches": {"c": {"r": 2}, "b d": {}}}}
    assert _attic.attic_claim_problems(bad) == [
        "'c': r must be 0 or 1, not 2",
        "'b d' is not a cache name pattern",
    ]


def test_effective_permission_exact_first_and_ambiguous_wildcards():
    claims = _attic.build_claims(
        "a",
        1,
        {"team-a": ["r"], "team-*": ["r", "w"], "*-a": ["cd"], "other": ["cc"]},
    )
    exact = _attic.effective_permission(claims, "team-a")
    assert exact["pattern"] == "team-a" and exact["letters"] == ["r"]
    assert not exact["ambiguous"] and exact["pull"] and not exact["push"]
    assert exact["matching"] == ["team-a", "*-a", "team-*"]
    single = _attic.effective_permission(claims, "team-b")
    assert single["pattern"] == "team-*" and single["push"] and not single["ambiguous"]
    claims[CLAIM_NAMESPACE]["caches"]["*-b"] = {"d": 1}
    assert _attic.effective_permission(claims, "team-b")["ambiguous"]
    none = _attic.effective_permission(claims, "nothing")
    assert none["pattern"] is None and none["letters"] == [] and not none["pull"]


def test_permission_table_and_unverified_claims():
    claims = _attic.build_claims("a", 1, {"x-*": ["r", "cq"]})
    claims[CLAIM_NAMESPACE]["caches"]["x-*"]["zz"] = 1
    row = _attic.permission_table(claims)[0]
    assert row["pattern"] == "x-*" and row["wildcard"]
    assert row["letters"] == ["r", "cq"] and row["unknown_keys"] == ["zz"]
    assert row["configure_cache_retention"] and not row["configure_cache"]
    token = _attic.encode_token(claims, "HS256", b"k" * 32)
    assert _attic.unverified_claims(token) == claims
    with pytest.raises(AtticInputError, match="not a JWT"):
        _attic.unverified_claims("abc")


def test_failure_messages_say_which_permission_was_missing():
    def error(status, kind):
        return ApiError("POST", "http://x", status, "m", body={"error": kind})

    assert _attic.failure_message(error(401, "Unauthorized"), "read", "c") == (
        "Could not read Attic cache 'c' - Attic answers 401 when the token is missing, "
        "invalid or expired, or grants no permission at all on 'c' (it then hides "
        "whether the cache exists); this needs pull (r)"
    )
    assert _attic.failure_message(error(403, "AccessError"), "destroy", "c").endswith(
        "lacks the destroy_cache (cd) permission"
    )
    taken = _attic.failure_message(error(400, "CacheAlreadyExists"), "create", "c")
    assert "soft-delete-caches = true" in taken
    assert _attic.failure_message(error(500, "InternalServerError"), "create", "c") == (
        "Could not create Attic cache 'c'"
    )
