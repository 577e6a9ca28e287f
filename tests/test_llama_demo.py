"""`zeta-router demo --serve` end to end, as a user runs it: no TTY, real llama.cpp servers."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import sys
from pathlib import Path

import openai
import pytest

from zeta_router.managed.llamabuild import find_llama_server

from .test_managed import alive, wait_gone

# Looked up, not imported: the servers run in child processes, and importing llama_cpp here
# would leak the /dev/null handle it opens at import time into this process.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed: pip install -e '.[local]'",
    ),
]


def children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(p) for p in text)
    return out


@pytest.mark.parametrize(
    "backend",
    [
        "python",
        pytest.param(
            "llama-server",
            marks=pytest.mark.skipif(
                find_llama_server() is None,
                reason="llama-server is not built for this machine: zeta-router fleet build",
            ),
        ),
    ],
)
async def test_demo_runs_crashes_recovers_serves_and_cleans_up(
    tmp_path: Path, backend: str
) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zeta_router.demo",
        "--backend",
        backend,
        "--serve",
        "--requests",
        "12",
        "--concurrency",
        "2",
        "--max-tokens",
        "12",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(300):
            while True:
                raw = await proc.stdout.readline()
                assert raw, "demo exited early:\n" + "".join(lines)
                lines.append(raw.decode())
                if "Ctrl-C to stop" in lines[-1]:
                    break
        out = "".join(lines)
        url = re.search(r"stays up at (http://\S+)", out)
        assert url, out
        servers = children(proc.pid)
        assert len(servers) == 4, out

        async with openai.AsyncOpenAI(
            base_url=url.group(1) + "/v1", api_key="x", max_retries=0, timeout=60
        ) as client:
            raw_resp = await client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "Hello!"}], max_tokens=8
            )
            assert raw_resp.headers["x-zeta-model"] in ("small", "gemma")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest = await proc.stdout.read()
            await proc.wait()
    out = "".join(lines) + rest.decode()
    assert proc.returncode == 0, out
    assert "12 requests, no failures" in out
    assert "chaos: SIGKILL small-0" in out and "chaos: SIGKILL gemma-0" in out
    # Both crashed servers were restarted and the summary counted it.
    assert re.search(r"process restarts\s+│?\s*small-0:1, gemma-0:1", out), out
    assert out.count("small-0: ready") == 2 and out.count("gemma-0: ready") == 2
    for pid in servers:
        await wait_gone(pid, within=5)
        assert not alive(pid)
