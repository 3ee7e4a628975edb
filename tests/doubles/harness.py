"""A harness for HTTP test doubles of upstream APIs we cannot run here.

GitHub, GitLab, Forgejo, the Attic server and the Tailscale SaaS API are played by
small doubles built on :class:`Double`: real HTTP on loopback (werkzeug, threaded),
routes declared with a method, a path template and a REQUIRED ``source`` -- the docs
page or upstream file whose response shape the handler follows -- so a reader can
check every shape against its origin.

    class GitLab(Double):
        @route("GET", "/api/v4/runners/{id}",
               source="https://docs.gitlab.com/api/runners/#get-runners-details")
        def get_runner(self, request, id):
            return self.runners[int(id)]

Each double keeps an in-memory request log (auth headers redacted) with counting
helpers, can inject faults (429 + Retry-After, 503, delays) into the next N
requests, checks auth through one hook, and has helpers for JSON answers and the
pagination styles of the real APIs. Never shipped: ``tests/`` is in build_ignore.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

REDACTED = "<redacted>"
# Headers whose values are credentials; the log keeps only the scheme word.
AUTH_HEADERS = frozenset(
    (
        "authorization",
        "private-token",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-gitlab-token",
    )
)

_ROUTE_MARK = "_double_route"
_SOURCE = re.compile(r"^https?://\S+$")
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


class MissingSourceError(ValueError):
    """A route was declared without citing where its response shape comes from."""


def _check_source(source, method, path):
    if not isinstance(source, str) or not _SOURCE.match(source.strip()):
        raise MissingSourceError(
            f"route {method} {path} needs source= the URL of the docs page or "
            "upstream file "
            f"its response shape follows (got {source!r})"
        )
    return source.strip()


def _compile(template):
    """Path template -> regex: ``{id}`` is one segment, ``{rest:path}`` any number."""
    pattern, last = "", 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[last : match.start()])
        name, kind = match.group(1), match.group(2)
        if kind not in (None, "path"):
            raise ValueError(f"unknown converter {kind!r} in {template}")
        pattern += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        last = match.end()
    pattern += re.escape(template[last:])
    return re.compile(f"^{pattern}$")


@dataclass
class Route:
    method: str
    template: str
    handler: Callable
    source: str
    name: str
    auth: bool = True
    regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self):
        self.method = self.method.upper()
        self.source = _check_source(self.source, self.method, self.template)
        self.regex = _compile(self.template)


def route(method, path, *, source, name=None, auth=True):
    """Declares a method of a Double subclass as the handler of METHOD PATH.

    ``source`` is required (a URL); ``auth=False`` exempts the route from the auth hook.
    """
    source = _check_source(source, method.upper(), path)

    def mark(function):
        marks = getattr(function, _ROUTE_MARK, [])
        marks.append((method, path, source, name or function.__name__, auth))
        setattr(function, _ROUTE_MARK, marks)
        return function

    return mark


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    route: str | None
    params: dict
    status: int = 0
    fault: bool = False
    authenticated: bool | None = None

    @property
    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Fault:
    status: int | None
    count: int
    retry_after: Any = None
    body: Any = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    route: str | None = None

    def matches(self, method, path, route_name):
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path == path)
            and (self.route is None or self.route == route_name)
        )


def json_response(body, status=200, headers=None):
    """A JSON answer (``None`` body -> empty)."""
    text = "" if body is None else json.dumps(body)
    return Response(
        text, status=status, headers=headers or {}, content_type="application/json"
    )


def error_response(status, body, headers=None):
    """An error answer in the API's shape (a dict is sent as JSON, a string as text)."""
    if isinstance(body, str):
        return Response(
            body, status=status, headers=headers or {}, content_type="text/plain"
        )
    return json_response(body, status, headers)


