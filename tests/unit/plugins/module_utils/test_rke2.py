"""RKE2 configuration logic: layer merging, the YAML emitter, the keys every server must
share, validation, version and snapshot parsing, and the kubeconfig-based node lookup
(against a real local HTTP server standing in for the kube-apiserver's `/api/v1/nodes`)."""

import base64
import json

import pytest
import yaml

from ansible_collections.glorious.flywheel.plugins.module_utils import _rke2


def test_later_layers_win_and_plus_keys_append_without_duplicates():
    cluster = {"cni": "canal", "tls-san": ["api.example"], "node-label": ["a=1"]}
    group = {"cni": "cilium", "node-label+": ["b=2", "a=1"]}
    host = {"tls-san+": "100.64.0.1", "write-kubeconfig-mode": None}

    merged = _rke2.merge_layers([cluster, group, None, host])

    assert merged == {
        "cni": "cilium",
        "tls-san": ["api.example", "100.64.0.1"],
        "node-label": ["a=1", "b=2"],
    }
    # The inputs are left alone: layers are shared between hosts of a group.
    assert cluster["node-label"] == ["a=1"]


def test_plus_key_onto_a_scalar_turns_it_into_a_list():
    assert _rke2.merge_layers(
        [{"disable": "rke2-ingress-nginx"}, {"disable+": ["rke2-metrics-server"]}]
    ) == {"disable": ["rke2-ingress-nginx", "rke2-metrics-server"]}


def test_rendered_config_is_yaml_that_reads_back_the_same_and_is_stable():
    config = {
        "token": 'se"cret: with # yaml specials',
        "tls-san": ["100.64.0.1", "node-1.tail.example"],
        "disable": [],
        "write-kubeconfig-mode": "0600",
        "etcd-snapshot-retention": 5,
        "cluster-init": True,
    }

    text = _rke2.render_config(
        config, header="managed by glorious.flywheel\nedit the inventory"
    )

    assert text.startswith("# managed by glorious.flywheel\n# edit the inventory\n")
    assert yaml.safe_load(text) == config
    # Key order must not follow dict order, or a re-run would rewrite the file.
    reordered = dict(reversed(list(config.items())))
    assert (
        _rke2.render_config(
            reordered, header="managed by glorious.flywheel\nedit the inventory"
        )
        == text
    )
    # "0600" stays a string: an unquoted 0600 would be read back as octal 384 by YAML 1.1.
    assert 'write-kubeconfig-mode: "0600"' in text


def test_nested_values_are_refused_naming_the_key():
    with pytest.raises(_rke2.Rke2Error, match=r"^kubelet-arg: .*not dict"):
        _rke2.render_config({"kubelet-arg": [{"max-pods": 200}]})


def test_agents_lose_server_only_keys_and_are_told_which():
    config = {
        "server": "https://a:9345",
        "token": "t",
        "tls-san": ["x"],
        "cni": "canal",
        "node-label": ["p=1"],
    }

    agent, dropped = _rke2.for_role(config, "agent")
    server, kept_all = _rke2.for_role(config, "server")

    assert agent == {"server": "https://a:9345", "token": "t", "node-label": ["p=1"]}
    assert dropped == ["cni", "tls-san"]
    assert server == config and kept_all == []


def test_mismatched_cluster_keys_are_named_per_server_with_tokens_redacted():
    configs = {
        "server-1": {
            "cluster-cidr": "10.42.0.0/16",
            "agent-token": "one",
            "service-cidr": "10.43.0.0/16",
        },
        "server-2": {
            "cluster-cidr": "10.52.0.0/16",
            "agent-token": "two",
            "service-cidr": "10.43.0.0/16",
        },
    }

    mismatches = _rke2.must_match_mismatches(configs)

    assert mismatches == {
        "cluster-cidr": {"server-1": "10.42.0.0/16", "server-2": "10.52.0.0/16"},
        "agent-token": {"server-1": "<redacted>", "server-2": "<redacted>"},
    }
    assert "one" not in json.dumps(mismatches) and "two" not in json.dumps(mismatches)


def test_equal_values_of_different_types_are_not_a_mismatch():
    configs = {
        "a": {"disable-kube-proxy": True, "cluster-dns": "10.43.0.10"},
        "b": {"disable-kube-proxy": "true", "cluster-dns": "10.43.0.10"},
    }
    assert _rke2.must_match_mismatches(configs) == {}


@pytest.mark.parametrize(
    "config, role, problem",
    [
        ({"cni": "weave"}, "server", "unknown cni 'weave'"),
        ({"cni": ["multus", "bogus"]}, "server", "unknown cni 'bogus'"),
        ({"token": "t"}, "agent", "an agent needs 'server'"),
        (
            {"server": "https://a:9345"},
            "server",
            "joining https://a:9345 needs 'token'",
        ),
    ],
)
def test_validation_names_the_problem(config, role, problem):
    assert any(message.startswith(problem) for message in _rke2.validate(config, role))


def test_a_valid_joining_agent_has_no_problems():
    assert (
        _rke2.validate(
            {"server": "https://a:9345", "token": "t", "cni": ["multus", "canal"]},
            "agent",
        )
        == []
    )


