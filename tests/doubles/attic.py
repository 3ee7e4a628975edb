"""A double of the Attic binary cache server (zhaofengli/attic), over real HTTP.

The Attic server cannot be installed from the package registries here, so this
double plays it for the modules' tests. It follows the upstream server for every
endpoint the collection uses; each route cites the file its behaviour comes from,
and the rules below name theirs:

- Errors are ``{"code", "error", "message"}`` with the status and text of
  ``ErrorKind`` (server/src/error.rs). A client without any permission on the cache
  gets 401 ``Unauthorized`` instead of 404/403, so it cannot learn that the cache
  exists (``into_no_discovery_permissions``).
- Auth (server/src/access/http.rs, token/src/util.rs): ``Authorization: Bearer
  <jwt>`` or Basic with the JWT as the password. A token that does not verify is
  ignored -- the request goes on as anonymous -- never rejected by itself.
- Tokens (token/src/lib.rs): one algorithm (HS256 from a base64 secret that must
  decode to UTF-8 text, or RS256); ``exp``/``nbf`` checked; ``iss``/``aud`` only
  when the server binds them; the ``https://jwt.attic.rs/v1`` claim maps cache name
  patterns to permission letters set to 1. An exact pattern wins, otherwise the
  first matching wildcard. Public caches grant pull to everyone.
- Cache names and patterns (attic/src/cache.rs): the same regular expressions.

Written independently of plugins/module_utils/_attic.py on purpose: the modules are
tested against this, not against themselves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.wrappers import Response

from ansible_collections.glorious.flywheel.tests.doubles.harness import Double, route

UPSTREAM = "https://github.com/zhaofengli/attic/blob/main/"
CACHE_CONFIG_API = UPSTREAM + "server/src/api/v1/cache_config.rs"
CACHE_CONFIG_TYPES = UPSTREAM + "attic/src/api/v1/cache_config.rs"
ROUTES = UPSTREAM + "server/src/api/v1/mod.rs"
MISSING_PATHS = UPSTREAM + "server/src/api/v1/get_missing_paths.rs"
UPLOAD_PATH = UPSTREAM + "server/src/api/v1/upload_path.rs"
BINARY_CACHE = UPSTREAM + "server/src/api/binary_cache.rs"
UPLOAD_TYPES = UPSTREAM + "attic/src/api/v1/upload_path.rs"

# attic/src/api/v1/upload_path.rs: the NAR info travels in a header, or as a JSON
# preamble of the PUT body whose size a header gives (server/src/api/v1/upload_path.rs
# refuses a preamble above max-nar-info-size, 1 MiB by default).
NAR_INFO = "X-Attic-Nar-Info"
NAR_INFO_PREAMBLE_SIZE = "X-Attic-Nar-Info-Preamble-Size"
MAX_NAR_INFO_SIZE = 1024 * 1024
BAD_NAR = "Bad NAR Hash or Size"
NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"
# The Option<String> fields (system, deriver, ca) may be left out.
REQUIRED_NAR_INFO = (
    "cache",
    "store_path_hash",
    "store_path",
    "references",
    "sigs",
    "nar_hash",
    "nar_size",
)

CLAIM = "https://jwt.attic.rs/v1"
LETTERS = ("r", "w", "d", "cc", "cr", "cq", "cd")
# attic/src/cache.rs
CACHE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_+]{0,49}\Z")
CACHE_PATTERN = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9\-_+*]{0,49}\Z")
# attic/src/nix_store: a store path hash is 32 characters of Nix's base32.
STORE_PATH_HASH = re.compile(r"^[0123456789abcdfghijklmnpqrsvwxyz]{32}\Z")
AUTHORIZATION = re.compile(r"^(?i:(bearer)|(basic)) (.*)\Z", re.DOTALL)

# server/src/error.rs: ErrorKind -> (status, Display text).
ERRORS = {
    "NotFound": (404, "The URL you requested was not found."),
    "Unauthorized": (401, "Unauthorized."),
    "NoSuchCache": (404, "The requested cache does not exist."),
    "CacheAlreadyExists": (400, "The cache already exists."),
    "AccessError": (
        403,
        "Access error: User does not have permission to complete this action.",
    ),
    "RequestError": (400, "General request error: {}"),
}


def attic_error(kind, detail=""):
    """The ErrorResponse body Attic sends for KIND (server/src/error.rs)."""
    status, message = ERRORS[kind]
    return status, {"code": status, "error": kind, "message": message.format(detail)}


def axum_rejection(status, text):
    """A rejection from axum's Path/Json extractors: plain text, not Attic's JSON."""
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


class Rejected(Exception):
    def __init__(self, response):
        super().__init__("rejected")
        self.response = response


def b64_text(value):
    """base64 -> bytes that must be UTF-8 text, as token/src/lib.rs decodes secrets."""
    raw = base64.b64decode(value, validate=True)
    raw.decode("utf-8")
    return raw


@dataclass
class Cache:
    """One row of the cache table (server/src/database/entity/cache.rs)."""

    name: str
    key_name: str
    seed: bytes
    public: bytes
    is_public: bool
    store_dir: str
    priority: int
    upstream_cache_key_names: list
    retention_period: int | None = None
    deleted: bool = False
    objects: dict = field(default_factory=dict)

    @property
    def public_key(self):
        return f"{self.key_name}:{base64.b64encode(self.public).decode()}"

    def set_keypair(self, key_name, seed, public):
        self.key_name, self.seed, self.public = key_name, seed, public


def generate_keypair():
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return seed, public


def nix_secret_key(key_name, seed=None):
    """A Nix signing secret key 'name:base64(seed + public)' (for tests)."""
    if seed is None:
        seed, public = generate_keypair()
    else:
        public = (
            Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    return f"{key_name}:{base64.b64encode(seed + public).decode()}", (
        f"{key_name}:{base64.b64encode(public).decode()}"
    )


def parse_keypair(text):
    """(name, seed, public) as NixKeypair::from_str checks it (attic/src/signing/mod.rs)."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError("The string lacks a colon separator.")
    name, payload = text.split(":", 1)
    if not name:
        raise ValueError(f'Invalid signing key name "{name}".')
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"Base64 decode error: {exc}") from None
    if len(raw) != 64:
        raise ValueError(
            f"Invalid base64 payload length: Expected 64 (keypair), got {len(raw)}"
        )
    seed, public = raw[:32], raw[32:]
    derived = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    if derived != public:
        raise ValueError("Signature error: Invalid public key")
    return name, seed, public


