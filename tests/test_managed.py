"""Supervision of real child processes: a tiny HTTP server script stands in for a model server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from zeta_router.config import Launch, parse_config
from zeta_router.errors import ConfigError
from zeta_router.localfleet import free_ports
from zeta_router.managed.process import build_argv, expand
from zeta_router.managed.supervisor import ManagedReplica, Supervisor
from zeta_router.ops.status import REDACTED, snapshot
from zeta_router.router import Router

# Modes: ready after DELAY seconds; "never" ready; "crash" at once; "stubborn" ignores SIGTERM;
# "fork" leaves a grandchild in its group and writes the grandchild's pid to PIDFILE.
SERVER = textwrap.dedent(
    """
    import http.server, os, signal, subprocess, sys, time
    port, delay, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    pidfile = sys.argv[4] if len(sys.argv) > 4 else None
    if mode == "crash":
        print("boom", flush=True)
        sys.exit(3)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "fork":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(pidfile, "w") as f:
            f.write(str(child.pid))
    start = time.monotonic()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = mode != "never" and time.monotonic() - start >= delay
            code = 200 if ok else 503
            # Logged before answering, so the log is complete once the prober sees the answer.
            print(f"GET {self.path} {code}", flush=True)
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


class Recorder:
    """Collects state transitions and lets a test await one without polling."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._changed = asyncio.Condition()
        self._loop = asyncio.get_running_loop()

    def __call__(self, rid: str, state: str) -> None:
        self.events.append((rid, state))
        self._loop.create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def states(self, rid: str) -> list[str]:
        return [s for r, s in self.events if r == rid]

    async def wait(self, rid: str, state: str, count: int = 1, within: float = 15.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.states(rid).count(state) >= count)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (init may reap orphans late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_gone(pid: int, within: float = 10.0) -> None:
    """Await the exit of any process (not only our children) through a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(fd, readable)
    try:
        async with asyncio.timeout(within):
            await gone
    finally:
        loop.remove_reader(fd)
        os.close(fd)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


MakeReplica = Callable[..., ManagedReplica]


@pytest.fixture
async def make(script: Path, tmp_path: Path, recorder: Recorder) -> AsyncIterator[MakeReplica]:
    made: list[ManagedReplica] = []

    def factory(
        mode: str = "ok", delay: float = 0.3, rid: str = "m-0", **launch: object
    ) -> ManagedReplica:
        port = free_ports(1)[0]
        opts: dict[str, object] = {
            "start_timeout_s": 10.0,
            "restart_backoff_s": 0.05,
            "restart_backoff_max_s": 0.2,
        }
        opts.update(launch)
        spec = Launch(
            command=(sys.executable, str(script), "{port}", str(delay), mode, str(tmp_path / "gc")),
            **opts,
        )
        rep = ManagedReplica(
            id=rid,
            launch=spec,
            port=port,
            log_dir=tmp_path / "logs",
            on_state=recorder,
            stop_grace_s=1.0,
        )
        made.append(rep)
        return rep

    yield factory
    for rep in made:
        await rep.stop()


async def test_start_probes_through_503_until_ready(make: MakeReplica, recorder: Recorder) -> None:
    rep = make(delay=0.4)
    await rep.start()
    assert await rep.wait_ready(15)
    assert recorder.states("m-0") == ["starting", "ready"]
    assert rep.pid is not None and alive(rep.pid)
    log = rep.log_path.read_text()
    # The probe saw the loading phase and kept going.
    assert "GET /health 503" in log and "GET /health 200" in log
    assert rep.status().state == "ready"


async def test_crash_restarts_with_backoff_and_becomes_ready_again(
    make: MakeReplica, recorder: Recorder
) -> None:
    rep = make(delay=0.1)
    await rep.start()
    assert await rep.wait_ready(15)
    old = rep.pid
    assert old is not None
    assert rep.kill()
    await recorder.wait("m-0", "ready", count=2)
    assert recorder.states("m-0") == [
        "starting",
        "ready",
        "exited",
        "restarting",
        "starting",
        "ready",
    ]
    assert rep.restarts == 1
    assert rep.pid is not None and rep.pid != old
    assert not alive(old)


async def test_stop_kills_the_whole_group(
    make: MakeReplica, recorder: Recorder, tmp_path: Path
) -> None:
    rep = make(mode="fork", delay=0.0)
    await rep.start()
    assert await rep.wait_ready(15)
    leader = rep.pid
    grandchild = int((tmp_path / "gc").read_text())
    assert leader is not None and alive(leader) and alive(grandchild)
    await rep.stop()
    assert recorder.states("m-0")[-1] == "stopped"
    await wait_gone(grandchild)
    assert not alive(leader) and not alive(grandchild)
    assert rep.pid is None


