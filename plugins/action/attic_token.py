# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""attic_token runs here, on the controller: the signing key never leaves it, and the
result is marked no_log so the token is never displayed (the registered variable
keeps it)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase

from ansible_collections.glorious.flywheel.plugins.module_utils import _attic

SIGNING_OPTIONS = ("hs256_secret_base64", "rs256_secret_base64", "rs256_private_key")

ARGUMENT_SPEC = {
    "sub": {"type": "str", "required": True},
    "validity": {"type": "str", "required": True},
    "permissions": {"type": "dict", "default": {}},
    "hs256_secret_base64": {"type": "str", "no_log": True},
    "rs256_secret_base64": {"type": "str", "no_log": True},
    "rs256_private_key": {"type": "str", "no_log": True},
    "issuer": {"type": "str"},
    "audiences": {"type": "list", "elements": "str"},
}


def require_jwt():
    if not _attic.HAS_JWT:
        raise AnsibleActionFail(
            "{} ({})".format(
                missing_required_lib("PyJWT and cryptography (on the controller)"),
                _attic.JWT_IMPORT_ERROR,
            )
        )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[SIGNING_OPTIONS],
            required_one_of=[SIGNING_OPTIONS],
        )
        require_jwt()
        try:
            if not args["sub"].strip():
                raise _attic.AtticInputError("sub: the token's subject is empty.")
            validity = _attic.parse_duration(args["validity"], "validity")
            if validity <= 0:
                raise _attic.AtticInputError(
                    f"validity: {args['validity']!r} is not a positive duration; give "
                    f"{_attic.DURATION_HELP}."
                )
            permissions = _attic.normalise_permissions(args["permissions"])
            algorithm, key, notes = _attic.signing_key(args)
        except _attic.AtticInputError as exc:
            raise AnsibleActionFail(str(exc)) from None

        claims = _attic.build_claims(
            args["sub"],
            validity,
            permissions,
            issuer=args["issuer"],
            audiences=args["audiences"],
        )
        token = _attic.encode_token(claims, algorithm, key)
        if notes:
            result["warnings"] = notes
        result.update(
            changed=False,
            token=token,
            algorithm=algorithm,
            claims=claims,
            subject=claims["sub"],
            expires_at=_attic.timestamp(claims["exp"]),
            not_before=_attic.timestamp(claims["nbf"]),
            permissions=_attic.permission_table(claims),
        )
        # Hides the whole result from callbacks and logs; `register` still gets it.
        result["_ansible_no_log"] = True
        return result
