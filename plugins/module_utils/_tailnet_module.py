# Copyright: (c) 2026, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tailnet modules and the tailnet inventory plugin share: options,
connecting to the right control plane, and turning errors into failures.

Private to the collection (the leading underscore): it may change in any release.
The options mirror the ``glorious.flywheel.tailnet`` doc fragment one-to-one
(plus ``glorious.flywheel.api_connection`` for TLS, timeouts and retries).

This file runs on module targets, so it stays compatible with Python 3.8.
"""

from __future__ import annotations

import contextlib
import os

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_params,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._headscale import (
    HeadscaleApi,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    Auth,
    Redactor,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    HEADSCALE,
    TailnetError,
    describe_selector,
    find_devices,
    resolve_connection,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailscale_saas import (
    TailscaleApi,
    auth_for_token,
    fetch_oauth_token,
)

TAILNET_OPTIONS = {
    "control_plane": {
        "type": "str",
        "default": "auto",
        "choices": ["auto", "headscale", "tailscale"],
    },
    "api_url": {"type": "str"},
    "api_token": {"type": "str", "no_log": True},
    "oauth_client_id": {"type": "str"},
    "oauth_client_secret": {"type": "str", "no_log": True},
    "oauth_scopes": {"type": "list", "elements": "str"},
    "tailnet": {"type": "str", "default": "-"},
    "base_domain": {"type": "str"},
}


def tailnet_argspec(**options):
    """The connection options of every tailnet module plus the module's OPTIONS."""
    spec = generate_argspec()
    spec.update(TAILNET_OPTIONS)
    spec.update(options)
    return spec


def connect(params, environ=None, on_secret=None):
    """A HeadscaleApi or TailscaleApi for PARAMS (module or inventory options).

    ``on_secret`` is called with every secret that did not come in through a
    no_log option (environment variables, OAuth access tokens), so the caller
    can hide it too. Raises TailnetError or ApiError.
    """
    conn = resolve_connection(params, os.environ if environ is None else environ)
    secrets = []
    client_params = dict(params, api_url=conn["api_url"], api_token=conn["api_token"])
    for option in ("timeout", "retries"):
        client_params.setdefault(option, None)

    def remember(secret):
        if secret:
            secrets.append(secret)
            if on_secret is not None:
                on_secret(secret)

    for secret in conn["env_secrets"]:
        remember(secret)
    try:
        if conn["control_plane"] == HEADSCALE:
            client = client_from_params(
                client_params, auth_style="bearer", secrets=secrets
            )
            return HeadscaleApi(client, base_domain=params.get("base_domain"))
        if conn["oauth_client_id"]:
            remember(conn["oauth_client_secret"])
            bare = client_from_params(client_params, auth_style=None, secrets=secrets)
            token = fetch_oauth_token(
                bare,
                conn["oauth_client_id"],
                conn["oauth_client_secret"],
                params.get("oauth_scopes"),
            )
            remember(token)
            auth = Auth.bearer(token)
        else:
            auth = auth_for_token(conn["api_token"])
        client = client_from_params(client_params, auth_style=auth, secrets=secrets)
    except ValueError as exc:
        raise TailnetError(str(exc), field="api_url") from None
    return TailscaleApi(client, tailnet=params.get("tailnet"))


def connect_module(module):
    """connect() for an AnsibleModule: secrets from elsewhere join its no_log values."""
    return connect(module.params, on_secret=module.no_log_values.add)


@contextlib.contextmanager
def tailnet_errors(module, msg=None):
    """Fails MODULE cleanly on ApiError (the API's own message) or TailnetError."""
    try:
        yield
    except ApiError as error:
        fail_from_error(module, error, msg)
    except TailnetError as error:
        text = Redactor(module.no_log_values).scrub(str(error))
        module.fail_json(msg=text, field=error.field)


def select_devices(api, name=None, device_id=None, address=None, renamed_to=None):
    """The devices matching the selectors (one GET by id when only an id is given).

    ``renamed_to``: when nothing matches, the devices with that name instead (an
    earlier run renamed the device).
    """
    if device_id is not None and name is None and address is None:
        device = api.get_device(device_id)
        return [device] if device is not None else []
    devices = api.list_devices()
    found = find_devices(devices, name=name, device_id=device_id, address=address)
    if not found and renamed_to:
        found = find_devices(devices, name=renamed_to)
    return found


def one_device(
    api, name=None, device_id=None, address=None, required=True, renamed_to=None
):
    """The single device matching the selectors; TailnetError for none or several."""
    found = select_devices(
        api, name=name, device_id=device_id, address=address, renamed_to=renamed_to
    )
    where = describe_selector(name=name, device_id=device_id, address=address)
    if len(found) > 1:
        ids = ", ".join(f"{d['name']} (id {d['id']})" for d in found)
        raise TailnetError(
            f"{where} matches {len(found)} devices on {api.describe()}: {ids}. "
            "Select the device by id instead.",
            field="id",
        )
    if not found:
        if not required:
            return None
        raise TailnetError(
            f"No device with {where} on {api.describe()}. Check the name, id or "
            "address (tailscale_device_info lists every device), or use "
            "state: absent if it should not exist.",
            field="name" if name is not None else "id" if device_id else "address",
        )
    return api.with_routes(found[0])