async def test_sigterm_ignored_escalates_to_sigkill(make: MakeReplica) -> None:
    rep = make(mode="stubborn", delay=0.0)
    await rep.start()
    assert await rep.wait_ready(15)
    pid = rep.pid
    assert pid is not None
    async with asyncio.timeout(8):
        await rep.stop()
    assert not alive(pid)


async def test_start_timeout_kills_and_retries(make: MakeReplica, recorder: Recorder) -> None:
    rep = make(mode="never", start_timeout_s=0.5)
    await rep.start()
    assert not await rep.wait_ready(0.2)
    await recorder.wait("m-0", "restarting")
    assert rep.last_error is not None and "not ready after 0.5s" in rep.last_error
    assert "ready" not in recorder.states("m-0")


class RecordedSleep:
    """An injected sleep that returns at once, recording the back-off delays asked for;
    ``enough`` is set once ``enough_after`` of them were."""

    def __init__(self, enough_after: int = 0) -> None:
        self.delays: list[float] = []
        self.enough = asyncio.Event()
        self.enough_after = enough_after

    async def __call__(self, d: float) -> None:
        self.delays.append(d)
        if self.enough_after and len(self.delays) >= self.enough_after:
            self.enough.set()
        await asyncio.sleep(0)


async def test_crash_loop_backoff_doubles_up_to_max(
    script: Path, tmp_path: Path, recorder: Recorder
) -> None:
    fake_sleep = RecordedSleep(enough_after=5)
    delays, enough = fake_sleep.delays, fake_sleep.enough
    spec = Launch(
        command=(sys.executable, str(script), "{port}", "0", "crash"),
        restart_backoff_s=0.1,
        restart_backoff_max_s=0.4,
    )
    rep = ManagedReplica(
        id="c",
        launch=spec,
        port=free_ports(1)[0],
        log_dir=tmp_path,
        on_state=recorder,
        sleep=fake_sleep,
    )
    await rep.start()
    try:
        async with asyncio.timeout(20):
            await enough.wait()
    finally:
        await rep.stop()
    assert delays[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert rep.last_error is not None and "exited with code 3 (boom)" in rep.last_error
    assert recorder.states("c")[-1] == "stopped"


def crash_loop_replica(
    script: Path,
    tmp_path: Path,
    recorder: Recorder,
    sleep: Callable[[float], Awaitable[None]],
    **launch: Any,
) -> ManagedReplica:
    spec = Launch(
        command=(sys.executable, str(script), "{port}", "0", "crash"),
        restart_backoff_s=0.1,
        restart_backoff_max_s=0.4,
        **launch,
    )
    return ManagedReplica(
        id="c",
        launch=spec,
        port=free_ports(1)[0],
        log_dir=tmp_path,
        on_state=recorder,
        sleep=sleep,
    )


async def test_crash_loop_gives_up_after_max_restarts(
    script: Path, tmp_path: Path, recorder: Recorder
) -> None:
    fake_sleep = RecordedSleep()
    delays = fake_sleep.delays
    rep = crash_loop_replica(script, tmp_path, recorder, fake_sleep, max_restarts=2)
    await rep.start()
    try:
        # wait_ready answers as soon as supervision gives up, not at the timeout.
        async with asyncio.timeout(20):
            assert not await rep.wait_ready(60)
        assert rep.state == "failed"
        assert recorder.states("c") == ["starting", "exited", "restarting"] * 2 + [
            "starting",
            "exited",
            "failed",
        ]
        assert delays == [0.1, 0.2]
        assert rep.restarts == 2
        st = rep.status()
        assert st.state == "failed" and st.pid is None
        assert st.last_error is not None
        assert st.last_error.startswith("gave up after 3 failed starts in a row")
        assert "launch.max_restarts: 2" in st.last_error
        assert "exited with code 3 (boom)" in st.last_error
        # Terminal: nothing more happens until stop.
        for _ in range(20):
            await asyncio.sleep(0)
        assert recorder.states("c")[-1] == "failed"
    finally:
        await rep.stop()
    assert recorder.states("c")[-1] == "stopped"


async def test_max_restarts_zero_never_restarts_a_failed_start(
    script: Path, tmp_path: Path, recorder: Recorder
) -> None:
    async def no_sleep(d: float) -> None:
        raise AssertionError("no restart expected")

    rep = crash_loop_replica(script, tmp_path, recorder, no_sleep, max_restarts=0)
    sup = Supervisor([rep])
    await sup.start()
    try:
        async with asyncio.timeout(20):
            assert not await sup.wait_ready(60)
        assert recorder.states("c") == ["starting", "exited", "failed"]
        assert [s.id for s in sup.not_ready()] == ["c"]
    finally:
        await sup.stop()


async def test_unlimited_restarts_with_max_restarts_null(
    script: Path, tmp_path: Path, recorder: Recorder
) -> None:
    fake_sleep = RecordedSleep(enough_after=12)
    delays, enough = fake_sleep.delays, fake_sleep.enough
    rep = crash_loop_replica(script, tmp_path, recorder, fake_sleep, max_restarts=None)
    await rep.start()
    try:
        async with asyncio.timeout(30):
            await enough.wait()
        assert "failed" not in recorder.states("c")
    finally:
        await rep.stop()
    assert len(delays) >= 12 > Launch(command="x").max_restarts  # past the default limit


async def test_a_stable_run_resets_the_give_up_count(make: MakeReplica, recorder: Recorder) -> None:
    """Runs that die before lasting ``restart_backoff_max_s`` count as failed starts; one that
    lasted resets the count. The clock is injected: "lasting" is a clock jump, not a wait."""
    now = [0.0]
    rep = make(delay=0.0, max_restarts=1, restart_backoff_max_s=5.0)
    rep.clock = lambda: now[0]
    rep.sleep = lambda d: asyncio.sleep(0)

    async def crash_when_ready(n: int, *, lasted: bool) -> None:
        await recorder.wait("m-0", "ready", count=n)
        if lasted:
            now[0] += 10.0
        assert rep.kill()
        await recorder.wait("m-0", "exited", count=n)

    await rep.start()
    await crash_when_ready(1, lasted=False)  # failed start 1 of 1 allowed: restarted
    await crash_when_ready(2, lasted=True)  # stable: the count is back to 0
    await crash_when_ready(3, lasted=False)  # failed start 1 again: still restarted
    await crash_when_ready(4, lasted=False)  # 2 in a row > max_restarts 1: gives up
    await recorder.wait("m-0", "failed")
    assert rep.restarts == 3
    assert rep.last_error is not None
    assert rep.last_error.startswith("gave up after 2 failed starts in a row")
    assert "killed by SIGKILL" in rep.last_error
    assert recorder.states("m-0").count("ready") == 4


async def test_status_api_shows_why_a_replica_gave_up(tmp_path: Path) -> None:
    crash = "print('fatal: bad --api-key sk-S3CR3T-42', flush=True); raise SystemExit(3)"
    launch = {
        "command": [sys.executable, "-c", crash],
        "max_restarts": 0,
        "log_dir": str(tmp_path),
    }
    port = free_ports(1)[0]
    cfg = parse_config(
        {
            "health": {"enabled": False},
            "models": {"m": {"replicas": [{"url": f"http://127.0.0.1:{port}", "launch": launch}]}},
        }
    )
    router = Router(cfg)
    assert router.supervisor is not None
    await router.start()
    try:
        async with asyncio.timeout(20):
            assert not await router.supervisor.wait_ready(60)
        rep = snapshot(router)["replicas"][0]
    finally:
        await router.close()
    assert rep["id"] == "m-0"
    assert rep["available"] is False
    assert rep["health"] == "exited" and rep["unavailable_reason"] == "process failed"
    proc = rep["process"]
    assert proc["state"] == "failed" and proc["pid"] is None and proc["restarts"] == 0
    assert proc["last_error"].startswith("gave up after 1 failed start in a row")
    assert f"exited with code 3 (fatal: bad --api-key {REDACTED}" in proc["last_error"]
    assert "S3CR3T" not in orjson.dumps(rep).decode()
    assert proc["log_path"] == str(tmp_path / "m-0.log")


def test_max_restarts_config() -> None:
    assert Launch(command="x").max_restarts == 10
    assert Launch(command="x", max_restarts=None).max_restarts is None
    assert Launch(command="x", max_restarts=0).max_restarts == 0
    with pytest.raises(ValueError, match="max_restarts"):
        Launch(command="x", max_restarts=-1)


async def test_bad_command_reports_and_retries(tmp_path: Path, recorder: Recorder) -> None:
    spec = Launch(command="/nonexistent/server --port {port}", restart_backoff_s=0.05)
    rep = ManagedReplica(id="x", launch=spec, port=9, log_dir=tmp_path, on_state=recorder)
    await rep.start()
    await recorder.wait("x", "restarting")
    await rep.stop()
    assert rep.last_error is not None and "cannot start" in rep.last_error
    assert recorder.states("x")[:3] == ["starting", "exited", "restarting"]


async def test_supervisor_from_config_start_kill_stop(script: Path, tmp_path: Path) -> None:
    p1, p2 = free_ports(2)
    cmd = [sys.executable, str(script), "{port}", "0.1", "ok"]
    launch = {"command": cmd, "restart_backoff_s": 0.05, "log_dir": str(tmp_path / "l")}
    cfg = parse_config(
        {
            "models": {
                "a": {
                    "replicas": [
                        {"url": f"http://127.0.0.1:{p1}", "launch": launch},
                        {"url": "http://remote.example:8000"},
                    ]
                },
                "b": {
                    "replicas": [
                        {"url": "http://127.0.0.1", "id": "bee", "launch": {**launch, "port": p2}}
                    ]
                },
            }
        }
    )
    rec = Recorder()
    sup = Supervisor.from_config(cfg, on_state=rec)
    assert sorted(sup.replicas) == ["a-0", "bee"]
    assert sup["bee"].port == p2
    await sup.start()
    try:
        assert await sup.wait_ready(15)
        pids = [s.pid for s in sup.status()]
        assert sup.kill("a-0")
        await rec.wait("a-0", "ready", count=2)
        assert await sup.wait_ready(15)
        assert sup.not_ready() == []
    finally:
        await sup.stop()
    assert {rec.states(r)[-1] for r in ("a-0", "bee")} == {"stopped"}
    assert not any(alive(p) for p in pids if p is not None)
    assert (tmp_path / "l" / "bee.log").exists()


def test_from_config_needs_a_port() -> None:
    cfg = parse_config(
        {"models": {"a": {"replicas": [{"url": "http://h", "launch": {"command": "x"}}]}}}
    )
    with pytest.raises(ConfigError, match=r"models\.a\.replicas\[0\]\.launch\.port"):
        Supervisor.from_config(cfg)


def test_command_expansion_keeps_other_braces() -> None:
    argv = build_argv(
        "srv --port {port} --host {host} --tpl '{\"a\": {x}}' --m '/models/my model.gguf'",
        {"port": "81", "host": "h"},
    )
    assert argv == [
        "srv",
        "--port",
        "81",
        "--host",
        "h",
        "--tpl",
        '{"a": {x}}',
        "--m",
        "/models/my model.gguf",
    ]
    assert expand("{python} -m x", {"python": "/py"}) == "/py -m x"
    with pytest.raises(ConfigError):
        build_argv("", {})


ORPHAN_PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from zeta_router.config import Launch
    from zeta_router.managed.supervisor import ManagedReplica

    async def main():
        spec = Launch(command=(sys.executable, sys.argv[1], "{port}", "0", "ok"))
        rep = ManagedReplica(id="o", launch=spec, port=int(sys.argv[2]), log_dir=sys.argv[3])
        await rep.start()
        assert await rep.wait_ready(15)
        print(rep.pid, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


async def test_children_die_when_the_router_is_killed(script: Path, tmp_path: Path) -> None:
    parent_script = tmp_path / "router.py"
    parent_script.write_text(ORPHAN_PARENT)
    router = await asyncio.create_subprocess_exec(
        sys.executable,
        str(parent_script),
        str(script),
        str(free_ports(1)[0]),
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
    )
    assert router.stdout is not None
    try:
        async with asyncio.timeout(20):
            line = await router.stdout.readline()
        child = int(line)
        assert alive(child)
    finally:
        router.send_signal(signal.SIGKILL)
        await router.wait()
    # No stop() ran: only PR_SET_PDEATHSIG can have taken the child down.
    await wait_gone(child)
    assert not alive(child)


async def test_unwritable_log_dir_is_reported_not_fatal(tmp_path: Path, recorder: Recorder) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    spec = Launch(command="true", restart_backoff_s=0.05)
    rep = ManagedReplica(id="l", launch=spec, port=9, log_dir=blocker / "logs", on_state=recorder)
    await rep.start()
    await recorder.wait("l", "restarting", count=2)
    await rep.stop()
    assert rep.last_error is not None and "cannot write log" in rep.last_error
    assert recorder.states("l")[-1] == "stopped"
