"""A round of background work repeated on an interval, for probes and scrapes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from zeta_router.config import Config, HealthSettings
from zeta_router.fleet.state import Fleet

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: A small GET (url, timeout) -> (status, body): the transport's, for probes and scrapes.
Getter = Callable[[str, float], Awaitable[tuple[int, bytes]]]


class Periodic:
    """Runs ``round()`` then sleeps ``interval()`` seconds, until stopped.

    A failing round is logged and the loop goes on: a bug in one probe or scrape must not end
    them all. The interval is read each time so a reload can change it in place.
    """

    def __init__(
        self,
        name: str,
        round: Callable[[], Awaitable[None]],
        interval: Callable[[], float],
        sleep: Sleep,
        log: logging.Logger,
    ) -> None:
        self._name = name
        self._round = round
        self._interval = interval
        self._sleep = sleep
        self._log = log
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:  # pragma: no cover - a bug in one round must not end the loop
                self._log.exception("%s round failed", self._name)
            await self._sleep(self._interval())


class FleetRounds:
    """Background rounds over every replica of a fleet, one small GET each (health probes,
    metric scrapes): ``_round`` every ``interval(config.health)`` seconds once started. Tests
    call the rounds directly with a fake clock instead."""

    def __init__(
        self,
        name: str,
        interval: Callable[[HealthSettings], float],
        log: logging.Logger,
        config: Config,
        fleet: Fleet,
        get: Getter,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._settings = config.health
        self._fleet = fleet
        self._get = get
        self._clock = clock
        self.rounds = 0
        self._loop = Periodic(name, self._round, lambda: interval(self._settings), sleep, log)

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _round(self) -> None:
        raise NotImplementedError
