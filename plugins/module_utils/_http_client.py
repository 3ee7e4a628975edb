# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client behind every API module of glorious.flywheel.

Private to the collection (the leading underscore): it may change in any release.

JSON in and out over ``ansible.module_utils.urls``, retries with full-jitter
exponential backoff bounded by a total deadline, ``Retry-After``, the three
pagination styles the supported APIs use, four auth styles, and one error type,
:class:`ApiError`, whose text never carries a secret.

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json as _json
import random
import re
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import (
    parse_qsl,
    quote,
    quote_plus,
    unquote,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

from ansible.module_utils.urls import ConnectionError as AnsibleConnectionError
from ansible.module_utils.urls import Request, make_context

REDACTED = "<redacted>"
USER_AGENT = "glorious.flywheel (ansible module_utils)"

# Statuses that mean "the server did not act on this request, ask again later":
# safe to repeat whatever the method.
RETRY_ANY_METHOD = frozenset((429, 503))
# A gateway error may arrive after the upstream already acted, so these are only
# repeated for idempotent requests.
RETRY_IDEMPOTENT = frozenset((502, 504))
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))

PAGINATE_LINK = "link"
PAGINATE_PAGE = "page"
PAGINATE_X_NEXT_PAGE = "x-next-page"

# Shorter values would scrub ordinary words from messages; no credential is that short.
_MIN_SECRET_LENGTH = 4
_SENSITIVE_QUERY = re.compile(
    r"token|secret|passw|api[-_]?key|^key$|signature|^sig$|credential|auth|session",
    re.IGNORECASE,
)
_MAX_ERROR_BODY = 65536
_MAX_MESSAGE = 500
_REDIRECTS = (301, 302, 303, 307, 308)


class Redactor:
    """Scrubs registered secret values out of strings and nested data.

    Each secret is also registered in the forms it takes inside URLs and JSON,
    so an echo of it in a query string or an error body is caught too.
    """

    def __init__(self, secrets=()):
        self._secrets = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret):
        if secret is None:
            return
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "replace")
        secret = str(secret)
        if len(secret) < _MIN_SECRET_LENGTH:
            return
        self._secrets.add(secret)
        self._secrets.add(quote(secret, safe=""))
        self._secrets.add(quote_plus(secret))
        self._secrets.add(_json.dumps(secret)[1:-1])

    def update(self, secrets):
        for secret in secrets:
            self.add(secret)

    def __bool__(self):
        return bool(self._secrets)

    def __repr__(self):
        return f"Redactor(<{len(self._secrets)} secret forms>)"

    def scrub(self, value):
        """VALUE with every registered secret replaced; recurses into dicts, lists."""
        if isinstance(value, str):
            # Longest first, so a secret that contains another is replaced whole.
            for secret in sorted(self._secrets, key=len, reverse=True):
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value


def redact(value, secrets):
    """Scrubs SECRETS (an iterable of values) out of VALUE (a string or nested data)."""
    return Redactor(secrets).scrub(value)


def safe_url(url, redactor=None):
    """URL without user info and with sensitive query values redacted: safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            quote_plus(k)
            + "="
            + (REDACTED if _SENSITIVE_QUERY.search(k) else quote_plus(v))
            for k, v in pairs
        )
    cleaned = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return redactor.scrub(cleaned) if redactor else cleaned


def quote_segment(value):
    """Quotes VALUE for use as one path segment (a '/' inside it is escaped)."""
    return quote(str(value), safe="")


def parse_link_header(value):
    """Parses an RFC 8288 (ex-5988) ``Link`` header into {rel: url}."""
    links = {}
    if not value:
        return links
    for match in re.finditer(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)", value):
        target, params = match.group(1), match.group(2)
        rel = re.search(
            r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", params, re.IGNORECASE
        )
        if rel:
            for name in (rel.group(1) or rel.group(2) or "").split():
                links.setdefault(name.lower(), target)
    return links


def _short(text, limit=_MAX_MESSAGE):
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_text(value):
    """Renders one error field (string, list or field->messages mapping) as text."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(t for t in (_as_text(v) for v in value) if t)
    if isinstance(value, dict):
        # GitHub validation errors: {resource, field, code, message}.
        if "message" in value and isinstance(value["message"], str):
            return value["message"]
        if "code" in value and ("field" in value or "resource" in value):
            where = ".".join(
                str(value[k]) for k in ("resource", "field") if value.get(k)
            )
            return (
                "{}: {}".format(where, value["code"]) if where else str(value["code"])
            )
        # GitLab validation errors: {"name": ["has already been taken"]}.
        return "; ".join(f"{k} {_as_text(v)}" for k, v in value.items())
    return str(value)


