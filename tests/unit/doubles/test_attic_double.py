"""The Attic double answers as the upstream server does (bare HTTP, no module code).

Each test names the upstream file (repository zhaofengli/attic) the behaviour comes
from; the double's routes cite theirs too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request

import pytest

from ansible_collections.glorious.flywheel.tests.doubles.attic import (
    Attic,
    nix_secret_key,
    rsa_private_pem,
)


def call(double, method, path, body=None, token=None, headers=None, raw=None):
    """(status, decoded JSON or text, headers) of one request."""
    send = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        send.setdefault("Content-Type", "application/json")
    if token:
        send["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        double.url_for(path), data=data, method=method, headers=send
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, text, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, text, got = exc.code, exc.read(), exc.headers
    try:
        return status, json.loads(text), got
    except ValueError:
        return status, text.decode(), got


CONFIG = "/_api/v1/cache-config/"
CREATE = {
    "keypair": "Generate",
    "is_public": False,
    "store_dir": "/nix/store",
    "priority": 41,
    "upstream_cache_key_names": ["cache.nixos.org-1"],
}
UNAUTHORIZED = {"code": 401, "error": "Unauthorized", "message": "Unauthorized."}
FORBIDDEN = {
    "code": 403,
    "error": "AccessError",
    "message": "Access error: User does not have permission to complete this action.",
}
NO_SUCH_CACHE = {
    "code": 404,
    "error": "NoSuchCache",
    "message": "The requested cache does not exist.",
}


@pytest.fixture
def attic(serve_double):
    return serve_double(Attic)


def test_every_route_cites_the_upstream_server(attic):
    sources = attic.sources()
    assert {
        "get_cache_config",
        "get_attic_cache_info",
        "create_cache",
        "configure_cache",
        "destroy_cache",
        "get_missing_paths",
        "upload_path",
        "nix_cache_info",
    } <= set(sources)
    for source in sources.values():
        assert source.startswith("https://github.com/zhaofengli/attic/blob/main/")


def test_create_read_and_no_keypair_ever_returned(attic):
    # server/src/api/v1/cache_config.rs: create_cache, get_cache_config
    admin = attic.admin_token()
    assert call(attic, "POST", CONFIG + "c1", CREATE, admin)[0] == 200
    status, body, _headers = call(attic, "GET", CONFIG + "c1", token=admin)
    assert status == 200
    assert body == {
        "substituter_endpoint": attic.url + "/c1",
        "api_endpoint": attic.url + "/",
        "public_key": attic.caches["c1"].public_key,
        "is_public": False,
        "store_dir": "/nix/store",
        "priority": 41,
        "upstream_cache_key_names": ["cache.nixos.org-1"],
        "retention_period": "Global",
    }
    assert body["public_key"].startswith("c1:")
    assert call(attic, "GET", "/c1/attic-cache-info", token=admin)[1] == body
    assert call(attic, "POST", CONFIG + "c1", CREATE, admin)[:2] == (
        400,
        {
            "code": 400,
            "error": "CacheAlreadyExists",
            "message": "The cache already exists.",
        },
    )


def test_401_hides_whether_a_cache_exists_and_404_needs_some_permission(attic):
    # server/src/error.rs into_no_discovery_permissions; token/src/lib.rs "Cache discovery"
    attic.add_cache("exists")
    stranger = attic.mint("x", {"elsewhere": ["r"]})
    for name in ("exists", "missing"):
        assert call(attic, "GET", CONFIG + name, token=stranger)[:2] == (
            401,
            UNAUTHORIZED,
        )
        assert call(attic, "GET", CONFIG + name)[:2] == (401, UNAUTHORIZED)
    pusher = attic.mint("p", {"missing": ["w"], "exists": ["w"]})
    assert call(attic, "GET", CONFIG + "missing", token=pusher)[:2] == (
        404,
        NO_SUCH_CACHE,
    )
    # It can discover the cache but may not pull: 403.
    assert call(attic, "GET", CONFIG + "exists", token=pusher)[:2] == (403, FORBIDDEN)


def test_public_caches_pull_for_anyone_and_a_bad_token_is_anonymous(attic):
    # server/src/access/http.rs: invalid JWTs are ignored; add_public_permissions
    attic.add_cache("pub", is_public=True)
    attic.add_cache("priv")
    other_key = Attic(hs256_secret_base64=base64.b64encode(b"x" * 40).decode())
    forged = other_key.mint("forger", {"*": ["r", "cr"]})
    assert call(attic, "GET", CONFIG + "pub")[0] == 200
    assert call(attic, "GET", CONFIG + "pub", token="garbage")[0] == 200
    assert call(attic, "GET", CONFIG + "priv", token=forged)[:2] == (401, UNAUTHORIZED)
    # Anonymous can see the public cache, so a write is 403, not 401.
    assert call(attic, "PATCH", CONFIG + "pub", {"priority": 1}, forged)[:2] == (
        403,
        FORBIDDEN,
    )
    expired = attic.mint("old", {"priv": ["r"]}, validity=10, now=1_000_000)
    assert call(attic, "GET", CONFIG + "priv", token=expired)[0] == 401


def test_basic_auth_with_the_token_as_password(attic):
    # token/src/util.rs parse_authorization_header (what a netrc sends)
    attic.add_cache("priv")
    token = attic.mint("n", {"priv": ["r"]})
    basic = base64.b64encode(f"anyone:{token}".encode()).decode()
    assert (
        call(
            attic, "GET", CONFIG + "priv", headers={"Authorization": f"basic {basic}"}
        )[0]
        == 200
    )


def test_patch_rules(attic):
    # server/src/api/v1/cache_config.rs configure_cache
    attic.add_cache("c")
    configure = attic.mint("cfg", {"c": ["r", "cr"]})
    full = attic.mint("cfg", {"c": ["r", "cr", "cq"]})
    empty = call(attic, "PATCH", CONFIG + "c", {}, configure)
    assert empty[:2] == (
        400,
        {
            "code": 400,
            "error": "RequestError",
            "message": "General request error: No modifiable fields were set.",
        },
    )
    # Read-only fields are not modifiable either.
    assert (
        call(attic, "PATCH", CONFIG + "c", {"public_key": "x:y"}, configure)[0] == 400
    )
    retention = {"retention_period": {"Period": 60}}
    assert call(attic, "PATCH", CONFIG + "c", retention, configure)[:2] == (
        403,
        FORBIDDEN,
    )
    assert attic.caches["c"].retention_period is None
    assert call(attic, "PATCH", CONFIG + "c", retention, full)[0] == 200
    assert attic.caches["c"].retention_period == 60
    too_long = {"retention_period": {"Period": 2**31}}
    assert call(attic, "PATCH", CONFIG + "c", too_long, full)[1]["message"] == (
        "General request error: Invalid retention period"
    )
    secret, public = nix_secret_key("mine-1")
    assert (
        call(attic, "PATCH", CONFIG + "c", {"keypair": {"Keypair": secret}}, full)[0]
        == 200
    )
    assert attic.caches["c"].public_key == public
    bad_type = call(attic, "PATCH", CONFIG + "c", {"priority": "high"}, full)
    assert bad_type[0] == 422 and "priority" in bad_type[1]
    no_json = call(attic, "PATCH", CONFIG + "c", raw=b"{}", token=full)
    assert no_json[0] == 415


def test_create_needs_cc_and_every_field(attic):
    # attic/src/api/v1/cache_config.rs CreateCacheRequest (no field optional)
    reader = attic.mint("r", {"new": ["r"]})
    nothing = attic.mint("n", {})
    creator = attic.mint("c", {"new*": ["cc"]})
    assert call(attic, "POST", CONFIG + "new", CREATE, reader)[:2] == (403, FORBIDDEN)
    assert call(attic, "POST", CONFIG + "new", CREATE, nothing)[:2] == (
        401,
        UNAUTHORIZED,
    )
    partial = {k: v for k, v in CREATE.items() if k != "store_dir"}
    status, text, _headers = call(attic, "POST", CONFIG + "new", partial, creator)
    assert status == 422 and "missing field `store_dir`" in text
    assert call(attic, "POST", CONFIG + "bad%20name", CREATE, creator)[0] == 400
    assert call(attic, "POST", CONFIG + "new", CREATE, creator)[0] == 200
    assert "new" in attic.caches


def test_destroy_hard_and_soft(serve_double):
    # server/src/api/v1/cache_config.rs destroy_cache; config.rs soft-delete-caches
    hard = serve_double(Attic)
    hard.add_cache("c")
    token = hard.mint("d", {"c": ["cd", "cc"]})
    assert call(hard, "DELETE", CONFIG + "c", token=token)[0] == 200
    assert call(hard, "DELETE", CONFIG + "c", token=token)[:2] == (404, NO_SUCH_CACHE)
    assert call(hard, "POST", CONFIG + "c", CREATE, token)[0] == 200

    soft = serve_double(Attic, soft_delete_caches=True)
    soft.add_cache("c")
    token = soft.mint("d", {"c": ["cd", "cc", "r"]})
    assert call(soft, "DELETE", CONFIG + "c", token=token)[0] == 200
    assert call(soft, "GET", CONFIG + "c", token=token)[0] == 404
    assert (
        call(soft, "POST", CONFIG + "c", CREATE, token)[1]["error"]
        == "CacheAlreadyExists"
    )


def test_push_endpoints_and_nix_cache_info(attic):
    # get_missing_paths.rs, upload_path.rs, binary_cache.rs
    attic.add_cache("c", priority=30)
    token = attic.mint("push", {"c": ["r", "w"]})
    reader = attic.mint("pull", {"c": ["r"]})
    hashes = ["0" * 32, "1" * 32]
    missing = {"cache": "c", "store_path_hashes": hashes}
    assert call(attic, "POST", "/_api/v1/get-missing-paths", missing, reader)[0] == 403
    assert call(attic, "POST", "/_api/v1/get-missing-paths", missing, token)[1] == {
        "missing_paths": hashes
    }
    nar = b"nix-archive-1 pretend"
    info = {
        "cache": "c",
        "store_path_hash": "0" * 32,
        "store_path": "/nix/store/" + "0" * 32 + "-x",
        "references": [],
        "system": None,
        "deriver": None,
        "sigs": [],
        "ca": None,
        "nar_hash": "sha256:" + hashlib.sha256(nar).hexdigest(),
        "nar_size": len(nar),
    }
    first = call(
        attic,
        "PUT",
        "/_api/v1/upload-path",
        raw=nar,
        token=token,
        headers={"X-Attic-Nar-Info": json.dumps(info)},
    )
    assert first[:2] == (
        200,
        {"kind": "Uploaded", "file_size": len(nar), "frac_deduplicated": 0.0},
    )
    preamble = json.dumps(info).encode()
    again = call(
        attic,
        "PUT",
        "/_api/v1/upload-path",
        raw=preamble + nar,
        token=token,
        headers={"X-Attic-Nar-Info-Preamble-Size": str(len(preamble))},
    )
    assert again[1]["kind"] == "Deduplicated"
    assert call(attic, "POST", "/_api/v1/get-missing-paths", missing, token)[1] == {
        "missing_paths": ["1" * 32]
    }
    status, text, headers = call(attic, "GET", "/c/nix-cache-info", token=reader)
    assert status == 200
    assert text == "WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 30\n"
    assert headers["Content-Type"].startswith("text/x-nix-cache-info")
    assert call(attic, "GET", "/c/nix-cache-info")[0] == 401


def test_rs256_server_and_bound_issuer_audience(serve_double):
    # token/src/lib.rs Token::from_jwt with allowed_issuers / allowed_audiences
    attic = serve_double(
        Attic,
        rs256_private_pem=rsa_private_pem(),
        token_bound_issuer="https://attic.test",
        token_bound_audiences=["ci"],
    )
    attic.add_cache("c")
    good = attic.mint("a", {"c": ["r"]})
    assert call(attic, "GET", CONFIG + "c", token=good)[0] == 200
    wrong_aud = attic.mint("a", {"c": ["r"]}, audiences=["elsewhere"])
    assert call(attic, "GET", CONFIG + "c", token=wrong_aud)[0] == 401


def test_the_hs256_secret_must_be_utf8_text_as_atticd_demands():
    # token/src/lib.rs decode_token_hs256_secret_base64: from_utf8
    with pytest.raises(UnicodeDecodeError):
        Attic(hs256_secret_base64=base64.b64encode(b"\xff" * 32).decode())


# Pushing: attic/src/api/v1/upload_path.rs, server/src/api/v1/upload_path.rs,
# attic/src/hash/mod.rs ----------------------------------------------------------

UPLOAD = "/_api/v1/upload-path"


def nar_info(cache, data, path_hash="a" * 32, **fields):
    info = {
        "cache": cache,
        "store_path_hash": path_hash,
        "store_path": f"/nix/store/{path_hash}-x",
        "references": [],
        "system": None,
        "deriver": None,
        "sigs": [],
        "ca": None,
        "nar_hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "nar_size": len(data),
    }
    info.update(fields)
    return info


def put(attic, info, data, token, preamble=False):
    text = json.dumps(info)
    if preamble:
        headers = {"X-Attic-Nar-Info-Preamble-Size": str(len(text.encode()))}
        return call(
            attic, "PUT", UPLOAD, raw=text.encode() + data, token=token, headers=headers
        )
    return call(
        attic, "PUT", UPLOAD, raw=data, token=token, headers={"X-Attic-Nar-Info": text}
    )


def request_error(detail):
    return {
        "code": 400,
        "error": "RequestError",
        "message": f"General request error: {detail}",
    }


def nix_base32(raw):
    """Nix's base32 of RAW (the encoder matching nix_base32_decode, for tests)."""
    alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
    length = (len(raw) * 8 - 1) // 5 + 1
    out = []
    for n in range(length - 1, -1, -1):
        bit = n * 5
        index, shift = bit // 8, bit % 8
        value = raw[index] >> shift
        if index + 1 < len(raw):
            value |= raw[index + 1] << (8 - shift)
        out.append(alphabet[value & 0x1F])
    return "".join(out)


