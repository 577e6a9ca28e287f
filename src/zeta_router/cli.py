"""The ``zeta-router`` command line: serve, check, explain, classify, top, demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, cast

import orjson

from zeta_router.config import Config, Endpoint, load_config, parse_config
from zeta_router.errors import ConfigError, RouterError, UpstreamError


def _load(path: str | None) -> Config:
    if path:
        return load_config(path)
    import yaml

    text = resources.files("zeta_router").joinpath("data/example.yaml").read_text("utf-8")
    return parse_config(yaml.safe_load(text), "<built-in example config>")


def _require_rich(command: str) -> None:
    """The tools draw with rich, an optional dependency: a server-only install has none."""
    if importlib.util.find_spec("rich") is None:
        raise SystemExit(
            f"zeta-router {command} needs the 'rich' package, which a server-only install "
            "lacks: pip install 'zeta-router[tools]'"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    from zeta_router.ops.serve import run

    config = _load(args.config)
    return run(
        config, host=args.host, port=args.port, config_path=args.config, workers=args.workers
    )


def cmd_check(args: argparse.Namespace) -> int:
    _require_rich("check")
    from rich.console import Console
    from rich.table import Table

    from zeta_router.fleet.state import Fleet
    from zeta_router.upstream.http_transport import HttpTransport

    config = _load(args.config)
    fleet = Fleet(config)
    console = Console()
    table = Table(title="zeta-router check")
    for col in ("model", "replica", "url", "endpoints", "probe", "status"):
        table.add_column(col, overflow="fold")

    async def probe_all() -> list[tuple[str, str]]:
        up = HttpTransport()
        try:
            out = []
            for r in fleet.replicas.values():
                url = r.base_url + "/models"
                try:
                    status, _ = await up.get(url, config.health.timeout_s)
                    out.append(("GET /models", "ok" if status == 200 else f"HTTP {status}"))
                except UpstreamError as err:
                    out.append(("GET /models", err.reason))
            return out
        finally:
            await up.close()

    results = asyncio.run(probe_all())
    bad = 0
    for r, (probe, status) in zip(fleet.replicas.values(), results, strict=True):
        model = config.models[r.model]
        ok = status == "ok"
        bad += not ok
        table.add_row(
            r.model,
            r.id,
            r.safe_url,
            ",".join(model.endpoints),
            probe,
            f"[green]{status}[/]" if ok else f"[red]{status}[/]",
        )
    console.print(table)
    console.print(f"config valid; {len(results) - bad}/{len(results)} replicas answered")
    return 0 if bad == 0 else 1


class _LiveScores:
    """A running gateway's feedback scores (GET /v1/feedback), reordering as its own would."""

    def __init__(self, live: dict[str, Any], margin: float) -> None:
        self._rows = live.get("scores", [])
        self._margin = margin

    def reorder(self, p: Any, complexity: float, models: Mapping[str, Any]) -> Any:
        from zeta_router.routing.feedback import reorder

        if p.pinned is not None or len(p.candidates) < 2:
            return p
        scores = {s["model"]: s["score"] for s in self._rows if s["task"] == p.task}
        return reorder(p, complexity, models, scores, self._margin)


def _explain_request(endpoint: str, text: str, model: str | None, max_tokens: int | None) -> Any:
    """The request a client would send with this prompt, parsed as the gateway parses it."""
    from zeta_router.http.protocol import parse_request

    body: dict[str, Any] = {"model": model or "auto"}
    if endpoint == "embeddings":
        body["input"] = text
    elif endpoint == "completions":
        body["prompt"] = text
    else:
        body["messages"] = [{"role": "user", "content": text}]
    if max_tokens is not None and endpoint != "embeddings":
        body["max_tokens"] = max_tokens
    return parse_request(cast(Endpoint, endpoint), orjson.dumps(body))