def paginate(
    request, items, style="link", per_page_default=20, per_page_max=100, wrap=None
):
    """Serves one page of ITEMS the way the real APIs do.

    Reads ``page``/``per_page`` from the request. ``style``: ``link`` (RFC 8288
    ``Link`` with next/prev/first/last, as GitHub and Forgejo), ``gitlab`` (``Link``
    plus ``X-Page``, ``X-Per-Page``, ``X-Next-Page``, ``X-Prev-Page``, ``X-Total``,
    ``X-Total-Pages``), or ``plain`` (no headers: clients stop at an empty page).
    ``wrap(page_items, total)`` builds an object answer (GitHub's
    ``{total_count, runners}``).
    """
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(
            per_page_max, max(1, int(request.args.get("per_page", per_page_default)))
        )
    except ValueError:
        return error_response(400, {"message": "page and per_page must be integers"})
    total = len(items)
    pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {}

    def page_url(number):
        args = request.args.to_dict(flat=False)
        args["page"] = [str(number)]
        args["per_page"] = [str(per_page)]
        return f"{request.base_url}?{urlencode(args, doseq=True)}"

    if style in ("link", "gitlab"):
        links = []
        if page < pages:
            links.append(f'<{page_url(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{page_url(page - 1)}>; rel="prev"')
        links.append(f'<{page_url(1)}>; rel="first"')
        links.append(f'<{page_url(pages)}>; rel="last"')
        headers["Link"] = ", ".join(links)
    if style == "gitlab":
        headers.update(
            {
                "X-Page": str(page),
                "X-Per-Page": str(per_page),
                "X-Next-Page": str(page + 1) if page < pages else "",
                "X-Prev-Page": str(page - 1) if page > 1 else "",
                "X-Total": str(total),
                "X-Total-Pages": str(pages),
            }
        )
    elif style not in ("link", "plain"):
        raise ValueError(f"unknown pagination style {style!r}")
    body = wrap(chunk, total) if wrap else chunk
    return json_response(body, headers=headers)


def header_auth(header, accepted, prefix="", status=401, body=None):
    """An auth hook accepting requests whose HEADER is PREFIX + an ACCEPTED token."""
    accepted = {f"{prefix}{token}" for token in accepted}

    def check(request):
        if request.headers.get(header) in accepted:
            return None
        return json_response(
            body if body is not None else {"message": "401 Unauthorized"}, status
        )

    return check


def bearer_auth(*tokens, **kwargs):
    return header_auth("Authorization", tokens, prefix="Bearer ", **kwargs)


def token_auth(*tokens, **kwargs):
    """Forgejo/Gitea ``Authorization: token <pat>``."""
    return header_auth("Authorization", tokens, prefix="token ", **kwargs)


def private_token_auth(*tokens, **kwargs):
    """GitLab ``PRIVATE-TOKEN: <token>``."""
    return header_auth("PRIVATE-TOKEN", tokens, **kwargs)


def basic_auth(*pairs, **kwargs):
    """Basic auth with (user, password) PAIRS; Tailscale's API key is ``(key, "")``."""
    encoded = [
        base64.b64encode(f"{user}:{password}".encode()).decode()
        for user, password in pairs
    ]
    return header_auth("Authorization", encoded, prefix="Basic ", **kwargs)


def _redact_headers(headers):
    redacted = {}
    for name, value in headers.items():
        if name.lower() in AUTH_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}" if scheme else REDACTED
        redacted[name] = value
    return redacted


def _to_response(result):
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status=204)
    if isinstance(result, tuple):
        status, body, *rest = result
        return error_response(status, body, rest[0] if rest else None)
    return json_response(result)


