"""The Tailscale SaaS double itself, driven with bare urllib (not the collection's
client), so a module test that passes against it tests the module, not the double."""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.glorious.flywheel.tests.doubles.tailscale_saas import (
    API_KEY,
    OAUTH_ID,
    OAUTH_SECRET,
    TailscaleSaas,
)


def call(double, path, method="GET", headers=None, data=None):
    request = urllib.request.Request(
        double.url_for(path), method=method, headers=headers or {}, data=data
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def basic(key):
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_every_route_cites_tailscales_docs(serve_double):
    double = serve_double(TailscaleSaas)
    sources = double.sources()
    assert len(sources) >= 17
    assert all(
        s.startswith(("https://github.com/tailscale/", "https://tailscale.com/kb/"))
        for s in sources.values()
    )


def test_api_key_as_basic_user_or_bearer_and_errors_as_message(serve_double):
    double = serve_double(TailscaleSaas)
    double.add_device("a", enabledRoutes=["10.0.0.0/8"])
    assert call(double, "/api/v2/tailnet/-/devices", headers=basic(API_KEY))[0] == 200
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    status, _, body = call(double, "/api/v2/tailnet/-/devices", headers=bearer)
    (device,) = json.loads(body)["devices"]
    assert status == 200 and "enabledRoutes" not in device
    status, _, body = call(
        double, "/api/v2/tailnet/-/devices?fields=all", headers=bearer
    )
    assert json.loads(body)["devices"][0]["enabledRoutes"] == ["10.0.0.0/8"]
    status, _, body = call(double, "/api/v2/tailnet/-/devices", headers=basic("nope"))
    assert (status, json.loads(body)) == (401, {"message": "API token invalid"})
    status, _, body = call(double, "/api/v2/tailnet/other.org/devices", headers=bearer)
    assert (status, json.loads(body)) == (404, {"message": "tailnet not found"})


def test_oauth_client_credentials_give_a_bearer_token(serve_double):
    double = serve_double(TailscaleSaas)
    form = urllib.parse.urlencode(
        {
            "client_id": OAUTH_ID,
            "client_secret": OAUTH_SECRET,
            "grant_type": "client_credentials",
        }
    ).encode()
    status, _, body = call(double, "/api/v2/oauth/token", "POST", data=form)
    token = json.loads(body)
    assert (
        status == 200
        and token["token_type"] == "Bearer"
        and token["expires_in"] == 3600
    )
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert call(double, "/api/v2/tailnet/-/keys", headers=auth)[0] == 200
    bad = form.replace(OAUTH_SECRET.encode(), b"wrong")
    status, _, body = call(double, "/api/v2/oauth/token", "POST", data=bad)
    assert status == 401 and json.loads(body)["error"] == "invalid_client"


def test_policy_etag_if_match_and_hujson(serve_double):
    double = serve_double(TailscaleSaas)
    auth = basic(API_KEY)
    status, headers, text = call(double, "/api/v2/tailnet/-/acl", headers=auth)
    assert headers["Content-Type"] == "application/hujson" and text.startswith("//")
    etag = headers["ETag"]
    new = b'{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:22"]},],}'
    stale = dict(auth, **{"If-Match": '"stale"'})
    assert call(double, "/api/v2/tailnet/-/acl", "POST", stale, new)[0] == 412
    fresh = dict(auth, **{"If-Match": etag})
    status, headers, body = call(double, "/api/v2/tailnet/-/acl", "POST", fresh, new)
    assert status == 200 and headers["ETag"] != etag
    assert json.loads(body)["acls"][0]["dst"] == ["*:22"]