def wildcard(pattern, name):
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.match(f"^{regex}\\Z", name) is not None


class Attic(Double):
    """The Attic API server, in memory.

    Configured like atticd's ``[jwt]`` section: ``hs256_secret_base64`` (the
    default: a fresh text secret) or ``rs256_private_pem``; ``token_bound_issuer``
    and ``token_bound_audiences``; ``api_endpoint``/``substituter_endpoint``
    (synthesised from the Host header when unset, as upstream does);
    ``soft_delete_caches``. ``mint()`` makes tokens the way atticadm does, for tests.
    """

    def __init__(
        self,
        hs256_secret_base64=None,
        rs256_private_pem=None,
        token_bound_issuer=None,
        token_bound_audiences=None,
        api_endpoint=None,
        substituter_endpoint=None,
        soft_delete_caches=False,
        max_nar_info_size=MAX_NAR_INFO_SIZE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rs256_private_pem is not None:
            self.algorithm = "RS256"
            self.signing_key = serialization.load_pem_private_key(
                rs256_private_pem.encode()
                if isinstance(rs256_private_pem, str)
                else rs256_private_pem,
                password=None,
            )
            self.verifying_key = self.signing_key.public_key()
            self.hs256_secret_base64 = None
        else:
            if hs256_secret_base64 is None:
                hs256_secret_base64 = base64.b64encode(
                    secrets.token_hex(32).encode()
                ).decode()
            # atticd refuses to start when this fails (token/src/lib.rs).
            self.signing_key = self.verifying_key = b64_text(hs256_secret_base64)
            self.algorithm = "HS256"
            self.hs256_secret_base64 = hs256_secret_base64
        self.token_bound_issuer = token_bound_issuer
        self.token_bound_audiences = (
            set(token_bound_audiences) if token_bound_audiences else None
        )
        self.api_endpoint = api_endpoint
        self.substituter_endpoint = substituter_endpoint
        self.soft_delete_caches = soft_delete_caches
        self.caches: dict[str, Cache] = {}
        # The global NAR table (server/src/database/entity/nar.rs): one NAR per
        # hash, shared by every cache that holds a path with it.
        self.nars: dict[str, bytes] = {}
        self.max_nar_info_size = max_nar_info_size
        self._state = threading.Lock()

    # Test helpers -----------------------------------------------------------

    def mint(
        self,
        sub="tester",
        caches=None,
        validity=3600,
        now=None,
        issuer=None,
        audiences=None,
        key=None,
        algorithm=None,
    ):
        """A token as ``atticadm make-token`` signs it: {pattern: letters}."""
        now = int(time.time() if now is None else now)
        claims = {"exp": now + validity, "nbf": now, "sub": sub}
        if issuer or self.token_bound_issuer:
            claims["iss"] = issuer or self.token_bound_issuer
        if audiences or self.token_bound_audiences:
            claims["aud"] = sorted(audiences or self.token_bound_audiences)
        claims[CLAIM] = {
            "caches": {
                pattern: {letter: 1 for letter in letters}
                for pattern, letters in (caches or {}).items()
            }
        }
        return jwt.encode(
            claims, key or self.signing_key, algorithm=algorithm or self.algorithm
        )

    def admin_token(self, pattern="*"):
        return self.mint("admin", {pattern: LETTERS})

    def add_cache(self, name, key_name=None, **fields):
        """Puts a cache straight into the store (no request)."""
        seed, public = generate_keypair()
        values = {
            "is_public": False,
            "store_dir": "/nix/store",
            "priority": 41,
            "upstream_cache_key_names": ["cache.nixos.org-1"],
        }
        values.update(fields)
        cache = Cache(name, key_name or name, seed, public, **values)
        self.caches[name] = cache
        return cache

    def live(self, name):
        cache = self.caches.get(name)
        return cache if cache is not None and not cache.deleted else None

    def writes(self):
        """How many requests asked to change something."""
        return sum(self.count(method) for method in ("POST", "PATCH", "DELETE", "PUT"))

    # Auth ---------------------------------------------------------------------

    def token_caches(self, request):
        """The token's {pattern: {letter: 1}}, or None (no token, or one atticd ignores)."""
        header = request.headers.get("Authorization")
        if not header:
            return None
        match = AUTHORIZATION.match(header)
        if not match:
            return None
        if match.group(1):
            token = match.group(3)
        else:
            try:
                user_pass = base64.b64decode(match.group(3)).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if ":" not in user_pass:
                return None
            token = user_pass.split(":", 1)[1]
        options = {
            "verify_aud": bool(self.token_bound_audiences),
            "verify_iss": bool(self.token_bound_issuer),
        }
        kwargs = {}
        if self.token_bound_audiences:
            kwargs["audience"] = sorted(self.token_bound_audiences)
        if self.token_bound_issuer:
            kwargs["issuer"] = self.token_bound_issuer
        try:
            claims = jwt.decode(
                token,
                self.verifying_key,
                algorithms=[self.algorithm],
                options=options,
                **kwargs,
            )
        except jwt.InvalidTokenError:
            return None
        access = claims.get(CLAIM)
        if not isinstance(access, dict) or not isinstance(access.get("caches"), dict):
            return None
        for pattern, granted in access["caches"].items():
            if not CACHE_PATTERN.match(pattern) or not isinstance(granted, dict):
                return None
            for letter in LETTERS:
                value = granted.get(letter, 0)
                if isinstance(value, bool) or value not in (0, 1):
                    return None
        return access["caches"]

    @staticmethod
    def permission(caches, name):
        """The letters granted on cache NAME: exact pattern first, then a wildcard."""
        if not caches:
            return set()
        if name in caches:
            granted = caches[name]
        else:
            granted = next(
                (g for p, g in caches.items() if wildcard(p, name)),
                {},
            )
        return {letter for letter in LETTERS if granted.get(letter) == 1}

    def auth_cache(self, request, name, *needed):
        """The cache, after AuthState::auth_cache's checks (server/src/access/http.rs)."""
        granted = self.permission(self.token_caches(request), name)
        cache = self.live(name)
        if cache is None:
            kind = "NoSuchCache" if granted else "Unauthorized"
            raise Rejected(attic_error(kind))
        if cache.is_public:
            granted.add("r")
        for letter in needed:
            if letter not in granted:
                raise Rejected(
                    attic_error("AccessError" if granted else "Unauthorized")
                )
        return cache

    # Extractors ---------------------------------------------------------------

    @staticmethod
    def path_cache_name(name):
        if not CACHE_NAME.match(name):
            raise Rejected(
                axum_rejection(400, f'Invalid URL: Invalid cache name "{name}"')
            )
        return name

    @staticmethod
    def json_body(request):
        if not request.mimetype or "json" not in request.mimetype:
            raise Rejected(
                axum_rejection(
                    415, "Expected request with `Content-Type: application/json`"
                )
            )
        try:
            body = json.loads(request.get_data() or b"")
        except ValueError as exc:
            raise Rejected(
                axum_rejection(400, f"Failed to parse the request body as JSON: {exc}")
            ) from None
        if not isinstance(body, dict):
            raise Rejected(data_error("expected a JSON object"))
        return body

    def endpoint(self, request):
        return self.api_endpoint or f"http://{request.host}/"

    @staticmethod
    def handle(function):
        try:
            return function()
        except Rejected as rejected:
            return rejected.response

    # Cache config ------------------------------------------------------------

    def config(self, request, cache):
        """CacheConfig as get_cache_config fills it (no keypair, ever)."""
        base = self.substituter_endpoint or self.endpoint(request)
        return {
            "substituter_endpoint": f"{base}{cache.name}",
            "api_endpoint": self.endpoint(request),
            "public_key": cache.public_key,
            "is_public": cache.is_public,
            "store_dir": cache.store_dir,
            "priority": cache.priority,
            "upstream_cache_key_names": list(cache.upstream_cache_key_names),
            "retention_period": "Global"
            if cache.retention_period is None
            else {"Period": cache.retention_period},
        }

    @route("GET", "/_api/v1/cache-config/{cache}", source=CACHE_CONFIG_API, auth=False)
    def get_cache_config(self, request, cache):
        def run():
            name = self.path_cache_name(cache)
            return self.config(request, self.auth_cache(request, name, "r"))

        return self.handle(run)

    @route("GET", "/{cache}/attic-cache-info", source=ROUTES, auth=False)
    def get_attic_cache_info(self, request, cache):
        return self.get_cache_config(request, cache)

    @route("POST", "/_api/v1/cache-config/{cache}", source=CACHE_CONFIG_API, auth=False)
    def create_cache(self, request, cache):
        def run():
            name = self.path_cache_name(cache)
            body = self.json_body(request)
            fields = parse_create_request(body)
            # create_cache asks for the token's permission without the public grant.
            granted = self.permission(self.token_caches(request), name)
            if "cc" not in granted:
                raise Rejected(
                    attic_error("AccessError" if granted else "Unauthorized")
                )
            keypair = fields.pop("keypair")
            if keypair == "Generate":
                key_name, (seed, public) = name, generate_keypair()
            else:
                key_name, seed, public = keypair
            with self._state:
                # INSERT ... ON CONFLICT (name) DO NOTHING: a soft-deleted cache
                # still holds its name.
                if name in self.caches:
                    raise Rejected(attic_error("CacheAlreadyExists"))
                self.caches[name] = Cache(name, key_name, seed, public, **fields)
            return Response(status=200)

        return self.handle(run)

    @route(
        "PATCH", "/_api/v1/cache-config/{cache}", source=CACHE_CONFIG_API, auth=False
    )
    def configure_cache(self, request, cache):
        def run():
            name = self.path_cache_name(cache)
            body = self.json_body(request)
            patch = parse_cache_config(body)
            found = self.auth_cache(request, name, "cr")
            if "retention_period" in patch:
                self.auth_cache(request, name, "cr", "cq")
            if not patch:
                raise Rejected(
                    attic_error("RequestError", "No modifiable fields were set.")
                )
            retention = patch.get("retention_period")
            if isinstance(retention, int) and retention > 2**31 - 1:
                raise Rejected(attic_error("RequestError", "Invalid retention period"))
            with self._state:
                for key, value in patch.items():
                    if key == "keypair":
                        if value == "Generate":
                            found.set_keypair(name, *generate_keypair())
                        else:
                            found.set_keypair(*value)
                    else:
                        setattr(found, key, value)
            return Response(status=200)

        return self.handle(run)

    @route(
        "DELETE", "/_api/v1/cache-config/{cache}", source=CACHE_CONFIG_API, auth=False
    )
    def destroy_cache(self, request, cache):
        def run():
            name = self.path_cache_name(cache)
            found = self.auth_cache(request, name, "cd")
            with self._state:
                if self.soft_delete_caches:
                    found.deleted = True
                else:
                    del self.caches[name]
            return Response(status=200)

        return self.handle(run)

    # Pushing and pulling ---------------------------------------------------------

    @route("POST", "/_api/v1/get-missing-paths", source=MISSING_PATHS, auth=False)
    def get_missing_paths(self, request):
        def run():
            body = self.json_body(request)
            name, hashes = body.get("cache"), body.get("store_path_hashes")
            if not isinstance(name, str) or not CACHE_NAME.match(name):
                raise Rejected(data_error(f"cache: invalid cache name {name!r}"))
            if not isinstance(hashes, list) or not all(
                isinstance(h, str) and STORE_PATH_HASH.match(h) for h in hashes
            ):
                raise Rejected(data_error("store_path_hashes: invalid store path hash"))
            cache = self.auth_cache(request, name, "w")
            return {"missing_paths": sorted(set(hashes) - set(cache.objects))}

        return self.handle(run)

    @route("PUT", "/_api/v1/upload-path", source=UPLOAD_PATH, auth=False)
    def upload_path(self, request):
        def run():
            data = request.get_data()
            info_text, nar = self.upload_info_text(request, data)
            try:
                info = parse_upload_info(json.loads(info_text))
            except ValueError as exc:
                # ServerError::request_error wraps serde's message.
                raise Rejected(attic_error("RequestError", str(exc))) from None
            cache = self.auth_cache(request, info["cache"], "w")
            digest = "sha256:" + hashlib.sha256(nar).hexdigest()
            with self._state:
                existing = self.nars.get(info["nar_hash"])
                if existing is not None:
                    # upload_path_dedup with require-proof-of-possession (the
                    # default): the body is still hashed and must match the NAR
                    # already held.
                    if (
                        digest != info["nar_hash"]
                        or len(nar) != info["nar_size"]
                        or len(nar) != len(existing)
                    ):
                        raise Rejected(attic_error("RequestError", BAD_NAR))
                    cache.objects[info["store_path_hash"]] = info
                    return {"kind": "Deduplicated", "frac_deduplicated": None}
                if digest != info["nar_hash"] or len(nar) != info["nar_size"]:
                    raise Rejected(attic_error("RequestError", BAD_NAR))
                self.nars[digest] = nar
                cache.objects[info["store_path_hash"]] = info
            # No compression here, so the stored file is the NAR itself.
            return {"kind": "Uploaded", "file_size": len(nar), "frac_deduplicated": 0.0}

        return self.handle(run)

    def upload_info_text(self, request, data):
        """(NAR info JSON, NAR bytes): the preamble wins over the header, as upstream."""
        preamble = request.headers.get(NAR_INFO_PREAMBLE_SIZE)
        if preamble is not None:
            if not preamble.isdigit():
                raise Rejected(
                    attic_error(
                        "RequestError",
                        f"{NAR_INFO_PREAMBLE_SIZE} must be a valid unsigned integer",
                    )
                )
            size = int(preamble)
            if size > self.max_nar_info_size:
                raise Rejected(attic_error("RequestError", "Upload info is too large"))
            if len(data) < size:
                raise Rejected(
                    attic_error(
                        "RequestError", "Upload info doesn't match specified size"
                    )
                )
            return data[:size], data[size:]
        header = request.headers.get(NAR_INFO)
        if header is None:
            raise Rejected(attic_error("RequestError", f"{NAR_INFO} must be set"))
        return header, data

    def narinfo_of(self, cache, store_path_hash):
        """The object a cache holds for a store path hash, or None (for tests)."""
        found = self.live(cache)
        return None if found is None else found.objects.get(store_path_hash)

    @route("GET", "/{cache}/nix-cache-info", source=BINARY_CACHE, auth=False)
    def nix_cache_info(self, request, cache):
        def run():
            name = self.path_cache_name(cache)
            found = self.auth_cache(request, name, "r")
            text = (
                f"WantMassQuery: 1\nStoreDir: {found.store_dir}\n"
                f"Priority: {found.priority}\n"
            )
            return Response(text, status=200, content_type="text/x-nix-cache-info")

        return self.handle(run)


def data_error(detail):
    """axum's Json rejection for a body of the wrong shape (422, plain text)."""
    return axum_rejection(
        422, f"Failed to deserialize the JSON body into the target type: {detail}"
    )


def nix_base32_decode(text, size):
    """Bytes of Nix's base32 (attic/src/hash/mod.rs takes it through nix_base32)."""
    out = bytearray(size)
    for n, char in enumerate(reversed(text)):
        digit = NIX_BASE32.find(char)
        if digit < 0:
            raise ValueError("Invalid base32 hash.")
        bit = n * 5
        index, shift = bit // 8, bit % 8
        out[index] |= (digit << shift) & 0xFF
        carry = digit >> (8 - shift)
        if index + 1 < size:
            out[index + 1] |= carry
        elif carry:
            raise ValueError("Invalid base32 hash.")
    return bytes(out)


def typed_hash(value):
    """Hash::from_typed (attic/src/hash/mod.rs): 'sha256:' + 64 hex or 52 base32
    characters, kept as the typed base16 form the nar table stores."""
    if not isinstance(value, str) or ":" not in value:
        raise ValueError("nar_hash: The string lacks a colon separator.")
    kind, text = value.split(":", 1)
    if kind != "sha256":
        raise ValueError(f"nar_hash: Hash algorithm {kind} is not supported.")
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"nar_hash: Invalid base16 hash: {text}") from None
    elif len(text) == 52:
        raw = nix_base32_decode(text, 32)
    else:
        raise ValueError(
            "nar_hash: Invalid length for SHA-256 string: Must be either 64 "
            f"(hexadecimal) or 52 (base32), got {len(text)}."
        )
    return "sha256:" + raw.hex()


