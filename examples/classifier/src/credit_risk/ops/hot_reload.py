"""Swap the served model when the champion changes, without restarting the service.

Every ``interval_s`` the ``Reloader`` asks ``probe`` which version the model source points
at now (a registry alias look-up, or a small file read for a model folder). Only when the
answer changes does it ``load`` that version, in a worker thread, and then replace the one
reference requests read: a request sees the old model or the new one, never a mix.
A load that fails (or that ``load`` refuses) keeps the old model and is not retried until
the source changes again. Each server process runs its own reloader, so with several
workers the versions can differ for up to one interval.

``POST /admin/reload`` (``admin_router``) runs the same check at once. It exists only when
a token is configured and, by default, answers only requests from this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import APIRouter, HTTPException, Request

from .http import Problem

T = TypeVar("T")
log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class ReloadRefused(Exception):
    """``load`` found a model it must not serve in place of the current one."""


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A model, its version (what ``/metadata`` shows) and what ``probe`` reported for it.

    ``source_id`` is the version plus its MLflow run id: version numbers start again at 1
    on another tracking server, so "v1" alone could hide a new model.
    """

    model: T
    version: str
    source_id: str = ""

    @property
    def identity(self) -> str:
        return self.source_id or self.version


class Reloader(Generic[T]):
    """Holds the served model; ``check`` swaps it when ``probe`` reports a new version."""

    def __init__(
        self,
        current: Loaded[T],
        probe: Callable[..., str],
        load: Callable[..., Loaded[T]],
        interval_s: float,
    ) -> None:
        self._current = current
        self._probe = probe
        self._load = load
        self.interval_s = interval_s
        self._skipped: str | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Loaded[T]:
        """What requests use now: read it once per request."""
        return self._current

    def check(self) -> bool:
        """Load and swap in the source's version if it changed; True when swapped."""
        with self._lock:  # one load at a time: the poll and an admin call may overlap
            wanted = self._probe()
            if wanted in (self._current.identity, self._skipped):
                return False
            try:
                loaded = self._load()
            except Exception as error:  # keep serving the old model, whatever went wrong
                self._skipped = wanted
                log.error("kept %s, could not load %s: %s", self._current.version, wanted, error)
                return False
            log.warning("now serving version %s (was %s)", loaded.version, self._current.version)
            self._current, self._skipped = loaded, None
            return True

    async def poll(self) -> None:
        """Call ``check`` every ``interval_s`` until cancelled; errors are logged, not raised."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.check)
            except Exception as error:  # e.g. the tracking server is down for a moment
                log.error("model check failed: %s", error)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Poll in the background for the life of the app (not at all when interval is 0)."""
        task = asyncio.create_task(self.poll()) if self.interval_s > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def admin_router(reloader: Reloader[T], token: str, allow_remote: bool = False) -> APIRouter:
    """``POST /admin/reload`` with ``Authorization: Bearer <token>``: check for a new model now."""
    router = APIRouter()

    refusals = {
        401: {"model": Problem, "description": "Missing or wrong admin token"},
        403: {"model": Problem, "description": "Not from this machine (admin_allow_remote off)"},
        503: {"model": Problem, "description": "The model source could not be read"},
    }

    @router.post("/admin/reload", responses=refusals)
    async def reload(request: Request) -> dict[str, object]:
        host = request.client.host if request.client else ""
        if not allow_remote and host not in LOOPBACK:
            raise HTTPException(403, "admin endpoints answer only from this machine")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(given, token.encode()):
            raise HTTPException(401, "missing or wrong admin token")
        try:
            swapped = await asyncio.to_thread(reloader.check)
        except Exception as error:  # the source could not be read: say so, keep serving
            raise HTTPException(503, f"could not check the model source: {error}") from error
        return {"reloaded": swapped, "model_version": reloader.current.version}

    return router
