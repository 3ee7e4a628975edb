# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every API module shares: connection options, client, failures, diffs.

Private to the collection (the leading underscore): it may change in any release.
The options mirror the ``glorious.flywheel.api_connection`` doc fragment one-to-one.
"""

from __future__ import annotations

import contextlib
import json

from ansible.module_utils.basic import env_fallback

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    ApiError,
    Auth,
    Redactor,
)

CONNECTION_OPTIONS = (
    "api_url",
    "api_token",
    "validate_certs",
    "ca_path",
    "timeout",
    "retries",
)
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 4


def connection_argspec(
    token_env=None, url_env=None, url_default=None, token_required=False
):
    """The shared connection options.

    ``token_env``/``url_env`` name the environment variables ``api_token`` and
    ``api_url`` fall back to (each module picks its own, e.g. ``GITLAB_TOKEN``).
    Without ``url_default`` the URL is required; modules that pass one (or
    ``token_required=True``) restate that option in their own DOCUMENTATION,
    which overrides the fragment.
    """
    api_url = {"type": "str"}
    if url_default is not None:
        api_url["default"] = url_default
    else:
        api_url["required"] = True
    if url_env:
        api_url["fallback"] = (env_fallback, [url_env])
    api_token = {"type": "str", "no_log": True}
    if token_required:
        api_token["required"] = True
    if token_env:
        api_token["fallback"] = (env_fallback, [token_env])
    return {
        "api_url": api_url,
        "api_token": api_token,
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        "retries": {"type": "int", "default": DEFAULT_RETRIES},
    }


def generate_argspec(
    token_env=None, url_env=None, url_default=None, token_required=False, **options
):
    """The connection options merged with the module's own OPTIONS (those win).

    >>> argument_spec = generate_argspec(
    ...     token_env="GITLAB_TOKEN", url_default="https://gitlab.com",
    ...     description=dict(type="str", required=True))
    """
    spec = connection_argspec(
        token_env=token_env,
        url_env=url_env,
        url_default=url_default,
        token_required=token_required,
    )
    spec.update(options)
    return spec


def client_from_params(
    params, auth_style="bearer", headers=None, secrets=(), **client_options
):
    """An ApiClient from the connection options in PARAMS.

    ``auth_style`` is one of ``bearer``, ``basic_key``, ``private_token``,
    ``token`` (or an :class:`Auth` built by the caller, or None for anonymous).
    ``client_options`` go to ApiClient (e.g. ``backoff_base`` or ``deadline``).
    """
    token = params.get("api_token")
    if isinstance(auth_style, Auth) or auth_style is None:
        auth = auth_style
    else:
        auth = Auth.from_style(auth_style, token)
    return ApiClient(
        params["api_url"],
        auth=auth,
        headers=headers,
        timeout=params.get("timeout") or DEFAULT_TIMEOUT,
        retries=params["retries"]
        if params.get("retries") is not None
        else DEFAULT_RETRIES,
        validate_certs=params.get("validate_certs", True),
        ca_path=params.get("ca_path"),
        secrets=tuple(secrets) + ((token,) if token else ()),
        **client_options,
    )


def client_from_module(
    module, auth_style="bearer", headers=None, secrets=(), **client_options
):
    """An ApiClient for MODULE; the module's no_log values are scrubbed from errors.

    A bad ``api_url`` fails the module with a readable message.
    """
    try:
        return client_from_params(
            module.params,
            auth_style=auth_style,
            headers=headers,
            secrets=tuple(secrets) + tuple(module.no_log_values),
            **client_options,
        )
    except ValueError as exc:
        module.fail_json(msg=str(exc))


def fail_from_error(module, error, msg=None, **extra):
    """Fails MODULE with an ApiError as a message a person can act on.

    ``msg`` says what the module was doing ("Could not create the runner");
    the result also carries ``status``, ``method`` and ``url``.
    """
    redactor = Redactor(getattr(module, "no_log_values", ()))
    text = redactor.scrub(str(error))
    if msg:
        text = f"{redactor.scrub(msg)}: {text}"
    if (
        error.status in (401, 403)
        and error.kind == "http"
        and error.retry_after is None
    ):
        text += " Check that api_token is valid and allowed to do this."
    module.fail_json(
        msg=text,
        status=error.status,
        method=error.method,
        url=redactor.scrub(error.url),
        **extra,
    )


@contextlib.contextmanager
def api_errors(module, msg=None):
    """Turns an ApiError raised in the block into fail_from_error(module, ..., msg)."""
    try:
        yield
    except ApiError as error:
        fail_from_error(module, error, msg)


class DiffTracker:
    """Collects desired-vs-current per field; decides ``changed`` and renders ``diff``.

    A module reads the current object, calls ``compare()`` for each option the
    user set, then writes ``changes()`` only if ``changed``:

    >>> tracker = DiffTracker()
    >>> tracker.compare("paused", module.params["paused"], current["paused"])
    >>> tracker.compare("tags", module.params["tags"], current["tag_list"], kind="set")
    >>> if tracker.changed and not module.check_mode:
    ...     client.put(path, json=tracker.changes())
    >>> module.exit_json(changed=tracker.changed, diff=tracker.diff())
    """

    def __init__(self):
        self._fields = {}
        self._sensitive = set()

    def compare(self, name, wanted, current, kind="value", sensitive=False):
        """Records NAME if WANTED differs from CURRENT; returns True when it does.

        WANTED None means "not managed" and never differs. ``kind``: ``value``
        (equality), ``set`` (lists compared ignoring order and duplicates) or
        ``subset`` (every key of a WANTED dict equal in CURRENT; extra keys are left
        alone).
        ``sensitive`` fields count as changes but show as "<redacted>" in the diff.
        """
        if wanted is None or _same(wanted, current, kind):
            return False
        self.add(name, current, wanted, sensitive=sensitive)
        return True

    def add(self, name, before, after, sensitive=False):
        """Records a change of NAME unconditionally (``state``: absent -> present)."""
        self._fields[name] = (before, after)
        if sensitive:
            self._sensitive.add(name)

    def merge(self, other):
        for name, (before, after) in other._fields.items():
            self.add(name, before, after, sensitive=name in other._sensitive)

    @property
    def changed(self):
        return bool(self._fields)

    def has(self, name):
        return name in self._fields

    def changes(self):
        """{name: wanted value} of the changed fields (the body of an update)."""
        return {name: after for name, (_before, after) in self._fields.items()}

    def diff(self):
        """``{"before": {...}, "after": {...}}`` of the changed fields (``diff``)."""
        before, after = {}, {}
        for name, (old, new) in self._fields.items():
            hidden = name in self._sensitive
            before[name] = "<redacted>" if hidden and old is not None else old
            after[name] = "<redacted>" if hidden and new is not None else new
        return {"before": before, "after": after}


def _same(wanted, current, kind):
    if kind == "value":
        return wanted == current
    if kind == "set":
        return _as_set(wanted) == _as_set(current or [])
    if kind == "subset":
        current = current or {}
        return all(k in current and current[k] == v for k, v in wanted.items())
    raise ValueError(f"unknown comparison kind {kind!r}")


def _as_set(values):
    try:
        return set(values)
    except TypeError:
        # Unhashable members (dicts): compare their canonical JSON.
        return {json.dumps(v, sort_keys=True) for v in values}
