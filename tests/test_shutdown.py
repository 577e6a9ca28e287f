"""``zeta-router serve`` as a real process: SIGTERM drains in-flight streams and exits 0; SIGHUP
re-reads the config file."""

from __future__ import annotations

import contextlib
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
import openai
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
    with run_backend(chunks=10, chunk_delay_s=0.15) as url:
        yield url


@contextlib.contextmanager
def run_backend(chunks: int, chunk_delay_s: float, delay_s: float = 0.0) -> Iterator[str]:
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
            str(chunks),
            "--chunk-delay",
            str(chunk_delay_s),
            "--delay",
            str(delay_s),
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
    with run_gateway(backend, tmp_path) as running:
        yield running


@contextlib.contextmanager
def run_gateway(
    backend_url: str, tmp_path: Path, **server: Any
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    cfg = tmp_path / "router.yaml"
    write_config(cfg, backend_url, **server)
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


# -- streams cut by the shutdown timeout or a second SIGTERM ---------------------------------

STREAMS = 4


@pytest.fixture()
def long_streams() -> Iterator[str]:
    """40 tokens at 100 ms each: 4 s per answer, longer than the grace period below."""
    with run_backend(chunks=40, chunk_delay_s=0.1) as url:
        yield url


class StreamClient(threading.Thread):
    """One openai-SDK client reading a stream; records what it got and how it ended."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.tokens = 0
        self.error: Exception | None = None
        self.finished = False
        self.started = threading.Event()

    def run(self) -> None:
        client = openai.OpenAI(base_url=self.url + "/v1", api_key="x", max_retries=0, timeout=30)
        try:
            stream = client.chat.completions.create(
                model="m", stream=True, messages=[{"role": "user", "content": "hi"}]
            )
            for _chunk in stream:
                self.tokens += 1
                self.started.set()
            self.finished = True
        except Exception as exc:
            self.error = exc
        finally:
            self.started.set()
            client.close()


def start_streams(url: str) -> list[StreamClient]:
    clients = [StreamClient(url) for _ in range(STREAMS)]
    for c in clients:
        c.start()
    for c in clients:
        assert c.started.wait(10), "a stream never started"
    return clients


def assert_cut_cleanly(
    clients: list[StreamClient], proc: subprocess.Popen[str], cfg: Path
) -> None:
    for c in clients:
        c.join(20)
        assert not c.is_alive()
        # The SDK raises on the explicit error event; a truncated body would end the loop
        # quietly (finished) or raise a transport error instead.
        assert not c.finished, "a cut stream looked complete"
        assert isinstance(c.error, openai.APIError), repr(c.error)
        assert not isinstance(c.error, openai.APIConnectionError), repr(c.error)
        assert "shutting down" in str(c.error), str(c.error)
        assert 0 < c.tokens < 40
    assert proc.wait(20) == 0
    log = (cfg.parent / "gateway.log").read_text()
    for bad in ("Traceback", "Exception in ASGI", "Unclosed", "Task was destroyed"):
        assert bad not in log, log[-3000:]
    assert f"cut {STREAMS} request(s)" in log
    assert '"stream_error":"shutdown"' in log, "the cut streams' log lines were flushed"


def test_streams_cut_by_the_shutdown_timeout_end_with_an_error_event(
    long_streams: str, tmp_path: Path
) -> None:
    with run_gateway(long_streams, tmp_path, shutdown_timeout_s=1) as (proc, url, cfg):
        clients = start_streams(url)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.join(20)
        # Cut when the grace period ran out, not when the answers would have ended (4 s).
        assert time.monotonic() - t0 < 3.0
        assert_cut_cleanly(clients, proc, cfg)


def test_a_second_sigterm_cuts_streams_at_once_and_still_shuts_down_cleanly(
    long_streams: str, tmp_path: Path
) -> None:
    with run_gateway(long_streams, tmp_path, shutdown_timeout_s=30) as (proc, url, cfg):
        clients = start_streams(url)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert all(c.is_alive() for c in clients), "the first SIGTERM must let streams run"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.join(20)
        assert time.monotonic() - t0 < 3.0
        assert_cut_cleanly(clients, proc, cfg)


def test_a_request_still_waiting_for_its_answer_at_the_cut_gets_a_503(tmp_path: Path) -> None:
    with (
        run_backend(chunks=4, chunk_delay_s=0.0, delay_s=10.0) as slow_answers,
        run_gateway(slow_answers, tmp_path, shutdown_timeout_s=1) as (proc, url, cfg),
    ):
        out: list[httpx.Response] = []
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        t = threading.Thread(
            target=lambda: out.append(
                httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
            )
        )
        t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        t.join(20)
        assert out, "no answer"
        r = out[0]
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "shutting_down"
        assert r.headers["retry-after"] == "1"
        assert proc.wait(20) == 0
        log = (cfg.parent / "gateway.log").read_text()
        for bad in ("Traceback", "Exception in ASGI", "Unclosed", "Task was destroyed"):
            assert bad not in log, log[-3000:]
