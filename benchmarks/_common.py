"""Shared benchmark utilities: free ports, bounded subprocess start/stop, /proc readings,
percentiles, the machine description and a generated gateway config.

Only the standard library here, so every benchmark (and the LiteLLM venv helper) can import it
without pulling in the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Proc:
    """A child process started by a benchmark; always stopped with a bounded wait."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None
    started_at: float = field(default_factory=time.perf_counter)
    ready_s: float | None = None
    _log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, url: str, timeout_s: float) -> float:
        """Poll ``url`` until it answers 2xx; returns seconds since the process started."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}{self._tail()}")
            if http_ok(url, 0.5):
                self.ready_s = time.perf_counter() - self.started_at
                return self.ready_s
            time.sleep(0.01)
        self.stop()
        raise TimeoutError(f"{self.name} not ready at {url} after {timeout_s:.0f}s{self._tail()}")

    def _tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_bytes()[-2000:].decode("utf-8", "replace")
        return f"\n--- last output of {self.name} ---\n{text}"

    def stop(self, timeout_s: float = 10.0) -> None:
        p = self.popen
        if p.poll() is None:
            # The whole process group: proxies like LiteLLM may fork workers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


def start(
    name: str,
    cmd: Sequence[str],
    *,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Proc:
    """Start ``cmd`` in its own process group; output goes to ``log_dir/<name>.log``."""
    log: IO[bytes] | None = None
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log = log_path.open("wb")
    popen = subprocess.Popen(
        list(cmd),
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    return Proc(name, popen, log_path, _log=log)


def start_redis(log_dir: Path) -> tuple[Proc, str]:
    """Debian's ``redis-server`` on a free port, no persistence; returns it and its URL."""
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly"]
    proc = start("redis", [*cmd, "no", "--dir", str(log_dir)], log_dir=log_dir)
    deadline = time.perf_counter() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                break
        if time.perf_counter() > deadline or proc.popen.poll() is not None:
            proc.stop()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.02)
    proc.ready_s = time.perf_counter() - proc.started_at
    return proc, f"redis://{HOST}:{port}/0"


def start_fake_backend(
    port: int,
    log_dir: Path | None = None,
    *,
    chunks: int = 8,
    chunk_delay_s: float = 0.0,
    delay_s: float = 0.0,
    name: str = "backend",
) -> Proc:
    cmd = [sys.executable, "-m", "zeta_router.testing.fake_backend", "--port", str(port)]
    cmd += ["--chunks", str(chunks), "--chunk-delay", str(chunk_delay_s), "--delay", str(delay_s)]
    proc = start(name, cmd, log_dir=log_dir)
    proc.wait_ready(f"http://{HOST}:{port}/health", 20)
    return proc


def gateway_config(
    backend_urls: dict[str, list[str]], port: int, replica: str = "", **extra: Any
) -> str:
    """A zeta-router YAML config over the given models (name -> replica base URLs, ending /v1).

    Every model serves chat and completions; the first is preferred for every task and the
    others are its fallbacks, the same shape the LiteLLM config gets. ``replica`` is added to
    every replica's entry (``"max_concurrency: 4096"``).
    """
    names = list(backend_urls)
    lines = [f"listen: {{host: {HOST}, port: {port}}}", "models:"]
    for name, urls in backend_urls.items():
        lines += [f"  {name}:", "    endpoints: [chat, completions]", "    replicas:"]
        more = f", {replica}" if replica else ""
        lines += [f"      - {{url: '{u}'{more}}}" for u in urls]
    order = "[" + ", ".join(names) + "]"
    lines.append("routes:")
    lines += [f"  {task}: {order}" for task in ("code", "reasoning", "simple", "retrieval")]
    if len(names) > 1:
        lines += ["fallbacks:", f"  {names[0]}: [{', '.join(names[1:])}]"]
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


# -- /proc readings ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a proxy may serve from forked workers)."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(_children(p))
    return tree


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU time of the process (and its descendants), from /proc/<pid>/stat."""
    total = 0
    for p in process_tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICK


def rss_bytes(pid: int, *, tree: bool = True) -> int:
    total = 0
    for p in process_tree(pid) if tree else [pid]:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except OSError:
            continue
    return total


def open_fds(pid: int, *, tree: bool = True) -> int:
    total = 0
    for p in process_tree(pid) if tree else [pid]:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


# -- numbers ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "cpu": cpu,
        "kernel": platform.release(),
    }


def machine_line() -> str:
    m = machine()
    return f"nproc={m['nproc']}, Python {m['python']}, CPU {m['cpu']}, Linux {m['kernel']}"


async def cpu_us_per_call(call: Callable[[], Awaitable[object]], n: int, warm: int = 0) -> float:
    """CPU time (this process) per awaited ``call()`` over ``n`` calls, after ``warm`` more,
    in microseconds."""
    for _ in range(warm):
        await call()
    t0 = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - t0) / n * 1e6


def asgi_staying_client(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    body: bytes,
    statuses: list[int] | None = None,
) -> Callable[[], Awaitable[None]]:
    """A call that sends ``body`` to the ASGI ``app`` as a client that stays connected (a
    streamed answer is relayed to its end), in process; answer statuses go to ``statuses``."""
    never = asyncio.Event()

    async def one() -> None:
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if statuses is not None and message["type"] == "http.response.start":
                statuses.append(int(message["status"]))

        await app(dict(scope), receive, send)

    return one
