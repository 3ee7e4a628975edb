"""The shared API client against a real local HTTP server (pytest-httpserver).

Sleeps go through an injected recorder whose clock advances by the slept amount,
so backoff, Retry-After and the deadline are asserted exactly, without timing.
"""

from __future__ import annotations

import base64
import email.utils
import json
import socket
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    REDACTED,
    ApiClient,
    ApiError,
    Auth,
    Redactor,
    extract_api_message,
    parse_link_header,
    safe_url,
)
from ansible_collections.glorious.flywheel.tests.doubles.tls import (
    self_signed_cert,
    server_context,
)

TOKEN = "tok-3f9a1c2b7d5e4f60"
WALL = 1_700_000_000.0


class Clock:
    """Fake monotonic clock + sleep recorder: sleeping advances the clock."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.jitter_bounds = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def upper_bound(self, low, high):
        """Jitter that always picks the top of its range, so waits are exact."""
        self.jitter_bounds.append((low, high))
        return high


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_client(httpserver, clock):
    def make(base_url=None, **kwargs):
        kwargs.setdefault("auth", Auth.bearer(TOKEN))
        kwargs.setdefault("retries", 4)
        kwargs.setdefault("timeout", 5)
        kwargs.setdefault("deadline", 300)
        kwargs.setdefault("rand", clock.upper_bound)
        return ApiClient(
            base_url or httpserver.url_for("/"),
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            wallclock=lambda: WALL,
            **kwargs,
        )

    return make


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Retries, backoff, Retry-After, deadline ------------------------------------


def test_retries_503_then_succeeds(httpserver, make_client, clock):
    httpserver.expect_ordered_request("/api/thing").respond_with_data(
        "busy", status=503
    )
    httpserver.expect_ordered_request("/api/thing").respond_with_data(
        "busy", status=503
    )
    httpserver.expect_ordered_request("/api/thing").respond_with_json({"ok": True})

    response = make_client().get("/api/thing")

    assert response.status == 200
    assert response.body == {"ok": True}
    assert len(httpserver.log) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap(
    httpserver, make_client, clock
):
    httpserver.expect_request("/flaky").respond_with_data("", status=503)

    with pytest.raises(ApiError) as raised:
        make_client(retries=5, backoff_base=0.5, backoff_max=3).get("/flaky")

    # Full jitter draws each wait from [0, min(cap, base * 2**n)].
    assert clock.jitter_bounds == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 3.0), (0, 3.0)]
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert len(httpserver.log) == 6
    assert raised.value.status == 503
    assert "gave up after 6 attempts" in str(raised.value)


def test_jitter_is_random_within_bounds(httpserver, clock):
    httpserver.expect_request("/flaky").respond_with_data("", status=503)
    client = ApiClient(
        httpserver.url_for("/"),
        retries=3,
        deadline=300,
        backoff_base=1,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    with pytest.raises(ApiError):
        client.get("/flaky")
    assert len(clock.sleeps) == 3
    for n, slept in enumerate(clock.sleeps):
        assert 0 <= slept <= 2**n


def test_retry_after_seconds_is_honoured(httpserver, make_client, clock):
    httpserver.expect_ordered_request("/limited").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/limited").respond_with_json([1])

    assert make_client().get("/limited").body == [1]
    assert clock.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(httpserver, make_client, clock):
    when = email.utils.formatdate(WALL + 30, usegmt=True)
    httpserver.expect_ordered_request("/limited").respond_with_data(
        "", status=503, headers={"Retry-After": when}
    )
    httpserver.expect_ordered_request("/limited").respond_with_json({})

    make_client().get("/limited")
    assert clock.sleeps == [30.0]


def test_github_rate_limit_403_waits_for_the_reset(httpserver, make_client, clock):
    httpserver.expect_ordered_request("/repos/o/r").respond_with_json(
        {"message": "API rate limit exceeded"},
        status=403,
        headers={
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(WALL + 20)),
        },
    )
    httpserver.expect_ordered_request("/repos/o/r").respond_with_json({"id": 1})

    assert make_client().get("/repos/o/r").body == {"id": 1}
    assert clock.sleeps == [20.0]


def test_deadline_stops_retrying_and_never_sleeps_past_it(
    httpserver, make_client, clock
):
    httpserver.expect_request("/down").respond_with_data("", status=503)
    start = clock.now

    with pytest.raises(ApiError) as raised:
        make_client(retries=10, deadline=10).get("/down")

    # 1 + 2 + 4 = 7 s slept; the next wait (8 s) would end past the 10 s deadline.
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert clock.now - start <= 10
    assert len(httpserver.log) == 4
    assert raised.value.status == 503
    assert "10s deadline" in str(raised.value)


def test_retry_after_beyond_the_deadline_fails_at_once(httpserver, make_client, clock):
    httpserver.expect_request("/limited").respond_with_data(
        "", status=429, headers={"Retry-After": "120"}
    )

    with pytest.raises(ApiError) as raised:
        make_client(deadline=60).get("/limited")

    assert clock.sleeps == []
    assert len(httpserver.log) == 1
    assert raised.value.retry_after == 120
    assert "asked to wait 120s" in str(raised.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(httpserver, make_client, clock, status):
    httpserver.expect_request("/nope").respond_with_json(
        {"message": "no"}, status=status
    )

    with pytest.raises(ApiError) as raised:
        make_client().get("/nope")

    assert raised.value.status == status
    assert len(httpserver.log) == 1
    assert clock.sleeps == []


def test_gateway_errors_retry_idempotent_requests_only(httpserver, make_client, clock):
    httpserver.expect_request("/gw", method="POST").respond_with_data("", status=502)
    with pytest.raises(ApiError) as raised:
        make_client().post("/gw", json={})
    assert raised.value.status == 502
    assert len(httpserver.log) == 1

    httpserver.clear()
    httpserver.expect_ordered_request("/gw", method="GET").respond_with_data(
        "", status=504
    )
    httpserver.expect_ordered_request("/gw", method="GET").respond_with_json({"ok": 1})
    assert make_client().get("/gw").body == {"ok": 1}

    httpserver.clear()
    httpserver.expect_ordered_request("/gw", method="POST").respond_with_data(
        "", status=502
    )
    httpserver.expect_ordered_request("/gw", method="POST").respond_with_json({"ok": 2})
    assert make_client().post("/gw", json={}, idempotent=True).body == {"ok": 2}


def test_429_is_retried_for_post(httpserver, make_client, clock):
    httpserver.expect_ordered_request("/create", method="POST").respond_with_data(
        "", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/create", method="POST").respond_with_json(
        {"id": 5}, status=201
    )
    assert make_client().post("/create", json={"a": 1}).body == {"id": 5}
    assert clock.sleeps == [1.0]


def test_connection_refused_is_retried_then_reported(make_client, clock):
    client = make_client(f"http://127.0.0.1:{free_port()}", retries=2)
    with pytest.raises(ApiError) as raised:
        client.get("/anything")
    error = raised.value
    assert error.status is None
    assert error.kind == "connection"
    assert "could not connect" in str(error)
    assert len(clock.sleeps) == 2


def test_read_timeout_is_a_timeout_error(make_client):
    server = HTTPServer(threaded=True)
    server.expect_request("/slow").respond_with_handler(
        lambda request: time.sleep(1) or Response("late")
    )
    server.start()
    try:
        with pytest.raises(ApiError) as raised:
            make_client(server.url_for("/"), timeout=0.2, retries=0).get("/slow")
    finally:
        server.clear()
        server.stop()
    assert raised.value.kind == "timeout"
    assert raised.value.status is None


# JSON in and out --------------------------------------------------------------


def test_json_body_in_and_out(httpserver, make_client):
    def handler(request):
        assert request.headers["Content-Type"] == "application/json"
        return Response(
            json.dumps({"got": request.get_json()}),
            status=201,
            content_type="application/json",
        )

    httpserver.expect_request("/items", method="POST").respond_with_handler(handler)
    response = make_client().post("/items", json={"name": "x", "tags": ["a"]})
    assert response.status == 201
    assert response.body == {"got": {"name": "x", "tags": ["a"]}}


def test_query_is_encoded_and_none_values_dropped(httpserver, make_client):
    httpserver.expect_request(
        "/runners", query_string="type=project_type&paused=false&tag_list=a&tag_list=b"
    ).respond_with_json([])
    make_client().get(
        "/runners",
        query={
            "type": "project_type",
            "paused": False,
            "status": None,
            "tag_list": ["a", "b"],
        },
    )
    assert len(httpserver.log) == 1


def test_allow_status_returns_the_answer(httpserver, make_client):
    httpserver.expect_request("/cache").respond_with_json(
        {
            "code": 404,
            "error": "NoSuchCache",
            "message": "The requested cache does not exist.",
        },
        status=404,
    )
    response = make_client().get("/cache", allow_status=(404,))
    assert response.status == 404
    assert response.body["error"] == "NoSuchCache"


def test_invalid_json_in_a_json_answer_is_a_decode_error(httpserver, make_client):
    httpserver.expect_request("/broken").respond_with_data(
        "{nope", content_type="application/json"
    )
    with pytest.raises(ApiError) as raised:
        make_client().get("/broken")
    assert raised.value.kind == "decode"


# Pagination ----------------------------------------------------------------


def test_pagination_link_header(httpserver, make_client):
    for page, items, has_next in (
        (1, [1, 2], True),
        (2, [3, 4], True),
        (3, [5], False),
    ):
        links = [
            f'<{httpserver.url_for("/r")}?page={page - 1 or 1}&per_page=2>; rel="prev"'
        ]
        if has_next:
            links.insert(
                0,
                f'<{httpserver.url_for("/r")}?page={page + 1}&per_page=2>; rel="next"',
            )
        query = "per_page=2" if page == 1 else f"page={page}&per_page=2"
        httpserver.expect_ordered_request("/r", query_string=query).respond_with_json(
            {"total_count": 5, "runners": items}, headers={"Link": ", ".join(links)}
        )

    items = make_client().get_all("/r", per_page=2, items="runners")

    assert items == [1, 2, 3, 4, 5]
    assert len(httpserver.log) == 3
    assert all(
        req.headers["Authorization"] == f"Bearer {TOKEN}"
        for req, _response in httpserver.log
    )


def test_pagination_x_next_page(httpserver, make_client):
    for page, items, following in (
        ("1", [{"id": 1}], "2"),
        ("2", [{"id": 2}], "3"),
        ("3", [{"id": 3}], ""),
    ):
        httpserver.expect_ordered_request(
            "/api/v4/runners", query_string=f"per_page=1&page={page}"
        ).respond_with_json(items, headers={"X-Next-Page": following, "X-Page": page})

    items = make_client().get_all("/api/v4/runners", style="x-next-page", per_page=1)

    assert [item["id"] for item in items] == [1, 2, 3]
    assert len(httpserver.log) == 3


def test_pagination_page_per_page_stops_at_a_short_page(httpserver, make_client):
    for page, items in ((1, ["a", "b"]), (2, ["c", "d"]), (3, ["e"])):
        httpserver.expect_ordered_request(
            "/list", query_string=f"limit=2&page={page}"
        ).respond_with_json(items)

    items = make_client().get_all(
        "/list", style="page", per_page=2, per_page_param="limit"
    )

    assert items == ["a", "b", "c", "d", "e"]
    assert len(httpserver.log) == 3


def test_pagination_page_without_per_page_stops_at_an_empty_page(
    httpserver, make_client
):
    for page, items in ((1, ["a"]), (2, ["b"]), (3, [])):
        httpserver.expect_ordered_request(
            "/list", query_string=f"page={page}"
        ).respond_with_json(items)
    assert make_client().get_all("/list", style="page") == ["a", "b"]


def test_pagination_loop_is_detected(httpserver, make_client):
    httpserver.expect_request("/loop").respond_with_json(
        [1], headers={"Link": f'<{httpserver.url_for("/loop")}>; rel="next"'}
    )
    with pytest.raises(ApiError) as raised:
        make_client().get_all("/loop")
    assert raised.value.kind == "pagination"


def test_parse_link_header():
    value = (
        '<https://api.github.com/x?page=2>; rel="next", '
        '<https://api.github.com/x?page=5>; rel="last", '
        '<https://h/y>; type="a"; rel=prev'
    )
    assert parse_link_header(value) == {
        "next": "https://api.github.com/x?page=2",
        "last": "https://api.github.com/x?page=5",
        "prev": "https://h/y",
    }
    assert parse_link_header(None) == {}


# Auth and headers ------------------------------------------------------------


@pytest.mark.parametrize(
    "auth, header, value",
    [
        (Auth.bearer(TOKEN), "Authorization", f"Bearer {TOKEN}"),
        (
            Auth.basic_key(TOKEN),
            "Authorization",
            "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode(),
        ),
        (
            Auth.basic("attic", TOKEN),
            "Authorization",
            "Basic " + base64.b64encode(f"attic:{TOKEN}".encode()).decode(),
        ),
        (Auth.private_token(TOKEN), "PRIVATE-TOKEN", TOKEN),
        (Auth.token(TOKEN), "Authorization", f"token {TOKEN}"),
    ],
    ids=["bearer", "basic_key", "basic", "private_token", "token"],
)
def test_auth_styles_send_their_header(httpserver, make_client, auth, header, value):
    httpserver.expect_request("/me", headers={header: value}).respond_with_json(
        {"ok": True}
    )
    assert make_client(auth=auth).get("/me").body == {"ok": True}
    sent = httpserver.log[0][0].headers
    if header != "Authorization":
        assert "Authorization" not in sent


def test_auth_from_style():
    assert Auth.from_style("token", TOKEN).value == f"token {TOKEN}"
    assert Auth.from_style("bearer", "") is None
    with pytest.raises(ValueError):
        Auth.from_style("digest", TOKEN)


def test_default_headers_are_sent(httpserver, make_client):
    github = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    httpserver.expect_request("/rate_limit", headers=github).respond_with_json({})
    make_client(headers=github).get("/rate_limit")
    assert "glorious.flywheel" in httpserver.log[0][0].headers["User-Agent"]


def test_auth_follows_same_origin_redirects_only(httpserver, make_client):
    other = HTTPServer()
    other.expect_request("/elsewhere").respond_with_json({"where": "other"})
    other.start()
    try:
        httpserver.expect_request("/old").respond_with_data(
            "", status=301, headers={"Location": httpserver.url_for("/new")}
        )
        httpserver.expect_request(
            "/new", headers={"Authorization": f"Bearer {TOKEN}"}
        ).respond_with_json({"where": "new"})
        httpserver.expect_request("/away").respond_with_data(
            "", status=302, headers={"Location": other.url_for("/elsewhere")}
        )
        client = make_client()
        assert client.get("/old").body == {"where": "new"}
        assert client.get("/away").body == {"where": "other"}
        assert "Authorization" not in other.log[0][0].headers
    finally:
        other.clear()
        other.stop()


# Errors and redaction ----------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected, doc",
    [
        (
            {
                "code": 404,
                "error": "NoSuchCache",
                "message": "The requested cache does not exist.",
            },
            "NoSuchCache: The requested cache does not exist.",
            None,
        ),
        (
            {
                "message": "Validation Failed",
                "errors": [
                    {"resource": "Runner", "field": "name", "code": "already_exists"}
                ],
                "documentation_url": "https://docs.github.com/rest",
            },
            "Validation Failed (Runner.name: already_exists)",
            "https://docs.github.com/rest",
        ),
        (
            {"message": {"name": ["has already been taken"]}},
            "name has already been taken",
            None,
        ),
        (
            {
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges.",
            },
            "insufficient_scope: The request requires higher privileges.",
            None,
        ),
        ({"errors": ["runner_type is missing"]}, "runner_type is missing", None),
        (
            {"code": 5, "message": "user not found", "details": []},
            "user not found",
            None,
        ),
        ("upstream exploded\n", "upstream exploded", None),
        (
            "<html><title>502 Bad Gateway</title><body>nginx</body></html>",
            "502 Bad Gateway",
            None,
        ),
    ],
    ids=[
        "attic",
        "github",
        "gitlab-dict",
        "oauth",
        "errors-list",
        "grpc-gateway",
        "text",
        "html",
    ],
)
def test_api_message_is_extracted(httpserver, make_client, body, expected, doc):
    if isinstance(body, str):
        httpserver.expect_request("/e").respond_with_data(
            body, status=422, content_type="text/html"
        )
    else:
        httpserver.expect_request("/e").respond_with_json(body, status=422)
    with pytest.raises(ApiError) as raised:
        make_client().get("/e")
    error = raised.value
    assert error.message == expected
    assert error.documentation_url == doc
    assert error.method == "GET"
    assert error.url == httpserver.url_for("/e")
    assert str(error).startswith(
        f"GET {httpserver.url_for('/e')} failed: HTTP 422 Unprocessable"
    )
    assert expected in str(error)


def test_extract_api_message_falls_back_to_json():
    assert extract_api_message({"weird": 1}) == ('{"weird": 1}', None)


def test_token_echoed_by_the_server_never_appears_in_the_error(httpserver, make_client):
    basic = base64.b64encode(f"{TOKEN}:".encode()).decode()
    httpserver.expect_request("/echo").respond_with_json(
        {
            "message": f"token {TOKEN} rejected (Basic {basic}, query ?t={TOKEN})",
            "errors": [{"message": f"bad {TOKEN}"}],
        },
        status=401,
    )

    with pytest.raises(ApiError) as raised:
        make_client(auth=Auth.basic_key(TOKEN)).get("/echo")

    error = raised.value
    for text in (
        str(error),
        repr(error),
        error.message,
        json.dumps(error.body),
        str(error.args),
    ):
        assert TOKEN not in text
        assert basic not in text
    assert REDACTED in error.message
    assert error.status == 401


def test_registered_secrets_are_scrubbed(httpserver, make_client):
    httpserver.expect_request("/runner").respond_with_json(
        {"message": "runner glrt-SECRETVALUE123 already registered"}, status=409
    )
    client = make_client(secrets=["glrt-SECRETVALUE123"])
    with pytest.raises(ApiError) as raised:
        client.get("/runner")
    assert "glrt-SECRETVALUE123" not in str(raised.value)

    client.add_secret("later-secret-456")
    assert client.redact({"a": ["x later-secret-456 y"]}) == {"a": [f"x {REDACTED} y"]}


def test_credentials_in_the_url_are_used_and_stripped(httpserver, make_client):
    expected = "Basic " + base64.b64encode(b"admin:p%ss-w0rd!").decode()
    httpserver.expect_request(
        "/secure", headers={"Authorization": expected}
    ).respond_with_json({"message": "forbidden"}, status=403)
    base = httpserver.url_for("/").replace("http://", "http://admin:p%25ss-w0rd!@")
    client = make_client(base, auth=None)

    with pytest.raises(ApiError) as raised:
        client.get("/secure", query={"private_token": "qsecret-99", "page": 2})

    error = raised.value
    assert error.status == 403  # the Basic header matched: credentials were used
    for secret in ("p%ss-w0rd!", "p%25ss-w0rd!", "admin:", "qsecret-99"):
        assert secret not in str(error)
        assert secret not in repr(client)
    assert (
        error.url == httpserver.url_for("/secure") + f"?private_token={REDACTED}&page=2"
    )


def test_safe_url():
    assert safe_url("https://u:p@h.example/x?access_token=abc&page=2") == (
        f"https://h.example/x?access_token={REDACTED}&page=2"
    )


def test_redactor_scrubs_quoted_forms_and_ignores_tiny_values():
    redactor = Redactor(["a b/c+d", "ab"])
    text = "raw a b/c+d, quoted a%20b%2Fc%2Bd, plus a+b%2Fc%2Bd, ab stays"
    assert (
        redactor.scrub(text)
        == f"raw {REDACTED}, quoted {REDACTED}, plus {REDACTED}, ab stays"
    )
    assert redactor.scrub(("x", 1, None)) == ["x", 1, None]


# TLS ----------------------------------------------------------------------------


@pytest.fixture
def https_server(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    server = HTTPServer(host="127.0.0.1", ssl_context=server_context(cert, key))
    server.expect_request("/ping").respond_with_json({"pong": True})
    server.start()
    yield server, cert
    server.clear()
    server.stop()


def test_tls_verification_failure_names_the_fix(https_server, make_client, clock):
    server, _cert = https_server
    with pytest.raises(ApiError) as raised:
        make_client(server.url_for("/")).get("/ping")
    error = raised.value
    text = str(error)
    assert error.kind == "tls"
    assert error.status is None
    assert "certificate verification failed" in text
    assert "ca_path" in text
    assert "validate_certs=false" in text
    assert clock.sleeps == []  # a certificate problem does not go away by retrying


def test_tls_with_ca_path_succeeds(https_server, make_client):
    server, cert = https_server
    assert make_client(server.url_for("/"), ca_path=str(cert)).get("/ping").body == {
        "pong": True
    }


def test_tls_without_validation_succeeds(https_server, make_client):
    server, _cert = https_server
    assert make_client(server.url_for("/"), validate_certs=False).get("/ping").body == {
        "pong": True
    }


def test_bad_base_url_is_rejected():
    with pytest.raises(ValueError, match="http:// or https://"):
        ApiClient("gitlab.example.com")


def test_unusable_ca_path_is_a_clear_value_error(tmp_path):
    not_a_bundle = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match="ca_path .* cannot be used as a CA bundle"):
        ApiClient("https://127.0.0.1:9", ca_path=str(not_a_bundle))
