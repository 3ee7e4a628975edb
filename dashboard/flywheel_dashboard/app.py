"""The ASGI application: pages, the JSON API behind them, server-sent events, actions."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from kubernetes.client.rest import ApiException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import __version__, auth, history
from .kube import UNREACHABLE_ERRORS, ActionRefused, BackendError, Cluster, describe
from .store import Store

HERE = Path(__file__).parent
SESSION_COOKIE = "flywheel_session"
SESSION_MAX_AGE = 12 * 3600
# Many browser tabs and the SSE stream share one cluster read this young.
OVERVIEW_TTL = 2.0


class Overview:
    """The latest overview, re-read when older than TTL or after an action."""

    def __init__(self, cluster, ttl):
        self.cluster = cluster
        self.ttl = ttl
        self.lock = threading.Lock()
        self.value, self.at = None, 0.0

    def get(self):
        with self.lock:
            if self.value is None or time.monotonic() - self.at > self.ttl:
                self.value, self.at = self.cluster.overview(), time.monotonic()
            return self.value

    def invalidate(self):
        with self.lock:
            self.value = None


def create_app(settings, cluster=None, store=None):
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["timestamp"] = lambda t: time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(t)
    )
    cluster = cluster or Cluster(settings)
    # Each SSE tick still gets a fresh reading.
    overview_cache = Overview(cluster, min(OVERVIEW_TTL, settings.refresh_s / 2))

    def render(request, template, **context):
        context.update(
            user=getattr(request.state, "user", None),
            csrf=auth.csrf_token(request),
            version=__version__,
        )
        return templates.TemplateResponse(request, template, context)

    # Pages --------------------------------------------------------------------

    @auth.guard()
    async def login_page(request):
        return render(request, "login.html")

    @auth.guard("viewer", page=True)
    async def overview_page(request):
        data = await run_in_threadpool(overview_cache.get)
        return render(request, "overview.html", data=data)

    @auth.guard("viewer", page=True)
    async def pool_page(request):
        name = request.path_params["name"]
        pool, error = None, None
        try:
            pool = await run_in_threadpool(cluster.pool, name)
        except BackendError as exc:
            error = str(exc)
        actions = await run_in_threadpool(request.app.state.store.recent_actions, name)
        status = 404 if pool is None and error is None else 200
        response = render(
            request, "pool.html", name=name, pool=pool, error=error, actions=actions
        )
        response.status_code = status
        return response

    @auth.guard("viewer", page=True)
    async def history_page(request):
        found, error, graphs = None, None, None
        try:
            found = await run_in_threadpool(history.read_history, cluster)
            graphs = history.history_charts(found["runs"])
        except BackendError as exc:
            error = str(exc)
        return render(
            request,
            "history.html",
            history=found,
            charts=graphs,
            error=error,
            source=f"{settings.namespace}/{history.HISTORY_CONFIGMAP}",
        )

    @auth.guard("viewer", page=True)
    async def drift_page(request):
        found, error = None, None
        try:
            found = await run_in_threadpool(history.read_drift, cluster)
        except BackendError as exc:
            error = str(exc)
        report = (
            json.dumps(found["report"], indent=2, sort_keys=True)
            if found and found.get("report") is not None
            else None
        )
        return render(
            request,
            "drift.html",
            drift=found,
            report=report,
            error=error,
            source=f"{settings.namespace}/{history.DRIFT_CONFIGMAP}",
        )

    # JSON API -----------------------------------------------------------------

    async def api_health(request):
        # flywheel_health's dashboard probe (_health.probe_dashboard) wants a 2xx from a
        # serving dashboard. A backend being down is the dashboard doing its job of
        # saying so, not the dashboard being down: it stays 200 and reports it.
        return JSONResponse({"status": "ok", "version": __version__})

    @auth.guard("viewer")
    async def api_me(request):
        user = request.state.user
        return JSONResponse({"name": user["name"], "role": user["role"]})

    @auth.guard("viewer")
    async def api_overview(request):
        return JSONResponse(await run_in_threadpool(overview_cache.get))

    @auth.guard("viewer")
    async def api_pools(request):
        data = await run_in_threadpool(overview_cache.get)
        if data["pools"] is None:
            return JSONResponse(
                {"error": data["kubernetes"]["error"], "pools": None}, status_code=503
            )
        return JSONResponse({"pools": data["pools"]})

    @auth.guard("viewer")
    async def api_pool(request):
        name = request.path_params["name"]
        try:
            pool = await run_in_threadpool(cluster.pool, name)
        except BackendError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        if pool is None:
            return JSONResponse({"error": f"no pool named {name}"}, status_code=404)
        pool["actions"] = await run_in_threadpool(
            request.app.state.store.recent_actions, name
        )
        return JSONResponse(pool)

    @auth.guard("viewer")
    async def api_history(request):
        try:
            return JSONResponse(await run_in_threadpool(history.read_history, cluster))
        except BackendError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    @auth.guard("viewer")
    async def api_drift(request):
        try:
            return JSONResponse(await run_in_threadpool(history.read_drift, cluster))
        except BackendError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    @auth.guard("viewer")
    async def api_events(request):
        async def stream():
            # Reconnecting clients wait this long (ms) before trying again.
            yield f"retry: {int(settings.refresh_s * 1000)}\n\n"
            while True:
                data = await run_in_threadpool(overview_cache.get)
                yield f"event: overview\ndata: {json.dumps(data)}\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(settings.refresh_s)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def action(verb):
        @auth.guard("operator")
        async def endpoint(request):
            name = request.path_params["name"]
            user = request.state.user["name"]
            store = request.app.state.store
            try:
                if verb == "recover":
                    job = await run_in_threadpool(cluster.recover, name, user)
                    result = {"job": job, "namespace": settings.namespace}
                    detail = f"created Job {settings.namespace}/{job}"
                else:
                    done = await run_in_threadpool(getattr(cluster, verb), name)
                    result = {"changed": done}
                    detail = (
                        f"{verb}d " + ", ".join(done) if done else f"already {verb}d"
                    )
            except ActionRefused as exc:
                await run_in_threadpool(
                    store.record_action, user, verb, name, False, str(exc)
                )
                return JSONResponse({"error": str(exc)}, status_code=409)
            except (BackendError, *UNREACHABLE_ERRORS) as exc:
                text = str(exc) if isinstance(exc, BackendError) else describe(exc)
                await run_in_threadpool(
                    store.record_action, user, verb, name, False, text
                )
                status = (
                    403 if isinstance(exc, ApiException) and exc.status == 403 else 503
                )
                return JSONResponse({"error": text}, status_code=status)
            overview_cache.invalidate()
            await run_in_threadpool(store.record_action, user, verb, name, True, detail)
            return JSONResponse(dict(result, pool=name, action=verb, detail=detail))

        return endpoint

    routes = [
        Route("/", overview_page),
        Route("/login", login_page),
        Route("/pools/{name}", pool_page),
        Route("/history", history_page),
        Route("/drift", drift_page),
        Route("/auth/register/options", auth.register_options, methods=["POST"]),
        Route("/auth/register/verify", auth.register_verify, methods=["POST"]),
        Route("/auth/login/options", auth.login_options, methods=["POST"]),
        Route("/auth/login/verify", auth.login_verify, methods=["POST"]),
        Route("/auth/logout", auth.logout, methods=["POST"]),
        Route("/api/health", api_health),
        Route("/api/me", api_me),
        Route("/api/overview", api_overview),
        Route("/api/pools", api_pools),
        Route("/api/pools/{name}", api_pool),
        Route("/api/pools/{name}/pause", action("pause"), methods=["POST"]),
        Route("/api/pools/{name}/resume", action("resume"), methods=["POST"]),
        Route("/api/pools/{name}/recover", action("recover"), methods=["POST"]),
        Route("/api/invites", auth.create_invite, methods=["POST"]),
        Route("/api/history", api_history),
        Route("/api/drift", api_drift),
        Route("/api/events", api_events),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="strict",
                https_only=settings.secure_cookies,
            )
        ],
    )
    app.state.settings = settings
    app.state.store = store or Store(settings.db)
    app.state.cluster = cluster
    return app