@pytest.mark.parametrize(
    "text, parsed, word",
    [
        (
            "rke2 version v1.31.4+rke2r1 (3b1e8b2c)\ngo version go1.23.4",
            (1, 31, 4, 1),
            "v1.31.4+rke2r1",
        ),
        ("v1.30.2+rke2r2", (1, 30, 2, 2), "v1.30.2+rke2r2"),
        ("1.29.0", (1, 29, 0, 0), "1.29.0"),
        ("not installed", None, None),
        (None, None, None),
    ],
)
def test_versions_parse_from_the_cli_banner(text, parsed, word):
    assert _rke2.parse_version(text) == parsed
    assert _rke2.version_string(text) == word


def test_versions_order_by_release_then_rke2_revision():
    assert _rke2.parse_version("v1.31.4+rke2r1") < _rke2.parse_version("v1.31.4+rke2r2")
    assert _rke2.parse_version("v1.31.10+rke2r1") > _rke2.parse_version(
        "v1.31.9+rke2r3"
    )


def test_snapshot_listing_skips_the_header_and_odd_lines():
    listing = (
        "Name                                   Location                         Size    Created\n"
        "on-demand-node-1-1732300000 file:///var/lib/rancher/rke2/server/db/snapshots/x 1048608 2026-11-22T10:00:00Z\n"
        'level=warning msg="something chatty"\n'
        "etcd-snapshot-node-1-1732310000 s3://bucket/etcd-snapshot-node-1-1732310000 2097184 2026-11-22T13:00:00Z\n"
    )

    snapshots = _rke2.parse_snapshot_list(listing)

    assert [s["name"] for s in snapshots] == [
        "on-demand-node-1-1732300000",
        "etcd-snapshot-node-1-1732310000",
    ]
    assert snapshots[1] == {
        "name": "etcd-snapshot-node-1-1732310000",
        "location": "s3://bucket/etcd-snapshot-node-1-1732310000",
        "size": 2097184,
        "created": "2026-11-22T13:00:00Z",
    }


def _kubeconfig(tmp_path, server, token=None, ca_pem=None):
    user = (
        {"token": token}
        if token
        else {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}
    )
    cluster = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": cluster}],
        "users": [{"name": "default", "user": user}],
        "contexts": [
            {"name": "default", "context": {"cluster": "default", "user": "default"}}
        ],
        "current-context": "default",
    }
    path = tmp_path / "rke2.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_kubeconfig_is_read_by_key(tmp_path):
    path = _kubeconfig(tmp_path, "https://127.0.0.1:6443", token="abc.def")

    creds = _rke2.read_kubeconfig(str(path))

    assert creds == {"server": "https://127.0.0.1:6443", "token": "abc.def"}


def test_missing_kubeconfig_is_a_clear_error(tmp_path):
    with pytest.raises(_rke2.Rke2Error, match="no kubeconfig at .*absent.yaml"):
        _rke2.read_kubeconfig(str(tmp_path / "absent.yaml"))


def test_node_lookup_sends_the_token_and_summarises_readiness(tmp_path, httpserver):
    node = {
        "metadata": {"name": "node-1", "labels": {"glorious.flywheel/pool": "nix"}},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "nodeInfo": {"kubeletVersion": "v1.31.4+rke2r1"},
        },
    }
    httpserver.expect_request(
        "/api/v1/nodes/node-1", headers={"Authorization": "Bearer abc.def"}
    ).respond_with_json(node)
    httpserver.expect_request("/api/v1/nodes/node-2").respond_with_data("", status=404)
    path = _kubeconfig(tmp_path, httpserver.url_for("/"), token="abc.def")

    found = _rke2.node_summary(_rke2.get_node(str(path), "node-1"))
    absent = _rke2.node_summary(_rke2.get_node(str(path), "node-2"))

    assert found == {
        "exists": True,
        "ready": True,
        "kubelet_version": "v1.31.4+rke2r1",
        "labels": {"glorious.flywheel/pool": "nix"},
    }
    assert absent == {
        "exists": False,
        "ready": False,
        "kubelet_version": None,
        "labels": {},
    }


def test_node_lookup_errors_carry_the_status(tmp_path, httpserver):
    httpserver.expect_request("/api/v1/nodes/node-1").respond_with_data(
        "forbidden", status=403
    )
    path = _kubeconfig(tmp_path, httpserver.url_for("/"), token="abc.def")

    with pytest.raises(_rke2.Rke2Error, match=r"nodes/node-1: HTTP 403"):
        _rke2.get_node(str(path), "node-1")


def test_a_node_that_is_not_ready_is_reported_so():
    node = {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert _rke2.node_summary(node)["ready"] is False


def test_a_drop_in_is_checked_only_for_what_is_wrong_on_its_own():
    # An agent's drop-in has no server or token of its own: config.yaml has them.
    assert (
        _rke2.validate({"kubelet-arg": ["max-pods=150"]}, "agent", complete=False) == []
    )
    assert _rke2.validate({"kubelet-arg": ["max-pods=150"]}, "agent") != []
    problems = _rke2.validate({"cni": "weave"}, "server", complete=False)
    assert problems and problems[0].startswith("unknown cni 'weave'")
