"""``zeta-router serve`` as a real process: SIGTERM drains in-flight streams and exits 0; SIGHUP
re-reads the config file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

STARTUP_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture()
def backend() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zeta_router.testing.fake_backend",
            "--port",
            str(port),
            "--name",
            "slow",
            "--chunks",
            "10",
            "--chunk-delay",
            "0.15",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake backend"), line
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


def write_config(path: Path, backend_url: str, **server: Any) -> None:
    config = {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "server": {"shutdown_timeout_s": 15, **server},
        "models": {"m": {"replicas": [{"url": backend_url, "id": "m-0"}]}},
    }
    path.write_text(yaml.safe_dump(config))


@pytest.fixture()
def gateway(backend: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    cfg = tmp_path / "router.yaml"
    write_config(cfg, backend)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The log goes to a file: a pipe nobody reads could fill up and stall the gateway.
    with (tmp_path / "gateway.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zeta_router", "serve", "-c", str(cfg), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/health").status_code == 200, STARTUP_S, "the gateway")
        yield proc, url, cfg
    finally:
        stop(proc)


def test_sigterm_lets_a_stream_finish_then_exits_zero(
    gateway: tuple[subprocess.Popen[str], str, Path],
) -> None:
    proc, url, cfg = gateway
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    received: list[bytes] = []
    started = threading.Event()

    def consume() -> None:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_raw():
                received.append(chunk)
                started.set()

    t = threading.Thread(target=consume)
    t.start()
    assert started.wait(10), "the stream never started"
    proc.send_signal(signal.SIGTERM)

    # New connections are refused while the stream is still being relayed.
    def refused() -> bool:
        try:
            httpx.get(url + "/health", timeout=1)
        except httpx.ConnectError:
            return True
        return False

    wait_until(refused, 5, "the listener to close")
    assert t.is_alive(), "the stream should still be running when the listener closes"
    t.join(30)
    assert not t.is_alive()
    text = b"".join(received).decode()
    assert text.rstrip().endswith("data: [DONE]"), text[-300:]
    assert '"error"' not in text
    assert text.count("data: ") == 12  # 11 chunks + [DONE]: nothing was cut
    assert proc.wait(20) == 0
    log = (cfg.parent / "gateway.log").read_text()
    assert '"event":"request"' in log, "the stream's log line was flushed on the way out"


def test_sighup_reloads_the_config_file(
    gateway: tuple[subprocess.Popen[str], str, Path], backend: str
) -> None:
    proc, url, cfg = gateway
    cfg.write_text(cfg.read_text() + "routes: {simple: [m]}\n")
    proc.send_signal(signal.SIGHUP)
    wait_until(
        lambda: httpx.get(url + "/v1/router/status").json()["reloads"]["ok"] == 1, 10, "reload"
    )
    assert httpx.get(url + "/v1/router/status").json()["config"]["routes"] == {"simple": ["m"]}
    cfg.write_text("models: {}\n")  # invalid: the running config must stay
    proc.send_signal(signal.SIGHUP)
    wait_until(
        lambda: httpx.get(url + "/v1/router/status").json()["reloads"]["failed"] == 1, 10, "error"
    )
    status = httpx.get(url + "/v1/router/status").json()
    assert status["config"]["routes"] == {"simple": ["m"]}
    assert "models" in status["reloads"]["last_error"]
    assert proc.poll() is None, "a bad reload must not stop the gateway"
