"""The test-double harness: routes, required citations, faults, the request log,
and the shared API client driven against a double."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    ApiError,
    Auth,
)
from ansible_collections.glorious.flywheel.tests.doubles.harness import (
    REDACTED,
    Double,
    MissingSourceError,
    bearer_auth,
    paginate,
    private_token_auth,
    route,
)

SOURCE = "https://docs.gitlab.com/api/runners/"


class Runners(Double):
    """A tiny GitLab-like double: enough to exercise the harness."""

    def __init__(self, count=7, **kwargs):
        super().__init__(**kwargs)
        self.runners = {
            i: {"id": i, "description": f"runner-{i}"} for i in range(1, count + 1)
        }

    @route(
        "GET",
        "/api/v4/runners",
        source="https://docs.gitlab.com/api/runners/#list-owned-runners",
    )
    def list_runners(self, request):
        return paginate(request, list(self.runners.values()), style="gitlab")

    @route(
        "GET",
        "/api/v4/runners/{id}",
        source="https://docs.gitlab.com/api/runners/#get-runners-details",
    )
    def get_runner(self, request, id):
        runner = self.runners.get(int(id))
        return runner if runner else (404, {"message": "404 Not found"})

    @route(
        "DELETE",
        "/api/v4/runners/{id}",
        source="https://docs.gitlab.com/api/runners/#delete-a-runner",
    )
    def delete_runner(self, request, id):
        self.runners.pop(int(id), None)

    @route(
        "GET",
        "/health",
        source="https://docs.gitlab.com/administration/monitoring/health_check/",
        auth=False,
    )
    def health(self, request):
        return {"status": "ok"}


def fetch(url, method="GET", headers=None):
    """A bare urllib request: the harness is tested without the client under test."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_routes_match_templates_and_methods(serve_double):
    double = serve_double(
        Runners, strict=False
    )  # the PUT below has no route on purpose
    status, _headers, body = fetch(double.url_for("/api/v4/runners/3"))
    assert (status, json.loads(body)) == (200, {"id": 3, "description": "runner-3"})

    assert fetch(double.url_for("/api/v4/runners/99"))[0] == 404
    assert fetch(double.url_for("/api/v4/runners/3"), method="DELETE")[0] == 204
    assert 3 not in double.runners
    status, headers, _body = fetch(double.url_for("/api/v4/runners/3"), method="PUT")
    assert status == 405
    assert set(headers["Allow"].split(", ")) == {"GET", "DELETE"}
    assert (
        double.sources()["get_runner"]
        == "https://docs.gitlab.com/api/runners/#get-runners-details"
    )


def test_path_converter_spans_segments(serve_double):
    double = serve_double(Double)
    double.add_route(
        "GET",
        "/{cache}/nar/{file:path}",
        lambda request, cache, file: {"c": cache, "f": file},
        source="https://github.com/zhaofengli/attic/blob/main/server/src/api/binary_cache.rs",
    )
    assert json.loads(fetch(double.url_for("/main/nar/a/b.nar"))[2]) == {
        "c": "main",
        "f": "a/b.nar",
    }


@pytest.mark.parametrize(
    "source", [None, "", "  ", "see the docs", "docs.gitlab.com/api"]
)
def test_a_route_without_a_source_is_refused(source):
    with pytest.raises(MissingSourceError, match="source="):
        Double().add_route("GET", "/x", lambda request: {}, source=source)
    with pytest.raises(MissingSourceError):
        route("GET", "/x", source=source)


def test_a_decorated_route_without_source_fails_at_class_definition():
    with pytest.raises(TypeError):

        class Uncited(Double):
            @route("GET", "/x")  # pylint: disable=missing-kwoa  # source is required
            def x(self, request):
                return {}


def test_request_log_counts_and_redacts_auth(serve_double):
    double = serve_double(Runners, auth=private_token_auth("glpat-secret-1"))
    for _attempt in range(3):
        fetch(
            double.url_for("/api/v4/runners/1"),
            headers={"PRIVATE-TOKEN": "glpat-secret-1"},
        )
    fetch(
        double.url_for("/api/v4/runners/2"),
        headers={"Authorization": "Bearer wrong-token"},
    )
    fetch(double.url_for("/health?verbose=1"))

    assert double.count() == 5
    assert double.count(method="GET", route="get_runner") == 4
    assert double.count(path="/api/v4/runners/1") == 3
    assert double.count(method="DELETE") == 0
    assert double.count(method="GET", path="/health") == 1
    assert double.counts()[("GET", "get_runner")] == 4
    assert [r.authenticated for r in double.requests] == [True, True, True, False, None]
    assert [r.status for r in double.requests] == [200, 200, 200, 401, 200]
    assert double.requests[0].headers["Private-Token"] == REDACTED
    assert double.requests[3].headers["Authorization"] == f"Bearer {REDACTED}"
    assert double.requests[4].query == {"verbose": "1"}
    assert "glpat-secret-1" not in repr(double.requests)
    double.reset()
    assert double.count() == 0


