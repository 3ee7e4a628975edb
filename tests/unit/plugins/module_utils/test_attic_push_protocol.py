"""The push half of _attic.py: hash forms, NAR info, header vs preamble, retries.

Hash vectors come from the real Nix 2.8 on this machine: `nix path-info --json`
printed the SRI form, `nix hash to-base32` and `sha256sum` of `nix-store --dump`
the other two, for one and the same NAR.
"""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._attic import (
    NAR_INFO_PREAMBLE_THRESHOLD,
    AtticPush,
    nar_hash_hex,
    store_path_hash,
    upload_info,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    Auth,
)
from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic

HEX = "82f87e929de58089359f8b0bcdc79e91a9052402f26df5336d2bcc0579a6ed93"


@pytest.mark.parametrize(
    "printed",
    [
        "sha256-gvh+kp3lgIk1n4sLzceekakFJALybfUzbSvMBXmm7ZM=",
        "sha256:14zdlrwhbk1bdlrzavgj08j0bacikv3ws2wbkwsqk075kn97xy42",
        "sha256:" + HEX,
    ],
)
def test_every_form_nix_prints_becomes_attics_hex(printed):
    assert nar_hash_hex(printed) == "sha256:" + HEX


@pytest.mark.parametrize(
    "bad",
    [
        "sha256-tooshort=",
        "sha256:" + "e" * 52,  # 'e' is not a Nix base32 digit
        "md5:" + "0" * 32,
        HEX,
    ],
)
def test_other_hashes_are_refused(bad):
    with pytest.raises(ValueError):
        nar_hash_hex(bad)


def test_store_path_hash_and_nar_info():
    path = "/nix/store/zqn16184c41liq5vmij9psg8ipkrbr62-probe-top"
    assert store_path_hash(path) == "zqn16184c41liq5vmij9psg8ipkrbr62"
    for bad in ("/tmp/result", "/nix/store/short-x", "/nix/store/" + "e" * 32 + "-x"):
        with pytest.raises(ValueError):
            store_path_hash(bad)
    info = upload_info(
        "ci",
        {
            "path": path,
            "narHash": "sha256-gvh+kp3lgIk1n4sLzceekakFJALybfUzbSvMBXmm7ZM=",
            "narSize": 168,
            "references": ["/nix/store/jlid9zcax41zxp74vca9ihbi2ws0lxym-probe-dep"],
            "deriver": "/nix/store/0xp0hki5nbicb8g9179mk4h0ylcrkjmv-probe-top.drv",
            "signatures": ["k-1:c2ln"],
        },
    )
    assert info == {
        "cache": "ci",
        "store_path_hash": "zqn16184c41liq5vmij9psg8ipkrbr62",
        "store_path": path,
        "references": ["/nix/store/jlid9zcax41zxp74vca9ihbi2ws0lxym-probe-dep"],
        "system": None,
        "deriver": None,
        "sigs": ["k-1:c2ln"],
        "ca": None,
        "nar_hash": "sha256:" + HEX,
        "nar_size": 168,
    }


@pytest.fixture
def setup(serve_double, tmp_path):
    attic = serve_double(Attic)
    attic.add_cache("ci")
    client = ApiClient(
        attic.url,
        auth=Auth.bearer(attic.mint("p", {"ci": ["w"]})),
        retries=2,
        sleep=lambda _seconds: None,
    )
    nar_file = tmp_path / "x.nar"
    nar_file.write_bytes(b"nix-archive-1 " + b"z" * 3000)
    return attic, AtticPush(client), nar_file


def info_for(nar_file, sigs=()):
    data = nar_file.read_bytes()
    return {
        "cache": "ci",
        "store_path_hash": "a" * 32,
        "store_path": "/nix/store/" + "a" * 32 + "-x",
        "references": [],
        "system": None,
        "deriver": None,
        "sigs": list(sigs),
        "ca": None,
        "nar_hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "nar_size": len(data),
    }


def test_small_info_goes_in_the_header_large_in_a_preamble(setup):
    attic, push, nar_file = setup
    small = info_for(nar_file)
    assert push.upload(small, nar_file)["kind"] == "Uploaded"
    sent = attic.requests[-1]
    assert "X-Attic-Nar-Info" in sent.headers
    assert sent.body == nar_file.read_bytes()
    # client/src/api/mod.rs: from 4 KiB of JSON up, the info leads the body.
    large = info_for(nar_file, sigs=[f"key-{n}:" + "A" * 80 for n in range(60)])
    large["store_path_hash"] = "b" * 32
    answer = push.upload(large, nar_file)
    assert answer == {
        "kind": "Deduplicated",
        "file_size": None,
        "frac_deduplicated": None,
    }
    sent = attic.requests[-1]
    size = int(sent.headers["X-Attic-Nar-Info-Preamble-Size"])
    assert size >= NAR_INFO_PREAMBLE_THRESHOLD
    assert "X-Attic-Nar-Info" not in sent.headers
    assert sent.body[size:] == nar_file.read_bytes()
    assert push.missing("ci", ["a" * 32, "b" * 32, "c" * 32]) == {"c" * 32}


def test_a_retried_upload_sends_the_whole_nar_again(setup):
    attic, push, nar_file = setup
    attic.unavailable(count=1, method="PUT")
    assert push.upload(info_for(nar_file), nar_file)["kind"] == "Uploaded"
    puts = [r for r in attic.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [503, 200]
    assert puts[1].body == nar_file.read_bytes()
