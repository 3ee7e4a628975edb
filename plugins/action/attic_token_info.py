# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""attic_token_info runs here, on the controller, next to the key it verifies with."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.glorious.flywheel.plugins.action.attic_token import (
    require_jwt,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import _attic

KEY_OPTIONS = (
    "hs256_secret_base64",
    "rs256_secret_base64",
    "rs256_private_key",
    "rs256_pubkey_base64",
    "rs256_public_key",
)

ARGUMENT_SPEC = {
    "token": {"type": "str", "required": True, "no_log": True},
    "hs256_secret_base64": {"type": "str", "no_log": True},
    "rs256_secret_base64": {"type": "str", "no_log": True},
    "rs256_private_key": {"type": "str", "no_log": True},
    "rs256_pubkey_base64": {"type": "str"},
    "rs256_public_key": {"type": "str"},
    "issuer": {"type": "str"},
    "audiences": {"type": "list", "elements": "str"},
    "caches": {"type": "list", "elements": "str", "default": []},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[KEY_OPTIONS],
            required_one_of=[KEY_OPTIONS],
        )
        require_jwt()
        try:
            for index, cache in enumerate(args["caches"]):
                _attic.check_cache_name(cache, f"caches[{index}]")
            unverified = _attic.unverified_claims(args["token"])
            algorithm, key, _notes = _attic.signing_key(args)
        except _attic.AtticInputError as exc:
            raise AnsibleActionFail(str(exc)) from None

        claims, reason = _attic.verify_token(
            args["token"],
            algorithm,
            key,
            issuer=args["issuer"],
            audiences=args["audiences"],
        )
        shown = claims if claims is not None else unverified
        now = time.time()
        exp = shown.get("exp")
        result.update(
            changed=False,
            valid=claims is not None,
            reason=reason,
            algorithm=algorithm,
            claims=shown,
            subject=shown.get("sub"),
            issuer=shown.get("iss"),
            audiences=_as_list(shown.get("aud")),
            expires_at=_attic.timestamp(exp),
            not_before=_attic.timestamp(shown.get("nbf")),
            expired=isinstance(exp, (int, float)) and exp < now,
            problems=_attic.attic_claim_problems(shown),
            permissions=_attic.permission_table(shown),
            cache_permissions=[
                _attic.effective_permission(shown, cache) for cache in args["caches"]
            ],
        )
        return result


def _as_list(audiences):
    if audiences is None:
        return []
    return [audiences] if isinstance(audiences, str) else list(audiences)
