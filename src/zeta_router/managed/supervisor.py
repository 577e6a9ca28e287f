"""Launching and supervising local model servers (replicas with a ``launch`` entry).

Each :class:`ManagedReplica` owns one child process: it starts it in a session of its own,
probes ``ready_path`` until the server answers 200 (llama.cpp answers 503 while it loads),
restarts it with exponential backoff when it dies, and kills its whole process group on stop.
After ``launch.max_restarts`` restarts in a row without a run that lasted, it gives up: the
replica stays ``"failed"`` (with ``last_error`` saying why) until stopped.
The router learns about every transition through ``on_state(replica_id, state)`` (a
:class:`~zeta_router.fleet.process.ProcessState`) and treats anything but ``READY`` as
unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

import aiohttp

from zeta_router.config import Config, Launch, replica_id
from zeta_router.errors import ConfigError
from zeta_router.fleet.process import ProcessState
from zeta_router.managed.process import (
    build_argv,
    default_log_dir,
    describe_exit,
    expand,
    make_preexec,
    safe_name,
    signal_group,
)

log = logging.getLogger("zeta_router.managed")

State = ProcessState
StateCallback = Callable[[str, ProcessState], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_LOG_TAIL_BYTES = 2048


@dataclass(frozen=True)
class ReplicaStatus:
    id: str
    state: State
    pid: int | None
    port: int
    restarts: int
    last_error: str | None
    log_path: str
    ready_since: float | None


@dataclass
class _Run:
    """One spawned process and the task that resolves when it exits."""

    proc: asyncio.subprocess.Process
    exited: asyncio.Task[int]
    log_file: IO[bytes]
    started: float
    ready_at: float | None = None
    killed_by_us: bool = False


@dataclass
class ManagedReplica:
    """One supervised model server process."""

    id: str
    launch: Launch
    port: int
    log_dir: Path = field(default_factory=default_log_dir)
    on_state: StateCallback | None = None
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep
    stop_grace_s: float = 5.0
    probe_timeout_s: float = 2.0
    probe_interval_s: float = 0.1
    probe_interval_max_s: float = 1.0

    state: State = field(default=ProcessState.STOPPED, init=False)
    restarts: int = field(default=0, init=False)
    last_error: str | None = field(default=None, init=False)
    #: How the last process ended, without its log line: "killed by SIGSEGV", "exit code 1".
    last_exit: str | None = field(default=None, init=False)
    _run: _Run | None = field(default=None, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _ready: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _gave_up: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _listeners: list[StateCallback] = field(default_factory=list, init=False, repr=False)

    # -- public API -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.launch.host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self.launch.log_dir or self.log_dir) / f"{safe_name(self.id)}.log"

    @property
    def pid(self) -> int | None:
        run = self._run
        return run.proc.pid if run is not None and run.proc.returncode is None else None

    def argv(self) -> list[str]:
        return build_argv(self.launch.command, self._values())

    def add_listener(self, cb: StateCallback) -> None:
        self._listeners.append(cb)

    async def start(self) -> None:
        """Launch the supervision loop; returns at once, readiness comes through callbacks."""
        if self._task is not None and not self._task.done():
            return
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._gave_up = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"managed:{self.id}"
        )

    async def wait_ready(self, timeout: float) -> bool:  # noqa: ASYNC109 (same shape as Supervisor)
        """True once ready; False when ``timeout`` runs out or supervision gave up first."""
        try:
            async with asyncio.timeout(timeout):
                return await self._ready_or_gave_up()
        except TimeoutError:
            return False

    async def _ready_or_gave_up(self) -> bool:
        ready = asyncio.ensure_future(self._ready.wait())
        gave_up = asyncio.ensure_future(self._gave_up.wait())
        try:
            done, _ = await asyncio.wait({ready, gave_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (ready, gave_up):
                t.cancel()
            await asyncio.gather(ready, gave_up, return_exceptions=True)
        return ready in done

    def kill(self, sig: int = signal.SIGKILL) -> bool:
        """Signal the server's process group without stopping supervision (a simulated crash)."""
        run = self._run
        if run is None or run.proc.returncode is not None:
            return False
        return signal_group(run.proc.pid, sig)

    async def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after the grace) and stop."""
        self._stop.set()
        task = self._task
        if task is None:
            self._set_state(ProcessState.STOPPED)
            return
        try:
            # Bounded: the loop itself escalates to SIGKILL after the grace.
            async with asyncio.timeout(self.stop_grace_s + 10.0):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def kill_now(self) -> None:
        """Synchronous last resort (atexit, signal handlers): SIGKILL the group, no waiting."""
        run = self._run
        if run is not None:
            signal_group(run.proc.pid, signal.SIGKILL)

    def status(self) -> ReplicaStatus:
        run = self._run
        ready = run is not None and self.state is ProcessState.READY
        return ReplicaStatus(
            id=self.id,
            state=self.state,
            pid=self.pid,
            port=self.port,
            restarts=self.restarts,
            last_error=self.last_error,
            log_path=str(self.log_path),
            ready_since=run.ready_at if ready and run is not None else None,
        )

    def log_tail(self, max_bytes: int = _LOG_TAIL_BYTES) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_bytes))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- supervision loop -----------------------------------------------------------------

    def _values(self) -> dict[str, str]:
        return {
            "port": str(self.port),
            "host": self.host,
            "replica": self.id,
            "python": sys.executable,
        }

    def _set_state(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        if state is ProcessState.READY:
            self._ready.set()
        else:
            self._ready.clear()
        if state is ProcessState.FAILED:
            self._gave_up.set()
        for cb in (self.on_state, *self._listeners):
            if cb is None:
                continue
            try:
                cb(self.id, state)
            except Exception:
                # A broken observer must not take supervision down with it.
                log.exception("state callback failed for %s", self.id)

    async def _supervise(self) -> None:
        #: Runs since the last stable one, dead included: the backoff exponent.
        failures = 0
        #: Failed starts in a row (not ready, or died before it lasted): the give-up count.
        failed_starts = 0
        try:
            while not self._stop.is_set():
                self._set_state(ProcessState.STARTING)
                try:
                    outcome = await self._run_once()
                except Exception as exc:
                    # A bug or an odd OS error must not end supervision of a model server.
                    log.exception("%s: supervision step failed", self.id)
                    self.last_error = f"supervisor error: {exc!r}"
                    outcome = "failed"
                if outcome == "stopped":
                    break
                if outcome == "stable":
                    # It served for a while: this death is a new fault, not a crash loop.
                    failures = failed_starts = 0
                else:
                    failed_starts += 1
                self._set_state(ProcessState.EXITED)
                limit = self.launch.max_restarts
                if limit is not None and failed_starts > limit:
                    self.last_error = (
                        f"gave up after {failed_starts} failed start"
                        f"{'s' if failed_starts > 1 else ''} in a row "
                        f"(launch.max_restarts: {limit}); last: {self.last_error}"
                    )
                    log.error("%s: %s; log: %s", self.id, self.last_error, self.log_path)
                    self._set_state(ProcessState.FAILED)
                    # Terminal until stopped: a server that never comes up is not retried.
                    await self._stop.wait()
                    break
                delay = min(
                    self.launch.restart_backoff_s * (2**failures), self.launch.restart_backoff_max_s
                )
                failures += 1
                self._set_state(ProcessState.RESTARTING)
                log.warning("%s: %s; restarting in %.2fs", self.id, self.last_error, delay)
                if await self._sleep_or_stop(delay):
                    break
                self.restarts += 1
        finally:
            if self._run is not None and self._run.proc.returncode is None:
                # Cancelled mid-flight: no time left for a graceful stop.
                self.kill_now()
            self._close_run()
            self._set_state(ProcessState.STOPPED)

    async def _sleep_or_stop(self, delay: float) -> bool:
        """Sleep ``delay``; True when stop was requested meanwhile."""
        sleeper = asyncio.ensure_future(self.sleep(delay))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, stopper):
                t.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)
        return self._stop.is_set()

    async def _spawn(self) -> _Run | None:
        argv = self.argv()
        values = self._values()
        env = dict(os.environ)
        env.update({k: expand(v, values) for k, v in self.launch.env.items()})
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = self.log_path.open("ab")
            log_file.write(f"\n=== zeta-router: starting {shlex.join(argv)}\n".encode())
            log_file.flush()
        except OSError as exc:
            self.last_error = f"cannot write log {self.log_path}: {exc.strerror or exc}"
            return None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=self.launch.cwd,
                # Own session: one killpg reaches the server and anything it forks.
                start_new_session=True,
                preexec_fn=make_preexec(os.getpid()),
            )
        except OSError as exc:
            log_file.close()
            self.last_error = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            return None
        exited = asyncio.ensure_future(proc.wait())
        return _Run(proc=proc, exited=exited, log_file=log_file, started=self.clock())

    async def _run_once(self) -> Literal["stopped", "stable", "failed"]:
        run = await self._spawn()
        if run is None:
            return "failed"
        self._run = run
        try:
            became_ready = await self._await_ready(run)
            if self._stop.is_set():
                await self._terminate(run)
                return "stopped"
            if not became_ready:
                if run.proc.returncode is None:
                    self.last_error = (
                        f"not ready after {self.launch.start_timeout_s:g}s on {self.url}"
                        f"{self.launch.ready_path}"
                    )
                    await self._terminate(run)
                else:
                    self.last_error = self._exit_reason(run)
                return "failed"
            run.ready_at = self.clock()
            self.last_error = None
            self._set_state(ProcessState.READY)
            stopper = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait({run.exited, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stopper
            if self._stop.is_set():
                await self._terminate(run)
                return "stopped"
            self.last_error = self._exit_reason(run)
            served = self.clock() - run.ready_at
            return "stable" if served >= self.launch.restart_backoff_max_s else "failed"
        finally:
            # Leftovers the server forked die with it, so a restart never finds its port taken.
            signal_group(run.proc.pid, signal.SIGKILL)
            self._close_run()

    async def _await_ready(self, run: _Run) -> bool:
        """Probe until 200; False on exit or start timeout. Returns early on stop."""
        deadline = self.clock() + self.launch.start_timeout_s
        url = f"{self.url}{self.launch.ready_path}"
        interval = self.probe_interval_s
        stopper = asyncio.ensure_future(self._stop.wait())
        timeout = aiohttp.ClientTimeout(total=self.probe_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                while True:
                    if run.exited.done() or self._stop.is_set():
                        return False
                    if await _probe(session, url):
                        return True
                    remaining = deadline - self.clock()
                    if remaining <= 0:
                        return False
                    await asyncio.wait(
                        {run.exited, stopper},
                        timeout=min(interval, remaining),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    interval = min(interval * 1.5, self.probe_interval_max_s)
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper

    async def _terminate(self, run: _Run) -> None:
        run.killed_by_us = True
        if run.proc.returncode is None:
            signal_group(run.proc.pid, signal.SIGTERM)
            done, _ = await asyncio.wait({run.exited}, timeout=self.stop_grace_s)
            if not done:
                log.warning("%s: no exit %.1fs after SIGTERM; SIGKILL", self.id, self.stop_grace_s)
        signal_group(run.proc.pid, signal.SIGKILL)
        await asyncio.wait({run.exited}, timeout=5.0)

    def _exit_reason(self, run: _Run) -> str:
        code = run.proc.returncode
        self.last_exit = describe_exit(code)
        if code is None or code < 0:
            return self.last_exit
        tail = self.log_tail(400).strip().splitlines()
        last = f" ({tail[-1][:200]})" if tail else ""
        return f"exited with code {code}{last}"

    def _close_run(self) -> None:
        run = self._run
        if run is None:
            return
        if not run.exited.done():
            run.exited.cancel()
        run.log_file.close()
        self._run = None


async def _probe(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as resp:
            await resp.read()
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


class Supervisor:
    """Many managed replicas; the router's single handle on local model servers."""

    def __init__(
        self,
        replicas: Iterable[ManagedReplica] = (),
        *,
        on_state: StateCallback | None = None,
    ) -> None:
        self._replicas: dict[str, ManagedReplica] = {}
        self._listeners: list[StateCallback] = []
        if on_state is not None:
            self._listeners.append(on_state)
        for r in replicas:
            self.add(r)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        on_state: StateCallback | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        **replica_options: Any,
    ) -> Supervisor:
        """One managed replica per configured replica that has a ``launch`` entry."""
        sup = cls(on_state=on_state)
        base = Path(log_dir) if log_dir is not None else default_log_dir()
        for model_name, model in config.models.items():
            for i, rep in enumerate(model.replicas):
                if rep.launch is None:
                    continue
                port = rep.launch.port or urlsplit(rep.url).port
                if port is None:
                    raise ConfigError(
                        f"models.{model_name}.replicas[{i}].launch.port: needed when the url "
                        "has no port"
                    )
                rid = replica_id(model_name, i, rep)
                sup.add(
                    ManagedReplica(
                        id=rid, launch=rep.launch, port=port, log_dir=base, **replica_options
                    )
                )
        return sup

    def add(self, replica: ManagedReplica) -> None:
        if replica.id in self._replicas:
            raise ValueError(f"duplicate managed replica {replica.id!r}")
        replica.add_listener(self._dispatch)
        self._replicas[replica.id] = replica

    def add_listener(self, cb: StateCallback) -> None:
        self._listeners.append(cb)

    def __contains__(self, rid: object) -> bool:
        return rid in self._replicas

    def __getitem__(self, rid: str) -> ManagedReplica:
        return self._replicas[rid]

    def __len__(self) -> int:
        return len(self._replicas)

    @property
    def replicas(self) -> Mapping[str, ManagedReplica]:
        return self._replicas

    async def start(self) -> None:
        for r in self._replicas.values():
            await r.start()

    async def wait_ready(
        self,
        timeout: float,  # noqa: ASYNC109 (the router's API takes a timeout)
        ids: Iterable[str] | None = None,
    ) -> bool:
        """True once every (selected) replica is ready; False when ``timeout`` runs out or one
        of them gave up first."""
        chosen = [self._replicas[i] for i in ids] if ids is not None else self._replicas.values()
        try:
            async with asyncio.timeout(timeout):
                for r in chosen:
                    if not await r._ready_or_gave_up():
                        return False  # it gave up: waiting longer cannot help
        except TimeoutError:
            return False
        return True

    def not_ready(self) -> list[ReplicaStatus]:
        return [r.status() for r in self._replicas.values() if r.state is not ProcessState.READY]

    def kill(self, rid: str, sig: int = signal.SIGKILL) -> bool:
        return self._replicas[rid].kill(sig)

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self._replicas.values()))

    def kill_now(self) -> None:
        for r in self._replicas.values():
            r.kill_now()

    def status(self) -> list[ReplicaStatus]:
        return [r.status() for r in self._replicas.values()]

    def _dispatch(self, rid: str, state: ProcessState) -> None:
        for cb in self._listeners:
            try:
                cb(rid, state)
            except Exception:
                log.exception("state callback failed for %s", rid)