def cmd_explain(args: argparse.Namespace) -> int:
    """The engine's own decision for a prompt: the same planner and decision path as serving
    (:func:`zeta_router.routing.engine.decide`), so explain and live routing cannot disagree."""
    from zeta_router.analysis import build_analyzer
    from zeta_router.routing.engine import Planner, decide
    from zeta_router.routing.feedback import Feedback, swap_margin

    config = _load(args.config)
    settings = config.analysis
    if args.analyzer:
        settings = settings.model_copy(update={"analyzer": args.analyzer})
        config = config.model_copy(update={"analysis": settings})
    planner = Planner(config, build_analyzer(settings))
    prompt_text = " ".join(args.prompt) if args.prompt else sys.stdin.read()
    live = _live_load(args.url) if args.url else None
    scores: Any = Feedback(config.feedback, time.monotonic)
    if live is not None:
        scores = _LiveScores(live, swap_margin(config.feedback))
    try:
        req = _explain_request(args.endpoint, prompt_text, args.model, args.max_tokens)
        route = decide(planner, scores, req, None)
    except RouterError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    profile, task, note, p = route.profile, route.task, route.note, route.plan
    spill = _spill_notes(config, p, profile.complexity)
    if args.json:
        out: dict[str, Any] = {
            "task": profile.task,
            "route_task": task,
            "complexity": profile.complexity,
            "confidence": profile.confidence,
            "prompt_tokens": profile.prompt_tokens,
            "analyzer": profile.source,
            "signals": list(profile.signals),
            "candidates": [
                {"model": c.model, "reason": c.reason, "spill_over": spill.get(c.model)}
                for c in p.candidates
            ],
            "not_capable": [{"model": m, "reason": r} for m, r in p.skipped],
        }
        if live is not None:
            out["live"] = live
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"task        {profile.task}  (analyzer: {profile.source})")
    print(f"confidence  {profile.confidence:.2f}")
    print(f"complexity  {profile.complexity:.2f}")
    print(f"tokens      ~{profile.prompt_tokens} in the prompt")
    if profile.signals:
        print(f"because     {', '.join(profile.signals)}")
    if note:
        print(f"route       {task} ({note})")
    print("candidates, in order:")
    for i, c in enumerate(p.candidates, 1):
        print(f"  {i}. {c.model:<16} {c.reason}")
        if c.model in spill:
            print(f"     {'':<16} spill-over: {spill[c.model]}")
    if live is not None:
        print(f"live load from {args.url}:")
        _print_live(live, [c.model for c in p.candidates], task)
    if not p.candidates:
        print("  (none: the request would get a 503)")
    for m, r in p.skipped:
        print(f"  -  {m:<16} not capable: {r}")
    print("At run time a candidate is passed over while its replicas are down, open-circuited")
    print("or saturated; the response headers x-zeta-route and x-zeta-fallback then say so.")
    return 0


def _spill_notes(config: Config, p: Any, complexity: float) -> dict[str, str]:
    """Whether each later candidate may take this request when the one before is saturated."""
    notes = {}
    for c in p.candidates[1:]:
        limit = config.models[c.model].max_complexity
        ok = limit >= complexity
        sign = ">=" if ok else "<"
        notes[c.model] = (
            f"{'yes' if ok else 'no'} (max_complexity {limit:g} {sign} complexity "
            f"{complexity:.2f})"
        )
    return notes


def _live_load(url: str) -> dict[str, Any] | None:
    """Saturation, queues and feedback scores from a running gateway (GET /v1/feedback)."""
    import urllib.error
    import urllib.request

    target = url.rstrip("/").removesuffix("/v1") + "/v1/feedback"
    try:
        with urllib.request.urlopen(target, timeout=5) as resp:
            data: dict[str, Any] = orjson.loads(resp.read())
            return data
    except (urllib.error.URLError, OSError, orjson.JSONDecodeError) as exc:
        print(f"warning: no live load from {target}: {exc}", file=sys.stderr)
        return None


def _print_live(live: dict[str, Any], models: list[str], task: str) -> None:
    scores = {s["model"]: s for s in live.get("scores", []) if s["task"] == task}
    for m in live.get("models", []):
        if m["model"] not in models:
            continue
        state = f"saturated ({m['why']})" if m["saturated"] else "has room"
        sc = scores.get(m["model"])
        score = f"score {sc['score']:.2f} for {task}" if sc else "score 1.00 (no feedback)"
        print(
            f"     {m['model']:<16} {state}; load {m['utilisation']:.0%}, "
            f"{m['in_flight']} in flight, {m['queued']} queued, {m['shed']} shed; {score}"
        )


