"""attic_token, attic_token_info and attic_cache_info through real ansible-playbook runs.

Tokens minted by attic_token are checked three ways: decoded independently with
PyJWT, verified by attic_token_info, and used against the Attic double, which
accepts or refuses them per permission as atticd does (token/src/lib.rs).
"""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.glorious.flywheel.tests.doubles.attic import (
    Attic,
    rsa_private_pem,
)
from ansible_collections.glorious.flywheel.tests.unit.plugins.modules.attic_support import (
    cache_task,
    output,
    play,
    task,
)

CLAIM = "https://jwt.attic.rs/v1"


@pytest.fixture
def attic(serve_double):
    double = serve_double(Attic)
    for name in ("tenant-alpha-main", "tenant-beta-main", "shared"):
        double.add_cache(name)
    return double


def info_task(title, attic, token, **options):
    options.update(api_url=attic.url, api_token=token, retries=0)
    return task(title, "attic_cache_info", options)


def test_minted_tokens_verify_and_the_server_honours_their_permissions(
    attic, serve_double, run_playbook, tmp_path
):
    pem = rsa_private_pem()
    bound = serve_double(
        Attic,
        rs256_private_pem=pem,
        token_bound_issuer="https://attic.test",
        token_bound_audiences=["ci"],
    )
    bound.add_cache("rsa-cache")
    public_pem = bound.verifying_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    saved = tmp_path / "token"
    token = "{{ minted.token }}"
    tasks = [
        task(
            "mint",
            "attic_token",
            {
                "sub": "runner-alpha",
                "validity": "1h",
                "permissions": {
                    "tenant-alpha-*": ["pull", "push"],
                    "shared": ["r"],
                },
                "hs256_secret_base64": attic.hs256_secret_base64,
            },
            register="minted",
        ),
        {
            "name": "save",
            "ansible.builtin.copy": {"content": token, "dest": str(saved)},
            "no_log": True,
        },
        task(
            "audit",
            "attic_token_info",
            {
                "token": token,
                "hs256_secret_base64": attic.hs256_secret_base64,
                "caches": ["tenant-alpha-main", "tenant-beta-main", "shared"],
            },
        ),
        info_task(
            "visible",
            attic,
            token,
            names=[
                "tenant-alpha-main",
                "tenant-beta-main",
                "shared",
                "tenant-alpha-gone",
            ],
        ),
        info_task("named in the token", attic, token),
        dict(
            cache_task(attic, token, "configure", "tenant-alpha-main", priority=1),
            ignore_errors=True,
        ),
        dict(
            cache_task(attic, token, "create", "tenant-alpha-new"),
            ignore_errors=True,
        ),
        task(
            "mint rs256",
            "attic_token",
            {
                "sub": "rsa",
                "validity": "10m",
                "permissions": {"rsa-*": ["r"]},
                "rs256_private_key": pem,
                "issuer": "https://attic.test",
                "audiences": ["ci"],
            },
            register="rsa",
        ),
        info_task("rs256 read", bound, "{{ rsa.token }}", name="rsa-cache"),
        info_task("rs256 server, hs256 token", bound, token, name="rsa-cache"),
        task(
            "rs256 audit",
            "attic_token_info",
            {
                "token": "{{ rsa.token }}",
                "rs256_public_key": public_pem,
                "issuer": "https://attic.test",
                "audiences": ["ci"],
            },
        ),
        task(
            "rs256 audit, other audience",
            "attic_token_info",
            {
                "token": "{{ rsa.token }}",
                "rs256_private_key": pem,
                "audiences": ["elsewhere"],
            },
        ),
    ]
    completed, results = play(run_playbook, tasks)

    # The token is never shown; the registered variable has it.
    mint = results["mint"]
    assert "token" not in mint and "censored" in mint
    minted = saved.read_text()
    assert minted.count(".") == 2
    text = output(completed)
    assert minted not in text
    assert attic.hs256_secret_base64 not in text

    # What atticadm make-token would sign (server/src/adm/command/make_token.rs).
    assert jwt.get_unverified_header(minted)["alg"] == "HS256"
    claims = jwt.decode(minted, attic.verifying_key, algorithms=["HS256"])
    assert set(claims) == {"exp", "nbf", "sub", CLAIM}
    assert claims["sub"] == "runner-alpha"
    assert claims["exp"] - claims["nbf"] == 3600
    assert claims[CLAIM] == {
        "caches": {"tenant-alpha-*": {"r": 1, "w": 1}, "shared": {"r": 1}}
    }

    audit = results["audit"]
    assert audit["valid"] is True and audit["reason"] is None
    assert audit["claims"] == claims
    assert audit["subject"] == "runner-alpha" and audit["expired"] is False
    by_cache = {p["cache"]: p for p in audit["cache_permissions"]}
    assert by_cache["tenant-alpha-main"]["letters"] == ["r", "w"]
    assert by_cache["tenant-alpha-main"]["pattern"] == "tenant-alpha-*"
    assert by_cache["tenant-beta-main"]["letters"] == []
    assert by_cache["shared"]["pull"] and not by_cache["shared"]["push"]

    visible = results["visible"]
    assert [c["name"] for c in visible["caches"]] == ["tenant-alpha-main", "shared"]
    assert visible["caches"][0]["public_key"] == (
        attic.caches["tenant-alpha-main"].public_key
    )
    assert [(n["name"], n["status"], n["reason"]) for n in visible["not_visible"]] == [
        ("tenant-beta-main", 401, "hidden"),
        ("tenant-alpha-gone", 404, "not_found"),
    ]
    named = results["named in the token"]
    assert named["names_from"] == "token"
    assert named["names"] == ["shared"]
    assert named["patterns_not_expanded"] == ["tenant-alpha-*"]

    assert results["configure"]["status"] == 403
    assert "configure_cache (cr)" in results["configure"]["msg"]
    create = results["create"]
    assert create["status"] == 403 and "create_cache (cc)" in create["msg"]
    assert "tenant-alpha-new" not in attic.caches

    assert results["rs256 read"]["cache"]["name"] == "rsa-cache"
    assert results["rs256 audit"]["valid"] is True
    assert results["rs256 audit"]["audiences"] == ["ci"]
    assert results["rs256 audit"]["algorithm"] == "RS256"
    other = results["rs256 audit, other audience"]
    assert other["valid"] is False
    assert other["reason"] == "the token's aud does not name one of the bound audiences"
    # A token the server cannot verify counts as no token: the cache is hidden.
    refused = results["rs256 server, hs256 token"]
    assert refused["cache"] is None
    assert refused["not_visible"][0]["status"] == 401
    assert refused["warnings"]


