# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything glorious.flywheel knows about the Attic binary cache server.

Private to the collection (the leading underscore): it may change in any release.

Paths and JSON shapes of the cache-config API, the retention encoding, duration
parsing the way Attic's ``humantime`` does it, cache-name rules, Nix keypairs, and
the JWTs ``atticadm make-token`` mints. Each rule names the upstream file
(repository zhaofengli/attic) it follows.

The HTTP part runs on module targets and stays compatible with Python 3.8; the
JWT part needs PyJWT and cryptography and runs on the controller.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import time
import warnings

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError as error:  # pragma: no cover - exercised where it is missing
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = error
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

try:
    import jwt
except ImportError as error:  # pragma: no cover - exercised where PyJWT is missing
    HAS_JWT = False
    JWT_IMPORT_ERROR = error
else:
    HAS_JWT = HAS_CRYPTOGRAPHY
    JWT_IMPORT_ERROR = CRYPTOGRAPHY_IMPORT_ERROR

from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiError,
    quote_segment,
)

# attic/src/api/v1/cache_config.rs, server/src/api/v1/mod.rs
CACHE_CONFIG_PATH = "_api/v1/cache-config/{}"

# token/src/lib.rs: the custom claim namespace and the permission letters, in the
# order CachePermission declares (and serialises) them.
CLAIM_NAMESPACE = "https://jwt.attic.rs/v1"
PERMISSIONS = (
    ("pull", "r"),
    ("push", "w"),
    ("delete", "d"),
    ("create_cache", "cc"),
    ("configure_cache", "cr"),
    ("configure_cache_retention", "cq"),
    ("destroy_cache", "cd"),
)
PERMISSION_NAMES = tuple(name for name, _letter in PERMISSIONS)
LETTERS = tuple(letter for _name, letter in PERMISSIONS)
LETTER_OF = dict(PERMISSIONS)
NAME_OF = {letter: name for name, letter in PERMISSIONS}
PERMISSION_HELP = ", ".join(f"{name} ({letter})" for name, letter in PERMISSIONS)

# attic/src/cache.rs: CACHE_NAME_REGEX and CACHE_NAME_PATTERN_REGEX.
MAX_NAME_LENGTH = 50
CACHE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_+]{0,49}\Z")
CACHE_PATTERN_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9\-_+*]{0,49}\Z")
CACHE_NAME_RULE = (
    "Attic cache names are 1 to 50 characters from A-Z, a-z, 0-9, '-', '_' and '+', "
    "starting with a letter or digit (attic/src/cache.rs)"
)
CACHE_PATTERN_RULE = (
    "Attic cache name patterns follow the cache name rule (1 to 50 characters from "
    "A-Z, a-z, 0-9, '-', '_', '+') and may also use '*' anywhere (attic/src/cache.rs)"
)

# The `attic cache create` defaults (client/src/command/cache.rs).
CREATE_DEFAULTS = {
    "is_public": False,
    "store_dir": "/nix/store",
    "priority": 41,
    "upstream_cache_key_names": ["cache.nixos.org-1"],
}
CONFIG_FIELDS = ("is_public", "store_dir", "priority", "upstream_cache_key_names")

# Retention is Period(u32) on the wire and an i32 column in the database
# (server/src/api/v1/cache_config.rs answers "Invalid retention period" above it).
MAX_RETENTION_SECONDS = 2**31 - 1
GLOBAL = "global"

# humantime's units (crate humantime, src/duration.rs), which Attic uses for
# `atticadm make-token --validity` and `attic cache configure --retention-period`.
# Values are nanoseconds; the names are case-sensitive ("M" is months, "m" minutes).
_NS = 1
_US = 1000
_MS = 1000 * 1000
_S = 1000 * 1000 * 1000
_UNITS = {}
for _names, _size in (
    (("nanos", "nsec", "ns"), _NS),
    (("usec", "us", "\u00b5s"), _US),
    (("millis", "msec", "ms"), _MS),
    (("seconds", "second", "secs", "sec", "s"), _S),
    (("minutes", "minute", "min", "mins", "m"), 60 * _S),
    (("hours", "hour", "hr", "hrs", "h"), 3600 * _S),
    (("days", "day", "d"), 86400 * _S),
    (("weeks", "week", "w"), 7 * 86400 * _S),
    (("months", "month", "M"), 2630016 * _S),  # 30.44 days
    (("years", "year", "y"), 31557600 * _S),  # 365.25 days
):
    for _name in _names:
        _UNITS[_name] = _size
