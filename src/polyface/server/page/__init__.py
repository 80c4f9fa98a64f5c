"""The avatar studio page: ``GET /`` (and ``/studio``), one server-rendered template plus a small script
and stylesheet under ``/static``. No build step and nothing fetched from elsewhere: the page talks to the
REST API under ``/api`` with ``fetch`` and follows training on its server-sent events feed."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from polyface.server.page.view import STATIC_DIR, router


def register(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