def parse_upload_info(body):
    """UploadPathNarInfo as serde reads it (attic/src/api/v1/upload_path.rs)."""
    if not isinstance(body, dict):
        raise ValueError("invalid type: expected struct UploadPathNarInfo")
    for key in REQUIRED_NAR_INFO:
        if key not in body:
            raise ValueError(f"missing field `{key}`")
    if not isinstance(body["cache"], str) or not CACHE_NAME.match(body["cache"]):
        raise ValueError(f"cache: invalid cache name {body['cache']!r}")
    if not isinstance(body["store_path_hash"], str) or not STORE_PATH_HASH.match(
        body["store_path_hash"]
    ):
        raise ValueError("store_path_hash: invalid store path hash")
    for key in ("references", "sigs"):
        if not isinstance(body[key], list) or not all(
            isinstance(x, str) for x in body[key]
        ):
            raise ValueError(f"{key}: invalid type, expected a sequence of strings")
    if not isinstance(body["store_path"], str):
        raise ValueError("store_path: invalid type, expected a string")
    for key in ("system", "deriver", "ca"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ValueError(f"{key}: invalid type, expected a string")
    size = body["nar_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("nar_size: invalid type, expected usize")
    info = dict(body)
    info["nar_hash"] = typed_hash(body["nar_hash"])
    return info


def _keypair_config(value):
    """KeypairConfig: "Generate" or {"Keypair": NixKeypair} (attic/src/api/v1/cache_config.rs)."""
    if value == "Generate":
        return "Generate"
    if isinstance(value, dict) and list(value) == ["Keypair"]:
        try:
            return parse_keypair(value["Keypair"])
        except ValueError as exc:
            raise Rejected(data_error(f"keypair: {exc}")) from None
    raise Rejected(data_error("keypair: unknown variant"))


def _retention_config(value):
    if value == "Global":
        return None
    if isinstance(value, dict) and list(value) == ["Period"]:
        period = value["Period"]
        if (
            isinstance(period, int)
            and not isinstance(period, bool)
            and 0 <= period <= 2**32 - 1
        ):
            return period
    raise Rejected(data_error(f"retention_period: invalid value {value!r}"))


def _typed(body, key, check, what):
    value = body[key]
    if not check(value):
        raise Rejected(data_error(f"{key}: invalid type, expected {what}"))
    return value


_FIELD_TYPES = {
    "is_public": (lambda v: isinstance(v, bool), "a boolean"),
    "store_dir": (lambda v: isinstance(v, str), "a string"),
    "priority": (
        lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31
        ),
        "i32",
    ),
    "upstream_cache_key_names": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a sequence of strings",
    ),
}


def parse_create_request(body):
    """CreateCacheRequest: every field required (attic/src/api/v1/cache_config.rs)."""
    for key in ("keypair", *_FIELD_TYPES):
        if key not in body:
            raise Rejected(data_error(f"missing field `{key}`"))
    fields = {"keypair": _keypair_config(body["keypair"])}
    for key, (check, what) in _FIELD_TYPES.items():
        fields[key] = _typed(body, key, check, what)
    return fields


def parse_cache_config(body):
    """The settable fields of a CacheConfig PATCH; read-only ones are ignored."""
    patch = {}
    if body.get("keypair") is not None:
        patch["keypair"] = _keypair_config(body["keypair"])
    for key, (check, what) in _FIELD_TYPES.items():
        if body.get(key) is not None:
            patch[key] = _typed(body, key, check, what)
    if body.get("retention_period") is not None:
        patch["retention_period"] = _retention_config(body["retention_period"])
    return patch


def rsa_private_pem():
    """A fresh RSA key as PKCS#1 PEM text (`openssl genrsa -traditional`)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