class Double:
    """A fake upstream API serving real HTTP on loopback.

    Subclasses declare routes with ``@route``; ``add_route()`` adds more at run
    time. Use as a context manager, or through the ``serve_double`` fixture.
    ``auth`` is the auth hook: a callable taking the werkzeug Request and
    returning None (accepted) or a Response (the rejection), applied to every
    route declared with ``auth=True``. ``strict`` (default) makes the
    ``serve_double`` fixture fail a test whose double got a request no route
    answered or whose handler raised.
    """

    def __init__(
        self, host="127.0.0.1", port=0, ssl_context=None, auth=None, strict=True
    ):
        self.strict = strict
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.auth = auth
        self.requests: list[RecordedRequest] = []
        # Tracebacks of handlers that raised (each also answered 500).
        self.errors: list[str] = []
        self.routes: list[Route] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        for attribute in dir(type(self)):
            function = getattr(type(self), attribute, None)
            for method, path, source, name, needs_auth in getattr(
                function, _ROUTE_MARK, ()
            ):
                self.add_route(
                    method,
                    path,
                    getattr(self, attribute),
                    source=source,
                    name=name,
                    auth=needs_auth,
                )

    # Declaring -------------------------------------------------------------

    def add_route(self, method, path, handler, *, source=None, name=None, auth=True):
        """Adds HANDLER for METHOD PATH; ``source`` (the shape's origin) is required."""
        self.routes.append(
            Route(
                method,
                path,
                handler,
                source,
                name or getattr(handler, "__name__", path),
                auth,
            )
        )
        return handler

    def sources(self):
        """{route name: source} for every route, for reports and reviews."""
        return {r.name: r.source for r in self.routes}

    # Serving ---------------------------------------------------------------

    def start(self):
        self._server = make_server(
            self.host,
            self.port,
            self._wsgi,
            threaded=True,
            ssl_context=self.ssl_context,
        )
        self.port = self._server.port
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self):
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url_for(self, path):
        return self.url + "/" + path.lstrip("/")

    # Faults ----------------------------------------------------------------

    def inject(
        self,
        status=503,
        count=1,
        retry_after=None,
        body=None,
        headers=None,
        delay=0.0,
        method=None,
        path=None,
        route=None,
    ):
        """The next COUNT matching requests answer STATUS (with Retry-After if given).

        ``status=None`` with ``delay`` only slows the requests down before normal
        handling (for timeout tests). Match on ``method``, exact ``path`` or ``route``
        name.
        """
        with self._lock:
            self._faults.append(
                Fault(
                    status,
                    count,
                    retry_after,
                    body,
                    dict(headers or {}),
                    delay,
                    method,
                    path,
                    route,
                )
            )

    def rate_limit(self, count=1, retry_after=1, **match):
        """The next COUNT requests answer 429 Too Many Requests with Retry-After."""
        self.inject(
            429,
            count,
            retry_after=retry_after,
            body={"message": "rate limited"},
            **match,
        )

    def unavailable(self, count=1, retry_after=None, **match):
        """The next COUNT requests answer 503 Service Unavailable."""
        self.inject(
            503,
            count,
            retry_after=retry_after,
            body={"message": "service unavailable"},
            **match,
        )

    def _take_fault(self, method, path, route_name):
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(method, path, route_name):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # Log -------------------------------------------------------------------

    def count(self, method=None, path=None, route=None):
        """How many requests matched METHOD, exact PATH and ROUTE name (None = any)."""
        return sum(
            1
            for r in list(self.requests)
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path)
            and (route is None or r.route == route)
        )

    def counts(self):
        """Counter of (method, route name or path) over the whole log."""
        return Counter((r.method, r.route or r.path) for r in list(self.requests))

    def unmatched(self):
        """Requests no route answered (a double missing a route shows here)."""
        return [r for r in list(self.requests) if r.route is None and not r.fault]

    def reset(self):
        """Forgets the log, handler errors and any pending fault."""
        with self._lock:
            self.requests.clear()
            self.errors.clear()
            self._faults.clear()

    # Dispatch --------------------------------------------------------------

    def _match(self, method, path):
        allowed = []
        for candidate in self.routes:
            found = candidate.regex.match(path)
            if found:
                if candidate.method == method:
                    return candidate, found.groupdict(), allowed
                allowed.append(candidate.method)
        return None, {}, allowed

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        method = request.method.upper()
        matched, params, allowed = self._match(method, request.path)
        record = RecordedRequest(
            method=method,
            path=request.path,
            query={
                k: (v[0] if len(v) == 1 else v)
                for k, v in request.args.to_dict(flat=False).items()
            },
            headers=_redact_headers(request.headers),
            body=body,
            route=matched.name if matched else None,
            params=params,
        )
        with self._lock:
            self.requests.append(record)
        response = self._respond(request, record, matched, params, allowed)
        record.status = response.status_code
        return response(environ, start_response)

    def _respond(self, request, record, matched, params, allowed):
        fault = self._take_fault(record.method, record.path, record.route)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                record.fault = True
                headers = dict(fault.headers)
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                return error_response(
                    fault.status, fault.body if fault.body is not None else "", headers
                )
        if matched is None:
            if allowed:
                return error_response(
                    405,
                    {"message": "method not allowed"},
                    {"Allow": ", ".join(allowed)},
                )
            return error_response(
                404,
                {
                    "message": f"no route for {record.method} {record.path} "
                    "in this double"
                },
            )
        if matched.auth and self.auth is not None:
            rejection = self.auth(request)
            record.authenticated = rejection is None
            if rejection is not None:
                return rejection
        try:
            return _to_response(matched.handler(request, **params))
        except (
            Exception
        ) as exc:  # a broken double must show up as a 500 the test can see
            self.errors.append(traceback.format_exc())
            return error_response(
                500, {"message": f"double handler {matched.name} raised {exc!r}"}
            )