_DURATION_ITEM = re.compile(r"([0-9]+)\s*([A-Za-z\u00b5]*)\s*")
DURATION_HELP = (
    "a number followed by a unit, for example '90d', '3 months', '12h' or '1y 6M'; "
    "units: s, m (minutes), h, d, w, M or months, y or years"
)

# Nix signing keys: "<name>:<base64>" (attic/src/signing/mod.rs).
_ED25519_KEYPAIR_BYTES = 64
_ED25519_PUBLIC_BYTES = 32


class AtticInputError(ValueError):
    """Bad module input; the message names the option and how to fix it."""


# Names, patterns, durations ---------------------------------------------------


def check_cache_name(name, option="name"):
    """NAME if Attic accepts it as a cache name, else AtticInputError."""
    if not isinstance(name, str) or not CACHE_NAME_RE.match(name):
        raise AtticInputError(
            f"{option}: {name!r} is not a valid Attic cache name. {CACHE_NAME_RULE}."
        )
    return name


def check_cache_pattern(pattern, option="permissions"):
    """PATTERN if Attic accepts it as a cache name pattern, else AtticInputError."""
    if not isinstance(pattern, str) or not CACHE_PATTERN_RE.match(pattern):
        raise AtticInputError(
            f"{option}: {pattern!r} is not a cache name pattern Attic accepts. "
            f"{CACHE_PATTERN_RULE}."
        )
    return pattern


def pattern_matches(pattern, name):
    """Whether PATTERN ('*' matches any run of characters) matches cache NAME.

    Attic matches with the wildmatch crate; patterns can only hold '*' wildcards.
    """
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.match(f"^{regex}\\Z", name, re.DOTALL) is not None


def parse_duration_ns(text, option):
    """Nanoseconds in a humantime duration ('3 months', '90d', '1h 30m')."""
    text = str(text)
    if not text.strip():
        raise AtticInputError(f"{option}: the duration is empty; give {DURATION_HELP}.")
    total = 0
    position = len(text) - len(text.lstrip())
    while position < len(text):
        match = _DURATION_ITEM.match(text, position)
        if not match or match.end() == position:
            raise AtticInputError(
                f"{option}: {text!r} is not a duration (expected a number at "
                f"character {position + 1}); give {DURATION_HELP}."
            )
        number, unit = int(match.group(1)), match.group(2)
        if not unit:
            raise AtticInputError(
                f"{option}: {text!r} is not a duration: a time unit is needed "
                f"after {number}, for example {number}s or {number}d; "
                f"give {DURATION_HELP}."
            )
        if unit not in _UNITS:
            raise AtticInputError(
                f"{option}: {text!r} is not a duration: unknown time unit "
                f"{unit!r}; give {DURATION_HELP}."
            )
        total += number * _UNITS[unit]
        position = match.end()
    return total


def parse_duration(text, option):
    """Whole seconds in a humantime duration, or in a bare integer of seconds."""
    if isinstance(text, bool):
        raise AtticInputError(f"{option}: expected a duration, got {text!r}.")
    if isinstance(text, int) or (
        isinstance(text, str) and re.match(r"^\s*[0-9]+\s*\Z", text)
    ):
        return int(text)
    return parse_duration_ns(text, option) // _S


