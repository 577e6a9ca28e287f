"""Interleaved A/B of two source trees of the gateway on one backend: CPU per request and req/s.

    git worktree add /tmp/before <rev>
    nice -n -10 python benchmarks/ab.py /tmp/before/src src --analyzer auto --analyzer heuristic

Each tree runs as its own ``zeta-router serve`` (``PYTHONPATH`` pointing at it, default config
over one fake backend); closed-loop rounds at concurrency 64 alternate between the gateways so
machine noise hits both alike. Compare the pairs: on a shared 2-core machine the absolute
figures move from hour to hour, the ratio between two gateways measured together much less.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import _common as common
import overhead
import perf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="the first tree's src/ directory")
    ap.add_argument("after", type=Path, help="the second tree's src/ directory")
    ap.add_argument("--analyzer", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    print(f"machine: {common.machine_line()}")
    with tempfile.TemporaryDirectory(prefix="zeta-ab-") as tmp:
        log = Path(tmp)
        procs: list[common.Proc] = []
        peers: list[perf.Peer] = []
        try:
            bport = common.free_port()
            procs.append(common.start_fake_backend(bport, log))
            burl = f"http://{common.HOST}:{bport}/v1"
            for analyzer in args.analyzer or ["auto"]:
                for tag, src in trees.items():
                    port, name = common.free_port(), f"{tag}-{analyzer}"
                    cfg = log / f"{name}.yaml"
                    extra = {"analysis": f"{{analyzer: {analyzer}}}"}
                    cfg.write_text(common.gateway_config({"m": [burl]}, port, **extra))
                    cmd = [sys.executable, "-m", "zeta_router", "serve", "--config", str(cfg)]
                    proc = common.start(name, cmd, log_dir=log, env={"PYTHONPATH": str(src)})
                    proc.wait_ready(f"http://{common.HOST}:{port}/health", 30)
                    procs.append(proc)
                    url = f"http://{common.HOST}:{port}/v1"
                    peers.append(perf.Peer(perf.Target(name, url, model="auto"), proc.pid))
            asyncio.run(interleaved_rounds(peers, args))
        finally:
            for proc in reversed(procs):
                proc.stop()
    return 0


async def interleaved_rounds(peers: list[perf.Peer], args: argparse.Namespace) -> None:
    """Closed-loop rounds alternating between the gateways; failed requests are counted too
    (a 401 or 429 would make a gateway look cheap or dear for the wrong reason)."""
    ok = dict.fromkeys((p.target.name for p in peers), 0)
    failed, cpu, elapsed = dict.fromkeys(ok, 0), dict.fromkeys(ok, 0.0), dict.fromkeys(ok, 0.0)
    async with overhead.new_session(limit=args.concurrency) as session:
        for p in peers:  # warm the pools
            await perf.closed_loop(session, p, args.concurrency, 0.5, False)
        for r in range(args.rounds):
            for p in peers:
                assert p.pid is not None
                c0 = common.cpu_seconds(p.pid)
                n, errors, _, el = await perf.closed_loop(
                    session, p, args.concurrency, args.duration, False, first=(r + 1) * 10**7
                )
                name = p.target.name
                ok[name] += n
                failed[name] += errors
                cpu[name] += common.cpu_seconds(p.pid) - c0
                elapsed[name] += el
    print(f"{'gateway':<20}{'req/s':>9}{'failed':>8}{'cpu ms/req':>12}")
    for name in ok:
        per_request_ms = cpu[name] / max(ok[name], 1) * 1e3
        print(f"{name:<20}{ok[name] / elapsed[name]:>9.0f}{failed[name]:>8}{per_request_ms:>12.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
