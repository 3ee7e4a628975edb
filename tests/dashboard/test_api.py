"""The dashboard's JSON API and pages against the lab's real Kubernetes control plane.

Sessions here are signed the way Starlette's SessionMiddleware signs them, with the
app's key, for users put in the store directly: the passkey ceremonies themselves are
tested through a real browser in test_browser.py.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest
from itsdangerous import TimestampSigner
from kubernetes.client.rest import ApiException
from starlette.testclient import TestClient

from ansible_collections.glorious.flywheel.plugins.module_utils import _health
from ansible_collections.glorious.flywheel.tests.dashboard.support import (
    ADMIN_TOKEN,
    DEPLOYMENT,
    POOL,
    SESSION_KEY,
    add_user,
    free_port,
    make_settings,
    put_recover_template,
    session_cookie,
    wait_ready,
)
from ansible_collections.glorious.flywheel.tests.doubles.attic import Attic
from ansible_collections.glorious.flywheel.tests.doubles.forgejo import Forgejo
from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

# pylint: disable=wrong-import-order,wrong-import-position
from flywheel_dashboard.app import SESSION_COOKIE, create_app  # noqa: E402
from flywheel_dashboard.settings import Settings, SettingsError  # noqa: E402

# pylint: enable=wrong-import-order,wrong-import-position


def client(dashboard, role=None, session=None):
    test_client = TestClient(dashboard["app"], follow_redirects=False)
    if role:
        session = dashboard["sessions"][role]
    if session is not None:
        test_client.cookies.set(SESSION_COOKIE, session_cookie(session))
    return test_client


def csrf(dashboard, role):
    return {"X-CSRF-Token": dashboard["sessions"][role]["csrf"]}


def test_health_answers_unauthenticated_and_the_health_probe_accepts_it(live_server):
    found = httpx.get(f"{live_server['url']}/api/health")
    assert found.status_code == 200
    assert found.json()["status"] == "ok"
    probed = _health.probe_dashboard(_health.http_client(live_server["url"], 5, 0))
    assert probed["status"] == _health.HEALTHY, probed


def test_anonymous_requests_are_refused(dashboard):
    anonymous = client(dashboard)
    for path in ("/api/overview", "/api/pools", f"/api/pools/{POOL}", "/api/history"):
        assert anonymous.get(path).status_code == 401, path
    page = anonymous.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_overview_is_read_from_the_cluster(dashboard, lab_namespace):
    data = client(dashboard, "viewer").get("/api/overview").json()
    assert data["kubernetes"]["status"] == "ok"
    assert data["namespaces"] == [lab_namespace]
    pool = data["pools"][POOL]
    assert (pool["status"], pool["ready"], pool["expected"]) == ("HEALTHY", 2, 2)
    assert pool["targets"][0]["name"] == DEPLOYMENT and not pool["paused"]
    components = data["health"]["components"]
    assert components["runners"]["status"] == "healthy"
    # Not probed is said as such, never shown as healthy.
    assert components["attic"]["status"] == "not_configured"
    assert data["arc"]["installed"] is False
    page = client(dashboard, "viewer").get("/")
    assert page.status_code == 200
    assert f'data-pool="{POOL}"' in page.text and "2 / 2" in page.text


def test_pool_api_and_page(dashboard, lab_namespace):
    viewer = client(dashboard, "viewer")
    pool = viewer.get(f"/api/pools/{POOL}").json()
    assert len(pool["pods"]) == 2
    assert {p["namespace"] for p in pool["pods"]} == {lab_namespace}
    assert viewer.get("/api/pools/no-such-pool").status_code == 404
    page = viewer.get(f"/pools/{POOL}")
    assert "Actions need the operator role" in page.text
    assert viewer.get("/pools/no-such-pool").status_code == 404


def replicas(kube, namespace):
    return kube["apps"].read_namespaced_deployment(DEPLOYMENT, namespace).spec.replicas


def test_viewer_cannot_pause(dashboard, kube, lab_namespace):
    answer = client(dashboard, "viewer").post(
        f"/api/pools/{POOL}/pause", headers=csrf(dashboard, "viewer")
    )
    assert answer.status_code == 403
    assert "operator" in answer.json()["error"]
    assert replicas(kube, lab_namespace) == 2


def test_state_change_without_csrf_token_is_refused(dashboard, kube, lab_namespace):
    operator = client(dashboard, "operator")
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        answer = operator.post(f"/api/pools/{POOL}/pause", headers=headers)
        assert answer.status_code == 403
        assert "CSRF" in answer.json()["error"]
    # A right token from another origin is refused too.
    answer = operator.post(
        f"/api/pools/{POOL}/pause",
        headers={**csrf(dashboard, "operator"), "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    answer = operator.post("/auth/logout")
    assert answer.status_code == 403
    assert replicas(kube, lab_namespace) == 2


def test_operator_pauses_and_resumes(dashboard, kube, lab_namespace):
    operator = client(dashboard, "operator")
    headers = csrf(dashboard, "operator")
    paused = operator.post(f"/api/pools/{POOL}/pause", headers=headers)
    assert paused.status_code == 200, paused.text
    assert paused.json()["changed"] == [f"Deployment {lab_namespace}/{DEPLOYMENT}"]
    assert replicas(kube, lab_namespace) == 0
    again = operator.post(f"/api/pools/{POOL}/pause", headers=headers).json()
    assert again["changed"] == [] and again["detail"] == "already paused"
    listed = operator.get("/api/overview").json()["pools"][POOL]
    assert listed["paused"] is True
    resumed = operator.post(f"/api/pools/{POOL}/resume", headers=headers)
    assert resumed.status_code == 200, resumed.text
    wait_ready(kube["apps"], lab_namespace, 2)
    found = kube["apps"].read_namespaced_deployment(DEPLOYMENT, lab_namespace)
    assert "glorious.flywheel/paused-from" not in (found.metadata.annotations or {})
    actions = operator.get(f"/api/pools/{POOL}").json()["actions"]
    assert [a["action"] for a in actions[:3]] == ["resume", "pause", "pause"]
    assert all(a["user"] == "operator-1" for a in actions[:3])


def test_recover_creates_a_job_from_the_template(dashboard, kube, lab_namespace):
    operator = client(dashboard, "operator")
    headers = csrf(dashboard, "operator")
    missing = operator.post(f"/api/pools/{POOL}/recover", headers=headers)
    assert missing.status_code == 409
    assert "flywheel-dashboard-recover" in missing.json()["error"]
    put_recover_template(kube, lab_namespace)
    answer = operator.post(f"/api/pools/{POOL}/recover", headers=headers)
    assert answer.status_code == 200, answer.text
    job = kube["batch"].read_namespaced_job(answer.json()["job"], lab_namespace)
    assert job.metadata.labels["glorious.flywheel/pool"] == POOL
    assert job.metadata.annotations["glorious.flywheel/requested-by"] == "operator-1"
    env = job.spec.template.spec.containers[0].env
    assert [(e.name, e.value) for e in env] == [("FLYWHEEL_RECOVER_POOL", POOL)]
    unknown = operator.post("/api/pools/no-such-pool/recover", headers=headers)
    assert unknown.status_code == 409


def test_tampered_or_foreign_session_is_rejected(dashboard):
    good = session_cookie(dashboard["sessions"]["viewer"])
    assert client(dashboard, "viewer").get("/api/me").json()["role"] == "viewer"
    # The operator's session data under the viewer's signature.
    payload, _sep, signature = good.partition(".")
    forged_payload = session_cookie(dashboard["sessions"]["operator"]).partition(".")[0]
    forged = f"{forged_payload}.{signature}"
    other_key = session_cookie(dashboard["sessions"]["operator"], key="x" * 40)
    flipped = (
        payload[:-2]
        + ("A" if payload[-2] != "A" else "B")
        + payload[-1:]
        + "."
        + signature
    )
    for cookie in (forged, other_key, flipped):
        test_client = TestClient(dashboard["app"])
        test_client.cookies.set(SESSION_COOKIE, cookie)
        assert test_client.get("/api/me").status_code == 401, cookie


def test_a_removed_user_loses_access_at_once(dashboard):
    store = dashboard["store"]
    session = {"uid": add_user(store, "short-lived", "operator"), "csrf": "t"}
    assert client(dashboard, session=session).get("/api/me").status_code == 200
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM credentials WHERE user_id = ?", (session["uid"],)
        )
        conn.exec_driver_sql("DELETE FROM users WHERE id = ?", (session["uid"],))
    assert client(dashboard, session=session).get("/api/me").status_code == 401


def test_history_and_drift_come_from_the_config_maps(dashboard):
    viewer = client(dashboard, "viewer")
    history = viewer.get("/api/history").json()
    assert [r["run_id"] for r in history["runs"]] == ["r1", "r2"]
    assert history["unparsable_lines"] == 1
    page = viewer.get("/history").text
    assert page.count("<svg") == 3
    assert "gitlab_runner : Deploy the release" in page and "timed out" in page
    assert "1 line(s)" in page
    drift = viewer.get("/api/drift").json()
    assert drift["report"]["changes"][0]["kind"] == "ResourceQuota"
    page = viewer.get("/drift").text
    assert "2 tasks drifted" in page
    assert "flywheel-runners-dash/runner-quota" in page


def test_missing_history_is_said_not_invented(kube, tmp_path):
    settings = make_settings(kube, "default", tmp_path, pool_namespaces=("default",))
    app = create_app(settings)
    store = app.state.store
    session = {"uid": add_user(store, "v", "viewer"), "csrf": "t"}
    viewer = TestClient(app)
    viewer.cookies.set(SESSION_COOKIE, session_cookie(session))
    assert viewer.get("/api/history").json() == {
        "present": False,
        "runs": [],
        "unparsable_lines": 0,
    }
    assert "does not exist" in viewer.get("/history").text
    assert viewer.get("/api/drift").json() == {"present": False}


def test_unreachable_kubernetes_is_said_not_invented(kube, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    settings = make_settings(
        kube, "flywheel-system", tmp_path, kubeconfig=str(kubeconfig), timeout_s=1.0
    )
    app = create_app(settings)
    session = {"uid": add_user(app.state.store, "v", "viewer"), "csrf": "t"}
    viewer = TestClient(app)
    viewer.cookies.set(SESSION_COOKIE, session_cookie(session))
    data = viewer.get("/api/overview").json()
    assert data["kubernetes"]["status"] == "unreachable"
    assert data["pools"] is None
    assert data["health"]["state"] == "cluster_unreachable"
    assert viewer.get("/api/pools").status_code == 503
    assert viewer.get(f"/api/pools/{POOL}").status_code == 503
    assert viewer.get("/api/history").status_code == 503
    page = viewer.get("/").text
    assert "Kubernetes is unreachable" in page and 'id="pools"' not in page
    assert "History is unreachable" in viewer.get("/history").text
    assert viewer.get("/api/health").status_code == 200


def test_registration_needs_the_admin_token(dashboard):
    anonymous = client(dashboard, session={"csrf": "c"})
    headers = {"X-CSRF-Token": "c"}
    body = {"name": "newcomer", "role": "operator"}
    wrong = anonymous.post(
        "/auth/register/options", json={**body, "token": "nope"}, headers=headers
    )
    assert wrong.status_code == 403
    no_csrf = anonymous.post(
        "/auth/register/options", json={**body, "token": ADMIN_TOKEN}
    )
    assert no_csrf.status_code == 403
    bad_role = anonymous.post(
        "/auth/register/options",
        json={**body, "role": "root", "token": ADMIN_TOKEN},
        headers=headers,
    )
    assert bad_role.status_code == 400
    right = anonymous.post(
        "/auth/register/options", json={**body, "token": ADMIN_TOKEN}, headers=headers
    )
    assert right.status_code == 200
    options = right.json()
    assert options["rp"]["id"] == dashboard["settings"].rp_id
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    # Verifying something that is not a passkey registers nobody.
    forged = anonymous.post(
        "/auth/register/verify", json={"id": "x", "response": {}}, headers=headers
    )
    assert forged.status_code == 400
    assert dashboard["store"].user_by_name("newcomer") is None


def registration_in(response):
    """The registration state the session cookie carries (signed, readable)."""
    signed = response.cookies[SESSION_COOKIE]
    payload = TimestampSigner(SESSION_KEY).unsign(signed, max_age=60)
    return json.loads(base64.b64decode(payload))["registration"]


def test_operators_invite_with_a_fixed_role(dashboard):
    viewer = client(dashboard, "viewer")
    refused = viewer.post(
        "/api/invites", json={"role": "viewer"}, headers=csrf(dashboard, "viewer")
    )
    assert refused.status_code == 403
    operator = client(dashboard, "operator")
    assert operator.post("/api/invites", json={"role": "viewer"}).status_code == 403
    made = operator.post(
        "/api/invites", json={"role": "viewer"}, headers=csrf(dashboard, "operator")
    )
    assert made.status_code == 200 and made.json()["role"] == "viewer"
    code = made.json()["invite"]
    store = dashboard["store"]
    # Only its hash is stored.
    with store.engine.connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT id FROM invites")]
    assert code not in stored

    anonymous = client(dashboard, session={"csrf": "c"})
    headers = {"X-CSRF-Token": "c"}
    body = {"name": "invited", "role": "operator", "token": code}
    options = anonymous.post("/auth/register/options", json=body, headers=headers)
    assert options.status_code == 200, options.text
    assert registration_in(options)["role"] == "viewer"
    wrong = anonymous.post(
        "/auth/register/options", json={**body, "token": code + "x"}, headers=headers
    )
    assert wrong.status_code == 403
    code_hash = registration_in(options)["invite"]
    assert store.use_invite(code_hash) is True
    assert store.use_invite(code_hash) is False
    spent = anonymous.post("/auth/register/options", json=body, headers=headers)
    assert spent.status_code == 403


def test_proxy_identity_headers_are_ignored_unless_trusted(
    kube, lab_namespace, tmp_path
):
    header = {"Tailscale-User-Login": "tailnet-viewer"}
    for trusted, expected in ((False, 401), (True, 200)):
        settings = make_settings(
            kube, lab_namespace, tmp_path / str(trusted), trusted_proxy_headers=trusted
        )
        app = create_app(settings)
        add_user(app.state.store, "tailnet-viewer", "viewer")
        assert TestClient(app).get("/api/me", headers=header).status_code == expected


def test_no_secret_in_any_response(dashboard, live_server):
    responses = []
    for role in ("viewer", "operator"):
        test_client = client(dashboard, role)
        for path in (
            "/",
            "/login",
            f"/pools/{POOL}",
            "/history",
            "/drift",
            "/api/health",
            "/api/me",
            "/api/overview",
            "/api/pools",
            f"/api/pools/{POOL}",
            "/api/history",
            "/api/drift",
        ):
            responses.append(test_client.get(path))
    anonymous = client(dashboard, session={"csrf": "c"})
    responses.append(
        anonymous.post(
            "/auth/register/options",
            json={"name": "secret-check", "role": "viewer", "token": ADMIN_TOKEN},
            headers={"X-CSRF-Token": "c"},
        )
    )
    for response in responses:
        text = response.text + json.dumps(dict(response.headers))
        assert SESSION_KEY not in text, response.url
        assert ADMIN_TOKEN not in text, response.url
    with httpx.stream(
        "GET",
        f"{live_server['url']}/api/events",
        cookies={SESSION_COOKIE: session_cookie(live_server_session(live_server))},
        timeout=10,
    ) as stream:
        event = read_event(stream.iter_lines())
    assert SESSION_KEY not in json.dumps(event) and ADMIN_TOKEN not in json.dumps(event)
    # The live server looks its pool's runner up at a GitLab double, with a token.
    assert event["data"]["pools"][POOL]["forge"][0]["outcome"] == "online"
    assert live_server["gitlab"].user_token not in json.dumps(event)


def live_server_session(live_server):
    from flywheel_dashboard.store import Store

    store = Store(live_server["settings"].db)
    user = store.user_by_name("sse-viewer")
    user_id = user["id"] if user else add_user(store, "sse-viewer", "viewer")
    return {"uid": user_id, "csrf": "t"}


def read_event(lines):
    name, data = None, []
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif not line and name:
            return {"event": name, "data": json.loads("".join(data))}
    raise AssertionError("the stream ended without an event")


def test_events_stream_overviews(live_server):
    with httpx.stream(
        "GET",
        f"{live_server['url']}/api/events",
        cookies={SESSION_COOKIE: session_cookie(live_server_session(live_server))},
        timeout=10,
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = read_event(lines)
        second = read_event(lines)
    assert first["event"] == "overview"
    assert first["data"]["pools"][POOL]["expected"] == 2
    # A live stream: the second event is a later reading, not the first one again.
    assert second["data"]["generated_at"] > first["data"]["generated_at"]
    anonymous = httpx.get(f"{live_server['url']}/api/events", timeout=5)
    assert anonymous.status_code == 401


def test_settings_refuse_a_missing_or_short_session_key():
    with pytest.raises(SettingsError, match="FLYWHEEL_DASHBOARD_SESSION_KEY"):
        Settings.from_env({})
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({"FLYWHEEL_DASHBOARD_SESSION_KEY": "short"})
    with pytest.raises(SettingsError, match="FLYWHEEL_DASHBOARD_ORIGIN"):
        Settings.from_env(
            {
                "FLYWHEEL_DASHBOARD_SESSION_KEY": "k" * 32,
                "FLYWHEEL_DASHBOARD_ORIGIN": "x",
            }
        )
    settings = Settings.from_env(
        {
            "FLYWHEEL_DASHBOARD_SESSION_KEY": "k" * 32,
            "FLYWHEEL_DASHBOARD_ORIGIN": "https://dash.example.org/",
            "FLYWHEEL_DASHBOARD_DB": "relative/dash.db",
        }
    )
    assert settings.rp_id == "dash.example.org" and settings.secure_cookies
    assert settings.db.startswith("sqlite:////") and settings.db.endswith(
        "relative/dash.db"
    )
    assert settings.trusted_proxy_headers is False
    assert "k" * 32 not in repr(settings)


def test_kube_errors_keep_the_api_message(dashboard):
    from flywheel_dashboard.kube import describe

    error = ApiException(status=403, reason="Forbidden")
    error.body = json.dumps({"message": 'deployments.apps "x" is forbidden'})
    assert describe(error) == 'HTTP 403: deployments.apps "x" is forbidden'


def test_the_command_refuses_to_start_without_a_session_key():
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_DASHBOARD_")
    }
    completed = subprocess.run(
        [sys.executable, "-m", "flywheel_dashboard"],
        cwd=ROOT / "dashboard",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "FLYWHEEL_DASHBOARD_SESSION_KEY" in completed.stderr


def test_caches_are_probed_and_a_dead_one_is_said(
    kube, lab_namespace, tmp_path, serve_double
):
    attic = serve_double(Attic)
    attic.add_cache("tenant-a", is_public=True)
    settings = make_settings(
        kube,
        lab_namespace,
        tmp_path,
        attic_url=attic.url,
        attic_cache="tenant-a",
        # Nothing listens there: bazel-remote is down.
        bazel_url=f"http://127.0.0.1:{free_port()}",
        timeout_s=1.0,
    )
    app = create_app(settings)
    session = {"uid": add_user(app.state.store, "v", "viewer"), "csrf": "t"}
    viewer = TestClient(app)
    viewer.cookies.set(SESSION_COOKIE, session_cookie(session))
    health = viewer.get("/api/overview").json()["health"]
    assert health["components"]["attic"]["status"] == "healthy"
    assert health["components"]["bazel"]["status"] == "down"
    assert health["state"] == "bazel_down"
    page = viewer.get("/").text
    assert (
        'data-component="bazel"><td>bazel</td><td class="status status-down">down'
        in page
    )


def test_runners_are_looked_up_at_their_forges(
    kube, lab_namespace, tmp_path, serve_double
):
    gitlab = serve_double(GitLab)
    gitlab.add_runner("lab-gitlab", status="online")
    forgejo = serve_double(Forgejo)
    forgejo.add_runner("orgs/acme", "lab-forgejo", status="offline")
    checks = [
        {
            "pool": POOL,
            "name": "lab-gitlab",
            "forge": {
                "type": "gitlab",
                "url": gitlab.url,
                "scope": "group",
                "target": "42",
            },
            "token": gitlab.user_token,
        },
        {
            "pool": POOL,
            "name": "lab-forgejo",
            "forge": {
                "type": "forgejo",
                "url": forgejo.url,
                "scope": "org",
                "target": "acme",
            },
            "token": forgejo.alice.value,
        },
    ]
    checks_file = tmp_path / "forge-runners.json"
    checks_file.write_text(json.dumps(checks))
    settings = make_settings(
        kube,
        lab_namespace,
        tmp_path,
        forge_runners_file=str(checks_file),
        timeout_s=2.0,
    )
    app = create_app(settings)
    session = {"uid": add_user(app.state.store, "v", "viewer"), "csrf": "t"}
    viewer = TestClient(app)
    viewer.cookies.set(SESSION_COOKIE, session_cookie(session))
    data = viewer.get("/api/overview").json()
    pool = data["pools"][POOL]
    # Both pods are ready, yet the Forgejo runner takes no jobs: the pool is degraded.
    assert (pool["status"], pool["ready"]) == ("DEGRADED", 2)
    outcomes = {f["enrollment"]: f["outcome"] for f in pool["forge"]}
    assert outcomes == {"lab-gitlab": "online", "lab-forgejo": "none_online"}
    assert data["health"]["state"] == "pool_degraded"
    assert data["health"]["components"]["forges"]["status"] == "healthy"
    page = viewer.get("/").text
    assert ">gitlab: 1 online</span>; <span" in page
    assert ">forgejo: 0 online, 1 not</span>" in page
    pool_page = viewer.get(f"/pools/{POOL}").text
    assert (
        "<td>lab-forgejo</td><td>forgejo</td><td>org acme</td><td>lab-forgejo</td><td>offline</td>"
        in pool_page
    )
    everything = json.dumps(data) + page + pool_page
    assert gitlab.user_token not in everything and forgejo.alice.value not in everything

    # A forge that refuses the token: said, and no pool is judged on it.
    checks[1]["token"] = "wrong"
    checks_file.write_text(json.dumps(checks))
    app = create_app(settings)
    viewer = TestClient(app)
    session = {"uid": add_user(app.state.store, "v2", "viewer"), "csrf": "t"}
    viewer.cookies.set(SESSION_COOKIE, session_cookie(session))
    data = viewer.get("/api/overview").json()
    forges = data["health"]["components"]["forges"]
    assert forges["status"] == "degraded" and forges["evidence"]["unreachable"] == [
        "lab-forgejo"
    ]
    assert data["pools"][POOL]["status"] == "HEALTHY"


class ScaleSets:
    """CustomObjectsApi for one AutoscalingRunnerSet: the lab has no ARC CRDs, and
    installing them would change the shared cluster for every other test."""

    def __init__(self, namespace):
        self.patches = []
        self.item = {
            "metadata": {
                "name": "arc-set",
                "namespace": namespace,
                "labels": {"glorious.flywheel/pool": "arc-pool"},
                "annotations": {},
            },
            "spec": {"minRunners": 1, "maxRunners": 5},
            "status": {"currentRunners": 1, "runningEphemeralRunners": 1},
        }

    def list_namespaced_custom_object(self, group, version, namespace, plural, **_kw):
        assert (group, version, plural) == (
            "actions.github.com",
            "v1alpha1",
            "autoscalingrunnersets",
        )
        return {
            "items": [self.item]
            if namespace == self.item["metadata"]["namespace"]
            else []
        }

    def patch_namespaced_custom_object(
        self, group, version, namespace, plural, name, body
    ):
        self.patches.append(body)
        annotations = self.item["metadata"]["annotations"]
        for key, value in body["metadata"]["annotations"].items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value
        self.item["spec"].update(body["spec"])


def test_arc_scale_sets_are_listed_paused_and_resumed(kube, lab_namespace, tmp_path):
    from flywheel_dashboard.kube import Cluster

    fake = ScaleSets(lab_namespace)

    class ArcCluster(Cluster):
        custom = fake

    settings = make_settings(kube, lab_namespace, tmp_path)
    cluster = ArcCluster(settings)
    overview = cluster.overview()
    assert overview["arc"]["installed"] is True
    target = overview["pools"]["arc-pool"]["targets"][0]
    assert (target["min_runners"], target["max_runners"]) == (1, 5)
    assert target["current_runners"] == 1
    assert cluster.pause("arc-pool") == [
        f"AutoscalingRunnerSet {lab_namespace}/arc-set"
    ]
    assert fake.item["spec"] == {"minRunners": 0, "maxRunners": 0}
    assert cluster.pool("arc-pool")["paused"] is True
    assert cluster.pause("arc-pool") == []
    cluster.resume("arc-pool")
    assert fake.item["spec"] == {"minRunners": 1, "maxRunners": 5}
    assert fake.item["metadata"]["annotations"] == {}
    assert len(fake.patches) == 2