def parse_retention(value, option="retention_period"):
    """'global' or whole seconds (0 disables time-based garbage collection)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == GLOBAL:
        return GLOBAL
    seconds = parse_duration(value, option)
    if seconds == 0 and not _is_zero(value):
        raise AtticInputError(
            f"{option}: {value!r} is shorter than one second; Attic keeps retention in "
            "whole seconds and 0 would disable time-based garbage collection. Give at "
            "least '1s', or '0s' to disable it on purpose."
        )
    if seconds > MAX_RETENTION_SECONDS:
        raise AtticInputError(
            f"{option}: {value!r} is {seconds} seconds; Attic stores at most "
            f"{MAX_RETENTION_SECONDS} seconds (about 68 years)."
        )
    return seconds


def _is_zero(value):
    if isinstance(value, int):
        return value == 0
    return all(c in "0 " for c in re.sub(r"[A-Za-z\u00b5]", " ", str(value)))


def retention_to_api(retention):
    """The wire form of a parsed retention: "Global" or {"Period": seconds}."""
    if retention == GLOBAL:
        return "Global"
    return {"Period": int(retention)}


def retention_from_api(value):
    """'global' or seconds from the wire form (attic/src/api/v1/cache_config.rs)."""
    if value is None or value == "Global":
        return GLOBAL
    if isinstance(value, dict) and "Period" in value:
        return int(value["Period"])
    raise ValueError(f"unexpected retention_period {value!r} in Attic's answer")


# Nix keypairs -------------------------------------------------------------------


def parse_keypair(text, option="keypair"):
    """(key name, public key) of a Nix signing key 'name:base64(seed + public)'.

    Checks what the server checks (attic/src/signing/mod.rs: a colon, a non-empty
    name without colons, base64 of 64 bytes whose public half matches the seed),
    without ever putting the key itself in a message.
    """
    if not isinstance(text, str) or ":" not in text:
        raise AtticInputError(
            f"{option}: not a Nix signing key: expected '<key name>:<base64>', as "
            "written by `nix key generate-secret --key-name <name>`."
        )
    name, payload = text.strip().split(":", 1)
    if not name:
        raise AtticInputError(f"{option}: the key name before ':' is empty.")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AtticInputError(
            f"{option}: the part after '{name}:' is not valid base64."
        ) from None
    if len(raw) != _ED25519_KEYPAIR_BYTES:
        raise AtticInputError(
            f"{option}: the key decodes to {len(raw)} bytes; a Nix (ed25519) secret "
            f"key has {_ED25519_KEYPAIR_BYTES}. Is it the public key?"
        )
    seed, public = raw[:32], raw[32:]
    if HAS_CRYPTOGRAPHY:
        derived = (
            Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        if derived != public:
            raise AtticInputError(
                f"{option}: the key's public half does not belong to its secret half; "
                "Attic rejects such a keypair."
            )
    return name, "{}:{}".format(name, base64.b64encode(public).decode("ascii"))


# The cache-config API ----------------------------------------------------------


def cache_path(name):
    return CACHE_CONFIG_PATH.format(quote_segment(name))


class AtticCaches:
    """The cache-config endpoints on top of an ApiClient (errors stay ApiError)."""

    def __init__(self, client):
        self.client = client

    def get(self, name):
        """The cache's config (API shape), or None when Attic answers 404."""
        response = self.client.get(cache_path(name), allow_status=(404,))
        if response.status == 404:
            return None
        return response.body if isinstance(response.body, dict) else {}

    def probe(self, name):
        """(config, None), or (None, the ApiError) when Attic answers 401, 403 or 404.

        Those three are what a token that cannot read the cache gets
        (server/src/error.rs); any other failure is raised.
        """
        try:
            response = self.client.get(cache_path(name))
        except ApiError as error:
            if error.kind == "http" and error.status in (401, 403, 404):
                return None, error
            raise
        return (response.body if isinstance(response.body, dict) else {}), None

    def create(self, name, body):
        # POST is not idempotent: after a lost answer a retry would meet
        # CacheAlreadyExists, so it is left to the read-compare loop instead.
        self.client.post(cache_path(name), json=body)

    def configure(self, name, body):
        # Repeating a PATCH sets the same values again.
        self.client.patch(cache_path(name), json=body, idempotent=True)

    def destroy(self, name):
        self.client.delete(cache_path(name))


def create_body(params, keypair=None):
    """CreateCacheRequest: every field is required (attic/src/api/v1/cache_config.rs)."""
    body = {"keypair": keypair_to_api(keypair)}
    for field in CONFIG_FIELDS:
        value = params.get(field)
        body[field] = CREATE_DEFAULTS[field] if value is None else value
    return body


def keypair_to_api(keypair):
    """KeypairConfig: "Generate" or {"Keypair": "<name>:<base64>"}."""
    return "Generate" if keypair is None else {"Keypair": keypair}