def extract_api_message(body):
    """The API's own error message from a decoded error body.

    Returns (message, documentation_url). Understands ``message``, ``error``
    (+ ``error_description``), ``errors``, ``detail``, Attic's ``{code, error,
    message}``, GitHub's ``message`` + ``documentation_url`` + ``errors`` and
    GitLab's ``message``/``error``; anything else is shown as compact text.
    """
    if body is None:
        return "", None
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            text = title.group(1)
        elif text.lstrip().startswith("<"):
            text = re.sub(r"<[^>]+>", " ", text)
        return _short(text), None
    if isinstance(body, list):
        return _short(_as_text(body)), None
    if not isinstance(body, dict):
        return _short(str(body)), None

    doc = body.get("documentation_url")
    doc = doc if isinstance(doc, str) else None
    message = _as_text(body.get("message"))
    error = _as_text(body.get("error"))
    description = _as_text(body.get("error_description"))
    if error and message and error != message:
        head = f"{error}: {message}"
    else:
        head = message or error
    if description:
        head = f"{head}: {description}" if head else description
    if not head:
        head = _as_text(body.get("detail"))
    errors = _as_text(body.get("errors"))
    if errors:
        head = f"{head} ({errors})" if head else errors
    if not head:
        head = _json.dumps(body, sort_keys=True)
    return _short(head), doc


class ApiError(Exception):
    """The one error of the client: what was asked, of whom, and what went wrong.

    ``status`` is None for transport failures. ``kind`` is one of ``http``,
    ``tls``, ``timeout``, ``connection``, ``redirect``, ``decode``,
    ``pagination`` or ``request``. ``url`` never carries credentials and
    ``message``/``body`` have had every registered secret scrubbed.
    """

    def __init__(
        self,
        method,
        url,
        status=None,
        message="",
        kind="http",
        reason=None,
        documentation_url=None,
        body=None,
        retry_after=None,
        attempts=1,
        note=None,
    ):
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        self.kind = kind
        self.reason = reason
        self.documentation_url = documentation_url
        self.body = body
        self.retry_after = retry_after
        self.attempts = attempts
        self.note = note
        super().__init__(str(self))

    def __str__(self):
        text = f"{self.method} {self.url} failed: "
        if self.status is not None:
            text += "HTTP {}{}".format(
                self.status, " " + self.reason if self.reason else ""
            )
            if self.message:
                text += ": " + self.message
        else:
            text += self.message or self.kind
        if self.documentation_url:
            text += f" (see {self.documentation_url})"
        if self.note:
            text += f" [{self.note}]"
        return text

    def __repr__(self):
        return (
            f"ApiError(method={self.method!r}, url={self.url!r}, "
            f"status={self.status!r}, "
            f"kind={self.kind!r}, message={self.message!r})"
        )


