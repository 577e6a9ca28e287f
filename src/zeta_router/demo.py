"""``zeta-router demo``: a real local fleet, a scripted workload, a crash, and what the router did.

The gateway runs in-process in front of llama.cpp servers launched from PyPI-packaged models
(:mod:`zeta_router.localfleet`). The workload goes through the official ``openai`` SDK, exactly
as a client would send it; midway one replica and then one whole model are SIGKILLed so retry,
fallback and restart are visible. Works without a TTY (CI): then it prints one line per event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from zeta_router.config import Config
from zeta_router.fleet.state import ReplicaState
from zeta_router.localfleet import Gateway, running_gateway

__all__ = ["Gateway", "Job", "Result", "main", "run_demo", "running_gateway"]


@dataclass(frozen=True)
class Job:
    expect: str
    prompt: str = ""
    input: tuple[str, ...] = ()
    stream: bool = False
    max_tokens: int = 32


@dataclass
class Result:
    n: int
    job: Job
    status: int = 0
    task: str = ""
    model: str = ""
    replica: str = ""
    route: str = ""
    fallback: str = ""
    attempts: int = 0
    latency_s: float = 0.0
    ttfb_s: float | None = None
    text: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


def load_jobs(max_tokens: int | None = None) -> list[Job]:
    raw = resources.files("zeta_router").joinpath("demo.yaml").read_text("utf-8")
    doc = yaml.safe_load(raw)
    mt = max_tokens or int(doc.get("max_tokens", 32))
    return [
        Job(
            expect=j["expect"],
            prompt=j.get("prompt", ""),
            input=tuple(j.get("input", ())),
            stream=bool(j.get("stream", False)),
            max_tokens=mt,
        )
        for j in doc["jobs"]
    ]


def _header(headers: Any, name: str) -> str:
    value = headers.get(name) if headers is not None else None
    return str(value) if value is not None else ""


def _fill(res: Result, status: int, headers: Any) -> None:
    res.status = status
    res.task = _header(headers, "x-zeta-task")
    res.model = _header(headers, "x-zeta-model")
    res.replica = _header(headers, "x-zeta-replica")
    res.route = _header(headers, "x-zeta-route")
    res.fallback = _header(headers, "x-zeta-fallback")
    attempts = _header(headers, "x-zeta-attempts")
    res.attempts = int(attempts) if attempts.isdigit() else 0


class Driver:
    """Sends jobs through the gateway with the openai SDK and keeps what the view shows."""

    def __init__(self, gw: Gateway, *, on_result: Callable[[Result], None] | None = None) -> None:
        import openai

        # No SDK retries: every retry and fallback must be the router's, visible in headers.
        self.client = openai.AsyncOpenAI(
            base_url=gw.base_url + "/v1", api_key="demo", max_retries=0, timeout=120.0
        )
        self.gw = gw
        self.results: list[Result] = []
        self.recent: deque[Result] = deque(maxlen=10)
        self.in_flight = 0
        self._on_result = on_result

    async def close(self) -> None:
        await self.client.close()

    async def send(self, n: int, job: Job) -> Result:
        import openai

        res = Result(n, job)
        start = time.perf_counter()
        self.in_flight += 1
        try:
            if job.input:
                await self._embed(res, job)
            elif job.stream:
                await self._stream(res, job, start)
            else:
                await self._chat(res, job)
        except openai.APIStatusError as exc:
            _fill(res, exc.status_code, exc.response.headers)
            res.error = f"HTTP {exc.status_code}: {exc.message}"[:300]
        except openai.APIError as exc:
            res.error = f"{type(exc).__name__}: {exc}"[:300]
        except asyncio.CancelledError:
            res.error = "cancelled (the demo was interrupted)"
            raise
        finally:
            self.in_flight -= 1
            res.latency_s = time.perf_counter() - start
            self.results.append(res)
            self.recent.append(res)
            if self._on_result is not None:
                self._on_result(res)
        return res

    async def _chat(self, res: Result, job: Job) -> None:
        raw = await self.client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": job.prompt}],
            max_tokens=job.max_tokens,
        )
        _fill(res, raw.status_code, raw.headers)
        completion = raw.parse()
        res.text = completion.choices[0].message.content or ""

    async def _stream(self, res: Result, job: Job, start: float) -> None:
        async with self.client.chat.completions.with_streaming_response.create(
            model="auto",
            messages=[{"role": "user", "content": job.prompt}],
            max_tokens=job.max_tokens,
            stream=True,
        ) as resp:
            _fill(res, resp.status_code, resp.headers)
            res.ttfb_s = time.perf_counter() - start
            parts: list[str] = []
            async for chunk in await resp.parse():
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            res.text = "".join(parts)

    async def _embed(self, res: Result, job: Job) -> None:
        raw = await self.client.embeddings.with_raw_response.create(
            model="auto", input=list(job.input), encoding_format="float"
        )
        _fill(res, raw.status_code, raw.headers)
        data = raw.parse().data
        res.text = f"{len(data)} x {len(data[0].embedding) if data else 0} floats"


# -- chaos ------------------------------------------------------------------------------------


@dataclass
class Chaos:
    """Kill ``replica`` once ``at`` (a share of the workload) is done."""

    at: float
    replica: str
    done: bool = False


async def kill_when_fitting(gw: Gateway, rid: str, say: Callable[[str], None]) -> None:
    """SIGKILL a replica, preferably while it holds a request that has not begun answering.

    That request then shows a router retry or fallback; a replica whose answer is under way is
    left alone until it is done, because those bytes are with the client and a crash would
    break them in front of it.
    """
    rs = gw.router.fleet.replicas.get(rid)
    deadline = time.monotonic() + 15.0
    while rs is not None and time.monotonic() < deadline:
        if fitting(rs, any_request=False):
            break
        await asyncio.sleep(0.01)
    while rs is not None and not fitting(rs, any_request=True):
        if time.monotonic() > deadline + 15.0:
            break
        await asyncio.sleep(0.01)
    killed = gw.supervisor.kill(rid)
    say(f"chaos: SIGKILL {rid}" + ("" if killed else " (it was not running)"))


def fitting(rs: ReplicaState, *, any_request: bool) -> bool:
    """Whether killing ``rs`` now breaks no answer under way: each request it holds is still
    waiting for its first byte (the router's own view, read in the loop that relays), so it
    will be retried. With ``any_request`` false it must hold at least one such request."""
    waiting = len(rs.pending)
    return rs.in_flight == waiting and (any_request or waiting > 0)


# -- view -------------------------------------------------------------------------------------


def _ms(s: float | None) -> str:
    return "-" if s is None else f"{s * 1000:.0f}"


def fleet_table(gw: Gateway) -> Table:
    t = Table(title="fleet", expand=True)
    t.add_column("replica", no_wrap=True)
    t.add_column("model")
    t.add_column("process")
    t.add_column("router", overflow="fold")
    for col in ("busy", "ok", "fail", "ewma ms", "rst", "pid"):
        t.add_column(col, justify="right")
    managed = {s.id: s for s in gw.supervisor.status()}
    for rid, rs in gw.router.fleet.replicas.items():
        st = managed.get(rid)
        proc = st.state if st is not None else "external"
        style = {"ready": "green", "starting": "yellow", "restarting": "yellow"}.get(proc, "red")
        view = rs.health.value
        if rs.breaker.state.value != "closed":
            view += f", circuit {rs.breaker.state.value}"
        t.add_row(
            rid,
            rs.model,
            Text(proc, style=style),
            view,
            str(rs.in_flight),
            str(rs.successes),
            str(rs.failures),
            f"{rs.latency.value * 1000:.0f}",
            str(st.restarts if st else "-"),
            str(st.pid if st and st.pid else "-"),
        )
    return t


def recent_table(driver: Driver) -> Table:
    t = Table(title="recent requests", expand=True)
    for col in ("#", "kind", "task", "model/replica", "att", "ms", "route / fallback"):
        t.add_column(col, overflow="ellipsis", no_wrap=True)
    for r in reversed(driver.recent):
        kind = "embed" if r.job.input else ("stream" if r.job.stream else "chat")
        why = r.error or (f"[yellow]{r.fallback}[/]" if r.fallback else r.route)
        att = f"[yellow]{r.attempts}[/]" if r.attempts > 1 else str(r.attempts)
        t.add_row(str(r.n), kind, r.task, f"{r.model}/{r.replica}", att, _ms(r.latency_s), why)
    return t


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary_tables(results: Sequence[Result], restarts: dict[str, int]) -> list[Table]:
    by_task = Table(title="per task (as routed)")
    for col in ("task", "requests", "failed", "p50 ms", "p95 ms", "models"):
        by_task.add_column(col)
    tasks: dict[str, list[Result]] = {}
    for r in results:
        tasks.setdefault(r.task or f"({r.job.expect}?)", []).append(r)
    for task, rs in sorted(tasks.items()):
        lat = [r.latency_s for r in rs]
        models = Counter(r.model for r in rs if r.model)
        by_task.add_row(
            task,
            str(len(rs)),
            str(sum(not r.ok for r in rs)),
            _ms(_pct(lat, 0.5)),
            _ms(_pct(lat, 0.95)),
            ", ".join(f"{m}:{c}" for m, c in models.most_common()),
        )
    by_model = Table(title="per model")
    for col in ("model", "requests", "replicas", "fallbacks into it"):
        by_model.add_column(col)
    served: dict[str, list[Result]] = {}
    for r in results:
        if r.model:
            served.setdefault(r.model, []).append(r)
    for m, rs in sorted(served.items()):
        reps = Counter(r.replica for r in rs)
        by_model.add_row(
            m,
            str(len(rs)),
            ", ".join(f"{k}:{v}" for k, v in sorted(reps.items())),
            str(sum(bool(r.fallback) for r in rs)),
        )
    lat = [r.latency_s for r in results if r.ok] or [0.0]
    ttfb = [r.ttfb_s for r in results if r.ok and r.ttfb_s is not None]
    totals = Table(title="totals", show_header=False)
    totals.add_column("what")
    totals.add_column("value")
    rows = {
        "requests": str(len(results)),
        "failed (target 0)": str(sum(not r.ok for r in results)),
        "retried (attempts > 1)": str(sum(r.attempts > 1 for r in results)),
        "served by a fallback model": str(sum(bool(r.fallback) for r in results)),
        "process restarts": ", ".join(f"{k}:{v}" for k, v in restarts.items() if v) or "0",
        "latency p50 / p90 / p99 ms": " / ".join(_ms(_pct(lat, q)) for q in (0.5, 0.9, 0.99)),
        "stream first byte p50 ms": _ms(_pct(ttfb, 0.5)) if ttfb else "-",
    }
    for k, v in rows.items():
        totals.add_row(k, v)
    return [by_task, by_model, totals]


# -- the run ----------------------------------------------------------------------------------


@dataclass
class DemoOptions:
    requests: int = 36
    concurrency: int = 3
    kill: bool = True
    serve: bool = False
    port: int | None = None
    max_tokens: int | None = None
    ready_timeout_s: float = 180.0
    events: list[str] = field(default_factory=list)


def _line(r: Result) -> str:
    kind = "embed " if r.job.input else ("stream" if r.job.stream else "chat  ")
    head = f"[{r.n:3d}] {kind} {r.task or '?':9s} -> {r.model or '-'}/{r.replica or '-'}"
    tail = f" attempts={r.attempts} {_ms(r.latency_s)}ms"
    if r.fallback:
        tail += f" FALLBACK {r.fallback}"
    if r.error:
        tail += f" ERROR {r.error}"
    return head + tail


async def run_demo(config: Config, opts: DemoOptions, console: Console) -> int:
    """Run the scripted workload against a fresh gateway; returns the number of failures."""
    live_mode = console.is_terminal
    events: deque[str] = deque(maxlen=6)

    def say(msg: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        opts.events.append(msg)
        events.append(f"{stamp} {msg}")
        if not live_mode:
            console.print(f"{stamp} {msg}", highlight=False)

    box: dict[str, Gateway] = {}

    def on_state(rid: str, state: str) -> None:
        gw = box.get("gw")
        why = ""
        if state in ("exited", "failed") and gw is not None and rid in gw.supervisor:
            why = f" ({gw.supervisor[rid].last_error})"
        say(f"{rid}: {state}{why}")

    jobs = load_jobs(opts.max_tokens)
    say(
        f"starting {len(config.models)} models, "
        f"{sum(len(m.replicas) for m in config.models.values())} llama.cpp servers"
    )
    t0 = time.monotonic()
    async with running_gateway(config, on_state=on_state) as gw:
        box["gw"] = gw
        if not await gw.supervisor.wait_ready(opts.ready_timeout_s):
            for st in gw.supervisor.not_ready():
                console.print(f"[red]{st.id} not ready[/]: {st.last_error} (log: {st.log_path})")
            return 1
        say(f"fleet ready in {time.monotonic() - t0:.1f}s; gateway on {gw.base_url}")
        driver = Driver(
            gw, on_result=None if live_mode else lambda r: console.print(_line(r), highlight=False)
        )
        chaos = [Chaos(0.3, "small-0"), Chaos(0.6, "gemma-0")] if opts.kill else []
        chaos = [c for c in chaos if c.replica in gw.supervisor]
        try:
            failures = await _drive(gw, driver, jobs, opts, chaos, say, console, events, live_mode)
        finally:
            await driver.close()
        # Let the restarts finish so the summary shows the fleet whole again.
        if chaos:
            await gw.supervisor.wait_ready(60.0)
        restarts = {s.id: s.restarts for s in gw.supervisor.status()}
        console.print(fleet_table(gw))
        for t in summary_tables(driver.results, restarts):
            console.print(t)
        verdict = "[green]no failures[/]" if failures == 0 else f"[red]{failures} failed[/]"
        console.print(f"{len(driver.results)} requests, {verdict}")
        if opts.serve:
            await _serve_forever(gw, console)
    return failures


async def _drive(
    gw: Gateway,
    driver: Driver,
    jobs: list[Job],
    opts: DemoOptions,
    chaos: list[Chaos],
    say: Callable[[str], None],
    console: Console,
    events: deque[str],
    live_mode: bool,
) -> int:
    queue: asyncio.Queue[tuple[int, Job]] = asyncio.Queue()
    for i in range(opts.requests):
        queue.put_nowait((i + 1, jobs[i % len(jobs)]))
    done = 0
    kills: list[asyncio.Task[None]] = []

    async def worker() -> None:
        nonlocal done
        while True:
            try:
                n, job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await driver.send(n, job)
            done += 1
            for c in chaos:
                if not c.done and done >= c.at * opts.requests:
                    c.done = True
                    kills.append(
                        asyncio.ensure_future(kill_when_fitting(gw, c.replica, say))
                    )

    def render() -> Group:
        head = Text(
            f"zeta-router demo  {gw.base_url}   sent {len(driver.results)}/"
            f"{opts.requests}   in flight {driver.in_flight}",
            style="bold",
        )
        return Group(head, fleet_table(gw), recent_table(driver), Text("\n".join(events)))

    workers = [asyncio.ensure_future(worker()) for _ in range(opts.concurrency)]
    with (
        Live(get_renderable=render, console=console, refresh_per_second=4, transient=False)
        if live_mode
        else contextlib.nullcontext()
    ):
        await asyncio.gather(*workers)
        await asyncio.gather(*kills)
    return sum(not r.ok for r in driver.results)


async def _serve_forever(gw: Gateway, console: Console) -> None:
    url = gw.base_url
    console.print(f"\nThe gateway stays up at [bold]{url}[/] - Ctrl-C to stop.\n")
    console.print(
        f"curl -s {url}/v1/chat/completions -H 'content-type: application/json' "
        '-d \'{"model": "auto", "messages": [{"role": "user", "content": '
        '"Write a haiku about routers"}]}\' -D - ',
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "\nfrom openai import OpenAI\n"
        f'client = OpenAI(base_url="{url}/v1", api_key="unused")\n'
        "r = client.chat.completions.with_raw_response.create(\n"
        '    model="auto", messages=[{"role": "user", "content": "Hello!"}])\n'
        'print(r.headers["x-zeta-model"], r.parse().choices[0].message.content)\n',
        highlight=False,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options, for ``zeta-router demo`` and ``python -m zeta_router.demo``."""
    parser.add_argument("--serve", action="store_true", help="keep the gateway up afterwards")
    parser.add_argument("--requests", type=int, default=36, help="requests to send (36)")
    parser.add_argument("--concurrency", type=int, default=3, help="parallel clients (3)")
    parser.add_argument(
        "--no-kill", dest="kill", action="store_false", help="do not crash model servers midway"
    )
    parser.add_argument("--port", type=int, default=None, help="gateway port (default: free)")
    parser.add_argument("--max-tokens", type=int, default=None, help="per answer (32)")
    parser.add_argument(
        "--backend",
        choices=("auto", "python", "llama-server"),
        default="auto",
        help="model servers: llama-cpp-python's, or llama.cpp's llama-server (built by "
        "'zeta-router fleet build'); auto picks llama-server once it is built",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zeta-router demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_args(parser.parse_args(list(argv) if argv is not None else None))


def run_args(args: argparse.Namespace) -> int:
    """Run the demo from parsed options; 0 when every request succeeded."""
    from zeta_router.localfleet import LocalModelError, fleet_config, llama_available

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # CI logs are wide; rich's 80-column default would squeeze the tables to ellipses.
        console = Console(width=150)
    # The view reports every process state with its reason; the log lines would repeat them.
    logging.getLogger("zeta_router.managed").setLevel(logging.ERROR)
    if not llama_available():
        console.print("[red]llama-cpp-python is not installed[/]: pip install 'zeta-router[local]'")
        return 2
    binary = None
    if args.backend != "python":
        from zeta_router.managed.llamabuild import find_llama_server

        binary = find_llama_server()
        if binary is None and args.backend == "llama-server":
            console.print(
                "[red]llama-server is not built for this machine[/]: zeta-router fleet build"
            )
            return 2
    if binary is None:
        from zeta_router.managed.cpufit import CpuMismatch, check_llama_cpp_python

        # A wheel built for another CPU would crash every server at its first matrix product.
        try:
            check_llama_cpp_python()
        except CpuMismatch as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            return 2
    try:
        config = fleet_config(listen_port=args.port, llama_server=binary)
    except LocalModelError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    opts = DemoOptions(
        requests=args.requests,
        concurrency=args.concurrency,
        kill=args.kill,
        serve=args.serve,
        port=args.port,
        max_tokens=args.max_tokens,
    )
    try:
        failures = asyncio.run(run_demo(config, opts, console))
    except KeyboardInterrupt:
        return 130
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
