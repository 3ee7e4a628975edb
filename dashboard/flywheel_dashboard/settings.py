"""Settings from the environment (FLYWHEEL_DASHBOARD_*), checked once at start-up."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_DB = "/var/lib/flywheel-dashboard/dashboard.db"
# itsdangerous accepts any key; a short one is guessable, so refuse it.
MIN_SESSION_KEY = 32


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable and the fix."""


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def db_url(value):
    """A SQLAlchemy URL as given, or a sqlite path turned into one."""
    if "://" in value:
        return value
    return f"sqlite:///{os.path.abspath(value)}"


@dataclass(frozen=True)
class Settings:
    session_key: str = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    rp_id: str = "localhost"
    rp_name: str = "GloriousFlywheel"
    origin: str = "http://localhost:8080"
    db: str = db_url(DEFAULT_DB)
    trusted_proxy_headers: bool = False
    namespace: str = "flywheel-system"
    # Namespaces searched for labelled pools; empty = what flywheel_health searches
    # (the platform namespaces plus labelled tenant namespaces).
    pool_namespaces: tuple = ()
    attic_url: str | None = None
    attic_cache: str = "main"
    bazel_url: str | None = None
    # Forge checks (the forge_runner_checks filter's output, tokens included): enrolled
    # runners are looked up at their forges. Given inline (FORGE_RUNNERS, JSON, from the
    # role's Secret) or as a JSON file (FORGE_RUNNERS_FILE, for a local run).
    forge_runners: tuple = field(default=(), repr=False)
    forge_runners_file: str | None = None
    kubeconfig: str | None = None
    listen: str = "0.0.0.0:8080"
    refresh_s: float = 10.0
    timeout_s: float = 5.0
    # ConfigMap (in `namespace`) whose `job.yaml` is the Job a recover request creates.
    recover_template: str = "flywheel-dashboard-recover"

    @property
    def secure_cookies(self):
        return urlsplit(self.origin).scheme == "https"

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env

        def get(name, default=None):
            value = env.get(f"FLYWHEEL_DASHBOARD_{name}")
            return default if value in (None, "") else value

        key = get("SESSION_KEY")
        if not key or len(key) < MIN_SESSION_KEY:
            raise SettingsError(
                f"FLYWHEEL_DASHBOARD_SESSION_KEY must be set to a random string of at least "
                f"{MIN_SESSION_KEY} characters (e.g. `openssl rand -hex 32`)"
            )
        origin = get("ORIGIN", "http://localhost:8080").rstrip("/")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                f"FLYWHEEL_DASHBOARD_ORIGIN must be an http(s) origin such as "
                f"https://dashboard.example.org, not {origin!r}"
            )
        try:
            refresh = float(get("REFRESH_S", 10))
            timeout = float(get("TIMEOUT_S", 5))
        except ValueError as error:
            raise SettingsError(
                f"FLYWHEEL_DASHBOARD_REFRESH_S / _TIMEOUT_S must be numbers: {error}"
            ) from None
        try:
            forge_runners = tuple(json.loads(get("FORGE_RUNNERS", "[]")))
        except (TypeError, ValueError) as error:
            raise SettingsError(
                f"FLYWHEEL_DASHBOARD_FORGE_RUNNERS must be a JSON list of forge checks: {error}"
            ) from None
        pool_namespaces = tuple(
            ns.strip() for ns in get("POOL_NAMESPACES", "").split(",") if ns.strip()
        )
        return cls(
            session_key=key,
            admin_token=get("ADMIN_TOKEN"),
            rp_id=get("RP_ID", parts.hostname),
            rp_name=get("RP_NAME", "GloriousFlywheel"),
            origin=origin,
            db=db_url(get("DB", DEFAULT_DB)),
            trusted_proxy_headers=_flag(get("TRUSTED_PROXY_HEADERS", "false")),
            namespace=get("NAMESPACE", "flywheel-system"),
            pool_namespaces=pool_namespaces,
            attic_url=get("ATTIC_URL"),
            attic_cache=get("ATTIC_CACHE", "main"),
            bazel_url=get("BAZEL_URL"),
            forge_runners=forge_runners,
            forge_runners_file=get("FORGE_RUNNERS_FILE"),
            kubeconfig=env.get("KUBECONFIG") or None,
            listen=get("LISTEN", "0.0.0.0:8080"),
            refresh_s=refresh,
            timeout_s=timeout,
            recover_template=get("RECOVER_TEMPLATE", "flywheel-dashboard-recover"),
        )
