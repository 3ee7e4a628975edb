"""Shared tailnet pieces: which control plane and credentials, input checks,
timestamps, device lookup, and Headscale version detection without /version."""

from datetime import timezone

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._headscale import (
    HeadscaleApi,
    parse_version,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    TailnetError,
    check_routes,
    check_tags,
    device_facts,
    find_devices,
    parse_time,
    resolve_connection,
)
from ansible_collections.glorious.flywheel.tests.doubles.harness import Double

HEADSCALE_SRC = "https://github.com/juanfont/headscale/blob/v0.27.1"


@pytest.mark.parametrize(
    "params, environ, plane, url",
    [
        (
            {"api_url": "https://hs.example.net/", "api_token": "k" * 8},
            {},
            "headscale",
            "https://hs.example.net",
        ),
        (
            {"api_url": "https://api.tailscale.com", "api_token": "k" * 8},
            {},
            "tailscale",
            "https://api.tailscale.com",
        ),
        (
            {},
            {"HEADSCALE_URL": "http://127.0.0.1:1", "HEADSCALE_API_KEY": "k" * 8},
            "headscale",
            "http://127.0.0.1:1",
        ),
        ({}, {"TAILSCALE_API_KEY": "k" * 8}, "tailscale", "https://api.tailscale.com"),
        (
            {
                "control_plane": "tailscale",
                "api_url": "http://127.0.0.1:2",
                "oauth_client_id": "id",
                "oauth_client_secret": "s" * 8,
            },
            {},
            "tailscale",
            "http://127.0.0.1:2",
        ),
    ],
)
def test_control_plane_and_url_resolution(params, environ, plane, url):
    conn = resolve_connection(params, environ)
    assert (conn["control_plane"], conn["api_url"]) == (plane, url)


def test_secrets_from_the_environment_are_reported_for_hiding():
    conn = resolve_connection(
        {"control_plane": "tailscale"},
        {
            "TAILSCALE_OAUTH_CLIENT_ID": "id",
            "TAILSCALE_OAUTH_CLIENT_SECRET": "s3cr3t!!",
        },
    )
    assert conn["env_secrets"] == ["s3cr3t!!"]
    conn = resolve_connection(
        {}, {"HEADSCALE_URL": "http://h", "HEADSCALE_API_KEY": "kk"}
    )
    assert conn["env_secrets"] == ["kk"]


@pytest.mark.parametrize(
    "params, environ, field, words",
    [
        ({"control_plane": "headscale"}, {}, "api_url", "api_url is required"),
        ({"api_url": "https://hs.example.net"}, {}, "api_token", "headscale apikeys"),
        ({}, {}, "api_token", "tskey-api-"),
        (
            {"control_plane": "tailscale", "oauth_client_id": "id"},
            {},
            "oauth_client_secret",
            "an OAuth client is an id and a secret",
        ),
    ],
)
def test_missing_connection_input_names_the_option(params, environ, field, words):
    with pytest.raises(TailnetError, match=words) as error:
        resolve_connection(params, environ)
    assert error.value.field == field


def test_tags_need_the_tag_prefix():
    assert check_tags(["tag:server", "tag:ci-runner"]) == [
        "tag:server",
        "tag:ci-runner",
    ]
    with pytest.raises(TailnetError, match=r"tags\[1\] 'server'.*'tag:server'"):
        check_tags(["tag:ok", "server"])
    with pytest.raises(TailnetError, match="is not a tag"):
        check_tags(["tag:"])


def test_routes_are_canonical_cidrs():
    assert check_routes(["10.0.0.0/8", "fd00::/8"]) == ["10.0.0.0/8", "fd00::/8"]
    with pytest.raises(TailnetError, match="Did you mean 10.0.0.0/24"):
        check_routes(["10.0.0.1/24"])
    with pytest.raises(TailnetError, match=r"routes\[0\] 'lan'"):
        check_routes(["lan"])


def test_go_timestamps_parse_and_zero_time_is_none():
    moment = parse_time("2026-11-22T16:25:27.774225585Z")
    assert moment.tzinfo == timezone.utc and moment.microsecond == 774225
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None and parse_time(None) is None


def test_device_facts_and_lookup():
    devices = [
        device_facts(
            id="1",
            name="web",
            fqdn="web.ts.net",
            hostname="Web-01",
            addresses=["fd7a:115c:a1e0::1", "100.64.0.1"],
            tags=["tag:b", "tag:a"],
            expires="2000-01-01T00:00:00Z",
        ),
        device_facts(
            id="2",
            name="db",
            hostname="db",
            addresses=["100.64.0.2"],
            key_expiry_disabled=True,
            expires="2000-01-01T00:00:00Z",
        ),
    ]
    web, db = devices
    assert (web["ipv4"], web["ipv6"]) == ("100.64.0.1", "fd7a:115c:a1e0::1")
    assert web["tags"] == ["tag:a", "tag:b"]
    assert web["expired"] is True and db["expired"] is False
    assert find_devices(devices, name="WEB.ts.net.") == [web]
    assert find_devices(devices, name="web-01") == [web]
    assert find_devices(devices, address="fd7a:115c:a1e0:0::1") == [web]
    assert find_devices(devices, device_id="2") == [db]
    assert find_devices(devices, name="web", device_id="2") == []


def test_headscale_version_from_version_or_probed():
    assert parse_version("v0.27.1") == (0, 27, 1)
    assert parse_version("0.28.0-beta.1") == (0, 28, 0)
    assert parse_version("dev") is None

    double = Double()
    double.add_route(
        "GET",
        "/version",
        lambda request: {"version": "dev"},
        source=f"{HEADSCALE_SRC}/hscontrol/handlers.go",
        auth=False,
    )
    double.add_route(
        "GET",
        "/api/v1/preauthkey",
        lambda request: {"preAuthKeys": []},
        source=f"{HEADSCALE_SRC}/proto/headscale/v1/headscale.proto",
    )
    with double:
        api = HeadscaleApi(ApiClient(double.url, retries=0))
        # A build without a version that lists keys without a user speaks 0.28.
        assert api.version == (0, 28, 0)
        assert double.count(path="/api/v1/preauthkey") == 1
