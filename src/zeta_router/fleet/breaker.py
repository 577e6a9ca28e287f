"""Per-replica circuit breaker: a pure state machine driven by outcomes and a clock.

Closed -> open on N consecutive failures, on N streams in a row that broke after they started,
or on a failure rate over a sliding window (once the window holds enough samples). Open ->
half-open when the ejection time has passed; the ejection time doubles with each consecutive
ejection up to a cap. Half-open lets a few probe requests through: one success closes the
breaker, one failure re-opens it for longer.

A replica whose process died while serving is ejected the same way (:meth:`Breaker.eject`), and
its server saying "ready" again does not close the breaker: it comes back through half-open
probes once the ejection time has passed, so a server that crashes on every request settles as
ejected for ever longer periods instead of taking its full share each time it restarts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum

from zeta_router.config import BreakerSettings


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker:
    __slots__ = (
        "_closed_at",
        "_consecutive",
        "_crashed",
        "_ejections",
        "_probes",
        "_settings",
        "_stream_breaks",
        "_window",
        "_window_failures",
        "last_reason",
        "listener",
        "open_until",
        "state",
    )

    def __init__(self, settings: BreakerSettings) -> None:
        self._settings = settings
        self.state = BreakerState.CLOSED
        self.open_until = 0.0
        self.last_reason = ""
        self._consecutive = 0
        # Streams that broke mid-answer since the last one that finished. Counted apart: a
        # replica that answers short requests but cuts every stream would otherwise hover at
        # the failure-rate threshold while short successes keep resetting ``_consecutive``.
        self._stream_breaks = 0
        self._ejections = 0
        self._closed_at = 0.0
        self._probes = 0
        # Opened because the process died, not because requests failed: "ready" is no cure.
        self._crashed = False
        # (time, failed) samples inside the window; bounded by the request rate x window_s.
        self._window: deque[tuple[float, bool]] = deque()
        self._window_failures = 0
        #: Called after the breaker opened or closed (the shared fleet state publishes it).
        self.listener: Callable[[], None] | None = None

    def can_try(self, now: float) -> bool:
        """Whether a request may go to this replica now. Free of side effects."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return now >= self.open_until
        return self._probes < self._settings.half_open_probes

    def on_attempt(self, now: float) -> None:
        """A request was sent; in half-open this takes one of the probe slots."""
        if self.state is BreakerState.OPEN and now >= self.open_until:
            self.state = BreakerState.HALF_OPEN
            self._probes = 0
        if self.state is BreakerState.HALF_OPEN:
            self._probes += 1

    def on_neutral(self) -> None:
        """The attempt said nothing about the replica (the request was bad, the client left)."""
        if self.state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def on_success(self, now: float, *, stream: bool = False) -> None:
        """A complete answer; ``stream`` when it was a stream that reached its end."""
        self._consecutive = 0
        if stream:
            self._stream_breaks = 0
        self._sample(now, failed=False)
        if self.state is not BreakerState.CLOSED:
            self._close(now)

    def on_failure(
        self, now: float, reason: str, min_open_s: float = 0.0, *, stream_break: bool = False
    ) -> bool:
        """Record a failure; returns True when this failure (re-)opened the breaker.

        ``min_open_s`` keeps the replica out at least that long (a 429/503's Retry-After);
        ``stream_break`` marks a stream that failed after its first event."""
        self.last_reason = reason
        self._consecutive += 1
        if stream_break:
            self._stream_breaks += 1
        self._sample(now, failed=True)
        s = self._settings
        if self.state is BreakerState.HALF_OPEN:
            self._open(now, min_open_s)
            return True
        if self.state is BreakerState.OPEN:
            self.open_until = max(self.open_until, now + min_open_s)
            return False
        n = len(self._window)
        tripped = (
            self._consecutive >= s.consecutive_failures
            or self._stream_breaks >= s.consecutive_failures
            or (n >= s.min_samples and self._window_failures / n >= s.failure_rate)
        )
        if tripped:
            self._open(now, min_open_s)
        return tripped

    def force_open(self, now: float, reason: str, duration_s: float) -> None:
        """Eject from outside the request path (health probe, process exit)."""
        self.last_reason = reason
        self.state = BreakerState.OPEN
        self.open_until = max(self.open_until, now + duration_s)
        if self.listener is not None:
            self.listener()

    def adopt_open(self, open_until: float, ejections: int, reason: str) -> None:
        """The fleet's verdict (shared state): another instance ejected this replica, or
        probes it, until then. Not told to the listener: the news came from the fleet."""
        self.last_reason = reason
        self.state = BreakerState.OPEN
        self.open_until = open_until
        self._ejections = max(self._ejections, ejections)
        self._probes = 0

    def adopt_closed(self, now: float) -> None:
        """Another instance's probe closed this replica's breaker (shared fleet state)."""
        if self.state is not BreakerState.CLOSED:
            self._close(now, notify=False)

    def eject(self, now: float, reason: str) -> None:
        """The replica's process died while it served: open for the next, longer, ejection.
        A breaker already open (the failed requests of the crash got there first) stays so."""
        self.last_reason = reason
        self._crashed = True
        if self.state is not BreakerState.OPEN:
            self._open(now, 0.0)

    def on_ready(self, now: float) -> None:
        """A probe or the supervisor says the server is ready again. After an outage without a
        crash the old failures say nothing: start clean. After a crash it is on probation:
        open until its ejection ends, then half-open probes decide."""
        if self._crashed and self.state is not BreakerState.CLOSED:
            return
        self.reset(now)

    @property
    def crashed(self) -> bool:
        """Whether the current ejection is for a process that died while serving."""
        return self._crashed and self.state is not BreakerState.CLOSED

    def reset(self, now: float) -> None:
        """Back to closed with a clean history (a probe saw the replica healthy again)."""
        self._close(now)
        self._ejections = 0
        self._window.clear()
        self._window_failures = 0

    @property
    def ejections(self) -> int:
        return self._ejections

    def _open(self, now: float, min_open_s: float) -> None:
        s = self._settings
        if self.state is BreakerState.CLOSED and now - self._closed_at > s.eject_max_s:
            # Healthy for a long stretch: earlier ejections no longer say anything.
            self._ejections = 0
        duration = min(s.eject_base_s * (2**self._ejections), s.eject_max_s)
        self._ejections += 1
        self.state = BreakerState.OPEN
        self.open_until = now + max(duration, min_open_s)
        self._probes = 0
        if self.listener is not None:
            self.listener()

    def _close(self, now: float, *, notify: bool = True) -> None:
        was_closed = self.state is BreakerState.CLOSED
        self.state = BreakerState.CLOSED
        self._crashed = False
        self._closed_at = now
        self._consecutive = 0
        self._stream_breaks = 0
        self._probes = 0
        if notify and not was_closed and self.listener is not None:
            self.listener()

    def _sample(self, now: float, *, failed: bool) -> None:
        window = self._window
        window.append((now, failed))
        if failed:
            self._window_failures += 1
        horizon = now - self._settings.window_s
        while window and window[0][0] < horizon:
            _, old_failed = window.popleft()
            if old_failed:
                self._window_failures -= 1
