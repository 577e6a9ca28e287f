"""``zeta-router serve --workers N``: N gateway processes on one port.

The master binds the listening socket once and forks the workers, which all accept on it (the
kernel hands each connection to one of them). A connection waiting in the socket's queue when
a worker dies is taken by another, so a crash loses only the requests that worker held. The
master does nothing else: it restarts a worker that died (after a back-off that doubles while
workers keep dying young), forwards SIGHUP (reload) and, on SIGTERM, sends SIGTERM to every
worker (each drains, as one ``serve`` does) and exits 0 once all are gone.

Workers share the fleet view the same way separate hosts do, through the Redis state backend:
with ``state.backend: memory`` each worker would keep its own breakers and in-flight counts and
balance blind, so that is refused (:func:`check_workers`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from zeta_router.config import Config
from zeta_router.errors import ConfigError

log = logging.getLogger("zeta_router")

#: A worker that dies sooner than this after its start counts as crashing: the back-off grows.
_YOUNG_S = 10.0
_BACKOFF_BASE_S = 0.5
_BACKOFF_MAX_S = 30.0
_SIGNALS = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def check_workers(config: Config, workers: int) -> None:
    """Refuse a worker count whose workers could not share the fleet view."""
    if workers < 1:
        raise ConfigError("--workers: must be at least 1")
    if workers == 1:
        return
    if config.state.backend != "redis":
        raise ConfigError(
            f"--workers {workers}: the workers would each keep their own breakers, in-flight "
            "counts and estimates (max_concurrency would hold per worker, an ejection in one "
            "would not reach the others). Share the fleet view through Redis: "
            "state: {backend: redis, url: redis://host:6379/0}; or run one worker"
        )
    managed = [
        f"models.{name}.replicas[{i}]"
        for name, m in config.models.items()
        for i, r in enumerate(m.replicas)
        if r.launch is not None
    ]
    if managed:
        raise ConfigError(
            f"--workers {workers}: {managed[0]} has a launch entry; every worker would start "
            "its own copy of that model server. Run managed replicas with one worker, or "
            "launch them apart and list their URLs"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class _Worker:
    index: int
    pid: int = 0
    started: float = 0.0
    #: When it may be started again after dying (0: running).
    restart_at: float = 0.0
    failures: int = 0


class Master:
    """Forks and watches the workers. ``serve_worker(sock)`` runs one worker's gateway in the
    child and returns its exit status."""

    def __init__(
        self,
        workers: int,
        sock: socket.socket,
        serve_worker: Callable[[socket.socket], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sock = sock
        self._serve = serve_worker
        self._clock = clock
        self._workers = [_Worker(i) for i in range(workers)]
        self._stopping = False

    def run(self) -> int:
        # Signals are taken synchronously (sigtimedwait): no handler runs between a fork and
        # the bookkeeping of its pid.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for w in self._workers:
                self._spawn(w)
            return self._watch()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)

    def _spawn(self, w: _Worker) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                for sig in _SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                os.environ["ZETA_WORKER"] = str(w.index)
                code = self._serve(self._sock)
            except BaseException:
                log.exception("worker %d failed", w.index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        w.pid, w.started, w.restart_at = pid, self._clock(), 0.0
        log.info("worker %d started (pid %d)", w.index, pid)

    def _watch(self) -> int:
        status = 0
        while True:
            timeout = self._next_restart_in()
            info = signal.sigtimedwait(_SIGNALS, timeout if timeout is not None else 3600.0)
            if info is not None:
                sig = info.si_signo
                if sig in (signal.SIGTERM, signal.SIGINT):
                    self._stop(sig)
                elif sig == signal.SIGHUP:
                    self._forward(signal.SIGHUP)
            status = max(status, self._reap())
            if self._stopping and not any(w.pid for w in self._workers):
                log.info("all workers stopped")
                return 0 if status == 0 else 1
            if not self._stopping:
                now = self._clock()
                for w in self._workers:
                    if not w.pid and w.restart_at <= now:
                        self._spawn(w)

    def _next_restart_in(self) -> float | None:
        due = [w.restart_at for w in self._workers if not w.pid]
        if not due or self._stopping:
            return None
        return max(0.0, min(due) - self._clock())

    def _reap(self) -> int:
        worst = 0
        while True:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return worst
            if pid == 0:
                return worst
            w = next((w for w in self._workers if w.pid == pid), None)
            if w is None:
                continue
            code = os.waitstatus_to_exitcode(raw)
            w.pid = 0
            if self._stopping:
                worst = max(worst, abs(code))
                continue
            now = self._clock()
            w.failures = w.failures + 1 if now - w.started < _YOUNG_S else 1
            delay = min(_BACKOFF_BASE_S * 2 ** (w.failures - 1), _BACKOFF_MAX_S)
            w.restart_at = now + delay
            how = f"signal {-code}" if code < 0 else f"status {code}"
            log.warning(
                "worker %d (pid %d) died (%s); restarting in %.1f s", w.index, pid, how, delay
            )

    def _stop(self, sig: int) -> None:
        if self._stopping:
            log.warning("second %s: workers cut their in-flight requests", signal.strsignal(sig))
        else:
            log.info("%s: draining %d worker(s)", signal.Signals(sig).name, len(self._workers))
        self._stopping = True
        # Our copy of the socket would keep queueing connections nobody accepts any more.
        self._sock.close()
        self._forward(signal.SIGTERM)

    def _forward(self, sig: int) -> None:
        for w in self._workers:
            if w.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, sig)