class Auth:
    """One way of authenticating: a header to send, and the secrets it reveals."""

    __slots__ = ("style", "header", "value", "secrets")

    def __init__(self, style, header=None, value=None, secrets=()):
        self.style = style
        self.header = header
        self.value = value
        self.secrets = tuple(s for s in secrets if s) + ((value,) if value else ())

    def __repr__(self):
        return f"Auth(style={self.style!r})"

    @classmethod
    def bearer(cls, token):
        """``Authorization: Bearer <token>`` (Headscale, Attic, GitHub, Tailscale)."""
        return cls("bearer", "Authorization", f"Bearer {token}", (token,))

    @classmethod
    def basic(cls, username, password):
        """Basic auth where the password is the secret (Attic: JWT as password)."""
        raw = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return cls("basic", "Authorization", f"Basic {raw}", (password, raw))

    @classmethod
    def basic_key(cls, key):
        """Basic auth, the key as user name, empty password (Tailscale API keys)."""
        raw = base64.b64encode(f"{key}:".encode()).decode("ascii")
        return cls("basic_key", "Authorization", f"Basic {raw}", (key, raw))

    @classmethod
    def private_token(cls, token):
        """``PRIVATE-TOKEN: <token>`` (GitLab)."""
        return cls("private_token", "PRIVATE-TOKEN", token, (token,))

    @classmethod
    def token(cls, pat):
        """``Authorization: token <pat>`` (Forgejo, Gitea)."""
        return cls("token", "Authorization", f"token {pat}", (pat,))

    @classmethod
    def from_style(cls, style, secret):
        """Auth for STYLE (a key of AUTH_STYLES) with SECRET; None without SECRET."""
        if not secret:
            return None
        try:
            factory = AUTH_STYLES[style]
        except KeyError:
            known = ", ".join(sorted(AUTH_STYLES))
            raise ValueError(f"unknown auth style {style!r} (one of {known})") from None
        return factory(secret)


AUTH_STYLES = {
    "bearer": Auth.bearer,
    "basic_key": Auth.basic_key,
    "private_token": Auth.private_token,
    "token": Auth.token,
}


class ApiResponse:
    """A finished request: status, headers (case-insensitive), decoded body."""

    __slots__ = ("method", "url", "status", "headers", "body", "raw")

    def __init__(self, method, url, status, headers, body, raw):
        self.method = method
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.raw = raw

    @property
    def json(self):
        return self.body

    def header(self, name, default=None):
        value = self.headers.get(name) if self.headers is not None else None
        return default if value is None else value

    @property
    def links(self):
        return parse_link_header(self.header("Link"))

    def __repr__(self):
        return f"ApiResponse({self.method} {safe_url(self.url)} -> {self.status})"


class _Transport(Exception):
    """A request that got no HTTP answer.

    ``sent`` tells whether it may have reached the server (then only idempotent
    requests are repeated).
    """

    def __init__(self, kind, message, sent):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.sent = sent


def _origin(url):
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _encode_query(query):
    if not query:
        return ""
    pairs = query.items() if isinstance(query, dict) else query
    flat = []
    for key, value in pairs:
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, bool):
                item = "true" if item else "false"
            flat.append((key, item))
    return urlencode(flat)


def _describe_tls(reason, url):
    host = urlsplit(url).hostname
    detail = (
        getattr(reason, "verify_message", None)
        or getattr(reason, "reason", None)
        or str(reason)
    )
    return (
        f"TLS certificate verification failed for {host} ({detail}). If the "
        "server's certificate comes from a private CA, set ca_path to that CA's "
        "PEM bundle; validate_certs=false disables verification (insecure)."
    )