def cache_facts(name, config):
    """The user-facing view of a cache from its API config (never a secret)."""
    config = config or {}
    facts = {"name": name}
    for field in CONFIG_FIELDS:
        facts[field] = config.get(field)
    facts["retention_period"] = retention_from_api(config.get("retention_period"))
    for field in ("public_key", "substituter_endpoint", "api_endpoint"):
        facts[field] = config.get(field)
    return facts


# What each failing call needed, for messages (server/src/api/v1/cache_config.rs).
NEEDS = {
    "read": "pull (r)",
    "create": "create_cache (cc)",
    "configure": "configure_cache (cr)",
    "configure_retention": "configure_cache (cr) and configure_cache_retention (cq)",
    "destroy": "destroy_cache (cd)",
}


def failure_message(error, action, cache):
    """What went wrong doing ACTION on CACHE, in Attic's terms, before the API's text."""
    verb = {
        "read": "read",
        "create": "create",
        "configure": "configure",
        "configure_retention": "set the retention period of",
        "destroy": "destroy",
    }[action]
    text = f"Could not {verb} Attic cache {cache!r}"
    if error.status == 401:
        text += (
            " - Attic answers 401 when the token is missing, invalid or expired, or "
            f"grants no permission at all on {cache!r} (it then hides whether the "
            f"cache exists); this needs {NEEDS[action]}"
        )
    elif error.status == 403:
        text += (
            f" - the token can see the cache but lacks the {NEEDS[action]} permission"
        )
    elif (
        action == "create"
        and isinstance(error.body, dict)
        and error.body.get("error") == "CacheAlreadyExists"
    ):
        text += (
            " - Attic reported no such cache, yet the name is taken: another client "
            "created it just now, or it was destroyed while the server had "
            "soft-delete-caches = true, which keeps the name for good"
        )
    return text


# Tokens ------------------------------------------------------------------------


def normalise_permissions(permissions, option="permissions"):
    """{pattern: [letters in Attic's order]} from {pattern: [names or letters]}.

    Accepts the atticadm names (pull, push, ..., destroy_cache) and the claim
    letters (r, w, d, cc, cr, cq, cd); anything else fails, naming the pattern.
    """
    if permissions is None:
        return {}
    if not isinstance(permissions, dict):
        raise AtticInputError(
            f"{option}: expected a mapping of cache name pattern to a list of "
            "permissions, for example {'team-*': ['pull', 'push']}."
        )
    result = {}
    for pattern, granted in permissions.items():
        check_cache_pattern(pattern, option)
        if isinstance(granted, str):
            granted = [granted]
        if not isinstance(granted, (list, tuple)) or not granted:
            raise AtticInputError(
                f"{option}[{pattern!r}]: expected a non-empty list of permissions "
                f"({PERMISSION_HELP})."
            )
        letters = set()
        for item in granted:
            key = str(item).strip()
            if key in LETTER_OF:
                letters.add(LETTER_OF[key])
            elif key in NAME_OF:
                letters.add(key)
            else:
                raise AtticInputError(
                    f"{option}[{pattern!r}]: unknown permission {item!r}. Use the "
                    f"atticadm names or their claim letters: {PERMISSION_HELP}."
                )
        result[pattern] = [letter for letter in LETTERS if letter in letters]
    return result


def build_claims(
    sub, validity_seconds, permissions, issuer=None, audiences=None, now=None
):
    """The claims `atticadm make-token` signs (server/src/adm/command/make_token.rs).

    ``exp`` = now + validity, ``nbf`` = now, ``sub``; ``iss`` and ``aud`` as the
    server's token-bound-issuer / token-bound-audiences add them (aud as a list);
    the permission letters set to 1 under the Attic namespace (token/src/lib.rs).
    """
    now = int(time.time() if now is None else now)
    claims = {"exp": now + int(validity_seconds), "nbf": now}
    if issuer:
        claims["iss"] = issuer
    claims["sub"] = sub
    if audiences:
        claims["aud"] = list(audiences)
    claims[CLAIM_NAMESPACE] = {
        "caches": {
            pattern: {letter: 1 for letter in letters}
            for pattern, letters in permissions.items()
        }
    }
    return claims


