"""CPU and wall time per Redis command of the gateway's own pipelined client
(``zeta_router.fleet.resp``) against redis-py's asyncio client, on the in-flight check the
request path makes (the ACQUIRE script), in one run against one local redis-server.

    python benchmarks/redis_client.py                 # ours only
    pip install redis && python benchmarks/redis_client.py    # ... and redis-py's

Needs ``redis-server`` on PATH (started here on a free port, no persistence).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _common as common
from zeta_router.fleet.redis_scripts import ACQUIRE
from zeta_router.fleet.resp import Connection, parse_url

Call = Callable[[int], Awaitable[Any]]


def acquire_args(i: int) -> tuple[Any, ...]:
    return ("bench:", "me", "r1", 1, i, 1000, 5000, 0, 1000)


async def measure(name: str, call: Call, n: int, concurrency: int) -> tuple[float, float]:
    per = n // concurrency

    async def worker(w: int) -> None:
        for i in range(per):
            async with asyncio.timeout(0.5):
                await call(w * per + i + 1)

    await asyncio.gather(*(worker(w) for w in range(concurrency)))  # warm
    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    done = per * concurrency
    return cpu / done * 1e6, wall / done * 1e6


async def run(port: int, n: int) -> None:
    url = f"redis://127.0.0.1:{port}/0"
    ours = await Connection.open(parse_url(url), 2.0)
    await ours.call_checked("SCRIPT", "LOAD", ACQUIRE.source)
    seq = [0]

    async def ours_call(i: int) -> Any:
        seq[0] += 1
        return await ours.send("EVALSHA", ACQUIRE.sha, 0, *acquire_args(seq[0]))

    clients: list[tuple[str, Call]] = [("zeta_router.fleet.resp", ours_call)]
    theirs = None
    try:
        import redis.asyncio as redis_py  # type: ignore[import-not-found]

        theirs = redis_py.Redis.from_url(url)
        await theirs.script_load(ACQUIRE.source)

        async def theirs_call(i: int) -> Any:
            seq[0] += 1
            return await theirs.evalsha(ACQUIRE.sha, 0, *acquire_args(seq[0]))

        import redis as redis_mod  # type: ignore[import-not-found]

        clients.append((f"redis-py {redis_mod.__version__}", theirs_call))
    except ImportError:
        print("(redis-py is not installed: pip install redis to compare)")
    print(f"{'client':<26}{'concurrency':>12}{'cpu us/call':>13}{'wall us/call':>14}")
    for concurrency in (1, 16):
        for name, call in clients:
            cpu, wall = await measure(name, call, n, concurrency)
            print(f"{name:<26}{concurrency:>12}{cpu:>13.1f}{wall:>14.1f}")
    ours.close()
    if theirs is not None:
        await theirs.aclose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=8000, help="calls per client and concurrency")
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    print(f"machine: {common.machine_line()}")
    port = common.free_port()
    with tempfile.TemporaryDirectory(prefix="zeta-redis-bench-") as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            try:
                import uvloop

                uvloop.run(run(port, args.n))
            except ImportError:
                asyncio.run(run(port, args.n))
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
