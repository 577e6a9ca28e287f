"""What sharing cache affinity across instances costs (issue 17, state.backend redis).

    python benchmarks/affinity_share_cost.py

1. On the request path: remembering a choice (index observe + session put) with the local
   stores alone and with the shared ones (which also fill the outbox), thread CPU time.
2. In the background, per publish: the sender's take + encode and a receiver's decode + merge
   of one batch, for a batch of 350 observations (3,500 requests/s, one process's ceiling, at
   the default 0.1 s interval) and a full outbox (2,048). Each observation holds 20 blocks.
"""

from __future__ import annotations

import statistics
import time

from zeta_router.config import AffinitySettings
from zeta_router.routing.affinity import LocalIndex, SessionTable
from zeta_router.routing.affinity_share import SharedStores, decode

SETTINGS = AffinitySettings()
BLOCKS = 20


def hashes(n: int) -> list[int]:
    return [((n * 1_000_003 + i) * 2_654_435_761) & (1 << 64) - 1 for i in range(BLOCKS)]


def pcts(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"p50 {statistics.median(xs):.2f} us, p99 {xs[int(len(xs) * 0.99)]:.2f} us"


def request_path(n: int = 50_000) -> None:
    index = LocalIndex(SETTINGS.max_blocks_per_replica, SETTINGS.ttl_s)
    table = SessionTable(SETTINGS.max_sessions)
    shared = SharedStores(SETTINGS, "a")
    prompts = [hashes(i % 500) for i in range(n)]
    for name, observe, put in (
        ("local ", index.observe, table.put),
        ("shared", shared.observe, shared.put),
    ):
        out = []
        for i, h in enumerate(prompts):
            t = time.thread_time_ns()
            observe(f"r{i % 4}", h, float(i))
            put("m", i % 700, f"r{i % 4}")
            out.append((time.thread_time_ns() - t) / 1000)
            if name == "shared" and i % 350 == 349:
                shared.take()  # what the background flush does, outside the timing
        print(f"remember, {name}: {pcts(out)}")


def background(size: int, rounds: int = 20) -> None:
    enc, dec = [], []
    for r in range(rounds):
        a, b = SharedStores(SETTINGS, "a"), SharedStores(SETTINGS, "b")
        for i in range(size):
            a.observe(f"r{i % 4}", hashes(r * size + i), float(i))
            a.put("m", i, f"r{i % 4}")
        t = time.thread_time_ns()
        batch = a.take()
        assert batch is not None
        message = batch.encode()
        t1 = time.thread_time_ns()
        got = decode(message)
        assert got is not None
        b.merge(got, 1.0, lambda rid: True)
        t2 = time.thread_time_ns()
        enc.append((t1 - t) / 1e6)
        dec.append((t2 - t1) / 1e6)
    print(
        f"batch of {size}: {len(message) / 1024:.0f} KiB, take+encode p50 "
        f"{statistics.median(enc):.2f} ms, decode+merge p50 {statistics.median(dec):.2f} ms"
    )


if __name__ == "__main__":
    request_path()
    background(350)
    background(2048)