def test_upload_checks_the_nar_against_its_info_and_stores_nothing_bad(attic):
    attic.add_cache("c")
    token = attic.mint("push", {"c": ["w"]})
    data = b"nix-archive-1 body"
    bad_hash = nar_info("c", data, nar_hash="sha256:" + "0" * 64)
    assert put(attic, bad_hash, data, token)[:2] == (
        400,
        request_error("Bad NAR Hash or Size"),
    )
    bad_size = nar_info("c", data, nar_size=len(data) + 1)
    assert put(attic, bad_size, data, token)[1]["message"].endswith(
        "Bad NAR Hash or Size"
    )
    assert attic.nars == {} and attic.live("c").objects == {}
    # Nix's base32 is accepted as well as hex; the nar table keeps hex.
    digest = hashlib.sha256(data).digest()
    base32 = nar_info("c", data, nar_hash="sha256:" + nix_base32(digest))
    status, body, _headers = put(attic, base32, data, token)
    assert (status, body["kind"]) == (200, "Uploaded")
    assert list(attic.nars) == ["sha256:" + digest.hex()]
    # SRI (what `nix path-info --json` prints) is not a form Hash::from_typed reads.
    sri = nar_info("c", data, nar_hash="sha256-" + base64.b64encode(digest).decode())
    status, body, _headers = put(attic, sri, data, token)
    assert status == 400 and "lacks a colon separator" in body["message"]


