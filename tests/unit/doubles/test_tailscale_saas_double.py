"""The Tailscale SaaS double itself, driven with bare urllib (not the collection's
client), so a module test that passes against it tests the module, not the double."""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import namedtuple

from ansible_collections.glorious.flywheel.tests.doubles.tailscale_saas import (
    API_KEY,
    OAUTH_ID,
    OAUTH_SECRET,
    TailscaleSaas,
)

Answer = namedtuple("Answer", "status headers body")


def call(double, path, method="GET", headers=None, data=None):
    request = urllib.request.Request(
        double.url_for(path), method=method, headers=headers or {}, data=data
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read().decode()
            return Answer(response.status, dict(response.headers), body)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read().decode())


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
    devices = "/api/v2/tailnet/-/devices"
    assert call(double, devices, headers=basic(API_KEY)).status == 200
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    answer = call(double, devices, headers=bearer)
    (device,) = json.loads(answer.body)["devices"]
    assert answer.status == 200 and "enabledRoutes" not in device
    answer = call(double, devices + "?fields=all", headers=bearer)
    assert json.loads(answer.body)["devices"][0]["enabledRoutes"] == ["10.0.0.0/8"]
    answer = call(double, devices, headers=basic("nope"))
    assert answer.status == 401
    assert json.loads(answer.body) == {"message": "API token invalid"}
    answer = call(double, "/api/v2/tailnet/other.org/devices", headers=bearer)
    assert answer.status == 404
    assert json.loads(answer.body) == {"message": "tailnet not found"}


def test_oauth_client_credentials_give_a_bearer_token(serve_double):
    double = serve_double(TailscaleSaas)
    form = {
        "client_id": OAUTH_ID,
        "client_secret": OAUTH_SECRET,
        "grant_type": "client_credentials",
    }
    answer = call(
        double,
        "/api/v2/oauth/token",
        "POST",
        data=urllib.parse.urlencode(form).encode(),
    )
    token = json.loads(answer.body)
    assert answer.status == 200 and token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert call(double, "/api/v2/tailnet/-/keys", headers=auth).status == 200
    form["client_secret"] = "wrong"
    answer = call(
        double,
        "/api/v2/oauth/token",
        "POST",
        data=urllib.parse.urlencode(form).encode(),
    )
    assert answer.status == 401 and json.loads(answer.body)["error"] == "invalid_client"


def test_policy_etag_if_match_and_hujson(serve_double):
    double = serve_double(TailscaleSaas)
    auth = basic(API_KEY)
    acl = "/api/v2/tailnet/-/acl"
    answer = call(double, acl, headers=auth)
    assert answer.headers["Content-Type"] == "application/hujson"
    assert answer.body.startswith("//")
    etag = answer.headers["ETag"]
    new = b'{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:22"]},],}'
    stale = dict(auth, **{"If-Match": '"stale"'})
    assert call(double, acl, "POST", stale, new).status == 412
    answer = call(double, acl, "POST", dict(auth, **{"If-Match": etag}), new)
    assert answer.status == 200 and answer.headers["ETag"] != etag
    assert json.loads(answer.body)["acls"][0]["dst"] == ["*:22"]