def _b64_text(value, option, what):
    """Decodes VALUE the way atticd does: strict base64, then UTF-8 text."""
    try:
        raw = base64.b64decode("".join(str(value).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AtticInputError(
            f"{option} is not valid base64 ({exc}). Give the value exactly as "
            f"server.toml's [jwt.signing] takes it: {what}."
        ) from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AtticInputError(
            f"{option} decodes to bytes that are not UTF-8 text, which atticd refuses "
            "at start-up (token/src/lib.rs decodes the secret as a string). Generate "
            "it from text, for example: openssl rand -hex 32 | tr -d '\\n' | base64 -w0"
        ) from None
    return raw


def hs256_key(secret_base64, option="hs256_secret_base64"):
    """The HMAC key bytes from the base64 secret atticd is configured with."""
    key = _b64_text(secret_base64, option, "base64 of the secret text")
    if not key:
        raise AtticInputError(f"{option} is empty.")
    return key


def rs256_private_key(pem=None, secret_base64=None, option="rs256_private_key"):
    """An RSA private key from PEM text, or from base64 of the PEM (server.toml form)."""
    if secret_base64 is not None:
        option = "rs256_secret_base64"
        pem = _b64_text(secret_base64, option, "base64 of the RSA private key PEM")
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AtticInputError(
            f"{option} is not an unencrypted PEM private key ({_first_line(exc)}). "
            "Create one with: openssl genrsa -traditional 4096"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AtticInputError(
            f"{option} holds a {type(key).__name__}, not an RSA key; RS256 needs RSA."
        )
    return key


def rs256_public_key(pem=None, pubkey_base64=None, option="rs256_public_key"):
    """An RSA public key from PEM text, or from base64 of the PEM."""
    if pubkey_base64 is not None:
        option = "rs256_pubkey_base64"
        pem = _b64_text(pubkey_base64, option, "base64 of the RSA public key PEM")
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AtticInputError(
            f"{option} is not a PEM public key ({_first_line(exc)})."
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise AtticInputError(
            f"{option} holds a {type(key).__name__}, not an RSA key; RS256 needs RSA."
        )
    return key


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def signing_key(params):
    """(algorithm, key, warnings) from the one signing option set in PARAMS."""
    notes = []
    if params.get("hs256_secret_base64") is not None:
        key = hs256_key(params["hs256_secret_base64"])
        if len(key) < 32:
            notes.append(
                f"hs256_secret_base64 holds only {len(key)} bytes; RFC 7518 asks for at "
                "least 32 bytes for HS256."
            )
        return "HS256", key, notes
    if params.get("rs256_secret_base64") is not None:
        return (
            "RS256",
            rs256_private_key(secret_base64=params["rs256_secret_base64"]),
            notes,
        )
    if params.get("rs256_private_key") is not None:
        return "RS256", rs256_private_key(pem=params["rs256_private_key"]), notes
    if params.get("rs256_pubkey_base64") is not None:
        return (
            "RS256",
            rs256_public_key(pubkey_base64=params["rs256_pubkey_base64"]),
            notes,
        )
    if params.get("rs256_public_key") is not None:
        return "RS256", rs256_public_key(pem=params["rs256_public_key"]), notes
    raise AtticInputError("no signing key given")


def verification_key(algorithm, key):
    """The key that verifies what KEY signs (the public half for RSA)."""
    if algorithm == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    return key


def encode_token(claims, algorithm, key):
    with warnings.catch_warnings():
        # Short HMAC keys are reported once, as a module warning, by signing_key().
        warnings.simplefilter("ignore")
        token = jwt.encode(claims, key, algorithm=algorithm)
    return token.decode("ascii") if isinstance(token, bytes) else token


def unverified_claims(token, option="token"):
    """The payload of a JWT without checking anything (no library needed)."""
    parts = str(token).strip().split(".")
    if len(parts) != 3:
        raise AtticInputError(
            f"{option} is not a JWT (expected three dot-separated parts, got "
            f"{len(parts)})."
        )
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise AtticInputError(
            f"{option}: the JWT payload is not base64url JSON."
        ) from None
    if not isinstance(claims, dict):
        raise AtticInputError(f"{option}: the JWT payload is not a JSON object.")
    return claims


def verify_token(token, algorithm, key, issuer=None, audiences=None, leeway=0):
    """(claims, None) for a token atticd would accept, or (None, reason).

    Mirrors Token::from_jwt (token/src/lib.rs): the server's one algorithm, exp and
    nbf checked, iss only when the server binds one, aud only when it binds some
    (then the token must carry one of them), and the Attic claim must parse.
    """
    options = {"verify_aud": bool(audiences), "verify_iss": bool(issuer)}
    kwargs = {"algorithms": [algorithm], "options": options, "leeway": leeway}
    if audiences:
        kwargs["audience"] = list(audiences)
    if issuer:
        kwargs["issuer"] = issuer
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jwt.decode(
                str(token).strip(), verification_key(algorithm, key), **kwargs
            )
    except jwt.ExpiredSignatureError:
        return None, "the token has expired (exp is in the past)"
    except jwt.ImmatureSignatureError:
        return None, "the token is not valid yet (nbf is in the future)"
    except jwt.InvalidSignatureError:
        return None, "the signature does not match this key"
    except jwt.InvalidAlgorithmError:
        return None, f"the token is not signed with {algorithm}"
    except jwt.InvalidAudienceError:
        return None, "the token's aud does not name one of the bound audiences"
    except jwt.InvalidIssuerError:
        return None, "the token's iss is not the bound issuer"
    except jwt.MissingRequiredClaimError as exc:
        return None, f"the token lacks the {exc.claim} claim"
    except jwt.InvalidTokenError as exc:
        return None, f"the token is invalid: {exc}"
    problems = attic_claim_problems(claims)
    if problems:
        return None, "atticd would ignore this token: " + "; ".join(problems)
    return claims, None


def attic_claim_problems(claims):
    """Why atticd would fail to parse the Attic claim (it then treats the bearer as
    anonymous); empty when it parses (token/src/lib.rs TokenClaims, BoolFromInt)."""
    access = claims.get(CLAIM_NAMESPACE)
    if not isinstance(access, dict) or not isinstance(access.get("caches"), dict):
        return [f"the {CLAIM_NAMESPACE!r} claim with a 'caches' mapping is missing"]
    problems = []
    for pattern, granted in access["caches"].items():
        if not CACHE_PATTERN_RE.match(pattern):
            problems.append(f"{pattern!r} is not a cache name pattern")
        if not isinstance(granted, dict):
            problems.append(f"the permissions of {pattern!r} are not a mapping")
            continue
        for letter in LETTERS:
            value = granted.get(letter, 0)
            if isinstance(value, bool) or value not in (0, 1):
                problems.append(f"{pattern!r}: {letter} must be 0 or 1, not {value!r}")
    return problems


def permission_table(claims):
    """One row per pattern: each permission as a bool, its letters, unknown keys."""
    access = claims.get(CLAIM_NAMESPACE) or {}
    caches = access.get("caches") if isinstance(access, dict) else None
    rows = []
    for pattern, granted in sorted((caches or {}).items()):
        granted = granted if isinstance(granted, dict) else {}
        row = {"pattern": pattern, "wildcard": "*" in pattern}
        for name, letter in PERMISSIONS:
            row[name] = granted.get(letter) == 1
        row["letters"] = [letter for letter in LETTERS if granted.get(letter) == 1]
        row["unknown_keys"] = sorted(k for k in granted if k not in NAME_OF)
        rows.append(row)
    return rows


def effective_permission(claims, cache):
    """What atticd grants CACHE from these claims (token/src/lib.rs).

    An exact pattern wins; otherwise atticd takes the first matching wildcard in
    HashMap order, which is arbitrary: permissions of several matching patterns
    are never merged. Returns {cache, pattern, letters, ambiguous, matching}.
    """
    access = claims.get(CLAIM_NAMESPACE) or {}
    caches = (access.get("caches") if isinstance(access, dict) else None) or {}
    result = {"cache": cache, "pattern": None, "letters": [], "ambiguous": False}
    matching = sorted(p for p in caches if "*" in p and pattern_matches(p, cache))
    result["matching"] = ([cache] if cache in caches else []) + matching
    if cache in caches:
        chosen = cache
    elif matching:
        chosen = matching[0]
        letter_sets = {
            tuple(sorted(k for k, v in (caches[p] or {}).items() if v == 1))
            for p in matching
        }
        result["ambiguous"] = len(letter_sets) > 1
    else:
        for name in PERMISSION_NAMES:
            result[name] = False
        return result
    granted = caches[chosen] if isinstance(caches[chosen], dict) else {}
    result["pattern"] = chosen
    result["letters"] = [letter for letter in LETTERS if granted.get(letter) == 1]
    for name, letter in PERMISSIONS:
        result[name] = granted.get(letter) == 1
    return result


def timestamp(seconds):
    """ISO 8601 UTC for a Unix time, or None."""
    if seconds is None:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(float(seconds), datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Pushing store paths -------------------------------------------------------------
#
# The protocol `attic push` speaks (client/src/push.rs, client/src/api/mod.rs):
# ask get-missing-paths which store path hashes the cache lacks, then PUT each
# missing path's NAR -- uncompressed, exactly what `nix-store --dump` writes -- to
# upload-path with its NAR info as JSON, in a header or, from 4 KiB up, as a body
# preamble. Both endpoints need push (w) (server/src/api/v1/get_missing_paths.rs,
# server/src/api/v1/upload_path.rs). The server hashes the body and answers
# "Bad NAR Hash or Size" when it differs from nar_hash/nar_size.

MISSING_PATHS_PATH = "_api/v1/get-missing-paths"
UPLOAD_PATH_PATH = "_api/v1/upload-path"
NAR_INFO_HEADER = "X-Attic-Nar-Info"
NAR_INFO_PREAMBLE_HEADER = "X-Attic-Nar-Info-Preamble-Size"
NAR_INFO_PREAMBLE_THRESHOLD = 4 * 1024
# UploadPathResultKind (attic/src/api/v1/upload_path.rs); an unknown kind reads as
# Uploaded there (DefaultOnError), and so it does here.
UPLOADED = "Uploaded"
DEDUPLICATED = "Deduplicated"
NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"
STORE_PATH_HASH_RE = re.compile(r"^[0-9a-df-np-sv-z]{32}\Z")
_SHA256_BYTES = 32
_COPY_BLOCK = 1024 * 1024


def nix_base32_decode(text, size):
    """The bytes behind Nix's own base32 (least significant digit last)."""
    out = bytearray(size)
    for position, char in enumerate(reversed(text)):
        digit = NIX_BASE32.find(char)
        if digit < 0:
            raise ValueError(f"{char!r} is not a Nix base32 digit")
        bit = position * 5
        index, shift = bit // 8, bit % 8
        out[index] |= (digit << shift) & 0xFF
        carry = digit >> (8 - shift)
        if index + 1 < size:
            out[index + 1] |= carry
        elif carry:
            raise ValueError("the base32 text is longer than the hash")
    return bytes(out)


def nar_hash_hex(value):
    """'sha256:<64 hex>' from any form Nix prints a NAR hash in.

    `nix path-info --json` (Nix 2.8) writes SRI 'sha256-<base64>', older tools
    'sha256:<52 base32>'. Attic accepts hex or base32 but not SRI
    (attic/src/hash/mod.rs Hash::from_typed), and its client sends hex.
    """
    text = str(value)
    if text.startswith("sha256-"):
        try:
            raw = base64.b64decode(text[len("sha256-") :], validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    elif text.startswith("sha256:"):
        digits = text[len("sha256:") :]
        if len(digits) == 2 * _SHA256_BYTES:
            try:
                raw = bytes.fromhex(digits)
            except ValueError:
                raw = b""
        else:
            try:
                raw = nix_base32_decode(digits, _SHA256_BYTES)
            except ValueError:
                raw = b""
            if len(digits) != 52:
                raw = b""
    else:
        raw = b""
    if len(raw) != _SHA256_BYTES:
        raise ValueError(f"{text!r} is not a SHA-256 NAR hash Nix would print")
    return "sha256:" + raw.hex()


def store_path_hash(path):
    """The 32-character hash part of a store path (attic/src/nix_store)."""
    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    digest = name[:32]
    if len(name) < 34 or name[32] != "-" or not STORE_PATH_HASH_RE.match(digest):
        raise ValueError(f"{path!r} is not a Nix store path")
    return digest


def upload_info(cache, path_info):
    """UploadPathNarInfo for one `nix path-info --json` entry.

    system and deriver stay null, as `attic push` leaves them (client/src/push.rs).
    """
    path = path_info["path"]
    return {
        "cache": cache,
        "store_path_hash": store_path_hash(path),
        "store_path": path,
        "references": list(path_info.get("references") or []),
        "system": None,
        "deriver": None,
        "sigs": list(path_info.get("signatures") or []),
        "ca": path_info.get("ca"),
        "nar_hash": nar_hash_hex(path_info["narHash"]),
        "nar_size": int(path_info["narSize"]),
    }


class NarBody:
    """A PUT body: an optional preamble, then the NAR file, re-read on every try.

    http.client sends an iterable body by iterating it, so a retry after a 503
    starts again from the first byte instead of sending an exhausted file.
    """

    def __init__(self, nar_file, preamble=b""):
        self.nar_file = nar_file
        self.preamble = preamble

    def __iter__(self):
        if self.preamble:
            yield self.preamble
        with open(self.nar_file, "rb") as handle:
            while True:
                block = handle.read(_COPY_BLOCK)
                if not block:
                    return
                yield block


class AtticPush:
    """get-missing-paths and upload-path on top of an ApiClient (errors stay ApiError)."""

    def __init__(self, client):
        self.client = client

    def missing(self, cache, hashes):
        """The subset of HASHES the cache does not hold."""
        if not hashes:
            return set()
        # A read despite the POST: asking again is harmless.
        response = self.client.post(
            MISSING_PATHS_PATH,
            json={"cache": cache, "store_path_hashes": list(hashes)},
            idempotent=True,
        )
        body = response.body if isinstance(response.body, dict) else {}
        return set(body.get("missing_paths") or [])

    def upload(self, info, nar_file):
        """PUTs one NAR; returns {kind, file_size, frac_deduplicated} from the answer."""
        text = json.dumps(info, separators=(",", ":"))
        headers = {"Content-Type": "application/octet-stream"}
        size = int(info["nar_size"])
        if len(text.encode("utf-8")) >= NAR_INFO_PREAMBLE_THRESHOLD:
            preamble = text.encode("utf-8")
            headers[NAR_INFO_PREAMBLE_HEADER] = str(len(preamble))
            body = NarBody(nar_file, preamble)
            size += len(preamble)
        else:
            headers[NAR_INFO_HEADER] = text
            body = NarBody(nar_file)
        headers["Content-Length"] = str(size)
        # Uploading the same NAR again maps the same object again: safe to retry.
        response = self.client.put(
            UPLOAD_PATH_PATH, data=body, headers=headers, idempotent=True
        )
        answer = response.body if isinstance(response.body, dict) else {}
        kind = answer.get("kind")
        return {
            "kind": kind if kind in (UPLOADED, DEDUPLICATED) else UPLOADED,
            "file_size": answer.get("file_size"),
            "frac_deduplicated": answer.get("frac_deduplicated"),
        }


def push_failure_message(error, action, cache):
    """What went wrong pushing to CACHE (ACTION: 'read', 'query' or 'upload')."""
    doing = {
        "read": f"read the upstream_cache_key_names of Attic cache {cache!r}",
        "query": f"ask Attic cache {cache!r} which paths it is missing",
        "upload": f"upload to Attic cache {cache!r}",
    }[action]
    needs = "pull (r)" if action == "read" else "push (w)"
    text = f"Could not {doing}"
    if error.status == 401:
        text += (
            " - Attic answers 401 when the token is missing, invalid or expired, or "
            f"grants no permission at all on {cache!r} (it then hides whether the "
            f"cache exists); this needs {needs}"
        )
    elif error.status == 403:
        text += f" - the token can see the cache but lacks the {needs} permission"
        if action == "read":
            text += " (or set ignore_upstream_cache_filter: true)"
    return text
