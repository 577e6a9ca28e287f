"""Outcome recording: one call per finished request, off the response path.

``record`` only appends the decision to a buffer; a background task turns the buffer into log
lines and counters, so formatting never delays a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque

import orjson

from .decision import Decision

access_log = logging.getLogger("zeta_router.access")


class Telemetry:
    def __init__(self, *, recent: int = 200, access_log_enabled: bool = True) -> None:
        self.recent: deque[Decision] = deque(maxlen=recent)
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.fallbacks: Counter[tuple[str, str]] = Counter()
        self.stream_errors = 0
        self._pending: list[Decision] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = access_log_enabled

    def record(self, d: Decision) -> None:
        self._pending.append(d)
        if len(self._pending) == 1:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for d in pending:
            self._account(d)

    async def _drain_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let the responses that produced these records finish first.
            await asyncio.sleep(0)
            self.flush()

    def _account(self, d: Decision) -> None:
        self.recent.append(d)
        self.requests[(d.model or "-", d.task or "-", d.status)] += 1
        fb = d.fallback
        if fb is not None and d.preferred and d.model:
            self.fallbacks[(d.preferred, d.model)] += 1
        if d.stream_error:
            self.stream_errors += 1
        if self._log and access_log.isEnabledFor(logging.INFO):
            access_log.info(orjson.dumps(d.to_dict()).decode())