def cmd_classify(args: argparse.Namespace) -> int:
    from zeta_router.analysis import build_analyzer
    from zeta_router.analysis.profile import Prompt, prompt_from_messages

    config = _load(args.config)
    settings = config.analysis
    if args.analyzer:
        settings = settings.model_copy(update={"analyzer": args.analyzer})
    analyzer = build_analyzer(settings)
    out = sys.stdout.buffer
    for lineno, line in enumerate(sys.stdin.buffer, 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not an object")
            if isinstance(item.get("messages"), list):
                prompt = prompt_from_messages(item["messages"])
            elif isinstance(item.get("prompt"), str):
                prompt = Prompt.from_text(item["prompt"])
            else:
                raise ValueError("needs 'prompt' (string) or 'messages' (array)")
        except (orjson.JSONDecodeError, ValueError) as exc:
            err = {"id": None, "error": f"line {lineno}: {exc}"}
            out.write(orjson.dumps(err) + b"\n")
            out.flush()
            continue
        profile = analyzer.analyze(prompt)
        result = {
            "id": item.get("id"),
            "task": profile.task,
            "complexity": round(profile.complexity, 4),
            "confidence": round(profile.confidence, 4),
        }
        out.write(orjson.dumps(result) + b"\n")
        out.flush()
    return 0


def cmd_fleet(args: argparse.Namespace) -> int:
    from zeta_router.managed import llamabuild

    if args.fleet_command == "path":
        found = llamabuild.find_llama_server()
        if found is None:
            print(
                "llama-server is not built for this machine: zeta-router fleet build",
                file=sys.stderr,
            )
            return 1
        print(found)
        return 0
    if args.fleet_command == "check":
        from zeta_router.managed.cpufit import CpuMismatch, check_llama_cpp_python

        try:
            fit = check_llama_cpp_python()
        except CpuMismatch as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("llama-cpp-python fits this CPU; built for: " + " ".join(sorted(fit.compiled)))
        return 0
    try:
        llamabuild.build(
            progress=lambda msg: print(msg, flush=True), jobs=args.jobs, force=args.force
        )
    except llamabuild.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    _require_rich("top")
    from rich.console import Console

    from zeta_router.top import run

    return run(
        args.url, once=args.once, interval_s=args.interval, window_s=args.window, console=Console()
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeta-router",
        description="A fast, task-aware, self-explaining gateway for self-hosted language models.",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the gateway")
    p.add_argument("--config", "-c", required=True)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes on the one port (more than 1 needs state.backend: redis)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="validate a config and probe every replica")
    p.add_argument("--config", "-c", required=True)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("explain", help="show how a prompt would be routed, and why")
    p.add_argument("--config", "-c")
    p.add_argument("--analyzer")
    p.add_argument("--model", help="pin a model as a client would")
    p.add_argument("--endpoint", default="chat", choices=("chat", "completions", "embeddings"))
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--url", help="a running gateway: show its live load and apply its feedback scores"
    )
    p.add_argument("prompt", nargs="*", help="the prompt (default: read stdin)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("classify", help="JSON lines in, task profiles out (stdin -> stdout)")
    p.add_argument("--config", "-c")
    p.add_argument("--analyzer")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("fleet", help="the local fleet's llama.cpp servers")
    fleet = p.add_subparsers(dest="fleet_command", required=True)
    b = fleet.add_parser(
        "build", help="build llama.cpp's llama-server once, from llama-cpp-python's sources"
    )
    b.add_argument("--jobs", "-j", type=int, help="parallel compile jobs (default: every core)")
    b.add_argument("--force", action="store_true", help="build again even if built")
    fleet.add_parser("path", help="print the llama-server binary the demo would use")
    fleet.add_parser("check", help="whether the installed llama-cpp-python was built for this CPU")
    p.set_defaults(func=cmd_fleet)

    p = sub.add_parser("top", help="a live terminal view of a running gateway's fleet")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway (%(default)s)")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    p.add_argument("--window", type=int, default=120, help="seconds of history drawn")
    p.set_defaults(func=cmd_top)

    # Listed for --help; its options belong to the demo module, which is imported (with rich
    # and the local fleet) only when the demo runs: see main().
    sub.add_parser(
        "demo", help="run the local fleet demo (needs the 'local' extra)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        _require_rich("demo")
        from zeta_router import demo

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return demo.main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(message)s" if args.command == "serve" else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