class ApiClient:
    """A small JSON-over-HTTP client with retries, pagination and safe errors.

    ``base_url`` is the API root; relative paths are joined to it, absolute URLs
    (pagination links) are used as they are. The auth header is only sent to the
    origin of ``base_url``, never to another host a redirect or link points at.

    ``deadline`` bounds one call including every retry and sleep (default:
    ``timeout * (retries + 1)``). ``sleep``, ``monotonic``, ``wallclock`` and
    ``rand`` replace ``time.sleep``, ``time.monotonic``, ``time.time`` and
    ``random.uniform`` (tests inject recorders).
    """

    def __init__(
        self,
        base_url,
        auth=None,
        headers=None,
        timeout=30,
        retries=4,
        deadline=None,
        validate_certs=True,
        ca_path=None,
        backoff_base=1.0,
        backoff_max=30.0,
        user_agent=USER_AGENT,
        secrets=(),
        max_redirects=5,
        sleep=None,
        monotonic=None,
        wallclock=None,
        rand=None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "api_url must be an http:// or https:// URL, "
                f"got {safe_url(base_url)!r}"
            )
        self.redactor = Redactor(secrets)
        if parts.username or parts.password:
            # Credentials in the URL become Basic auth, never sent or shown in a URL.
            self.redactor.update((parts.username, parts.password))
            if auth is None:
                auth = Auth.basic(
                    unquote(parts.username or ""), unquote(parts.password or "")
                )
            base_url = urlunsplit(
                (
                    parts.scheme,
                    parts.netloc.rsplit("@", 1)[-1],
                    parts.path,
                    parts.query,
                    "",
                )
            )
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        if auth is not None:
            self.redactor.update(auth.secrets)
        self.headers = {"Accept": "application/json"}
        self.headers.update(headers or {})
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.deadline = (
            float(deadline)
            if deadline is not None
            else self.timeout * (self.retries + 1)
        )
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_redirects = max_redirects
        self._sleep = sleep or time.sleep
        self._monotonic = monotonic or time.monotonic
        self._wallclock = wallclock or time.time
        self._rand = rand or random.uniform
        try:
            # One TLS context per client: ansible-core otherwise builds one, and loads
            # the CA store, on every request (about 28 ms each).
            context = make_context(cafile=ca_path, validate_certs=validate_certs)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"ca_path {ca_path!r} cannot be used as a CA bundle ({error}): "
                "give the path of a PEM file holding the CA certificate(s)"
            ) from None
        self._request = Request(
            http_agent=user_agent,
            use_netrc=False,
            follow_redirects="none",
            context=context,
        )

    def __repr__(self):
        return f"ApiClient({safe_url(self.base_url)!r}, auth={self.auth!r})"

    def add_secret(self, value):
        """Registers VALUE (e.g. a token the API handed out) for scrubbing."""
        self.redactor.add(value)

    def redact(self, value):
        return self.redactor.scrub(value)

    def url(self, path, query=None):
        """Absolute URL for PATH (relative to base_url, or absolute) plus QUERY."""
        if re.match(r"^https?://", path):
            url = path
        else:
            url = "{}/{}".format(self.base_url, path.lstrip("/"))
        encoded = _encode_query(query)
        if encoded:
            url += ("&" if "?" in url else "?") + encoded
        return url

    # Verbs -------------------------------------------------------------------

    def get(self, path, query=None, **kwargs):
        return self.request("GET", path, query=query, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    # The request loop -------------------------------------------------------

    def request(
        self,
        method,
        path,
        query=None,
        json=None,
        data=None,
        headers=None,
        allow_status=(),
        idempotent=None,
        timeout=None,
    ):
        """Sends one logical request, retrying as allowed, and returns an ApiResponse.

        ``json`` is encoded as the body (``data`` sends raw bytes instead).
        A status outside 2xx raises ApiError unless it is in ``allow_status``
        (e.g. ``(404,)`` to test for existence). ``idempotent=True`` lets a POST
        or PATCH be retried after a gateway error or a lost answer.
        """
        method = method.upper()
        url = self.url(path, query)
        shown_url = safe_url(url, self.redactor)
        send_headers = dict(self.headers)
        if json is not None:
            data = _json.dumps(json).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        per_try = float(timeout) if timeout is not None else self.timeout
        deadline_at = self._monotonic() + self.deadline

        attempt = 0
        while True:
            attempt += 1
            remaining = deadline_at - self._monotonic()
            delay = None
            try:
                response = self._send(
                    method, url, data, send_headers, max(0.001, min(per_try, remaining))
                )
            except _Transport as exc:
                error = ApiError(
                    method,
                    shown_url,
                    None,
                    self.redactor.scrub(exc.message),
                    kind=exc.kind,
                    attempts=attempt,
                )
                retryable = exc.kind in ("connection", "timeout") and (
                    not exc.sent or idempotent
                )
            else:
                if 200 <= response.status < 300 or response.status in allow_status:
                    return self._decode(response, shown_url)
                error = self._http_error(response, shown_url, attempt)
                retryable, delay = self._retry_advice(response, idempotent)
                error.retry_after = delay

            if not retryable:
                raise error
            if attempt > self.retries:
                if attempt > 1:
                    error.note = f"gave up after {attempt} attempts"
                raise error
            if delay is None:
                delay = self._rand(
                    0, min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
                )
            if self._monotonic() + delay > deadline_at:
                why = (
                    f"the server asked to wait {delay:g}s"
                    if error.retry_after is not None
                    else "next retry"
                )
                plural = "" if attempt == 1 else "s"
                error.note = (
                    f"gave up after {attempt} attempt{plural}: {why} would pass "
                    f"the {self.deadline:g}s deadline"
                )
                raise error
            self._sleep(delay)

    def _retry_advice(self, response, idempotent):
        """(retryable, delay or None) for an HTTP error answer."""
        status = response.status
        retry_after = self._retry_after(response)
        if status in RETRY_ANY_METHOD:
            return True, retry_after
        if status in RETRY_IDEMPOTENT:
            return idempotent, retry_after
        # GitHub's rate limits answer 403 with Retry-After or an exhausted quota.
        if status == 403:
            if retry_after is not None:
                return True, retry_after
            if response.header("X-RateLimit-Remaining") == "0":
                try:
                    reset = float(response.header("X-RateLimit-Reset"))
                except (TypeError, ValueError):
                    return False, None
                return True, max(0.0, reset - self._wallclock())
        return False, None

    def _retry_after(self, response):
        value = response.header("Retry-After")
        if value is None:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - self._wallclock())

    def _send(self, method, url, data, headers, timeout):
        """One HTTP exchange, following redirects; returns an undecoded ApiResponse."""
        base_origin = _origin(self.base_url)
        for _hop in range(self.max_redirects + 1):
            hop_headers = dict(headers)
            if (
                self.auth is not None
                and self.auth.header
                and _origin(url) == base_origin
            ):
                hop_headers[self.auth.header] = self.auth.value
            try:
                raw_response = self._request.open(
                    method, url, data=data, headers=hop_headers, timeout=timeout
                )
                try:
                    status, resp_headers, raw = (
                        raw_response.status,
                        raw_response.headers,
                        raw_response.read(),
                    )
                finally:
                    raw_response.close()
            except HTTPError as exc:
                status, resp_headers = exc.code, exc.headers
                try:
                    raw = exc.read(_MAX_ERROR_BODY) if exc.fp is not None else b""
                except (OSError, http.client.HTTPException):
                    raw = b""
                finally:
                    exc.close()
            except URLError as exc:
                reason = exc.reason
                if isinstance(reason, ssl.SSLCertVerificationError):
                    message = _describe_tls(reason, url)
                    raise _Transport("tls", message, sent=False) from exc
                if isinstance(reason, ssl.SSLError):
                    message = f"TLS handshake failed: {reason}"
                    raise _Transport("tls", message, sent=False) from exc
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    message = f"timed out connecting after {timeout:g}s"
                    raise _Transport("timeout", message, sent=False) from exc
                if isinstance(reason, OSError):
                    message = f"could not connect: {reason}"
                    raise _Transport("connection", message, sent=False) from exc
                message = f"request failed: {reason}"
                raise _Transport("request", message, sent=False) from exc
            except (socket.timeout, TimeoutError) as exc:
                message = f"no answer within {timeout:g}s"
                raise _Transport("timeout", message, sent=True) from exc
            except ssl.SSLError as exc:
                raise _Transport("tls", f"TLS error: {exc}", sent=True) from exc
            except (OSError, http.client.HTTPException, AnsibleConnectionError) as exc:
                message = f"connection lost: {exc or type(exc).__name__}"
                raise _Transport("connection", message, sent=True) from exc
            except ValueError as exc:
                message = f"invalid request: {exc}"
                raise _Transport("request", message, sent=False) from exc

            location = (
                resp_headers.get("Location") if resp_headers is not None else None
            )
            if status in _REDIRECTS and location:
                url = urljoin(url, location)
                if status == 303 or (
                    status in (301, 302) and method not in ("GET", "HEAD")
                ):
                    method, data = "GET", None
                    headers = {
                        k: v for k, v in headers.items() if k.lower() != "content-type"
                    }
                continue
            return ApiResponse(method, url, status, resp_headers, None, raw)
        message = f"more than {self.max_redirects} redirects"
        raise _Transport("redirect", message, sent=True)

    def _decode(self, response, shown_url):
        raw = response.raw or b""
        content_type = (response.header("Content-Type") or "").lower()
        if not raw.strip():
            response.body = None
        elif "json" in content_type or raw.lstrip()[:1] in (b"{", b"["):
            try:
                response.body = _json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                if "json" in content_type:
                    raise ApiError(
                        response.method,
                        shown_url,
                        response.status,
                        f"the answer is not valid JSON: {exc}",
                        kind="decode",
                    ) from None
                response.body = raw.decode("utf-8", "replace")
        else:
            response.body = raw.decode("utf-8", "replace")
        return response

    def _http_error(self, response, shown_url, attempt):
        text = (response.raw or b"").decode("utf-8", "replace")
        try:
            body = _json.loads(text) if text.strip() else None
        except ValueError:
            body = text
        body = self.redactor.scrub(body)
        message, doc = extract_api_message(body)
        try:
            reason = http.client.responses.get(response.status)
        except TypeError:
            reason = None
        return ApiError(
            response.method,
            shown_url,
            response.status,
            self.redactor.scrub(message),
            kind="http",
            reason=reason,
            documentation_url=doc,
            body=body,
            attempts=attempt,
        )

    # Pagination -------------------------------------------------------------

    def paginate(
        self,
        path,
        query=None,
        style=PAGINATE_LINK,
        items=None,
        per_page=None,
        page_param="page",
        per_page_param="per_page",
        max_pages=1000,
        **kwargs,
    ):
        """Yields every item of a paginated collection, fetching page after page.

        ``style``: ``link`` follows the ``Link: <...>; rel="next"`` header (GitHub,
        Forgejo, GitLab); ``x-next-page`` follows GitLab's ``X-Next-Page``;
        ``page`` counts ``page=1,2,...`` until an empty page, or a page shorter
        than ``per_page`` when given (so never ask for more than the server's maximum).
        ``items`` names the key holding the list in an object answer (GitHub's
        ``runners``) or is a callable taking the body; by default the body itself
        is the list.
        """
        if style not in (PAGINATE_LINK, PAGINATE_PAGE, PAGINATE_X_NEXT_PAGE):
            raise ValueError(f"unknown pagination style {style!r}")
        query = dict(query or {})
        if per_page is not None:
            query[per_page_param] = per_page
        if style != PAGINATE_LINK:
            query.setdefault(page_param, 1)
        url = self.url(path, query)
        seen = set()
        while url:
            if len(seen) >= max_pages or url in seen:
                raise ApiError(
                    "GET",
                    safe_url(url, self.redactor),
                    None,
                    f"pagination did not end after {len(seen)} pages",
                    kind="pagination",
                )
            seen.add(url)
            response = self.request("GET", url, **kwargs)
            batch = self._items(response, items)
            yield from batch
            url = None
            if style == PAGINATE_LINK:
                target = response.links.get("next")
                if target:
                    url = urljoin(response.url, target)
            elif style == PAGINATE_X_NEXT_PAGE:
                following = (response.header("X-Next-Page") or "").strip()
                if following:
                    query[page_param] = following
                    url = self.url(path, query)
            elif batch and (per_page is None or len(batch) >= int(per_page)):
                query[page_param] = int(query[page_param]) + 1
                url = self.url(path, query)

    def get_all(self, path, query=None, **kwargs):
        """Every item of a paginated collection as a list (see paginate)."""
        return list(self.paginate(path, query=query, **kwargs))

    def _items(self, response, items):
        body = response.body
        if callable(items):
            found = items(body)
        elif items is not None:
            found = body.get(items) if isinstance(body, dict) else None
        else:
            found = body
        if found is None:
            return []
        if not isinstance(found, list):
            raise ApiError(
                response.method,
                safe_url(response.url, self.redactor),
                response.status,
                "expected a list{} in the answer, got {}".format(
                    f" under {items!r}" if isinstance(items, str) else "",
                    type(found).__name__,
                ),
                kind="decode",
            )
        return found
