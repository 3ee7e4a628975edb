"""Passkeys (WebAuthn), signed sessions, roles and CSRF, all decided on the server.

The session is Starlette's signed cookie (itsdangerous, keyed by
FLYWHEEL_DASHBOARD_SESSION_KEY): a cookie changed by hand fails its signature and the
request is anonymous. The session holds a user id only; the role is read from the
store on every request, so a changed role or a removed user takes effect at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .store import ROLES

RANK = {"viewer": 1, "operator": 2}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
CSRF_HEADER = "x-csrf-token"
# Tailscale serve's identity header (tailscale.com/ipn/ipnlocal serve.go).
TAILSCALE_LOGIN_HEADER = "tailscale-user-login"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
INVITE_TTL = 24 * 3600


def csrf_token(request):
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def current_user(request):
    """The user of this request: its session, or a trusted proxy's identity header."""
    store = request.app.state.store
    user_id = request.session.get("uid")
    if user_id:
        user = store.user(user_id)
        if user:
            return user
    settings = request.app.state.settings
    if settings.trusted_proxy_headers:
        login = request.headers.get(TAILSCALE_LOGIN_HEADER)
        if login:
            return store.user_by_name(login)
    return None


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def csrf_failure(request):
    """Why a state-changing request is refused, or None when it carries the session's token."""
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(given, expected):
        return "missing or wrong CSRF token (send the page's token in X-CSRF-Token)"
    origin = request.headers.get("origin")
    if origin and origin != request.app.state.settings.origin:
        return f"cross-origin request from {origin} refused"
    return None


def guard(role=None, page=False):
    """Decorator: role needed (None = anyone) and CSRF on every unsafe method."""

    def wrap(handler):
        @functools.wraps(handler)
        async def endpoint(request):
            if request.method not in SAFE_METHODS:
                failure = csrf_failure(request)
                if failure:
                    return _error(403, failure)
            user = await run_in_threadpool(current_user, request)
            request.state.user = user
            if role is not None:
                if user is None:
                    if page:
                        return RedirectResponse("/login", status_code=303)
                    return _error(401, "log in first")
                if RANK[user["role"]] < RANK[role]:
                    return _error(
                        403, f"the {role} role is needed; you are {user['role']}"
                    )
            return await handler(request)

        return endpoint

    return wrap


async def _json(request):
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@guard()
async def register_options(request):
    settings, store = request.app.state.settings, request.app.state.store
    body = await _json(request) or {}
    name, role, token = (
        body.get("name", ""),
        body.get("role", ""),
        body.get("token", ""),
    )
    if not isinstance(token, str) or not token:
        return _error(403, "give the admin token or an invite code")
    invite = None
    if not (
        settings.admin_token
        and hmac.compare_digest(token.encode(), settings.admin_token.encode())
    ):
        invite = invite_hash(token)
        # An invite fixes the role: the invited person cannot choose a higher one.
        role = await run_in_threadpool(store.open_invite, invite)
        if role is None:
            return _error(
                403, "the admin token or invite code is wrong, spent or expired"
            )
    if not isinstance(name, str) or not NAME.match(name):
        return _error(
            400,
            "name: 1-64 letters, digits or . _ @ -, starting with a letter or digit",
        )
    if role not in ROLES:
        return _error(400, f"role must be one of {', '.join(ROLES)}")
    if await run_in_threadpool(store.user_by_name, name):
        return _error(409, f"a user named {name} exists")
    user_id = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_id=user_id,
        user_name=name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    request.session["registration"] = {
        "challenge": bytes_to_base64url(options.challenge),
        "uid": bytes_to_base64url(user_id),
        "name": name,
        "role": role,
        "invite": invite,
    }
    return Response(options_to_json(options), media_type="application/json")


@guard()
async def register_verify(request):
    settings, store = request.app.state.settings, request.app.state.store
    pending = request.session.pop("registration", None)
    body = await _json(request)
    if not pending or body is None:
        return _error(400, "no registration in progress: ask for options first")
    try:
        verified = verify_registration_response(
            credential=body,
            expected_challenge=base64url_to_bytes(pending["challenge"]),
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        return _error(400, f"the passkey was not accepted: {error}")
    if pending["invite"] and not await run_in_threadpool(
        store.use_invite, pending["invite"]
    ):
        return _error(403, "the invite was spent or expired meanwhile")
    try:
        await run_in_threadpool(
            store.add_user,
            pending["uid"],
            pending["name"],
            pending["role"],
            bytes_to_base64url(verified.credential_id),
            verified.credential_public_key,
            verified.sign_count,
        )
    except IntegrityError:
        # Two registrations of one name raced between options and verify.
        return _error(409, f"a user named {pending['name']} exists")
    _log_in(request, pending["uid"])
    return JSONResponse({"name": pending["name"], "role": pending["role"]})


@guard()
async def login_options(request):
    settings = request.app.state.settings
    # Discoverable credentials: the authenticator offers its passkeys for this RP,
    # so the server never reveals which user names exist.
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    request.session["login_challenge"] = bytes_to_base64url(options.challenge)
    return Response(options_to_json(options), media_type="application/json")


@guard()
async def login_verify(request):
    settings, store = request.app.state.settings, request.app.state.store
    challenge = request.session.pop("login_challenge", None)
    body = await _json(request)
    if not challenge or body is None or not isinstance(body.get("id"), str):
        return _error(400, "no login in progress: ask for options first")
    stored = await run_in_threadpool(store.credential, body["id"])
    if stored is None:
        return _error(401, "this passkey is not registered here")
    try:
        verified = verify_authentication_response(
            credential=body,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=stored["public_key"],
            credential_current_sign_count=stored["sign_count"],
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        return _error(401, f"the passkey was not accepted: {error}")
    await run_in_threadpool(store.set_sign_count, stored["id"], verified.new_sign_count)
    _log_in(request, stored["user_id"])
    user = await run_in_threadpool(store.user, stored["user_id"])
    return JSONResponse({"name": user["name"], "role": user["role"]})


def _log_in(request, user_id):
    request.session.clear()
    request.session["uid"] = user_id
    # A new token on login: one learnt before it is worth nothing after.
    request.session["csrf"] = secrets.token_urlsafe(32)


def invite_hash(code):
    return hashlib.sha256(code.encode()).hexdigest()


@guard("operator")
async def create_invite(request):
    """A one-time registration code for ROLE, valid INVITE_TTL: after the first user
    (admin token), people join without the admin token being handed around."""
    body = await _json(request) or {}
    role = body.get("role")
    if role not in ROLES:
        return _error(400, f"role must be one of {', '.join(ROLES)}")
    code = secrets.token_urlsafe(24)
    expires_at = time.time() + INVITE_TTL
    await run_in_threadpool(
        request.app.state.store.add_invite,
        invite_hash(code),
        role,
        request.state.user["name"],
        expires_at,
    )
    return JSONResponse({"invite": code, "role": role, "expires_at": expires_at})


@guard()
async def logout(request):
    request.session.clear()
    return JSONResponse({"logged_out": True})
