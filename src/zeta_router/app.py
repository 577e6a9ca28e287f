"""The composition root of the HTTP app: the ASGI app over a router, with every route
registered here (the inference APIs in :mod:`zeta_router.http.server`; metrics, status and the
dashboard, and config reload from ``ops``). Route modules depend on the app, never the reverse,
so there is no import cycle to hide."""

from __future__ import annotations

from zeta_router.http.server import App
from zeta_router.ops import metrics, reload, status
from zeta_router.router import Router


def create_app(router: Router) -> App:
    app = App(router)
    metrics.install(app)
    status.install(app)
    reload.install(app)
    return app