def test_the_same_nar_in_another_cache_is_deduplicated(attic):
    attic.add_cache("a")
    attic.add_cache("b")
    token = attic.mint("push", {"*": ["w"]})
    data = b"nix-archive-1 shared"
    assert put(attic, nar_info("a", data), data, token)[1] == {
        "kind": "Uploaded",
        "file_size": len(data),
        "frac_deduplicated": 0.0,
    }
    # upload_path_dedup answers no file_size and frac_deduplicated null.
    other = nar_info("b", data, path_hash="b" * 32)
    assert put(attic, other, data, token, preamble=True)[1] == {
        "kind": "Deduplicated",
        "frac_deduplicated": None,
    }
    assert len(attic.nars) == 1
    assert attic.narinfo_of("b", "b" * 32)["store_path"] == other["store_path"]
    # Proof of possession: claiming a held hash without its bytes is refused.
    liar = nar_info("b", data, path_hash="c" * 32)
    assert put(attic, liar, b"something else", token)[0] == 400
    assert attic.narinfo_of("b", "c" * 32) is None
    missing = {"cache": "b", "store_path_hashes": ["b" * 32, "c" * 32]}
    assert call(attic, "POST", "/_api/v1/get-missing-paths", missing, token)[1] == {
        "missing_paths": ["c" * 32]
    }