def test_fault_injection_answers_the_next_requests_then_recovers(serve_double):
    double = serve_double(Runners)
    double.rate_limit(count=2, retry_after=3, route="get_runner")
    double.unavailable(count=1, path="/health")

    assert fetch(double.url_for("/health"))[0] == 503
    assert fetch(double.url_for("/health"))[0] == 200
    first, second, third = (
        fetch(double.url_for("/api/v4/runners/1")) for _attempt in range(3)
    )
    assert (first[0], first[1]["Retry-After"]) == (429, "3")
    assert second[0] == 429
    assert third[0] == 200
    assert [r.fault for r in double.requests] == [True, False, True, True, False]


def test_gitlab_pagination_headers(serve_double):
    double = serve_double(Runners)
    status, headers, body = fetch(double.url_for("/api/v4/runners?per_page=3&page=2"))
    assert [r["id"] for r in json.loads(body)] == [4, 5, 6]
    assert headers["X-Next-Page"] == "3"
    assert headers["X-Prev-Page"] == "1"
    assert headers["X-Total"] == "7"
    assert headers["X-Total-Pages"] == "3"
    assert 'rel="next"' in headers["Link"]
    last = fetch(double.url_for("/api/v4/runners?per_page=3&page=3"))[1]
    assert last["X-Next-Page"] == ""
    assert 'rel="next"' not in last["Link"]


def test_strict_double_reports_unrouted_requests(serve_double):
    double = serve_double(Runners)
    fetch(double.url_for("/api/v4/nothing-here"))
    assert [r.path for r in double.unmatched()] == ["/api/v4/nothing-here"]
    double.reset()  # this test probes the failure on purpose; do not fail its teardown


def test_handler_errors_become_500_and_are_kept(serve_double):
    double = serve_double(Double, strict=False)

    def broken(request):
        raise RuntimeError("bug in the double")

    double.add_route("GET", "/boom", broken, source=SOURCE)
    status, _headers, body = fetch(double.url_for("/boom"))
    assert status == 500
    assert "bug in the double" in json.loads(body)["message"]
    assert "RuntimeError" in double.errors[0]


# The shared client against a double ---------------------------------------------


class Sleeps:
    def __init__(self):
        self.now = 0.0
        self.calls = []

    def sleep(self, seconds):
        self.calls.append(seconds)
        self.now += seconds


def client_for(double, sleeps, **kwargs):
    return ApiClient(
        double.url,
        auth=Auth.bearer("tok-abcdef123"),
        deadline=120,
        sleep=sleeps.sleep,
        monotonic=lambda: sleeps.now,
        **kwargs,
    )


def test_client_honours_retry_after_from_a_double(serve_double):
    double = serve_double(Runners, auth=bearer_auth("tok-abcdef123"))
    double.rate_limit(count=1, retry_after=4)
    sleeps = Sleeps()

    runner = client_for(double, sleeps).get("/api/v4/runners/2").body

    assert runner == {"id": 2, "description": "runner-2"}
    assert sleeps.calls == [4.0]
    assert double.count(route="get_runner") == 2
    assert double.requests[-1].authenticated is True


def test_client_paginates_a_double_via_link(serve_double):
    double = serve_double(Runners, auth=bearer_auth("tok-abcdef123"))
    runners = client_for(double, Sleeps()).get_all("/api/v4/runners", per_page=3)
    assert [r["id"] for r in runners] == [1, 2, 3, 4, 5, 6, 7]
    assert double.count(route="list_runners") == 3


def test_client_paginates_a_double_via_x_next_page(serve_double):
    double = serve_double(Runners)
    runners = client_for(double, Sleeps()).get_all(
        "/api/v4/runners", style="x-next-page", per_page=2
    )
    assert len(runners) == 7
    assert double.count(route="list_runners") == 4


def test_client_error_from_a_double_carries_the_api_message(serve_double):
    double = serve_double(Runners, auth=bearer_auth("right-token"))
    with pytest.raises(ApiError) as raised:
        client_for(double, Sleeps()).get("/api/v4/runners/1")
    assert raised.value.status == 401
    assert raised.value.message == "401 Unauthorized"
    assert "tok-abcdef123" not in str(raised.value)


def test_slow_double_makes_the_client_time_out(serve_double):
    double = serve_double(Runners)
    double.inject(status=None, delay=1.0, count=1)
    with pytest.raises(ApiError) as raised:
        client_for(double, Sleeps(), timeout=0.2, retries=0).get("/health")
    assert raised.value.kind == "timeout"
