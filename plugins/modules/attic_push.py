#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: attic_push
short_description: Push Nix store paths and their closures to an Attic binary cache
version_added: 0.1.0
description:
  - Does what C(attic push) does, without the C(attic) client, over the collection's HTTP
    client. Runs on the host whose Nix store holds the paths.
  - Reads the paths from the local Nix store (C(nix path-info --json), and C(nix-store -qR) for
    closures), asks the cache which ones it is missing (C(POST /_api/v1/get-missing-paths)),
    and uploads each missing path's NAR, as C(nix-store --dump) writes it, to
    C(PUT /_api/v1/upload-path).
  - Attic answers each upload with C(Uploaded) (new data stored) or C(Deduplicated) (the
    server already held the same NAR, for example in another cache, and only recorded that
    this cache has it too). The counts in RV(pushed) and RV(deduplicated) are these answers.
  - Paths the cache already has are not sent again, so a second run uploads nothing and
    reports no change.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.api_connection
  - glorious.flywheel.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the store and asks the cache which paths it is missing; nothing is uploaded.
        RV(paths) then lists the missing ones with status V(would_upload).
  diff_mode:
    support: full
    details:
      - Shows the pushed store paths the cache held before and after.
  idempotent:
    support: full
options:
  api_url:
    description:
      - Base URL of the Attic server (its C(api-endpoint)), for example V(https://attic.example.net/).
      - Read from the E(ATTIC_SERVER) environment variable when not set.
    type: str
    required: true
  api_token:
    description:
      - An Attic JWT with C(push) (V(w)) on O(cache), sent as a C(Bearer) token.
      - Also needs C(pull) (V(r)) unless O(ignore_upstream_cache_filter=true), to read the
        cache's C(upstream_cache_key_names).
      - Attic answers HTTP 401 when the token grants no permission at all on the cache, and
        403 when it can see the cache but lacks the permission needed.
      - Read from the E(ATTIC_TOKEN) environment variable when not set.
    type: str
  cache:
    description:
      - Name of the Attic cache to push to.
    type: str
    required: true
  paths:
    description:
      - Store paths to push, for example the out paths C(nix-build) printed. Symlinks into the
        store (such as C(result)) are not followed; give the store path itself.
    type: list
    elements: path
    required: true
  closure:
    description:
      - Push every path the given ones refer to, directly or not, as C(attic push) does.
      - With V(false), only the given paths are pushed.
    type: bool
    default: true
  ignore_upstream_cache_filter:
    description:
      - Push paths signed by an upstream cache too.
      - By default, like C(attic push), paths carrying a signature by one of the cache's
        C(upstream_cache_key_names) (for example V(cache.nixos.org-1)) are left out, since
        clients get them from upstream; they are listed with status V(upstream).
    type: bool
    default: false
notes:
  - Needs Nix 2.8 or later on the target (C(nix-store) and C(nix) with the C(nix-command)
    feature, which the module enables for its own calls).
  - The NARs are sent uncompressed, as the C(attic) client sends them; the server compresses
    them as configured. Each NAR is dumped to a temporary file and checked against the
    store's NAR hash and size before it is sent, so a retry after a gateway error sends it
    again from the start.
seealso:
  - module: glorious.flywheel.attic_cache
  - module: glorious.flywheel.attic_token
"""

EXAMPLES = r"""
- name: Build the runner image closure
  ansible.builtin.command: nix-build --no-out-link runner-image.nix
  register: built
  changed_when: false

- name: Push it, with everything it needs
  glorious.flywheel.attic_push:
    api_url: https://attic.example.net/
    api_token: "{{ attic_push_token }}"
    cache: ci
    paths: "{{ built.stdout_lines }}"
  register: pushed

- name: Report
  ansible.builtin.debug:
    msg: "{{ pushed.pushed }} uploaded, {{ pushed.deduplicated }} deduplicated, {{ pushed.already_present }} already there"
"""

RETURN = r"""
pushed:
  description: Paths Attic answered C(Uploaded) for.
  returned: always
  type: int
  sample: 12
deduplicated:
  description: Paths Attic answered C(Deduplicated) for (the server already held the NAR).
  returned: always
  type: int
  sample: 3
already_present:
  description: Paths the cache already had, which were not sent.
  returned: always
  type: int
  sample: 40
upstream:
  description: Paths left out because an upstream cache signed them (see O(ignore_upstream_cache_filter)).
  returned: always
  type: int
  sample: 0
would_upload:
  description: Paths the cache is missing; in check mode, what a real run would send.
  returned: always
  type: int
  sample: 15
total:
  description: Store paths considered (the closure when O(closure=true)).
  returned: always
  type: int
  sample: 55
uploaded_bytes:
  description: Sum of the NAR sizes sent.
  returned: always
  type: int
  sample: 1048576
paths:
  description: One entry per store path considered, in C(nix-store -qR) order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The store path.
      type: str
    status:
      description:
        - V(uploaded), V(deduplicated), V(already_present), V(upstream), or in check mode
          V(would_upload).
      type: str
    nar_size:
      description: Size of the path's NAR in bytes.
      type: int
    file_size:
      description: Size Attic reports it stored (after its compression), when it says so.
      type: int
    frac_deduplicated:
      description: The fraction of the NAR Attic found it already had, when it says so.
      type: float
  sample:
    - {path: /nix/store/zqn16184c41liq5vmij9psg8ipkrbr62-hello, status: uploaded, nar_size: 168,
       file_size: 168, frac_deduplicated: 0.0}
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    client_from_module,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._attic import (
    DEDUPLICATED,
    AtticCaches,
    AtticInputError,
    AtticPush,
    check_cache_name,
    push_failure_message,
    store_path_hash,
    upload_info,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._nix_store import (
    NixStoreError,
    closure,
    dump,
    path_infos,
)


def store_paths(module):
    """[path-info entry] of the paths to consider, roots checked first."""
    roots = module.params["paths"]
    if not roots:
        module.fail_json(msg="paths: give at least one store path to push.")
    for index, path in enumerate(roots):
        try:
            store_path_hash(path)
        except ValueError:
            module.fail_json(
                msg=f"paths[{index}]: {path!r} is not a Nix store path "
                "(expected /nix/store/<32-character hash>-<name>)."
            )
    try:
        infos = path_infos(module, roots)
        invalid = [p for p in roots if not infos.get(p, {}).get("valid", True)]
        if invalid:
            module.fail_json(
                msg="Not in the local Nix store (build or realise them first): "
                + ", ".join(invalid),
                invalid_paths=invalid,
            )
        if module.params["closure"]:
            wanted = closure(module, roots)
            infos.update(path_infos(module, [p for p in wanted if p not in infos]))
        else:
            wanted = list(dict.fromkeys(roots))
    except NixStoreError as exc:
        module.fail_json(msg=str(exc))
    return [infos[path] for path in wanted]


def upstream_key_names(module, client, cache):
    if module.params["ignore_upstream_cache_filter"]:
        return set()
    try:
        config, refusal = AtticCaches(client).probe(cache)
    except ApiError as error:
        fail_from_error(module, error, msg=push_failure_message(error, "read", cache))
    if refusal is not None:
        fail_from_error(
            module, refusal, msg=push_failure_message(refusal, "read", cache)
        )
    return set(config.get("upstream_cache_key_names") or [])


def signed_upstream(info, key_names):
    return any(
        sig.split(":", 1)[0] in key_names for sig in info.get("signatures") or ()
    )


def upload_one(module, push, info, nar_file):
    path = info["path"]
    try:
        nar_info = upload_info(module.params["cache"], info)
        digest, size = dump(path, nar_file)
    except (ValueError, NixStoreError) as exc:
        module.fail_json(msg=f"Could not read {path} from the Nix store: {exc}")
    if (digest, size) != (nar_info["nar_hash"], nar_info["nar_size"]):
        module.fail_json(
            msg=f"The NAR of {path} ({digest}, {size} bytes) does not match the "
            f"store's record ({nar_info['nar_hash']}, {nar_info['nar_size']} bytes); "
            "the store is damaged: run nix-store --verify --check-contents --repair."
        )
    try:
        return push.upload(nar_info, nar_file)
    except ApiError as error:
        fail_from_error(
            module,
            error,
            msg=push_failure_message(error, "upload", module.params["cache"])
            + f" (while sending {path})",
        )


def main():
    argument_spec = generate_argspec(
        token_env="ATTIC_TOKEN",
        url_env="ATTIC_SERVER",
        cache={"type": "str", "required": True},
        paths={"type": "list", "elements": "path", "required": True},
        closure={"type": "bool", "default": True},
        ignore_upstream_cache_filter={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cache = module.params["cache"]
    try:
        check_cache_name(cache, "cache")
    except AtticInputError as exc:
        module.fail_json(msg=str(exc))

    infos = store_paths(module)
    client = client_from_module(module)
    key_names = upstream_key_names(module, client, cache)
    entries = [{"path": i["path"], "nar_size": int(i["narSize"])} for i in infos]
    candidates = {}
    for entry, info in zip(entries, infos):
        if signed_upstream(info, key_names):
            entry["status"] = "upstream"
        else:
            candidates[store_path_hash(info["path"])] = (entry, info)

    push = AtticPush(client)
    try:
        missing = push.missing(cache, list(candidates))
    except ApiError as error:
        fail_from_error(module, error, msg=push_failure_message(error, "query", cache))
    for digest, (entry, _info) in candidates.items():
        if digest not in missing:
            entry["status"] = "already_present"

    todo = [candidates[d] for d in candidates if d in missing]
    if module.check_mode:
        for entry, _info in todo:
            entry["status"] = "would_upload"
    else:
        handle, nar_file = tempfile.mkstemp(prefix="attic-push-", suffix=".nar")
        os.close(handle)
        try:
            for entry, info in todo:
                answer = upload_one(module, push, info, nar_file)
                entry["status"] = (
                    "deduplicated" if answer["kind"] == DEDUPLICATED else "uploaded"
                )
                for key in ("file_size", "frac_deduplicated"):
                    if answer[key] is not None:
                        entry[key] = answer[key]
        finally:
            os.unlink(nar_file)

    def count(status):
        return sum(1 for entry in entries if entry["status"] == status)

    sent = [
        entry for entry in entries if entry["status"] in ("uploaded", "deduplicated")
    ]
    result = {
        "changed": bool(todo),
        "pushed": count("uploaded"),
        "deduplicated": count("deduplicated"),
        "already_present": count("already_present"),
        "upstream": count("upstream"),
        "would_upload": len(todo),
        "total": len(entries),
        "uploaded_bytes": sum(entry["nar_size"] for entry in sent),
        "paths": entries,
    }
    if module._diff:
        before = sorted(e["path"] for e in entries if e["status"] == "already_present")
        after = sorted(before + [entry["path"] for entry, _info in todo])
        result["diff"] = {
            "before": {"cache": cache, "paths": before},
            "after": {"cache": cache, "paths": after},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