def test_upload_needs_push_and_a_well_formed_info(serve_double):
    attic = serve_double(Attic, max_nar_info_size=64)
    attic.add_cache("c")
    reader = attic.mint("pull", {"c": ["r"]})
    pusher = attic.mint("push", {"c": ["w"]})
    data = b"nix-archive-1 x"
    info = nar_info("c", data)
    assert put(attic, info, data, reader)[:2] == (403, FORBIDDEN)
    assert put(attic, info, data, None)[:2] == (401, UNAUTHORIZED)
    # The preamble is bounded by max-nar-info-size; this info is larger than 64.
    assert put(attic, info, data, pusher, preamble=True)[1] == request_error(
        "Upload info is too large"
    )
    assert call(attic, "PUT", UPLOAD, raw=data, token=pusher)[1] == request_error(
        "X-Attic-Nar-Info must be set"
    )
    bad_size = {"X-Attic-Nar-Info-Preamble-Size": "lots"}
    assert call(attic, "PUT", UPLOAD, raw=data, token=pusher, headers=bad_size)[
        1
    ] == request_error(
        "X-Attic-Nar-Info-Preamble-Size must be a valid unsigned integer"
    )
    incomplete = dict(info)
    del incomplete["nar_size"]
    status, body, _headers = put(attic, incomplete, data, pusher)
    assert status == 400 and "missing field `nar_size`" in body["message"]
    assert attic.nars == {}
