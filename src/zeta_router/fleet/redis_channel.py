"""A feature's own corner of the Redis fleet state (:class:`~zeta_router.fleet.shared.
SharedChannel`): keys under ``<prefix>x:<feature>:``, messages on ``<prefix>ch:<feature>``, the
connection and the fail-open circuit of :class:`~zeta_router.fleet.redis_state.RedisState`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zeta_router.fleet.resp import Arg, Connection, RedisReplyError, RedisUnavailable, Reply


class RedisChannel:
    def __init__(
        self,
        name: str,
        prefix: str,
        timeout_s: float,
        connection: Callable[[], Connection | None],
        down: Callable[[str], None],
    ) -> None:
        self.name = name
        self.topic = f"{prefix}ch:{name}"
        self._keys = f"{prefix}x:{name}:"
        self._timeout_s = timeout_s
        self._connection = connection
        self._down = down
        self.handlers: list[Callable[[bytes], None]] = []

    @property
    def available(self) -> bool:
        return self._connection() is not None

    def key(self, suffix: str) -> str:
        return self._keys + suffix

    def _conn(self) -> Connection:
        conn = self._connection()
        if conn is None:
            raise RedisUnavailable("the shared state is not connected to Redis")
        return conn

    async def call(self, *args: Arg) -> Reply:
        conn = self._conn()
        try:
            fut = conn.send(*args)
            async with asyncio.timeout(self._timeout_s):
                return await fut
        except TimeoutError:
            self._down(f"{self.name}: no answer within {self._timeout_s * 1000:g} ms")
            raise RedisUnavailable("Redis did not answer in time") from None
        except RedisUnavailable as exc:
            self._down(str(exc))
            raise

    def send(self, *args: Arg) -> None:
        try:
            fut = self._conn().send(*args)
        except RedisUnavailable as exc:
            self._down(str(exc))
            return
        fut.add_done_callback(self._sent)

    def publish(self, message: bytes) -> None:
        self.send("PUBLISH", self.topic, message)

    def subscribe(self, handler: Callable[[bytes], None]) -> None:
        self.handlers.append(handler)

    def deliver(self, message: bytes) -> None:
        for handler in self.handlers:
            handler(message)

    def _sent(self, fut: asyncio.Future[Reply]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self._down(str(exc))
        elif isinstance(fut.result(), RedisReplyError):
            # The feature's own command was refused (a wrong type, say): its bug, not an
            # outage; the caller of send() chose not to look.
            return