def test_bad_token_input_each_says_what_and_how(attic, run_playbook):
    secret = attic.hs256_secret_base64
    not_utf8 = base64.b64encode(b"\xff\xfe\xfd" * 12).decode()
    other = Attic(hs256_secret_base64=base64.b64encode(b"another key " * 4).decode())
    expired = attic.mint("old", {"shared": ["r"]}, validity=60, now=1_000_000)
    forged = other.mint("forger", {"*": ["r"]})

    def mint(title, **options):
        options.setdefault("sub", "x")
        options.setdefault("validity", "1h")
        options.setdefault("permissions", {"shared": ["r"]})
        if "rs256_private_key" not in options:
            options.setdefault("hs256_secret_base64", secret)
        return task(title, "attic_token", options, ignore_errors=True)

    def audit(title, token, **options):
        options.setdefault("hs256_secret_base64", secret)
        return task(
            title, "attic_token_info", dict(token=token, **options), ignore_errors=True
        )

    tasks = [
        mint("unknown permission letter", permissions={"tenant-*": ["r", "x"]}),
        mint("pattern attic rejects", permissions={"tenant alpha": ["r"]}),
        mint("secret not base64", hs256_secret_base64="this is not base64!"),
        mint("secret not utf-8", hs256_secret_base64=not_utf8),
        mint("validity not a duration", validity="forever"),
        mint("validity zero", validity="0s"),
        mint(
            "two keys",
            rs256_private_key="-----BEGIN RSA PRIVATE KEY-----",
            hs256_secret_base64=secret,
        ),
        mint("not a pem", rs256_private_key="not a pem"),
        audit("not a jwt", "not-a-jwt"),
        audit("wrong key", forged),
        audit("expired", expired),
    ]
    completed, results = play(run_playbook, tasks)
    msg = {name: r.get("msg", "") for name, r in results.items()}
    for name in list(msg)[:9]:
        assert results[name].get("failed"), (name, results[name])
    assert msg["unknown permission letter"] == (
        "permissions['tenant-*']: unknown permission 'x'. Use the atticadm names or "
        "their claim letters: pull (r), push (w), delete (d), create_cache (cc), "
        "configure_cache (cr), configure_cache_retention (cq), destroy_cache (cd)."
    )
    assert msg["pattern attic rejects"].startswith(
        "permissions: 'tenant alpha' is not a cache name pattern Attic accepts."
    )
    assert msg["secret not base64"].startswith(
        "hs256_secret_base64 is not valid base64"
    )
    assert "not UTF-8 text, which atticd refuses" in msg["secret not utf-8"]
    assert msg["validity not a duration"].startswith(
        "validity: 'forever' is not a duration"
    )
    assert msg["validity zero"].startswith("validity: '0s' is not a positive duration")
    assert "mutually exclusive" in msg["two keys"]
    assert msg["not a pem"].startswith(
        "rs256_private_key is not an unencrypted PEM private key"
    )
    assert msg["not a jwt"].startswith("token is not a JWT")

    wrong = results["wrong key"]
    assert not wrong.get("failed") and wrong["valid"] is False
    assert wrong["reason"] == "the signature does not match this key"
    assert wrong["subject"] == "forger"
    old = results["expired"]
    assert old["valid"] is False and old["expired"] is True
    assert old["reason"] == "the token has expired (exp is in the past)"
    assert old["expires_at"] == "1970-01-12T13:47:40Z"

    text = output(completed)
    for value in (secret, not_utf8, expired, forged):
        assert value not in text
