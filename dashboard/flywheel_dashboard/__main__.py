"""``python -m flywheel_dashboard``: serve on FLYWHEEL_DASHBOARD_LISTEN (host:port)."""

from __future__ import annotations

import sys

import uvicorn

from .app import create_app
from .settings import Settings, SettingsError


def main():
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"flywheel-dashboard: {error}", file=sys.stderr)
        return 2
    host, _sep, port = settings.listen.rpartition(":")
    if not host or not port.isdigit():
        print(
            f"flywheel-dashboard: FLYWHEEL_DASHBOARD_LISTEN must be host:port, "
            f"not {settings.listen!r}",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        create_app(settings),
        host=host.strip("[]"),
        port=int(port),
        # X-Forwarded-For/-Proto are believed only when the operator says a proxy
        # (Tailscale serve, an mTLS terminator) is in front.
        proxy_headers=settings.trusted_proxy_headers,
        forwarded_allow_ips="*" if settings.trusted_proxy_headers else None,
        server_header=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
